"""Failed logins are throttled per account at an address and per address (django-axes): a
guesser is refused with 429 and a wait that doubles, a colleague elsewhere is not locked out,
and a proxy's address header counts only when the operator names it."""

from __future__ import annotations

import runpy
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

import supporthub.settings as live_settings
from supporthub.worker.registry import periodic_jobs

pytestmark = pytest.mark.django_db
RIGHT = "the-Right-passphrase-2026"
GUESSER = "203.0.113.7"
COLLEAGUE = "198.51.100.20"


@pytest.fixture
def carol() -> User:
    return User.objects.create_user("carol", "carol@initech.example", RIGHT)


def _log_in(
    client: Client,
    username: str,
    password: str,
    *,
    ip: str = GUESSER,
    path: str = "/login/",
    **extra: Any,
) -> Any:
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _guess(client: Client, username: str, times: int, **kwargs: Any) -> list[int]:
    return [_log_in(client, username, f"guess-{n}", **kwargs).status_code for n in range(times)]


def test_thirty_wrong_passwords_lock_the_account_at_that_address(
    client: Client, carol: User
) -> None:
    statuses = _guess(client, "carol", 30)
    # Today all thirty get 200 (the form again); now the fifth failure locks.
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429] * 26
    refused = _log_in(client, "carol", RIGHT)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    page = refused.content.decode()
    assert "Too many failed logins" in page and "Wait about 5 minutes" in page
    assert 0 < int(refused["Retry-After"]) <= 300
    assert "Content-Security-Policy" in refused  # the app's page, under its CSP


def test_a_colleague_at_another_address_logs_in(client: Client, carol: User) -> None:
    _guess(client, "carol", 10)
    assert _log_in(Client(), "carol", RIGHT, ip=COLLEAGUE).status_code == 302


def test_another_name_at_the_same_address_logs_in(client: Client, carol: User) -> None:
    User.objects.create_user("olga", "olga@globex.example", RIGHT)
    _guess(client, "carol", 10)
    assert _log_in(Client(), "olga", RIGHT).status_code == 302


def test_an_address_guessing_many_names_is_locked_for_all(
    client: Client, carol: User, settings: Any
) -> None:
    names = [f"user{n}" for n in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT)]
    statuses = [_log_in(client, name, "guess").status_code for name in names]
    assert statuses[:-1] == [200] * (len(names) - 1) and statuses[-1] == 429
    assert _log_in(client, "carol", RIGHT).status_code == 429
    assert _log_in(Client(), "carol", RIGHT, ip=COLLEAGUE).status_code == 302


