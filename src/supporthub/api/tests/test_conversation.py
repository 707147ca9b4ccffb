"""Messages and attachments, always through their ticket; internal notes stay internal."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Attachment, Message, Ticket


@pytest.fixture
def ticket(world: World, org_api: Api) -> dict[str, Any]:
    created = org_api.post("/api/tickets", new_ticket(world))
    assert created.status_code == 201
    return dict(created.json())


def test_staff_reply_stops_the_clock_and_internal_notes_stay_internal(
    ticket: dict[str, Any], staff_api: Api, org_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}/messages"
    note = staff_api.post(url, {"body": "Looks like the shard rebalance.", "internal": True})
    assert note.status_code == 201, note.content
    assert note.json()["kind"] == "internal_note" and note.json()["internal"] is True
    reply = staff_api.post(url, {"body": "We are on it.", "body_format": "text"})
    assert reply.status_code == 201
    assert reply.json()["author"] == {
        "kind": "staff",
        "id": reply.json()["author"]["id"],
        "name": "Alice",
    }
    assert reply["ETag"] == '"3"'

    first = org_api.get(f"/api/tickets/{ticket['id']}").json()["sla"]["first_response"]
    assert first["status"] == "met" and first["responded_at"] is not None

    staff_sees = [m["kind"] for m in staff_api.get(url).json()["items"]]
    customer_sees = [m["kind"] for m in org_api.get(url).json()["items"]]
    assert staff_sees == ["internal_note", "public_reply"]
    assert customer_sees == ["public_reply"]


def test_customers_cannot_write_internal_notes(ticket: dict[str, Any], org_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}/messages"
    response = org_api.post(url, {"body": "psst", "internal": True})
    assert response.status_code == 403
    assert "internal notes" in response.json()["detail"]
    assert not Message.objects.exists()
    customer = org_api.post(url, {"body": "Any news?"})
    assert customer.status_code == 201
    assert customer.json()["kind"] == "public_reply"


def test_html_bodies_are_sanitised_for_display(ticket: dict[str, Any], org_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}/messages"
    body = '<p onclick="x()">Hi<script>alert(1)</script></p>'
    created = org_api.post(url, {"body": body, "body_format": "html"}).json()
    assert created["body"] == body  # stored as received
    assert "script" not in created["body_html"] and "onclick" not in created["body_html"]


def test_messages_of_another_organisations_ticket_are_404(
    ticket: dict[str, Any], other_org_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}/messages"
    assert other_org_api.get(url).status_code == 404
    assert other_org_api.post(url, {"body": "hello"}).status_code == 404


def test_attachment_upload_and_download(ticket: dict[str, Any], org_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}/attachments"
    upload = SimpleUploadedFile("error log.txt", b"503 at 09:00\n", content_type="text/plain")
    created = org_api.upload(url, {"file": upload})
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["filename"], data["size"], data["internal"]) == ("error log.txt", 13, False)
    assert [a["id"] for a in org_api.get(url).json()["items"]] == [data["id"]]

    download = org_api.get(data["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert "error log.txt" in download["Content-Disposition"]
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == b"503 at 09:00\n"


@override_settings(ATTACHMENT_MAX_BYTES=10)
def test_attachment_over_the_limit_is_413_naming_the_file_and_the_limit(
    ticket: dict[str, Any], org_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}/attachments"
    upload = SimpleUploadedFile("dump.bin", b"x" * 11)
    response = org_api.upload(url, {"file": upload})
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "dump.bin" in detail and "11 bytes" in detail and "10 bytes" in detail
    assert "file" in response.json()["errors"]
    assert not Attachment.objects.exists()


def test_attachments_of_internal_notes_are_staff_only(
    ticket: dict[str, Any], staff_api: Api, org_api: Api
) -> None:
    note = staff_api.post(
        f"/api/tickets/{ticket['id']}/messages", {"body": "Heap dump attached", "internal": True}
    ).json()
    url = f"/api/tickets/{ticket['id']}/attachments"
    created = staff_api.upload(
        url, {"file": SimpleUploadedFile("heap.hprof", b"\x00\x01"), "message_id": note["id"]}
    )
    assert created.status_code == 201, created.content
    assert created.json()["internal"] is True
    assert org_api.get(url).json()["items"] == []
    assert org_api.get(created.json()["download_url"]).status_code == 404
    assert staff_api.get(created.json()["download_url"]).status_code == 200
    # Nor can a customer attach to the internal note.
    refused = org_api.upload(
        url, {"file": SimpleUploadedFile("x.txt", b"x"), "message_id": note["id"]}
    )
    assert refused.status_code == 422
    assert "message_id" in refused.json()["errors"]


def test_attachment_to_a_message_of_another_ticket_is_422(
    world: World, ticket: dict[str, Any], org_api: Api
) -> None:
    other = org_api.post("/api/tickets", new_ticket(world, subject="Other")).json()
    message = org_api.post(f"/api/tickets/{other['id']}/messages", {"body": "hi"}).json()
    response = org_api.upload(
        f"/api/tickets/{ticket['id']}/attachments",
        {"file": SimpleUploadedFile("x.txt", b"x"), "message_id": message["id"]},
    )
    assert response.status_code == 422
    assert Ticket.objects.get(pk=ticket["id"]).attachments.count() == 0


def test_upload_without_a_file_is_422_naming_it(ticket: dict[str, Any], org_api: Api) -> None:
    response = org_api.upload(f"/api/tickets/{ticket['id']}/attachments", {})
    assert response.status_code == 422
    assert "file" in response.json()["errors"]
