"""HTTPS, HSTS, cookies and the Content-Security-Policy: what the settings make of the
environment, and `check --deploy` clean on the production settings README documents."""

from __future__ import annotations

import os
import secrets
import subprocess  # noqa: S404
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.settings import settings_read

PRODUCTION_ENV = Path(__file__).resolve().parents[4] / "examples" / "production.env"
SECURITY = (
    "PUBLIC_BASE_URL",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    return settings_read(monkeypatch, cleared=SECURITY, **env)


def _production_env() -> dict[str, str]:
    found = {}
    for number, line in enumerate(PRODUCTION_ENV.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{PRODUCTION_ENV.name}:{number}: not NAME=value"
        found[name] = value
    return found


def test_plain_http_sends_cookies_anywhere_and_redirects_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = _settings(monkeypatch, PUBLIC_BASE_URL="http://127.0.0.1:8000")
    assert found["SESSION_COOKIE_SECURE"] is False
    assert found["CSRF_COOKIE_SECURE"] is False
    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SECURE_HSTS_SECONDS"] == 0
    assert found["SECURE_PROXY_SSL_HEADER"] is None


def test_an_https_address_makes_cookies_secure_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(monkeypatch, PUBLIC_BASE_URL="https://support.example.com")
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    overridden = _settings(
        monkeypatch, PUBLIC_BASE_URL="https://support.example.com", SESSION_COOKIE_SECURE="0"
    )
    assert overridden["SESSION_COOKIE_SECURE"] is False


def test_the_proxy_header_is_read_as_django_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(monkeypatch, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert found["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}, "SECURE_PROXY_SSL_HEADER"),
        (
            {"PUBLIC_BASE_URL": "https://a.example", "SECURE_HSTS_PRELOAD": "true"},
            "SECURE_HSTS_PRELOAD",
        ),
        (
            {"PUBLIC_BASE_URL": "http://a.example", "SECURE_HSTS_SECONDS": "600"},
            "SECURE_HSTS_SECONDS",
        ),
        ({"SECURE_SSL_REDIRECT": "maybe"}, "SECURE_SSL_REDIRECT"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=names):
        _settings(monkeypatch, **env)


def test_check_deploy_is_clean_on_the_documented_production_settings(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SECURITY and not key.startswith(("DJANGO_", "INBOUND_", "EMAIL_"))
    }
    env.update(_production_env())
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["SUPPORTHUB_DATA_DIR"] = str(tmp_path)
    env.pop("DEBUG", None)
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "supporthub", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/", "/", "/console/", "/api/docs"])
def test_every_page_carries_a_policy_without_inline_scripts(path: str) -> None:
    alice = f.staff(user__username="alice", role_codes=[Role.SUPPORT_ENGINEER])
    client = Client()
    if path not in ("/login/", "/admin/login/"):
        client.force_login(alice.user)
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
