"""In a real browser: Twilio posts an unknown caller's voicemail to the live server; an agent
finds it in triage, matches it to a Support Contact and lands on the new ticket, which the
contact then sees in the Hub beside the phone line's hours."""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from supporthub.intake.voicemail.models import Voicemail, VoicemailState
from supporthub.intake.voicemail.tests.conftest import TOKEN, recording_params
from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.browser import login, screenshot_path
from supporthub.tickets.models import Channel, Ticket

PASSWORD = "pw-for-tests"  # the factories' password


def _post_signed(base: str, path: str, params: dict[str, str]) -> int:
    signature = RequestValidator(TOKEN).compute_signature(base + path, params)
    request = urllib.request.Request(  # noqa: S310 - the loopback live server
        base + path,
        data=urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)


@pytest.mark.browser
def test_an_agent_opens_an_unknown_callers_ticket_from_triage(
    page: Page, live_server: LiveServer, settings: Any, request: pytest.FixtureRequest
) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = live_server.url
    acme = f.organisation(name="Acme", time_zone="America/Chicago")
    f.subscribe(acme, policy_key="b2b-customer-success", level="customer-success")
    bob = f.add_contact(acme, "Bob Stone", phone="+12015550123", user=f.user(username="bob"))
    f.staff(user__username="alice", role_codes=[Role.SUPPORT_ENGINEER])

    # Bob calls from his mobile, which is not on his contact record.
    params = recording_params(From="+14155550100")
    assert _post_signed(live_server.url, "/intake/voicemail/recording/", params) == 200
    voicemail = Voicemail.objects.get()
    assert voicemail.state == VoicemailState.TRIAGE

    login(page, "alice", PASSWORD)
    page.goto("/console/voicemail/")
    card = page.locator(f'section[data-voicemail="{params["RecordingSid"]}"]')
    expect(card.get_by_test_id("triage-reason")).to_contain_text(
        "No Support Contact has the number +1 415-555-0100."
    )
    page.screenshot(
        path=screenshot_path(request.config, "console-voicemail-triage"), full_page=True
    )
    card.get_by_label("Support Contact's email").fill(bob.email)
    card.get_by_label("Note").fill("Bob's mobile")
    card.get_by_role("button", name="Open ticket").click()

    ticket = Ticket.objects.get()
    expect(page.get_by_text(f"{ticket.reference} opened from the voicemail")).to_be_visible()
    assert (ticket.requester, ticket.channel) == (bob, Channel.VOICEMAIL)
    voicemail.refresh_from_db()
    assert voicemail.ticket == ticket
    page.screenshot(
        path=screenshot_path(request.config, "console-voicemail-ticket"), full_page=True
    )

    # Bob sees the ticket in the Hub, with the phone line's hours under the list.
    page.context.clear_cookies()
    login(page, "bob", PASSWORD)
    page.goto("/hub/")
    expect(page.get_by_role("link", name=ticket.subject)).to_be_visible()
    expect(page.get_by_test_id("phone-support")).to_contain_text("1-888-585-5574")
    page.screenshot(path=screenshot_path(request.config, "hub-phone-support"), full_page=True)
