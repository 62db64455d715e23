"""CRM import: accounts.csv, leads.csv, activities.csv and outcomes.csv from one folder.

Files are streamed in batches (a 10-million-row activities file never sits in memory), each batch
costs a fixed number of queries, and importing the same files twice changes nothing. A bad row is
reported with file, line and reason; the good rows around it are kept.
"""

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from .ingest import MAX_PROPERTIES_BYTES, MAX_PROPERTIES_STORED_BYTES, properties_stored_too_large
from .models import Account, Activity, Lead, LeadOutcome, LifecycleStage, OutcomeKind

BATCH_SIZE = 5000
ACTIVITY_SOURCE = "import"

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


def parse_int(raw: str, column: str) -> int | None:
    if not raw.strip():
        return None
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        raise RowError(f"{column} {raw!r} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise RowError(f"{column} {raw!r} is not a whole number")
    value = int(number)
    if value < 0:
        raise RowError(f"{column} {raw!r} must not be negative")
    return value


def parse_decimal(raw: str, column: str) -> Decimal | None:
    if not raw.strip():
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise RowError(f"{column} {raw!r} is not a number") from None
    if not value.is_finite():
        raise RowError(f"{column} {raw!r} is not a number")
    return value


def parse_timestamp(raw: str, column: str) -> datetime:
    """ISO 8601 with or without an offset; without one it is read in the project's TIME_ZONE."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise RowError(f"{column} {raw!r} is not an ISO 8601 timestamp") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def parse_date(raw: str, column: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise RowError(f"{column} {raw!r} is not a date (YYYY-MM-DD)") from None


def _extras(row: dict[str, str], known: set[str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k not in known and k and v is not None and v != ""}


def _require(row: dict[str, str], column: str) -> str:
    value = (row.get(column) or "").strip()
    if not value:
        raise RowError(f"{column} is missing")
    return value


# --- streaming -----------------------------------------------------------------------------------


def _batches(path: Path, report: ImportReport) -> Iterator[list[tuple[int, dict[str, str]]]]:
    """Yield lists of (line number, row); a malformed file is reported once, not raised."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            report.errors.append(f"{path.name}: the file is empty (a header line is required)")
            return
        batch: list[tuple[int, dict[str, str]]] = []
        try:
            for row in reader:
                if None in row:
                    report.error(path, reader.line_num, "more values than columns")
                    continue
                batch.append((reader.line_num, {k.strip(): v for k, v in row.items() if k}))
                if len(batch) >= BATCH_SIZE:
                    yield batch
                    batch = []
        except (csv.Error, UnicodeDecodeError) as exc:
            report.error(path, reader.line_num, f"unreadable ({exc})")
        if batch:
            yield batch


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


def _dedupe_by(items: list[tuple[int, Any]], key: str) -> list:
    """Keep the last row per key within a batch, so a file may repeat a record."""
    latest: dict[Any, tuple[int, Any]] = {}
    for line, item in items:
        latest[item[key]] = (line, item)
    return list(latest.values())


def _upsert(
    model: type[Account] | type[Lead], items: list[tuple[int, dict[str, Any]]], report: ImportReport
) -> list[Any]:
    """Create new rows, update changed ones, leave identical ones alone; return saved objects."""
    name = model._meta.verbose_name_plural
    keys = [item["external_id"] for _, item in items]
    existing = {o.external_id: o for o in model.objects.filter(external_id__in=keys)}
    to_create, to_update, fields = [], [], set()
    now = timezone.now()
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


def _text(row: dict[str, str], column: str, model: type, max_length: int | None = None) -> str:
    value = (row.get(column) or "").strip()
    limit = max_length or model._meta.get_field(column).max_length
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
            "employee_count": parse_int(row.get("employee_count", ""), "employee_count"),
            "annual_revenue": parse_decimal(row.get("annual_revenue", ""), "annual_revenue"),
            "country": country,
            "is_target_account": parse_bool(row.get("is_target_account", ""), "is_target_account"),
            "is_competitor": parse_bool(row.get("is_competitor", ""), "is_competitor"),
            "attributes": _extras(row, ACCOUNT_COLUMNS),
        },
    )


def import_accounts(path: Path, report: ImportReport) -> None:
    for rows in _batches(path, report):
        items = _parse_rows(path, rows, _account_item, report)
        with transaction.atomic():
            _upsert(Account, _dedupe_by(items, "external_id"), report)


# --- leads ---------------------------------------------------------------------------------------

_STAGES = {choice.value for choice in LifecycleStage}


def _lead_item(row: dict[str, str]) -> dict[str, Any]:
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
        "birthday": parse_date(row.get("birthday", ""), "birthday"),
        "source": _text(row, "source", Lead),
        "lifecycle_stage": stage,
        "unsubscribed": parse_bool(row.get("unsubscribed", ""), "unsubscribed"),
        "email_invalid": parse_bool(row.get("email_invalid", ""), "email_invalid"),
        "attributes": _extras(row, LEAD_COLUMNS),
        "account_external_id": (row.get("account_external_id") or "").strip(),
    }
    if (row.get("created_at") or "").strip():
        item["created_at"] = parse_timestamp(row["created_at"], "created_at")
    if not stage:
        del item["lifecycle_stage"]  # a blank cell keeps the stage the lead already has
    return _present(row, item)


def import_leads(path: Path, report: ImportReport) -> None:
    for rows in _batches(path, report):
        items = _dedupe_by(_parse_rows(path, rows, _lead_item, report), "external_id")
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
            saved = _upsert(Lead, good, report)
        report.touched_lead_ids.update(o.pk for o in saved)


def _lead_ids(keys: Iterable[str]) -> dict[str, int]:
    return dict(Lead.objects.filter(external_id__in=set(keys)).values_list("external_id", "pk"))


# --- activities ----------------------------------------------------------------------------------


def _activity_item(row: dict[str, str]) -> dict[str, Any]:
    occurred_at = parse_timestamp(_require(row, "occurred_at"), "occurred_at")
    item = {
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


def import_activities(path: Path, report: ImportReport) -> None:
    for rows in _batches(path, report):
        items = _dedupe_by(_parse_rows(path, rows, _activity_item, report), "external_id")
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


def _outcome_item(row: dict[str, str]) -> dict[str, Any]:
    outcome = _require(row, "outcome").lower()
    if outcome not in _OUTCOMES:
        raise RowError(f"outcome {outcome!r} is not one of {', '.join(sorted(_OUTCOMES))}")
    return {
        "lead_external_id": _require(row, "lead_external_id"),
        "outcome": outcome,
        "occurred_at": parse_timestamp(_require(row, "occurred_at"), "occurred_at"),
        "value": parse_decimal(row.get("value", ""), "value"),
    }


def import_outcomes(path: Path, report: ImportReport) -> None:
    for rows in _batches(path, report):
        items = _parse_rows(path, rows, _outcome_item, report)
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
        report.count(report.created, "outcomes", len(new))


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
    found = False
    for filename, importer in IMPORTERS:
        path = directory / filename
        if path.exists():
            found = True
            importer(path, report)
    if not found:
        names = ", ".join(name for name, _ in IMPORTERS)
        report.errors.append(f"{directory}: none of {names} is there")
    return report