def test_the_lock_lifts_after_the_wait_and_the_next_one_is_twice_as_long(
    client: Client, carol: User
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _guess(client, "carol", 5)
        clock.shift(timedelta(minutes=4, seconds=50))
        assert _log_in(client, "carol", RIGHT).status_code == 429  # does not extend the wait
        clock.shift(timedelta(seconds=15))
        assert _log_in(client, "carol", RIGHT).status_code == 302
        client.logout()

        statuses = _guess(client, "carol", 5)
        assert statuses == [200] * 4 + [429]
        second = _log_in(client, "carol", RIGHT)
        assert "Wait about 10 minutes" in second.content.decode()
        assert second["Retry-After"] == "600"
        clock.shift(timedelta(minutes=9, seconds=50))
        assert _log_in(client, "carol", RIGHT).status_code == 429
        clock.shift(timedelta(seconds=15))
        assert _log_in(client, "carol", RIGHT).status_code == 302


def test_the_wait_stops_growing_at_the_maximum(client: Client, carol: User, settings: Any) -> None:
    settings.LOGIN_LOCKOUT_MAX_MINUTES = 15
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(4):  # 5, 10, then 15 (not 20) minutes
            _guess(client, "carol", 5)
            clock.shift(timedelta(minutes=20))
        _guess(client, "carol", 5)
        assert _log_in(client, "carol", RIGHT)["Retry-After"] == "900"


def test_a_forwarded_address_is_ignored_unless_configured(client: Client, carol: User) -> None:
    # Each guess claims another address: without a configured header, REMOTE_ADDR counts.
    for n in range(5):
        _log_in(client, "carol", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _log_in(client, "carol", RIGHT, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_the_proxy_header_setting_reads_a_header_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOGIN_CLIENT_IP_HEADER", raising=False)
    found = runpy.run_path(live_settings.__file__)
    assert found["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ("REMOTE_ADDR",)
    monkeypatch.setenv("LOGIN_CLIENT_IP_HEADER", "X-Forwarded-For")
    found = runpy.run_path(live_settings.__file__)
    assert found["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    monkeypatch.setenv("LOGIN_CLIENT_IP_HEADER", "X-Forwarded-For: 1.2.3.4")
    with pytest.raises(ImproperlyConfigured, match="LOGIN_CLIENT_IP_HEADER="):
        runpy.run_path(live_settings.__file__)


def test_a_maximum_wait_shorter_than_the_first_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGIN_LOCKOUT_MINUTES", "30")
    monkeypatch.setenv("LOGIN_LOCKOUT_MAX_MINUTES", "10")
    with pytest.raises(ImproperlyConfigured, match="LOGIN_LOCKOUT_MAX_MINUTES=10"):
        runpy.run_path(live_settings.__file__)
    monkeypatch.setenv("LOGIN_FAILURE_LIMIT", "1")
    with pytest.raises(ImproperlyConfigured, match="LOGIN_FAILURE_LIMIT='1' must be at least 2"):
        runpy.run_path(live_settings.__file__)


def test_a_configured_proxy_header_names_the_client(
    client: Client, carol: User, settings: Any
) -> None:
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    proxy = {"ip": "127.0.0.1"}
    # The proxy appends the address it saw; what the client sent stays on the left.
    for n in range(5):
        _log_in(client, "carol", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {GUESSER}", **proxy)
    assert _log_in(client, "carol", RIGHT, HTTP_X_FORWARDED_FOR=GUESSER, **proxy).status_code == 429
    colleague = _log_in(Client(), "carol", RIGHT, HTTP_X_FORWARDED_FOR=COLLEAGUE, **proxy)
    assert colleague.status_code == 302


def test_the_back_office_login_is_throttled_too(client: Client) -> None:
    User.objects.create_superuser("root", "root@vendor.example", RIGHT)
    statuses = _guess(client, "root", 5, path="/admin/login/")
    assert statuses == [200] * 4 + [429]
    refused = _log_in(client, "root", RIGHT, path="/admin/login/")
    assert refused.status_code == 429 and "Too many failed logins" in refused.content.decode()
    # The failures of the two forms add up: they are one account at one address.
    assert _log_in(client, "root", RIGHT).status_code == 429


def test_the_back_office_lists_a_lock_and_deleting_it_lifts_it(client: Client, carol: User) -> None:
    _guess(client, "carol", 5)
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@vendor.example", RIGHT))
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "carol" in listing.content.decode()
    [attempt] = AccessAttempt.objects.all()
    done = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert done.status_code == 302 and not AccessAttempt.objects.exists()
    assert _log_in(client, "carol", RIGHT).status_code == 302


def test_an_address_trying_new_names_waits_longer_each_time(
    client: Client, carol: User, settings: Any
) -> None:
    limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for run, minutes in enumerate((5, 10)):
            statuses = [
                _log_in(client, f"user{run}-{n}", "guess").status_code for n in range(limit)
            ]
            assert statuses[-1] == 429 and statuses.count(429) == 1
            assert _log_in(client, "carol", RIGHT)["Retry-After"] == str(minutes * 60)
            clock.shift(timedelta(minutes=minutes, seconds=5))
        assert _log_in(client, "carol", RIGHT).status_code == 302


def test_guessing_the_old_password_on_the_change_form_is_throttled_as_a_login(
    client: Client, carol: User
) -> None:
    """A signed-in session (a borrowed laptop, a stolen cookie) cannot try old passwords on
    the change form without limit: each wrong one is a failed login."""
    client.force_login(carol)

    def change(old: str) -> Any:
        new = "a-New-passphrase-2026"
        return client.post(
            "/password/change/",
            {"old_password": old, "new_password1": new, "new_password2": new},
            REMOTE_ADDR=GUESSER,
        )

    statuses = [change(f"guess-{n}").status_code for n in range(6)]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429] * 2
    assert change(RIGHT).status_code == 429  # locked: not even the right one changes it
    carol.refresh_from_db()
    assert carol.check_password(RIGHT)
    assert AccessAttempt.objects.get(username="carol").failures_since_start >= 5


def test_the_worker_trims_the_failure_log_to_its_age_and_the_wait_still_doubles(
    client: Client, carol: User, settings: Any
) -> None:
    settings.LOGIN_FAILURE_LOG_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=31)):
        _guess(client, "carol", 1)
    with time_machine.travel(start - timedelta(days=29)):
        _guess(client, "carol", 1)
    _guess(client, "carol", 1)
    assert AccessFailureLog.objects.count() == 3

    [job] = [job for job in periodic_jobs() if job.name == "login failure log pruning"]
    assert job.run() == 1
    kept = sorted(AccessFailureLog.objects.values_list("attempt_time", flat=True))
    assert len(kept) == 2 and kept[0] > start - timedelta(days=30)
