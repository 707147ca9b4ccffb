"""Bodies are sanitised when shown, never when stored; files are downloads, never pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from supporthub.access import viewer_for
from supporthub.testing.world import World
from supporthub.tickets import conversation, opening
from supporthub.tickets.models import BodyFormat, Channel
from supporthub.tickets.opening import TicketRequest
from supporthub.tickets.rendering import attachment_response, render_body

HOSTILE = (
    '<p onclick="steal()">Hi <b>team</b></p><script>alert(1)</script>'
    '<a href="javascript:alert(2)">x</a><a href="https://example.com/kb">kb</a>'
    '<img src="https://tracker.example/pixel.gif"><iframe src="https://evil.example"></iframe>'
)


def test_html_bodies_lose_scripts_handlers_frames_and_trackers() -> None:
    shown = render_body(HOSTILE, BodyFormat.HTML)
    for gone in ("<script", "onclick", "javascript:", "<img", "<iframe", "tracker.example"):
        assert gone not in shown
    assert "<b>team</b>" in shown
    assert 'href="https://example.com/kb"' in shown and "noopener" in shown


def test_text_bodies_are_escaped_with_their_line_breaks() -> None:
    shown = render_body("a < b\n<script>x</script>", BodyFormat.TEXT)
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "<br>" in shown


@pytest.mark.django_db
def test_the_original_html_is_kept_as_received(world: World) -> None:
    ticket = opening.ticket_open(
        request=TicketRequest(
            organisation=world.organisation,
            requester=world.carol,
            subject="html",
            body=HOSTILE,
            body_format=BodyFormat.HTML,
            severity=3,
            channel=Channel.HUB,
        ),
    )
    ticket.refresh_from_db()
    assert ticket.body == HOSTILE


@pytest.mark.django_db
def test_an_html_attachment_is_served_as_a_download_not_a_page(world: World) -> None:
    ticket = opening.ticket_open(
        request=TicketRequest(
            organisation=world.organisation,
            requester=world.carol,
            subject="file",
            body="",
            severity=3,
            channel=Channel.HUB,
        ),
    )
    viewer = viewer_for(world.carol.user)  # type: ignore[arg-type]
    assert viewer is not None
    attachment = conversation.attachment_add(
        ticket=ticket,
        upload=SimpleUploadedFile("page.html", b"<script>alert(1)</script>", "text/html"),
        viewer=viewer,
    )
    response = attachment_response(attachment)
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="page.html"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"  # type: ignore[arg-type]
