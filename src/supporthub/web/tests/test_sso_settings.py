"""What the settings make of SSO_* in the environment: off when unset, a clear error naming
the variable at fault otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from supporthub.testing.settings import settings_read

ISSUER = "https://id.example.com/oauth2"
CONFIGURED = {
    "SSO_CLIENT_ID": "supporthub",
    "SSO_CLIENT_SECRET": "s3cret",
    "SSO_AUTHORIZATION_URL": f"{ISSUER}/authorize",
    "SSO_TOKEN_URL": f"{ISSUER}/token",
    "SSO_USERINFO_URL": f"{ISSUER}/userinfo",
    "SSO_JWKS_URL": f"{ISSUER}/keys",
}
NAMES = (*CONFIGURED, "SSO_BUTTON_LABEL", "SSO_SIGN_ALGORITHM", "SSO_SCOPES", "SSO_TIMEOUT")


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    return settings_read(monkeypatch, cleared=NAMES, **env)


def test_sso_is_off_with_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(monkeypatch)

    assert found["SSO_ENABLED"] is False
    assert found["OIDC_OP_AUTHORIZATION_ENDPOINT"] == ""
    # The backend stays listed, and does nothing while SSO is off.
    assert found["AUTHENTICATION_BACKENDS"][-1] == "supporthub.web.sso.SingleSignOnBackend"


def test_the_environment_becomes_the_librarys_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(
        monkeypatch,
        **CONFIGURED,
        SSO_BUTTON_LABEL=" Okta ",
        SSO_SIGN_ALGORITHM="es256",
        SSO_SCOPES="openid  email profile",
        SSO_TIMEOUT="4",
    )

    assert found["SSO_ENABLED"] is True
    assert found["SSO_BUTTON_LABEL"] == "Okta"
    assert found["OIDC_RP_CLIENT_ID"] == "supporthub"
    assert found["OIDC_RP_CLIENT_SECRET"] == "s3cret"
    assert found["OIDC_OP_AUTHORIZATION_ENDPOINT"] == f"{ISSUER}/authorize"
    assert found["OIDC_OP_TOKEN_ENDPOINT"] == f"{ISSUER}/token"
    assert found["OIDC_OP_USER_ENDPOINT"] == f"{ISSUER}/userinfo"
    assert found["OIDC_OP_JWKS_ENDPOINT"] == f"{ISSUER}/keys"
    assert found["OIDC_RP_SIGN_ALGO"] == "ES256"
    assert found["OIDC_RP_SCOPES"] == "openid email profile"
    assert found["OIDC_TIMEOUT"] == 4
    assert found["OIDC_USE_PKCE"] is True


def test_defaults_of_a_configured_sso(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(monkeypatch, **CONFIGURED)

    assert found["SSO_BUTTON_LABEL"] == "single sign-on"
    assert found["OIDC_RP_SIGN_ALGO"] == "RS256"
    assert found["OIDC_RP_SCOPES"] == "openid email"
    assert found["OIDC_TIMEOUT"] == 10


def test_hs256_needs_no_key_set(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**CONFIGURED, "SSO_SIGN_ALGORITHM": "HS256"}
    del env["SSO_JWKS_URL"]

    assert _settings(monkeypatch, **env)["OIDC_OP_JWKS_ENDPOINT"] == ""


def test_plain_http_is_accepted_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    local = {**CONFIGURED, "SSO_TOKEN_URL": "http://127.0.0.1:9000/token"}
    assert _settings(monkeypatch, **local)["OIDC_OP_TOKEN_ENDPOINT"] == local["SSO_TOKEN_URL"]

    with pytest.raises(ImproperlyConfigured, match=r"SSO_TOKEN_URL=.*must be https://"):
        _settings(monkeypatch, **{**CONFIGURED, "SSO_TOKEN_URL": "http://id.example.com/token"})


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"SSO_CLIENT_SECRET": ""}, "SSO_CLIENT_SECRET is needed too"),
        ({"SSO_TOKEN_URL": ""}, "SSO_TOKEN_URL is needed too"),
        ({"SSO_JWKS_URL": ""}, "SSO_JWKS_URL is needed too"),
        ({"SSO_USERINFO_URL": "id.example.com/userinfo"}, "SSO_USERINFO_URL=.* is not an absolute"),
        ({"SSO_CLIENT_ID": ""}, "SSO_AUTHORIZATION_URL is set but SSO_CLIENT_ID is empty"),
        ({"SSO_SIGN_ALGORITHM": "none"}, "SSO_SIGN_ALGORITHM='NONE' is not one of"),
        ({"SSO_SCOPES": "openid profile"}, "SSO_SCOPES='openid profile' must include openid and"),
        ({"SSO_TIMEOUT": "soon"}, "SSO_TIMEOUT='soon' is not an integer"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, str], error: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=error):
        _settings(monkeypatch, **{**CONFIGURED, **change})
