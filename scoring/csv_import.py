"""CRM import: accounts.csv, leads.csv, activities.csv and outcomes.csv from one folder.

Files are streamed in batches (a 10-million-row activities file never sits in memory), each batch
costs a fixed number of queries, and importing the same files twice changes nothing. A bad row is
reported with file, line and reason; the good rows around it are kept, and no file, however
broken, stops the import with a traceback.

Each file is read twice. The first pass feeds its bytes, a megabyte at a time, through a strict
incremental UTF-8 decoder and keeps nothing, so the encoding is settled before any row of the
file is written: UTF-8 (with or without a byte order mark), else Windows-1252. The second pass
streams the rows. Every value is refused that the database could not store or Python could not
read back (leadscoring.inputs): NUL, timestamps before 1970 (or BC), numbers beyond their column.
"""

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from itertools import zip_longest
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from django.db import models, transaction
from django.utils import timezone

from leadscoring.inputs import (
    INT32,
    birthday_problem,
    datetime_problem,
    integer_problem,
    text_problem,
)
from pipeline.handoffs import outcomes_close_handoffs

from .ingest import (
    FUTURE_TOLERANCE,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_STORED_BYTES,
    properties_stored_too_large,
)
from .models import Account, Activity, Lead, LeadOutcome, LifecycleStage, OutcomeKind

BATCH_SIZE = 5000
ACTIVITY_SOURCE = "import"
# employee_count is a PositiveIntegerField: an integer column with a check >= 0.
EMPLOYEE_COUNT_RANGE = (0, INT32[1])

ACCOUNT_COLUMNS = {
    "external_id", "name", "domain", "industry", "employee_count", "annual_revenue", "country",
    "is_target_account", "is_competitor",
}  # fmt: skip
LEAD_COLUMNS = {
    "external_id", "email", "first_name", "last_name", "job_title", "seniority", "phone", "country",
    "birthday", "source", "lifecycle_stage", "account_external_id", "created_at", "unsubscribed",
    "email_invalid",
}  # fmt: skip
ACTIVITY_COLUMNS = {"external_id", "lead_external_id", "kind", "occurred_at", "channel"}
OUTCOME_COLUMNS = {"lead_external_id", "outcome", "occurred_at", "value"}


class RowError(ValueError):
    """A row that cannot be imported; the message says why."""


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure
    touched_lead_ids: set[int] = field(default_factory=set)

    def error(self, path: Path, line: int, message: str) -> None:
        self.errors.append(f"{path.name}:{line}: {message}")

    def count(self, bucket: dict[str, int], name: str, n: int) -> None:
        bucket[name] = bucket.get(name, 0) + n


