"""A way back in: password reset by mail (through the outbox, the link built on
PUBLIC_BASE_URL, single-use and time-limited) and password change for a logged-in user."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing import factories as f

pytestmark = pytest.mark.django_db
NEW = "a-New-passphrase-2027"


def _link(row: OutboxMessage) -> str:
    found = re.search(r"https?://\S+/password/reset/\S+/", row.text_body)
    assert found, row.text_body
    return found.group(0)


def _ask(client: Client, email: str) -> Any:
    return client.post("/password/reset/", {"email": email}, HTTP_HOST="localhost")


def test_the_login_page_offers_a_reset(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert 'href="/password/reset/"' in page and "Forgot your password?" in page
    assert "/admin/password_reset/" in client.get("/admin/login/").content.decode()


def test_a_reset_mail_goes_through_the_outbox_and_its_link_works_once(
    client: Client, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = "https://support.example.com"
    User.objects.create_user("carol", "carol@northwind.example", "old-Passphrase-2026")
    response = _ask(client, "CAROL@northwind.example")
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent/"
    [row] = OutboxMessage.objects.filter(kind=OutboxKind.PASSWORD_RESET)
    assert row.recipient == "carol@northwind.example"
    assert row.subject == "Reset your Support Hub password"
    link = _link(row)
    assert link.startswith("https://support.example.com/password/reset/")  # not the Host
    assert "carol" in row.text_body and "within 1 hour" in row.text_body
    assert link.removeprefix("https://support.example.com") in row.html_body

    path = link.removeprefix("https://support.example.com")
    form = client.get(path, follow=True)
    assert "Set a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == "/password/reset/complete/"
    assert Client().login(request=HttpRequest(), username="carol", password=NEW)

    again = client.get(path, follow=True).content.decode()
    assert "This link no longer works" in again


def test_a_link_expires(client: Client, settings: Any) -> None:
    User.objects.create_user("carol", "carol@northwind.example", "old-Passphrase-2026")
    _ask(client, "carol@northwind.example")
    path = re.sub(r"^https?://[^/]+", "", _link(OutboxMessage.objects.get()))
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    ):
        page = client.get(path, follow=True).content.decode()
    assert "This link no longer works" in page


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client: Client) -> None:
    response = _ask(client, "nobody@nowhere.example")
    assert response.status_code == 302 and response["Location"] == "/password/reset/sent/"
    assert not OutboxMessage.objects.exists()


def test_a_support_contacts_address_reaches_their_login(client: Client) -> None:
    organisation = f.organisation(name="Northwind")
    f.subscribe(organisation, level="enterprise")
    login = User.objects.create_user("cdiaz", "", "old-Passphrase-2026")  # no email on the login
    f.add_contact(organisation, "Carol Diaz", email="carol@northwind.example", user=login)
    _ask(client, "carol@northwind.example")
    [row] = OutboxMessage.objects.all()
    assert row.recipient == "carol@northwind.example" and "cdiaz" in row.text_body


def test_a_logged_in_user_changes_their_password(client: Client) -> None:
    user = User.objects.create_user("carol", "carol@northwind.example", "old-Passphrase-2026")
    client.force_login(user)
    assert 'href="/password/change/"' in client.get("/password/change/").content.decode()
    wrong = client.post(
        "/password/change/",
        {"old_password": "not-it", "new_password1": NEW, "new_password2": NEW},
    )
    assert wrong.status_code == 200 and "old password" in wrong.content.decode().lower()
    done = client.post(
        "/password/change/",
        {"old_password": "old-Passphrase-2026", "new_password1": NEW, "new_password2": NEW},
    )
    assert done.status_code == 302 and done["Location"] == "/password/change/done/"
    assert Client().login(request=HttpRequest(), username="carol", password=NEW)
