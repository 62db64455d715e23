"""What the database gives the engine is what the data says: the frames read from stored rows
(scoring.frames) equal the frames of the very objects the test generated (engine.facts_frames),
on SQLite and on PostgreSQL alike, so both databases score identically.

Values are compared as the engine reads them, decoded from their JSON text, numbers as Decimals of
their shortest form: PostgreSQL's jsonb writes numbers its own way (3.602879701896397e+16 comes
back as 36028797018963970), and conditions compare numbers by value.
"""

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import frames
from scoring.criteria.conditions import to_decimal
from scoring.definition import ACCOUNT_FIELDS, LEAD_FIELDS, parse_model
from scoring.engine import ActivityFact, LeadFacts, facts_frames
from scoring.frames import activities_frame, leads_frame
from scoring.models import Activity, Lead
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)
PATHS = [
    *(f"lead.{name}" for name in LEAD_FIELDS),
    *(f"account.{name}" for name in ACCOUNT_FIELDS),
    "lead.attributes.plan", "lead.attributes.spend", "account.attributes.tier",
]  # fmt: skip
KEYS = ["url", "channel", "product", "score", "tags"]

# What JSON can hold, the database's text columns too: no NUL, no lone surrogate.
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    text,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


def _as_read(value: object) -> object:
    """A decoded value with its numbers as the engine compares them (to_decimal)."""
    if isinstance(value, list):
        return [_as_read(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_read(item) for key, item in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return to_decimal(value)
    return value


def _decoded(series: pl.Series) -> list:
    texts = series.cast(pl.String).to_list()
    return [None if text is None else _as_read(json.loads(text)) for text in texts]


def _same(expected: pl.DataFrame, found: pl.DataFrame) -> None:
    assert found.columns == expected.columns
    for column in expected.columns:
        left, right = expected.get_column(column), found.get_column(column)
        if "." in column:  # a value: JSON text
            assert _decoded(right) == _decoded(left), column
        else:
            assert right.cast(left.dtype).to_list() == left.to_list(), column


lead_data = st.fixed_dictionaries(
    {
        "job_title": text,
        "seniority": st.sampled_from(["", "director", "Geschäftsführer"]),
        "unsubscribed": st.booleans(),
        "birthday": st.none() | st.dates(min_value=datetime(1920, 1, 1).date()),
        "created_at": moments,
        "attributes": st.dictionaries(st.sampled_from(["plan", "spend", "other"]), values),
        "account": st.none()
        | st.fixed_dictionaries(
            {
                "employee_count": st.none() | st.integers(0, 10**6),
                "is_target_account": st.booleans(),
                "attributes": st.dictionaries(st.sampled_from(["tier"]), values),
            }
        ),
        "activities": st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["page_view", "webinar_attended", "Seite"]),
                    "occurred_at": moments,
                    "channel": st.sampled_from(["", "web", "e-mail"]),
                    "properties": st.dictionaries(st.sampled_from(KEYS), values, max_size=4),
                }
            ),
            max_size=4,
            # Activities at the same time of one lead come back in either order.
            unique_by=lambda activity: activity["occurred_at"],
        ),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(lead_data, min_size=1, max_size=4))
def test_frames_read_back_what_was_stored(drawn):
    Lead.objects.all().delete()
    stored: list[tuple[int, LeadFacts]] = []
    acts: list[tuple[int, ActivityFact]] = []
    for data in drawn:
        account = data["account"] and AccountFactory(**data["account"])
        fields = {k: data[k] for k in ("job_title", "seniority", "unsubscribed", "birthday")}
        lead = LeadFactory(account=account, created_at=data["created_at"],
                           attributes=data["attributes"], **fields)  # fmt: skip
        lead.refresh_from_db()
        for item in data["activities"]:
            Activity.objects.create(lead=lead, **item)
            properties = {**item["properties"], "channel": item["channel"]}
            acts.append((lead.pk, ActivityFact(item["kind"], item["occurred_at"], properties)))
        stored.append(
            (
                lead.pk,
                LeadFacts(
                    fields={name: getattr(lead, name) for name in LEAD_FIELDS},
                    attributes=data["attributes"],
                    account_fields=None
                    if account is None
                    else {name: getattr(account, name) for name in ACCOUNT_FIELDS},
                    account_attributes=None if account is None else data["account"]["attributes"],
                    created_at=data["created_at"],
                ),
            )
        )
    spec = _model_reading_everything()
    expected_leads, expected_acts = facts_frames([spec], stored, acts)
    ids = [lead_id for lead_id, _ in stored]
    _same(expected_leads.sort("lead_id"), leads_frame(ids, PATHS))
    _same(expected_acts.sort("lead_id", "occurred_at"), activities_frame(ids, KEYS))


def _model_reading_everything():
    return parse_model(
        {
            "slug": "all", "name": "All", "mql_threshold": 1, "bands": [{"label": "x", "min": 0}],
            "criteria": [
                *({"name": path, "type": "attribute", "field": path, "op": "is_set",
                   "points": 1} for path in PATHS),
                {"name": "acts", "type": "activity", "points": 1,
                 "where": [{"field": key, "op": "is_set"} for key in KEYS]},
            ],
        }
    )  # fmt: skip


