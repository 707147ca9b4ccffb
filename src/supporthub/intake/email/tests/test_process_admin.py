"""The inbox in the admin: filter, search, download the raw message, reprocess quarantined."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.intake.email.services import inbox_store
from supporthub.intake.email.tests.fakes import message

pytestmark = pytest.mark.django_db

URL = "/admin/intake_email/inboundmessage/"


def _quarantined(number: int, reason: str) -> InboundMessage:
    row = inbox_store(raw=message(number), source=Source.SMTP, mailbox="smtp://a").message
    InboundMessage.objects.filter(pk=row.pk).update(
        state=InboundState.QUARANTINED, reason=reason, attempts=3
    )
    return row


def _staff(*codenames: str) -> User:
    user = User.objects.create_user("ops", "ops@supporthub.example", "pw-for-tests", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_an_admin_sees_quarantined_mail_with_its_reason_and_filters_by_state(client: Any) -> None:
    bad = _quarantined(1, "Malformed MIME: the multipart has no closing boundary.")
    inbox_store(raw=message(2, subject="Fine mail"), source=Source.IMAP, mailbox="imap://b")
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    page = client.get(URL + "?state__exact=quarantined")

    assert page.status_code == 200
    assert b"Malformed MIME: the multipart has no closing boundary." in page.content
    assert bad.subject.encode() in page.content
    assert b"Fine mail" not in page.content
    assert b"/admin/intake_email/inboundmessage/add/" not in page.content
    assert client.get(URL + "?source__exact=imap&q=Fine").content.count(b"Fine mail") >= 1


def test_the_raw_message_downloads_byte_for_byte(client: Any) -> None:
    row = _quarantined(1, "Unknown charset x-klingon.")
    client.force_login(_staff("view_inboundmessage"))

    detail = client.get(f"{URL}{row.pk}/change/")
    response = client.get(f"{URL}{row.pk}/raw/")

    assert f"{URL}{row.pk}/raw/".encode() in detail.content
    assert response.status_code == 200
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="inbound-{row.pk}.eml"'
    assert response.content == message(1)


def test_without_the_view_permission_there_is_no_download(client: Any) -> None:
    row = _quarantined(1, "x")
    client.force_login(_staff())

    assert client.get(f"{URL}{row.pk}/raw/").status_code == 403


def test_reprocess_needs_the_change_permission_and_queues_only_quarantined_mail(
    client: Any,
) -> None:
    bad = _quarantined(1, "No usable sender.")
    stored = inbox_store(raw=message(2), source=Source.SMTP, mailbox="smtp://a").message
    viewer = _staff("view_inboundmessage")
    client.force_login(viewer)
    form = {"action": "reprocess", "_selected_action": [bad.pk, stored.pk]}

    client.post(URL, form)
    assert InboundMessage.objects.get(pk=bad.pk).state == InboundState.QUARANTINED

    viewer.user_permissions.add(Permission.objects.get(codename="change_inboundmessage"))
    response = client.post(URL, form, follow=True)

    assert b"1 message(s) queued for processing again (1 not quarantined" in response.content
    bad.refresh_from_db()
    assert (bad.state, bad.attempts) == (InboundState.STORED, 0)
