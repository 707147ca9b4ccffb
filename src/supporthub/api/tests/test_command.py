"""`supporthub api-token create|list|revoke`, and tokens in the back office."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client

from supporthub.api.models import ApiToken
from supporthub.api.tests.conftest import Api
from supporthub.testing.world import World


def _run(*args: str) -> str:
    out = StringIO()
    call_command("api-token", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_token_once_as_the_last_line(world: World) -> None:
    output = _run("create", "--organisation", "Initech", "--name", "bench")
    token = output.strip().splitlines()[-1]
    assert re.fullmatch(r"sh_[A-Za-z0-9_-]{43}", token)
    assert output.count(token) == 1
    stored = ApiToken.objects.get()
    assert stored.organisation == world.organisation and stored.name == "bench"
    assert Api(Client(), token).get("/api/tickets").status_code == 200


def test_create_for_a_staff_login(world: World) -> None:
    token = _run("create", "--staff", "alice", "--name", "script").strip().splitlines()[-1]
    assert ApiToken.objects.get().staff_user == world.alice.user
    assert Api(Client(), token).get("/api/tickets").status_code == 200


def test_create_refuses_unknown_names_and_customer_logins(world: World) -> None:
    with pytest.raises(CommandError, match="no organisation named 'Umbrella'.*Initech"):
        _run("create", "--organisation", "Umbrella", "--name", "x")
    with pytest.raises(CommandError, match="no login named 'zed'"):
        _run("create", "--staff", "zed", "--name", "x")
    with pytest.raises(CommandError, match="not an active staff login"):
        _run("create", "--staff", "carol", "--name", "x")
    assert not ApiToken.objects.exists()


def test_list_shows_prefixes_never_tokens_and_revoke_refuses_the_token(world: World) -> None:
    token = _run("create", "--organisation", "Initech", "--name", "CRM").strip().splitlines()[-1]
    listing = _run("list")
    assert token[:10] in listing and token not in listing
    assert "for Initech" in listing and "never" in listing and "active" in listing

    assert "Revoked" in _run("revoke", token[:10])
    assert "already revoked" in _run("revoke", token[:10])
    assert "revoked" in _run("list")
    assert _run("list", "--active").strip() == "No API tokens."
    assert Api(Client(), token).get("/api/tickets").status_code == 401
    with pytest.raises(CommandError, match="No API token with prefix"):
        _run("revoke", "sh_nothing")


def test_the_underscore_spelling_is_the_same_command(world: World) -> None:
    out = StringIO()
    call_command("api_token", "list", stdout=out)
    assert out.getvalue().strip() == "No API tokens."


def test_admin_creates_a_token_and_shows_it_once(world: World) -> None:
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client = Client()
    client.login(request=HttpRequest(), username="root", password="pw-for-tests")
    page = client.post(
        "/admin/api/apitoken/add/",
        {"name": "Zapier", "organisation": world.organisation.pk, "staff_user": ""},
    )
    assert page.status_code == 200, page.content
    text = page.content.decode()
    token = re.search(r'<code id="api-token"[^>]*>([^<]+)</code>', text)
    assert token is not None
    stored = ApiToken.objects.get()
    assert stored.prefix == token.group(1)[:10]
    assert Api(Client(), token.group(1)).get("/api/tickets").status_code == 200
    assert "no-store" in page["Cache-Control"]

    change = client.get(f"/admin/api/apitoken/{stored.pk}/change/").content.decode()
    assert token.group(1) not in change  # never shown again
    assert stored.key_hash in change  # shown, read-only
    assert 'name="key_hash"' not in change


def test_admin_refuses_a_token_with_two_scopes_or_none(world: World) -> None:
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client = Client()
    client.login(request=HttpRequest(), username="root", password="pw-for-tests")
    page = client.post("/admin/api/apitoken/add/", {"name": "Nothing"})
    assert "not both" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_admin_revoke_action(world: World) -> None:
    _run("create", "--organisation", "Initech", "--name", "CRM")
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client = Client()
    client.login(request=HttpRequest(), username="root", password="pw-for-tests")
    token = ApiToken.objects.get()
    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
