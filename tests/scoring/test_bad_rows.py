"""Rows stored with dates Python cannot read (written before the ways in refused them, or by
hand): readers show them at the edge of the representable range, and a command lists them."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from leadscoring.db import EARLIEST_READABLE, LATEST_READABLE
from leadscoring.forms import CheckedModelForm
from scoring.models import Activity
from tests.factories import ActivityFactory, LeadFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _store_raw(activity: Activity, occurred_at: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scoring_activity SET occurred_at = %s::timestamptz WHERE id = %s",
            [occurred_at, activity.pk],
        )


def test_a_bc_or_infinite_timestamp_is_read_at_the_edge_instead_of_failing_the_query():
    lead = LeadFactory()
    bc, late, fine = ActivityFactory.create_batch(3, lead=lead)
    _store_raw(bc, "0001-01-01 00:00:00+14")  # year 1 at +14:00 is 0001 BC in UTC
    _store_raw(late, "infinity")
    read = dict(Activity.objects.filter(lead=lead).values_list("pk", "occurred_at"))
    assert read[bc.pk] == EARLIEST_READABLE
    assert read[late.pk] == LATEST_READABLE
    assert read[fine.pk] == fine.occurred_at


def test_the_admin_lists_and_opens_such_rows(client, admin_user_role):
    activity = ActivityFactory(lead=LeadFactory())
    _store_raw(activity, "0044-03-15 12:00:00 BC")
    client.force_login(admin_user_role)
    assert client.get("/admin/scoring/activity/").status_code == 200
    assert client.get(f"/admin/scoring/activity/{activity.pk}/change/").status_code == 200


def test_find_bad_rows_lists_each_column_with_its_rows_and_exits_non_zero():
    lead = LeadFactory()
    bad = ActivityFactory.create_batch(2, lead=lead)
    ActivityFactory(lead=lead)
    _store_raw(bad[0], "0001-01-01 00:00:00+14")
    _store_raw(bad[1], "1077-06-01 00:00:00+00")
    lead.birthday = datetime(1850, 1, 1).date()
    lead.save(update_fields=["birthday"])
    err = StringIO()
    with pytest.raises(CommandError, match="3 rows hold implausible dates"):
        call_command("find_bad_rows", stderr=err)
    lines = err.getvalue().splitlines()
    assert any(
        line.startswith("scoring_activity.occurred_at: 2 rows outside 1970-01-01 to ")
        and f"ids {bad[0].pk}, {bad[1].pk}" in line
        for line in lines
    ), lines
    assert any(
        line.startswith("scoring_lead.birthday: 1 rows outside 1900-01-01") for line in lines
    )


def test_find_bad_rows_is_quiet_on_plausible_data():
    ActivityFactory(lead=LeadFactory(), occurred_at=datetime.now(UTC) - timedelta(days=3))
    out = StringIO()
    call_command("find_bad_rows", stdout=out)
    assert out.getvalue().strip() == "0 rows with implausible dates."


def test_an_admin_form_refuses_what_the_api_refuses():
    lead = LeadFactory()

    class ActivityForm(CheckedModelForm):
        class Meta:
            model = Activity
            fields = ["lead", "kind", "occurred_at", "channel", "properties", "source"]

    form = ActivityForm(
        data={
            "lead": lead.pk, "kind": "page_view", "occurred_at": "0001-01-01 00:00:00",
            "channel": "web", "properties": '{"url": "/a\\u0000"}', "source": "admin",
        }
    )  # fmt: skip
    assert not form.is_valid()
    assert form.errors["occurred_at"] == ["lies before 1970-01-01"]
    assert form.errors["properties"] == ["value.url: contains a NUL character"]