def test_a_lead_without_account_reads_every_account_value_as_missing():
    lead = LeadFactory(account=None)
    frame = leads_frame([lead.pk], ["account.name", "account.attributes.tier", "lead.email"])
    assert frame.row(0)[2:] == (None, None, json.dumps(lead.email))


def test_activity_properties_and_times_come_back_exactly():
    lead = LeadFactory()
    at = NOW - timedelta(microseconds=1)
    Activity.objects.create(lead=lead, kind="page_view", occurred_at=at, channel="web",
                            properties={"url": "/pricing", "score": 1.5, "tags": ["a"]})  # fmt: skip
    frame = activities_frame([lead.pk], ["url", "channel", "score", "tags", "missing"])
    assert frame.get_column("occurred_at").to_list() == [at]
    row = dict(zip(frame.columns, frame.row(0), strict=True))
    assert [json.loads(row[f"properties.{k}"]) for k in ("url", "channel", "score", "tags")] == [
        "/pricing", "web", 1.5, ["a"],
    ]  # fmt: skip
    assert row["properties.missing"] is None


def test_activities_since_a_time_keep_that_time_and_later_of_the_kinds_asked():
    lead = LeadFactory()
    since = NOW - timedelta(days=30)
    for kind, at in [("page_view", since - timedelta(microseconds=1)), ("page_view", since),
                     ("page_view", NOW), ("email_open", NOW)]:  # fmt: skip
        Activity.objects.create(lead=lead, kind=kind, occurred_at=at, channel="web")
    frame = activities_frame([lead.pk], [], kinds=["page_view"], since=since)
    assert frame.get_column("occurred_at").to_list() == [since, NOW]
    assert activities_frame([lead.pk], [], since=since).height == 3


def test_newest_activities_by_a_time_keep_each_leads_latest_at_or_before_it():
    busy, quiet, none = LeadFactory(), LeadFactory(), LeadFactory()
    for lead, kind, at in [(busy, "page_view", NOW - timedelta(days=3)),
                           (busy, "email_open", NOW - timedelta(days=1)),
                           (busy, "page_view", NOW + timedelta(days=1)),
                           (quiet, "page_view", NOW - timedelta(days=200)),
                           (none, "page_view", NOW + timedelta(seconds=1))]:  # fmt: skip
        Activity.objects.create(lead=lead, kind=kind, occurred_at=at, channel="web")
    ids = [busy.pk, quiet.pk, none.pk]
    newest = activities_frame(ids, [], newest_by=NOW)
    assert newest.select("lead_id", "occurred_at").rows() == [
        (busy.pk, NOW - timedelta(days=1)), (quiet.pk, NOW - timedelta(days=200)),
    ]  # fmt: skip
    of_kind = activities_frame(ids, [], kinds=["page_view"], newest_by=NOW)
    assert of_kind.get_column("occurred_at").to_list() == [
        NOW - timedelta(days=3), NOW - timedelta(days=200),
    ]  # fmt: skip


@pytest.mark.parametrize("part", [2, 3, 20_000])
def test_leads_with_gaps_read_in_parts_give_just_theirs(monkeypatch, part):
    """PostgreSQL reads a part of the leads at a time, by its id range (only its ids where it
    has gaps); kinds and values come back exactly whatever their characters."""
    monkeypatch.setattr(frames, "_PART", part)
    leads = [LeadFactory() for _ in range(7)]
    kinds = ["page_view", "Seite\nneu", ""]
    for i, lead in enumerate(leads):
        for day in (1, 2):
            Activity.objects.create(lead=lead, kind=kinds[i % 3], channel="web",
                                    occurred_at=NOW - timedelta(days=day, hours=i),
                                    properties={"url": f'/p{i}\n\t"x"'} if day == 1 else {})  # fmt: skip
    chosen = [leads[i] for i in (0, 1, 3, 6)]
    ids = [lead.pk for lead in chosen]
    acts = activities_frame(ids, ["url"])
    assert acts.select("lead_id", "occurred_at").rows() == [
        (lead.pk, NOW - timedelta(days=day, hours=i))
        for i, lead in zip((0, 1, 3, 6), chosen, strict=True)
        for day in (2, 1)
    ]  # fmt: skip
    assert acts.get_column("kind").cast(pl.String).to_list() == [
        kinds[i % 3] for i in (0, 1, 3, 6) for _day in (2, 1)
    ]
    urls = acts.get_column("properties.url").cast(pl.String).to_list()
    assert [None if url is None else json.loads(url) for url in urls] == [
        None if day == 2 else f'/p{i}\n\t"x"' for i in (0, 1, 3, 6) for day in (2, 1)
    ]
    read = leads_frame(ids, ["lead.email", "account.name"])
    assert read.get_column("lead_id").to_list() == ids
    assert [json.loads(e) for e in read.get_column("lead.email").cast(pl.String)] == [
        lead.email for lead in chosen
    ]


def test_no_leads_read_no_rows_in_the_frames_columns():
    LeadFactory()
    assert activities_frame([], ["url"]).columns == [
        "lead_id", "kind", "occurred_at", "properties.url",
    ]  # fmt: skip
    assert activities_frame([], ["url"]).height == 0
    assert leads_frame([], ["lead.email"]).height == 0
