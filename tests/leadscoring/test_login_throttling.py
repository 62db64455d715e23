"""Sign-in throttling (django-axes): too many wrong passwords for one user name from one address
lock that pair out for the cool-off, on our sign-in page and the admin's, whatever X-Forwarded-For
says and with the cache down; other people sign in as usual.

The defaults apply (settings: AXES_FAILURE_LIMIT 5, AXES_COOLOFF_MINUTES 15, user name and
address counted together); the clock is moved with time_machine.
"""

from datetime import UTC, datetime, timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COOL_OFF = timedelta(minutes=15)
LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")


def _sign_in(client, username: str, password: str, url: str = LOGIN, **headers):  # type: ignore[no-untyped-def]
    data = {"username": username, "password": password}
    if url == ADMIN_LOGIN:
        data["next"] = reverse("admin:index")
    return client.post(url, data, **headers)


def _signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302


def _locked_out(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 429 and b'id="locked-out"' in response.content


@pytest.fixture
def clock(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(START, tick=False)
    return time_machine


def test_the_defaults():
    assert django_settings.AXES_FAILURE_LIMIT == 5
    assert django_settings.AXES_COOLOFF_TIME == COOL_OFF
    assert django_settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert django_settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"


def test_a_few_wrong_passwords_only_get_the_usual_message(client, clock, admin_user_role):
    for _ in range(4):
        response = _sign_in(client, "ada", "wrong")
        assert response.status_code == 200
        assert b"did not match" in response.content
    assert _signed_in(_sign_in(client, "ada", "pw-ada"))


def test_twenty_wrong_passwords_lock_out_until_the_cool_off_has_passed(
    client, clock, admin_user_role
):
    codes = [_sign_in(client, "ada", f"guess-{n}").status_code for n in range(20)]
    assert codes == [200] * 4 + [429] * 16
    # Only the counted failures are on record; what was tried while locked was not even checked.
    assert AccessAttempt.objects.get(username="ada").failures_since_start == 5

    clock.shift(timedelta(minutes=1))
    refused = _sign_in(client, "ada", "pw-ada")
    assert _locked_out(refused)
    page = refused.content.decode()
    assert "Too many failed sign-ins. Signing in is paused for 15 minutes" in page
    assert 'value="ada"' in page  # the sign-in form is shown again, its user name filled in
    assert "did not match" not in page

    clock.move_to(START + COOL_OFF - timedelta(seconds=1), tick=False)
    assert _locked_out(_sign_in(client, "ada", "pw-ada"))  # tries meanwhile do not prolong it
    clock.move_to(START + COOL_OFF + timedelta(seconds=1), tick=False)
    assert _signed_in(_sign_in(client, "ada", "pw-ada"))
    assert not AccessAttempt.objects.filter(username="ada").exists()  # a success starts afresh


@pytest.mark.parametrize("proxies", [0, 1])
def test_a_made_up_forwarded_for_does_not_dodge_the_lockout(
    client, clock, admin_user_role, num_proxies, proxies
):
    num_proxies(proxies)
    # Behind our proxy, it appends the address it saw; a caller can only write in front of it.
    seen_by_proxy = "203.0.113.7"
    for _ in range(5):
        _sign_in(client, "ada", "wrong", HTTP_X_FORWARDED_FOR=seen_by_proxy)
    for n in range(5):
        made_up = f"198.51.100.{n}"
        forwarded_for = made_up if proxies == 0 else f"{made_up}, {seen_by_proxy}"
        response = _sign_in(client, "ada", "pw-ada", HTTP_X_FORWARDED_FOR=forwarded_for)
        assert _locked_out(response), forwarded_for


def test_others_still_sign_in_from_the_same_address(client, clock, admin_user_role, marketing_user):
    for _ in range(20):
        _sign_in(client, "ada", "wrong")
    assert _locked_out(_sign_in(client, "ada", "pw-ada"))
    assert _signed_in(_sign_in(client, "mia", "pw-mia"))


def test_the_same_user_from_another_address_is_not_locked_out(client, clock, admin_user_role):
    for _ in range(5):
        _sign_in(client, "ada", "wrong", REMOTE_ADDR="198.51.100.1")
    assert _locked_out(_sign_in(client, "ada", "pw-ada", REMOTE_ADDR="198.51.100.1"))
    assert _signed_in(_sign_in(client, "ada", "pw-ada", REMOTE_ADDR="198.51.100.2"))


def test_the_admin_sign_in_is_throttled_too(client, clock, admin_user_role):
    codes = [_sign_in(client, "ada", "wrong", ADMIN_LOGIN).status_code for _ in range(20)]
    assert codes == [200] * 4 + [429] * 16
    assert _locked_out(_sign_in(client, "ada", "pw-ada", ADMIN_LOGIN))
    # One count for both pages: the lockout holds on ours as well.
    assert _locked_out(_sign_in(client, "ada", "pw-ada"))
    clock.move_to(START + COOL_OFF + timedelta(seconds=1), tick=False)
    response = _sign_in(client, "ada", "pw-ada", ADMIN_LOGIN)
    assert _signed_in(response) and response.url == reverse("admin:index")


@pytest.mark.parametrize(
    "language, message",
    [
        ("de", "Zu viele fehlgeschlagene Anmeldeversuche. Die Anmeldung ist für 15 Minuten"),
        ("nl", "Te veel mislukte aanmeldpogingen. Aanmelden is 15 minuten"),
    ],
)
def test_the_lockout_message_is_translated(client, clock, admin_user_role, language, message):
    for _ in range(5):
        _sign_in(client, "ada", "wrong", HTTP_ACCEPT_LANGUAGE=language)
    response = _sign_in(client, "ada", "pw-ada", HTTP_ACCEPT_LANGUAGE=language)
    assert _locked_out(response)
    assert message in response.content.decode()


def test_the_lockout_holds_with_the_cache_down(client, clock, settings, admin_user_role):
    # Nothing listens on port 1: every cache operation fails and degrades to a miss.
    settings.CACHES = {
        "default": {
            "BACKEND": "leadscoring.cache.DegradingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    for _ in range(5):
        _sign_in(client, "ada", "wrong")
    assert _locked_out(_sign_in(client, "ada", "pw-ada"))
    clock.move_to(START + COOL_OFF + timedelta(seconds=1), tick=False)
    assert _signed_in(_sign_in(client, "ada", "pw-ada"))


def test_bad_throttling_settings_stop_the_app_with_one_clear_message():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for name, value, expected in [
        ("AXES_FAILURE_LIMIT", "0", "AXES_FAILURE_LIMIT must be at least 1"),
        ("AXES_COOLOFF_MINUTES", "0", "AXES_COOLOFF_MINUTES must be at least 1"),
        ("AXES_LOCKOUT_PARAMETERS", "user", "AXES_LOCKOUT_PARAMETERS has 'user'"),
    ]:
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=root,
            env={"PATH": "", "DEBUG": "true", name: value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert expected in result.stderr.strip().splitlines()[-1], result.stderr
