"""Single sign-on end to end: the Hub's live server and a real OpenID Connect provider on
loopback (django-oidc-provider in a process of its own), driven as a browser without
scripts would (httpx following the redirects with its cookies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from supporthub.customers.models import Organisation, SupportContact
from supporthub.staff.models import StaffMember
from supporthub.testing import factories as f
from supporthub.testing import idp
from supporthub.web.sso import SignInRefused, SingleSignOnBackend
from supporthub.web.tests.conftest import SSO_LABEL, sign_in


def _alice() -> StaffMember:
    """A support engineer whose login has the address Alice proves at the provider."""
    return f.staff(user__username="alice.hub", user__email="ALICE@supporthub.example")


def _organisation(name: str = "Initech") -> Organisation:
    organisation = f.organisation(name=name)
    f.subscribe(organisation, level="gold")
    return organisation


def _carol() -> SupportContact:
    """A Support Contact of Initech; her login has no address, the contact has hers."""
    return f.add_contact(
        _organisation(), "Carol", email="carol@initech.example", user=f.user(username="c", email="")
    )


def test_staff_member_signs_in_and_lands_where_they_were_going(
    sso: idp.LoopbackProvider, live_server: LiveServer, browser_less: httpx.Client
) -> None:
    alice = _alice()

    landed = sign_in(browser_less, f"{live_server.url}/console/", "alice")

    assert landed.status_code == 200
    assert landed.url == f"{live_server.url}/console/"
    assert "alice.hub" in landed.text  # the header names the login now signed in
    assert User.objects.count() == 1
    assert User.objects.get() == alice.user

    # Deactivated later: the session ends at the next request (Django's check, kept).
    User.objects.filter(pk=alice.user.pk).update(is_active=False)
    assert browser_less.get(f"{live_server.url}/console/").url.path == "/login/"


def test_support_contact_signs_in_and_lands_in_the_hub(
    sso: idp.LoopbackProvider, live_server: LiveServer, browser_less: httpx.Client
) -> None:
    _carol()

    landed = sign_in(browser_less, f"{live_server.url}/login/", "carol")

    assert landed.status_code == 200
    assert landed.url == f"{live_server.url}/hub/"
    assert "Initech tickets" in landed.text


def _refused(landed: httpx.Response, live_server: LiveServer, why: str) -> None:
    assert landed.status_code == 200
    assert landed.url.path == "/login/"
    assert why in landed.text.replace("\n", " ")
    assert "Log in to Support Hub" in landed.text


def test_unverified_email_is_refused_even_when_it_names_a_staff_member(
    sso: idp.LoopbackProvider, live_server: LiveServer, browser_less: httpx.Client
) -> None:
    f.staff(user__username="u", user__email="unverified@supporthub.example")

    landed = sign_in(browser_less, f"{live_server.url}/login/", "unverified")

    _refused(
        landed,
        live_server,
        f"{SSO_LABEL} has not verified your email address unverified@supporthub.example",
    )
    assert browser_less.get(f"{live_server.url}/console/").url.path == "/login/"


def test_unknown_email_is_refused_and_no_login_is_made(
    sso: idp.LoopbackProvider, live_server: LiveServer, browser_less: httpx.Client
) -> None:
    _alice()

    landed = sign_in(browser_less, f"{live_server.url}/login/", "stranger")

    _refused(
        landed, live_server, "No active Support Hub login belongs to stranger@elsewhere.example"
    )
    assert list(User.objects.values_list("username", flat=True)) == ["alice.hub"]
    assert not SupportContact.objects.exists()


def _inactive_login() -> None:
    f.staff(user__username="gone", user__email="gone@supporthub.example", user__is_active=False)


def _inactive_staff_member() -> None:
    f.staff(user__username="gone", user__email="gone@supporthub.example", is_active=False)


def _retired_support_contact() -> None:
    contact = f.add_contact(
        _organisation(), "Gone", email="gone@supporthub.example", user=f.user(username="gone")
    )
    SupportContact.objects.filter(pk=contact.pk).update(is_active=False)


@pytest.mark.parametrize(
    "make", [_inactive_login, _inactive_staff_member, _retired_support_contact]
)
def test_inactive_person_is_refused(
    sso: idp.LoopbackProvider,
    live_server: LiveServer,
    browser_less: httpx.Client,
    make: Callable[[], None],
) -> None:
    make()

    landed = sign_in(browser_less, f"{live_server.url}/login/", "gone")

    _refused(landed, live_server, "No active Support Hub login belongs to gone@supporthub.example")
    assert browser_less.get(f"{live_server.url}/console/").url.path == "/login/"


def test_two_logins_with_the_address_are_refused_rather_than_guessed(
    sso: idp.LoopbackProvider, live_server: LiveServer, browser_less: httpx.Client
) -> None:
    _alice()
    f.add_contact(
        _organisation("Globex"),
        "Alice",
        email="alice@supporthub.example",
        user=f.user(username="a2"),
    )

    landed = sign_in(browser_less, f"{live_server.url}/login/", "alice")

    _refused(landed, live_server, "More than one Support Hub login has the address")


def test_a_provider_that_does_not_answer_ends_on_the_login_page(
    sso: idp.LoopbackProvider,
    settings: Any,
    live_server: LiveServer,
    browser_less: httpx.Client,
) -> None:
    _alice()
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{idp.free_port()}/openid/token"

    landed = sign_in(browser_less, f"{live_server.url}/login/", "alice")

    _refused(landed, live_server, f"{SSO_LABEL} did not complete the sign-in")
    assert browser_less.get(f"{live_server.url}/console/").url.path == "/login/"


# Without the provider: what the Hub does with SSO off, and with a callback it did not start.


def test_without_sso_there_is_no_button_and_no_sso_pages(client: Client, db: None) -> None:
    page = client.get("/login/")

    assert b"Sign in with" not in page.content
    assert client.get("/sso/start/").status_code == 404
    assert client.get("/sso/callback/?code=x&state=y").status_code == 404


SECRET = "a-client-secret-long-enough-for-hs256"


def _configured(settings: Any) -> None:
    settings.SSO_ENABLED = True
    settings.SSO_BUTTON_LABEL = SSO_LABEL
    settings.OIDC_RP_CLIENT_ID = "hub"
    settings.OIDC_RP_CLIENT_SECRET = SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://id.example/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://id.example/token"
    settings.OIDC_OP_USER_ENDPOINT = "https://id.example/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = "https://id.example/jwks"


def test_the_button_starts_at_the_provider_with_pkce_and_the_next_page(
    client: Client, db: None, settings: Any
) -> None:
    _configured(settings)

    page = client.get("/login/?next=/console/")
    started = client.get("/sso/start/?next=/console/")

    assert b"Sign in with Loopback ID" in page.content
    assert b'href="/sso/start/?next=/console/"' in page.content
    assert started.status_code == 302
    target = httpx.URL(started["Location"])
    assert str(target.copy_with(query=None)) == "https://id.example/authorize"
    assert target.params["client_id"] == "hub"
    assert target.params["scope"] == "openid email"
    assert target.params["redirect_uri"] == "http://testserver/sso/callback/"
    assert target.params["code_challenge_method"] == "S256"
    assert client.session["oidc_login_next"] == "/console/"
    client.get("/sso/start/?next=https://elsewhere.example/")
    assert client.session["oidc_login_next"] is None  # never sent on to another site


def test_a_callback_this_browser_did_not_start_ends_on_the_login_page(
    client: Client, db: None, settings: Any
) -> None:
    _configured(settings)
    client.get("/sso/start/")

    foreign = client.get("/sso/callback/?code=stolen&state=not-ours", follow=True)
    unstarted = Client().get("/sso/callback/?code=stolen&state=not-ours", follow=True)
    cancelled = client.get("/sso/callback/?error=access_denied&state=x", follow=True)

    assert foreign.redirect_chain == [("/login/", 302)]
    assert "was not started here or has expired" in foreign.content.decode()
    assert unstarted.redirect_chain == [("/login/", 302)]
    assert "did not succeed" in unstarted.content.decode()
    assert "The sign-in was cancelled at Loopback ID." in cancelled.content.decode()


def test_a_password_login_never_reaches_the_provider(
    client: Client, db: None, settings: Any
) -> None:
    _configured(settings)
    f.user(username="pat", password="pw-for-tests")

    logged_in = client.post(
        "/login/?code=x&state=y", {"username": "pat", "password": "wrong"}, follow=True
    )

    assert logged_in.status_code == 200
    assert "Log in to Support Hub" in logged_in.content.decode()


@pytest.mark.parametrize(
    ("audience", "accepted"), [("hub", True), (["x", "hub"], True), ("x", False)]
)
def test_an_id_token_for_another_client_is_refused(
    settings: Any, audience: str | list[str], accepted: bool
) -> None:
    _configured(settings)
    settings.OIDC_RP_SIGN_ALGO = "HS256"
    token = jwt.encode({"aud": audience, "nonce": "n", "sub": "1"}, SECRET, algorithm="HS256")

    if accepted:
        assert SingleSignOnBackend().verify_token(token, nonce="n")["sub"] == "1"
    else:
        with pytest.raises(SuspiciousOperation, match="for another client"):
            SingleSignOnBackend().verify_token(token, nonce="n")


@pytest.mark.parametrize(
    ("claims", "refusal"),
    [
        ({"email_verified": True}, "did not tell us your email address"),
        ({"email": "a@x.example"}, "has not verified your email address a@x.example"),
        ({"email": "a@x.example", "email_verified": "false"}, "has not verified"),
        ({"email": "a@x.example", "email_verified": 1}, "has not verified"),
        ({"email": "a@x.example", "email_verified": "True"}, None),  # a string, as some send
        ({"email": "a@x.example", "email_verified": True}, None),
    ],
)
def test_only_a_verified_address_is_used(
    settings: Any, claims: dict[str, Any], refusal: str | None
) -> None:
    _configured(settings)

    if refusal is None:
        assert SingleSignOnBackend().verify_claims(claims) is True
    else:
        with pytest.raises(SignInRefused, match=refusal):
            SingleSignOnBackend().verify_claims(claims)