# --- value parsing -------------------------------------------------------------------------------

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def parse_bool(raw: str, column: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RowError(f"{column} {raw!r} is not a boolean (use true/false, 1/0 or yes/no)")


def parse_int(raw: str, column: str, bounds: tuple[int, int]) -> int | None:
    if not raw.strip():
        return None
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        raise RowError(f"{column} {raw!r} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise RowError(f"{column} {raw!r} is not a whole number")
    # Checked before int(): int(Decimal("1e999999999")) would compute a billion digits.
    if problem := integer_problem(number, bounds):
        raise RowError(f"{column} {raw!r} {problem}")
    return int(number)


def parse_decimal(raw: str, column: str, model: type[models.Model]) -> Decimal | None:
    """A number that fits the model's DecimalField (max_digits, decimal_places)."""
    if not raw.strip():
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise RowError(f"{column} {raw!r} is not a number") from None
    if not value.is_finite():
        raise RowError(f"{column} {raw!r} is not a number")
    spec = model._meta.get_field(column)
    assert isinstance(spec, models.DecimalField)  # what the column is documented to be
    whole_digits = spec.max_digits - spec.decimal_places
    if value.adjusted() < whole_digits:
        # Rounded as the database rounds, so that a re-import compares equal to what is stored.
        value = value.quantize(Decimal(1).scaleb(-spec.decimal_places), rounding=ROUND_HALF_UP)
    if value.adjusted() >= whole_digits:
        raise RowError(
            f"{column} {raw!r} has more than {whole_digits} digits before the decimal point"
        )
    return value


def parse_timestamp(raw: str, column: str, now: datetime) -> datetime:
    """ISO 8601 with or without an offset; without one it is read in the project's TIME_ZONE."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise RowError(f"{column} {raw!r} is not an ISO 8601 timestamp") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if problem := datetime_problem(value, now=now):
        raise RowError(f"{column} {raw!r} {problem}")
    return value


def parse_birthday(raw: str, column: str, now: datetime) -> date | None:
    if not raw.strip():
        return None
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise RowError(f"{column} {raw!r} is not a date (YYYY-MM-DD)") from None
    if problem := birthday_problem(value, today=timezone.localdate(now)):
        raise RowError(f"{column} {raw!r} {problem}")
    return value


def _extras(row: dict[str, str], known: set[str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k not in known and k and v is not None and v != ""}


def _require(row: dict[str, str], column: str) -> str:
    value = (row.get(column) or "").strip()
    if not value:
        raise RowError(f"{column} is missing")
    return value


# --- reading files -------------------------------------------------------------------------------

_CHUNK_BYTES = 1 << 20
_CP1252_FALLBACK = "csv-import-cp1252-latin1"


def _latin1_for_cp1252_gaps(exc: UnicodeError) -> tuple[str, int]:
    # cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; latin-1 reads every byte.
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(_CP1252_FALLBACK, _latin1_for_cp1252_gaps)


def _first_non_utf8_line(path: Path) -> int | None:
    """The number of the first line that is not UTF-8, or None when the whole file is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK_BYTES)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object is the decoder's held-back bytes (never a newline) plus the chunk.
                return lines_before + exc.object.count(b"\n", 0, exc.start) + 1
            if not chunk:
                return None
            lines_before += chunk.count(b"\n")


def _codec(path: Path, report: ImportReport) -> tuple[str, str] | None:
    """(encoding, errors) to read the file with; None when it is reported as unreadable."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.errors.append(
            f"{path.name}: the file is UTF-16 or UTF-32; expected UTF-8 or Windows-1252 "
            "(nothing imported from it)"
        )
        return None
    bad_line = _first_non_utf8_line(path)
    if bad_line is None:
        return "utf-8-sig", "strict"
    if head.startswith(codecs.BOM_UTF8):
        report.error(
            path,
            bad_line,
            "not UTF-8, though the file starts with a UTF-8 byte order mark; expected UTF-8 "
            "throughout, or Windows-1252 without the mark (nothing imported from the file)",
        )
        return None
    report.notes.append(f"{path.name}: not UTF-8 (line {bad_line} is not), read as Windows-1252")
    return "cp1252", _CP1252_FALLBACK


# After a field the csv reader refused, where its record ends: the next field ending (a comma or
# a line end) outside quotes, or the quote that closes a quoted field ("" is a quote inside one).
_FIELD_END = re.compile(r"[,\r\n]")


def _ends_in_quotes(text: str, quoted: bool = False) -> bool:
    """Whether the csv reader (default dialect) is inside a quoted field after these lines."""
    at_field_start, i = not quoted, 0
    while i < len(text):
        if quoted:
            close = text.find('"', i)
            if close < 0:
                return True
            if text.startswith('"', close + 1):
                i = close + 2
                continue
            quoted, at_field_start, i = False, False, close + 1
        elif at_field_start and text[i] == '"':
            quoted, i = True, i + 1
        else:
            end = _FIELD_END.search(text, i)
            if end is None:
                return False
            at_field_start, i = True, end.end()
    return quoted


class _Lines:
    """The file's lines, fed to the csv reader, counted and kept for the record being read, so
    a row is reported by its first line and a record the reader gave up on can be skipped."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self.number = 0
        self.record: list[str] = []

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self.number += 1
        self.record.append(line)
        return line

    @property
    def first(self) -> int:
        return self.number - len(self.record) + 1

    def next_record(self) -> None:
        self.record = []

    def skip_rest_of_record(self) -> None:
        """The reader drops the rest of the line it failed on and starts a record on the next
        line, which is still inside the field when that field is quoted: skip to its end."""
        quoted = _ends_in_quotes("".join(self.record))
        self.record = []
        while quoted and (line := next(self._handle, None)) is not None:
            self.number += 1
            quoted = _ends_in_quotes(line, quoted=True)


def _csv_reason(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"field larger than {csv.field_size_limit()} characters"
    return f"unreadable ({exc})"


def _bad_text(header: list[str], values: list[str], lines: list[str]) -> str | None:
    if text_problem(lines[0] if len(lines) == 1 else "".join(lines)) is None:
        return None  # the usual case, found with one check per record rather than per value
    for column, value in zip(header, values, strict=False):
        if column and (problem := text_problem(value)):
            return f"{column} {problem}"
    return None


def _header(path: Path, reader: Iterator[list[str]], report: ImportReport) -> list[str] | None:
    """The column names, or None (reported) when the file has none to use."""
    try:
        names = next(reader, None)
    except csv.Error as exc:
        report.error(path, 1, f"header: {_csv_reason(exc)} (nothing imported from the file)")
        return None
    if not names:
        report.errors.append(f"{path.name}: the file is empty (a header line is required)")
        return None
    for position, name in enumerate(names, start=1):
        if problem := text_problem(name):  # by position: the name itself would print the NUL
            report.error(path, 1, f"header: column {position} {problem} (nothing imported)")
            return None
    return [name.strip() for name in names]


def _rows(
    path: Path, handle: IO[str], report: ImportReport
) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line, row) for every row that can be read; the others are reported."""
    lines = _Lines(handle)
    reader = csv.reader(lines)
    header = _header(path, reader, report)
    if header is None:
        return
    all_named = all(header)
    while True:
        lines.next_record()
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.error(path, lines.first, _csv_reason(exc))
            lines.skip_rest_of_record()
            continue
        if not values:
            continue  # a blank line
        if len(values) > len(header):
            report.error(path, lines.first, "more values than columns")
        elif problem := _bad_text(header, values, lines.record):
            report.error(path, lines.first, problem)
        elif all_named and len(values) == len(header):
            yield lines.first, dict(zip(header, values, strict=True))
        else:
            # Missing trailing values read as blank cells (csv.DictReader would give None).
            yield lines.first, {k: v for k, v in zip_longest(header, values, fillvalue="") if k}


def _batches(path: Path, report: ImportReport) -> Iterator[list[tuple[int, dict[str, str]]]]:
    """Yield lists of (line number, row); a malformed file is reported, never raised."""
    try:
        codec = _codec(path, report)
        if codec is None:
            return
        encoding, errors = codec
        with path.open(newline="", encoding=encoding, errors=errors) as handle:
            batch: list[tuple[int, dict[str, str]]] = []
            for line_and_row in _rows(path, handle, report):
                batch.append(line_and_row)
                if len(batch) >= BATCH_SIZE:
                    yield batch
                    batch = []
            if batch:
                yield batch
    except (OSError, UnicodeDecodeError) as exc:  # e.g. the file changed since the first pass
        report.errors.append(f"{path.name}: cannot be read ({exc})")


def _parse_rows(
    path: Path,
    rows: Iterable[tuple[int, dict[str, str]]],
    parse: Callable[[dict[str, str]], Any],
    report: ImportReport,
) -> list[tuple[int, Any]]:
    parsed = []
    for line, row in rows:
        try:
            parsed.append((line, parse(row)))
        except RowError as exc:
            report.error(path, line, str(exc))
    return parsed


def _dedupe_by(items: list[tuple[int, Any]], key: str) -> list[tuple[int, Any]]:
    """Keep the last row per key within a batch, so a file may repeat a record."""
    latest: dict[Any, tuple[int, Any]] = {}
    for line, item in items:
        latest[item[key]] = (line, item)
    return list(latest.values())


_Row = TypeVar("_Row", Account, Lead)


def _upsert(
    model: type[_Row],
    items: list[tuple[int, dict[str, Any]]],
    report: ImportReport,
    now: datetime,
) -> list[_Row]:
    """Create new rows, update changed ones, leave identical ones alone; return saved objects."""
    name = model._meta.verbose_name_plural
    keys = [item["external_id"] for _, item in items]
    existing = {o.external_id: o for o in model.objects.filter(external_id__in=keys)}
    to_create: list[_Row] = []
    to_update: list[_Row] = []
    fields: set[str] = set()
    for _, item in items:
        obj = existing.get(item["external_id"])
        if obj is None:
            to_create.append(model(**item))
            continue
        if "attributes" in item:
            item = {**item, "attributes": {**obj.attributes, **item["attributes"]}}
        changed = {k for k, v in item.items() if getattr(obj, k) != v}
        if changed:
            for k in changed:
                setattr(obj, k, item[k])
            obj.updated_at = now
            fields |= changed
            to_update.append(obj)
    model.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        model.objects.bulk_update(to_update, sorted(fields | {"updated_at"}), batch_size=1000)
    report.count(report.created, str(name), len(to_create))
    report.count(report.updated, str(name), len(to_update))
    report.count(report.unchanged, str(name), len(items) - len(to_create) - len(to_update))
    return to_create + to_update


def _text(
    row: dict[str, str], column: str, model: type[models.Model], max_length: int | None = None
) -> str:
    value = (row.get(column) or "").strip()
    # The column is named after one of the model's own (text) fields.
    limit = max_length or cast("models.Field[Any, Any]", model._meta.get_field(column)).max_length
    if limit and len(value) > limit:
        raise RowError(f"{column} is longer than {limit} characters")
    return value


def _present(row: dict[str, str], item: dict[str, Any]) -> dict[str, Any]:
    """Only columns the file has are written, so a file without a column keeps existing values."""
    return {k: v for k, v in item.items() if k in row or k in {"external_id", "attributes"}}


# --- accounts ------------------------------------------------------------------------------------


def _account_item(row: dict[str, str]) -> dict[str, Any]:
    country = _text(row, "country", Account).upper()
    return _present(
        row,
        {
            "external_id": _require(row, "external_id"),
            "name": _text(row, "name", Account) or _require(row, "name"),
            "domain": _text(row, "domain", Account).lower(),
            "industry": _text(row, "industry", Account),
            "employee_count": parse_int(
                row.get("employee_count", ""), "employee_count", EMPLOYEE_COUNT_RANGE
            ),
            "annual_revenue": parse_decimal(
                row.get("annual_revenue", ""), "annual_revenue", Account
            ),
            "country": country,
            "is_target_account": parse_bool(row.get("is_target_account", ""), "is_target_account"),
            "is_competitor": parse_bool(row.get("is_competitor", ""), "is_competitor"),
            "attributes": _extras(row, ACCOUNT_COLUMNS),
        },
    )


def import_accounts(path: Path, report: ImportReport, now: datetime) -> None:
    for rows in _batches(path, report):
        items = _parse_rows(path, rows, _account_item, report)
        with transaction.atomic():
            _upsert(Account, _dedupe_by(items, "external_id"), report, now)


# --- leads ---------------------------------------------------------------------------------------

_STAGES = {choice.value for choice in LifecycleStage}


def _lead_item(row: dict[str, str], now: datetime) -> dict[str, Any]:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = _text(row, "email", Lead)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise RowError(f"email {email!r} is not an e-mail address") from None
    stage = _text(row, "lifecycle_stage", Lead).lower()
    if stage and stage not in _STAGES:
        raise RowError(f"lifecycle_stage {stage!r} is not one of {', '.join(sorted(_STAGES))}")
    item = {
        "external_id": _require(row, "external_id"),
        "email": email,
        "first_name": _text(row, "first_name", Lead),
        "last_name": _text(row, "last_name", Lead),
        "job_title": _text(row, "job_title", Lead),
        "seniority": _text(row, "seniority", Lead),
        "phone": _text(row, "phone", Lead),
        "country": _text(row, "country", Lead).upper(),
        "birthday": parse_birthday(row.get("birthday", ""), "birthday", now),
        "source": _text(row, "source", Lead),
        "lifecycle_stage": stage,
        "unsubscribed": parse_bool(row.get("unsubscribed", ""), "unsubscribed"),
        "email_invalid": parse_bool(row.get("email_invalid", ""), "email_invalid"),
        "attributes": _extras(row, LEAD_COLUMNS),
        "account_external_id": (row.get("account_external_id") or "").strip(),
    }
    if (row.get("created_at") or "").strip():
        item["created_at"] = parse_timestamp(row["created_at"], "created_at", now)
    if not stage:
        del item["lifecycle_stage"]  # a blank cell keeps the stage the lead already has
    return _present(row, item)


def import_leads(path: Path, report: ImportReport, now: datetime) -> None:
    parse = partial(_lead_item, now=now)
    for rows in _batches(path, report):
        items = _dedupe_by(_parse_rows(path, rows, parse, report), "external_id")
        account_keys = {i["account_external_id"] for _, i in items if i.get("account_external_id")}
        accounts = dict(
            Account.objects.filter(external_id__in=account_keys).values_list("external_id", "pk")
        )
        emails = {i["email"].lower() for _, i in items if i.get("email")}
        email_owner = dict(Lead.objects.with_emails(emails).values_list("email_ci", "external_id"))
        good = []
        for line, item in items:
            account_key = item.pop("account_external_id", None)
            if account_key is not None:
                if account_key and account_key not in accounts:
                    report.error(
                        path, line, f"account_external_id {account_key!r} is not a known account"
                    )
                    continue
                item["account_id"] = accounts.get(account_key)
            email = item.get("email", "").lower()
            if email:
                owner = email_owner.setdefault(email, item["external_id"])
                if owner != item["external_id"]:
                    report.error(
                        path, line, f"email {item['email']!r} already belongs to lead {owner!r}"
                    )
                    continue
            good.append((line, item))
        with transaction.atomic():
            saved = _upsert(Lead, good, report, now)
        report.touched_lead_ids.update(o.pk for o in saved)


def _lead_ids(keys: Iterable[str]) -> dict[str, int]:
    found = Lead.objects.filter(external_id__in=set(keys)).values_list("external_id", "pk")
    # external_id may be NULL, but not where it equals one of the keys.
    return {key: pk for key, pk in found if key is not None}


# --- activities ----------------------------------------------------------------------------------


def _activity_item(row: dict[str, str], now: datetime) -> dict[str, Any]:
    raw_time = _require(row, "occurred_at")
    occurred_at = parse_timestamp(raw_time, "occurred_at", now)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise RowError(f"occurred_at {raw_time!r} lies in the future")  # as the API says
    item: dict[str, Any] = {
        "lead_external_id": _require(row, "lead_external_id"),
        "kind": _text(row, "kind", Activity) or _require(row, "kind"),
        "occurred_at": occurred_at,
        "channel": _text(row, "channel", Activity),
        "properties": _extras(row, ACTIVITY_COLUMNS),
    }
    if len(_properties_text(item["properties"]).encode()) > MAX_PROPERTIES_BYTES:
        raise RowError(
            f"the extra columns (the activity's properties) take more than "
            f"{MAX_PROPERTIES_BYTES} bytes"
        )
    external_id = _text(row, "external_id", Activity)
    if not external_id:
        # No id from the source: a fingerprint of the row keeps re-imports idempotent.
        fingerprint = json.dumps(
            [item["lead_external_id"], item["kind"], occurred_at.isoformat(), item["channel"],
             item["properties"]],
            sort_keys=True,
        )  # fmt: skip
        external_id = "row-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:40]
    item["external_id"] = external_id
    return item


def _properties_text(properties: dict[str, str]) -> str:
    return json.dumps(properties, ensure_ascii=False)


def _properties_fit(
    path: Path, items: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    """The items whose properties PostgreSQL stores within the cap; the others reported."""
    texts = [_properties_text(item["properties"]) for _, item in items]
    fitting = []
    for (line, item), too_large in zip(items, properties_stored_too_large(texts), strict=True):
        if too_large:
            report.error(
                path,
                line,
                f"the extra columns take more than {MAX_PROPERTIES_STORED_BYTES} bytes stored",
            )
        else:
            fitting.append((line, item))
    return fitting


def import_activities(path: Path, report: ImportReport, now: datetime) -> None:
    parse = partial(_activity_item, now=now)
    for rows in _batches(path, report):
        items = _dedupe_by(_parse_rows(path, rows, parse, report), "external_id")
        items = _properties_fit(path, items, report)
        leads = _lead_ids(i["lead_external_id"] for _, i in items)
        seen = set(
            Activity.objects.filter(
                source=ACTIVITY_SOURCE, external_id__in=[i["external_id"] for _, i in items]
            ).values_list("external_id", flat=True)
        )
        new = []
        for line, item in items:
            lead_key = item.pop("lead_external_id")
            lead_id = leads.get(lead_key)
            if lead_id is None:
                report.error(path, line, f"lead_external_id {lead_key!r} is not a known lead")
            elif item["external_id"] not in seen:
                new.append(Activity(lead_id=lead_id, source=ACTIVITY_SOURCE, **item))
        with transaction.atomic():
            Activity.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
        report.count(report.created, "activities", len(new))
        report.count(report.unchanged, "activities", len(seen))
        report.touched_lead_ids.update(a.lead_id for a in new)


# --- outcomes ------------------------------------------------------------------------------------

_OUTCOMES = {choice.value for choice in OutcomeKind}


def _outcome_item(row: dict[str, str], now: datetime) -> dict[str, Any]:
    outcome = _require(row, "outcome").lower()
    if outcome not in _OUTCOMES:
        raise RowError(f"outcome {outcome!r} is not one of {', '.join(sorted(_OUTCOMES))}")
    return {
        "lead_external_id": _require(row, "lead_external_id"),
        "outcome": outcome,
        "occurred_at": parse_timestamp(_require(row, "occurred_at"), "occurred_at", now),
        "value": parse_decimal(row.get("value", ""), "value", LeadOutcome),
    }


def import_outcomes(path: Path, report: ImportReport, now: datetime) -> None:
    """Store the outcomes not seen before; each that is its lead's newest acts as one recorded
    in the sales queue (pipeline.handoffs.outcomes_close_handoffs)."""
    parse = partial(_outcome_item, now=now)
    for rows in _batches(path, report):
        items = _parse_rows(path, rows, parse, report)
        leads = _lead_ids(i["lead_external_id"] for _, i in items)
        existing = set(
            LeadOutcome.objects.filter(lead_id__in=leads.values()).values_list(
                "lead_id", "outcome", "occurred_at"
            )
        )
        new = []
        for line, item in items:
            lead_key = item.pop("lead_external_id")
            lead_id = leads.get(lead_key)
            if lead_id is None:
                report.error(path, line, f"lead_external_id {lead_key!r} is not a known lead")
                continue
            key = (lead_id, item["outcome"], item["occurred_at"])
            if key not in existing:
                existing.add(key)
                new.append(LeadOutcome(lead_id=lead_id, source="import", **item))
        with transaction.atomic():
            LeadOutcome.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
            # As recorded in the sales queue: open handoffs closed, the lead's stage moved.
            applied = outcomes_close_handoffs(
                [(o.lead_id, o.outcome, o.occurred_at, o.value) for o in new]
            )
        report.count(report.created, "outcomes", len(new))
        if applied.closed_handoff_ids:
            report.count(report.updated, "handoffs", len(applied.closed_handoff_ids))
        # A lead's audience may depend on its stage.
        report.touched_lead_ids.update(applied.moved_lead_ids)


IMPORTERS = [
    ("accounts.csv", import_accounts),
    ("leads.csv", import_leads),
    ("activities.csv", import_activities),
    ("outcomes.csv", import_outcomes),
]


def crm_import(*, directory: Path) -> ImportReport:
    """Import every known file present in `directory`, in dependency order."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a folder")
    report = ImportReport()
    now = timezone.now()  # one moment for the whole import: every bound is relative to it
    found = False
    for filename, importer in IMPORTERS:
        path = directory / filename
        if path.exists():
            found = True
            importer(path, report, now)
    if not found:
        names = ", ".join(name for name, _ in IMPORTERS)
        report.errors.append(f"{directory}: none of {names} is there")
    return report
