"""Reads: the voicemails waiting for an agent, and the phone support a customer's policy offers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import phonenumbers
from django.db.models import QuerySet

from supporthub.access import Viewer
from supporthub.customers.models import Organisation
from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.intake.voicemail.models import Voicemail, VoicemailState
from supporthub.policies import schema
from supporthub.sla.clocks import CalendarKey, calendar

# -- Triage -----------------------------------------------------------------------------------


def can_triage(viewer: Viewer) -> bool:
    """Triage is for staff who see every ticket (support engineers, CS leads, superusers):
    a voicemail in triage has no organisation yet, so it may be any customer's."""
    return viewer.is_staff and viewer.sees_all_tickets


def triage_queue(*, viewer: Viewer) -> QuerySet[Voicemail]:
    """Voicemails without a ticket that an agent must look at, oldest first.

    Empty for a viewer who does not see every organisation's tickets.
    """
    if not can_triage(viewer):
        return Voicemail.objects.none()
    return (
        Voicemail.objects.filter(
            state__in=[VoicemailState.TRIAGE, VoicemailState.AWAITING_RECORDING]
        )
        .select_related("contact__organisation")
        .order_by("received_at", "pk")
    )


def recently_handled(*, viewer: Viewer, limit: int = 20) -> list[Voicemail]:
    """The last voicemails agents matched or dismissed from triage, newest first.

    Empty for a viewer who does not see every organisation's tickets.
    """
    if not can_triage(viewer):
        return []
    return list(
        Voicemail.objects.filter(handled_at__isnull=False)
        .select_related("contact__organisation", "ticket", "handled_by")
        .order_by("-handled_at", "-pk")[:limit]
    )


# -- Phone support in the Hub -----------------------------------------------------------------

OPENINGS_SHOWN = 5


@dataclass(frozen=True)
class Opening:
    starts_at: datetime  # UTC; templates show it in the line's zone and the viewer's
    ends_at: datetime


@dataclass(frozen=True)
class PhoneSupport:
    """What the organisation's policy says about phone support, for the Hub."""

    policy_name: str
    number: str = ""  # as the policy prints it; "" when the policy has no phone line
    number_uri: str = ""  # tel:+18885855574
    hours: str = ""  # the policy's words for the hours, in the line's own zone
    zone: str = ""  # the line's zone
    always: bool = False
    open_now: bool = False
    openings: tuple[Opening, ...] = ()
    voicemail_creates_tickets: bool = False
    message: str = ""  # the policy's message when phone opens no requests


def _tel_uri(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return ""
    return "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _openings(key: CalendarKey, now: datetime) -> tuple[bool, tuple[Opening, ...]]:
    """Open now?, and the line's next openings (the one in progress first): the calendar's
    own open spans, so they agree with `is_open` across daylight-saving changes."""
    cal = calendar(key)
    spans = cal.openings(now, OPENINGS_SHOWN)
    return cal.is_open(now), tuple(Opening(starts_at=s, ends_at=e) for s, e in spans)


def phone_support(*, organisation: Organisation, now: datetime) -> PhoneSupport | None:
    """The phone line and its hours under the policy in force, or the policy's message when
    phone opens no requests; None when the policy says nothing about phone."""
    entitlement = entitlement_on(organisation=organisation, on=local_date(organisation, now))
    if entitlement is None:
        return None
    policy = entitlement.policy
    if not policy.phone_number:
        rule = policy.channels.get("phone")
        if rule is not None and rule.message:
            return PhoneSupport(policy_name=policy.name, message=rule.message)
        return None
    hours: schema.Hours | None = policy.phone_hours
    support = PhoneSupport(
        policy_name=policy.name,
        number=policy.phone_number,
        number_uri=_tel_uri(policy.phone_number, policy.holiday_country),
        voicemail_creates_tickets=policy.voicemail_creates_tickets,
    )
    if hours is None:
        return support
    zone = hours.zone or organisation.time_zone
    if hours.always:
        return replace(support, hours=hours.describe(), zone=zone, always=True, open_now=True)
    key = CalendarKey(
        hours=hours,
        zone=zone,
        # The line's own place: an organisation's holiday override is about the customer.
        holiday_country=policy.holiday_country,
        holiday_subdivision=policy.holiday_subdivision,
        closures=frozenset(),
    )
    open_now, openings = _openings(key, now)
    return replace(support, hours=hours.describe(), zone=zone, open_now=open_now, openings=openings)
