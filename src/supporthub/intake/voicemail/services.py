"""Voicemail to ticket: each callback is one transaction, and a retried callback is a no-op.

The recording callback stores the voicemail, matches the caller to a Support Contact by
E.164 number and opens a ticket when the contact's policy creates tickets from voicemail;
otherwise the voicemail is kept for triage with the reason. The transcription callback adds
the transcript to the ticket, or keeps it on the row until the recording's callback (or an
agent) opens one: whichever arrives first, nothing is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.models import SupportContact
from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.intake.voicemail.callbacks import RecordingCallback, TranscriptionCallback
from supporthub.intake.voicemail.models import TranscriptionStatus, Voicemail, VoicemailState
from supporthub.intake.voicemail.selectors import can_triage
from supporthub.notify import services as notify
from supporthub.notify.models import OutboxKind
from supporthub.policies import schema
from supporthub.tickets import conversation, opening
from supporthub.tickets.audit import audit
from supporthub.tickets.models import Channel, MessageKind, Ticket
from supporthub.tickets.opening import TicketRequest
from supporthub.validators import normalise_phone

# A RecordingStartTime further back than this from the callback's receipt is not believed
# (a misconfigured clock, a replay of an old callback): the clock starts at receipt instead.
RECORDING_START_MAX_AGE = timedelta(hours=24)


# -- Reading the caller and the policy -------------------------------------------------------


def caller_e164(raw: str) -> str:
    """The caller's number in E.164, or "" when withheld or not a phone number.

    Twilio sends E.164; a national form ("(212) 555-0100") is read in the region of
    settings.VOICEMAIL_DEFAULT_REGION, where the support line is.
    """
    if not raw or not any(ch.isdigit() for ch in raw):
        return ""
    try:
        return normalise_phone(raw, region=settings.VOICEMAIL_DEFAULT_REGION)
    except ValidationError:
        return ""


def display_number(e164: str) -> str:
    """+12125550100 as people write it: +1 212-555-0100."""
    if not e164:
        return ""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def match_caller(number: str, *, raw: str = "") -> tuple[SupportContact | None, str]:
    """The one active Support Contact with this E.164 number, else None and why not."""
    if not number:
        shown = raw or "nothing"
        return None, f"The caller's number was withheld or is not a phone number (From: {shown})."
    found = list(
        SupportContact.objects.filter(phone=number)
        .select_related("organisation")
        .order_by("organisation__name", "name")
    )
    active = [c for c in found if c.is_active]
    if len(active) == 1:
        return active[0], ""
    shown = display_number(number)
    if len(active) > 1:
        names = "; ".join(f"{c.name} ({c.organisation.name})" for c in active)
        return None, f"{shown} is the number of several Support Contacts: {names}. Pick one."
    if found:
        names = "; ".join(f"{c.name} ({c.organisation.name})" for c in found)
        return None, f"{shown} belongs to {names}, no longer an active Support Contact."
    return None, f"No Support Contact has the number {shown}."


def policy_refusal(policy: schema.Policy) -> str:
    """Why this policy opens no ticket from a voicemail; "" when it does.

    A policy creates voicemail tickets only when its [phone] table says so
    (voicemail_creates_tickets) and its voicemail channel, if declared, allows a severity.
    The refusal quotes the policy's own message for the channel (voicemail, else phone).
    """
    voicemail = policy.channels.get("voicemail")
    rule = voicemail or policy.channels.get("phone")
    message = rule.message if rule is not None else ""
    if not policy.voicemail_creates_tickets:
        return message or f"{policy.name} does not open tickets from voicemail."
    if voicemail is not None and not voicemail.allowed_severities:
        if voicemail.forced_severity is None:
            return message or f"{policy.name} accepts no severity through voicemail."
    return ""


def voicemail_severity(policy: schema.Policy) -> int:
    """A caller cannot choose a severity: the policy's default, within the channel's rule.

    A forced severity wins; a default the channel does not allow falls to the least urgent
    severity it does allow.
    """
    rule = policy.channels.get("voicemail")
    if rule is None:
        return policy.default_severity
    if rule.forced_severity is not None:
        return rule.forced_severity
    if policy.default_severity in rule.allowed_severities:
        return policy.default_severity
    return max(rule.allowed_severities)


# -- Rows -------------------------------------------------------------------------------------


def _locked(recording_sid: str, *, received_at: datetime) -> tuple[Voicemail, bool]:
    """The voicemail's row, locked for this transaction; created when it is the first."""
    row = Voicemail.objects.select_for_update().filter(recording_sid=recording_sid).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return Voicemail.objects.create(
                recording_sid=recording_sid, received_at=received_at
            ), True
    except IntegrityError:
        # The other callback (or a retry) created it at the same moment: take theirs.
        return Voicemail.objects.select_for_update().get(recording_sid=recording_sid), False


def _recorded_at(callback: RecordingCallback, *, received_at: datetime) -> tuple[datetime, str]:
    """When the clock starts, and from what: Twilio's RecordingStartTime when believable."""
    started = callback.started_at
    if started is not None and received_at - RECORDING_START_MAX_AGE <= started <= received_at:
        return started, "recording_start_time"
    return received_at, "receipt"


def _ticket_body(row: Voicemail) -> str:
    minutes, seconds = divmod(row.recording_duration or 0, 60)
    caller = display_number(row.caller_number) or row.caller_raw or "a withheld number"
    recorded = row.recorded_at or row.received_at
    lines = [
        f"Voicemail left on the support line by {caller}, {minutes}:{seconds:02d} long, "
        f"recorded {recorded.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    if row.transcription_status == TranscriptionStatus.COMPLETED:
        lines += ["Transcript (automatic, may contain errors):", "", row.transcript or "(silence)"]
    elif row.transcription_status == TranscriptionStatus.FAILED:
        lines.append("The voicemail could not be transcribed; listen to the recording.")
    else:
        lines.append("A transcript, when one is made, is added to this ticket.")
    return "\n".join(lines)


def _clock_source_text(row: Voicemail) -> str:
    return {
        "recording_start_time": "Twilio's RecordingStartTime",
        "receipt": "the first callback's receipt",
    }.get(row.clock_source, row.clock_source)


def _recording_note(row: Voicemail) -> str:
    source = _clock_source_text(row)
    return (
        f"Voicemail recording ({row.recording_duration or 0} s): {row.recording_url}\n"
        f"Twilio CallSid {row.call_sid}, RecordingSid {row.recording_sid}. "
        f"The clock started at {source}."
    )


def _open_ticket(
    row: Voicemail, *, contact: SupportContact, viewer: Viewer | None = None
) -> Ticket:
    """Open the voicemail's ticket; raises ValidationError (with the reason) when refused.

    `viewer` is the agent opening it from triage; None when the caller's number matched.
    """
    actor = viewer.user if viewer is not None else None
    organisation = contact.organisation
    received_at = row.recorded_at or row.received_at
    entitlement = entitlement_on(
        organisation=organisation, on=local_date(organisation, received_at)
    )
    if entitlement is None:
        raise ValidationError(
            f"{organisation.name} has no subscription in force on the voicemail's date."
        )
    refusal = policy_refusal(entitlement.policy)
    if refusal:
        raise ValidationError(refusal, code="policy_refuses_voicemail")
    caller = display_number(row.caller_number) or row.caller_raw or "withheld number"
    ticket = opening.ticket_open(
        request=TicketRequest(
            organisation=organisation,
            requester=contact,
            subject=f"Voicemail from {contact.name} ({caller})",
            body=_ticket_body(row),
            severity=voicemail_severity(entitlement.policy),
            channel=Channel.VOICEMAIL,
            received_at=received_at,
        ),
        actor=actor,
        entitlement=entitlement,  # read above for the same day: one query for both
    )
    audit(
        ticket=ticket,
        code="voicemail.received",
        actor=actor,
        at=received_at,
        channel="voicemail",
        recording_sid=row.recording_sid,
        call_sid=row.call_sid,
        caller=row.caller_number or row.caller_raw,
        duration=row.recording_duration,
        recording_url=row.recording_url,
        clock_source=row.clock_source,
        matched_by="agent" if viewer is not None else "phone_number",
    )
    conversation.ticket_add_message(
        ticket=ticket,
        kind=MessageKind.INTERNAL_NOTE,
        body=_recording_note(row),
        at=received_at,
    )
    if row.transcription_status:
        # The transcript came first: it is in the description already.
        _audit_transcript(row, ticket, at=received_at, added=True, actor=actor)
    return ticket


def _audit_transcript(
    row: Voicemail, ticket: Ticket, *, at: datetime, added: bool, actor: User | None = None
) -> None:
    completed = row.transcription_status == TranscriptionStatus.COMPLETED
    audit(
        ticket=ticket,
        code="voicemail.transcribed" if completed else "voicemail.transcription_failed",
        actor=actor,
        at=at,
        recording_sid=row.recording_sid,
        transcription_sid=row.transcription_sid,
        added_to_ticket=added,
    )


# -- The two callbacks -------------------------------------------------------------------------


def voicemail_record(*, callback: RecordingCallback, received_at: datetime) -> Voicemail:
    """Store the recording callback and open the ticket, or keep the voicemail for triage.

    A retried callback (the same RecordingSid) changes nothing and returns the row. When the
    transcript came first and an agent already handled the voicemail from triage, the
    recording is only added: to the ticket the agent opened (whose clock stands), or kept on
    the dismissed row; it never opens a second ticket nor brings the voicemail back.
    """
    with transaction.atomic():
        row, _ = _locked(callback.recording_sid, received_at=received_at)
        if row.raw_recording:
            return row
        row.raw_recording = callback.params
        row.call_sid = callback.call_sid
        row.caller_raw = callback.caller[:64]
        row.caller_number = caller_e164(callback.caller)
        row.recording_url = callback.recording_url
        row.recording_duration = callback.duration
        if row.state in (VoicemailState.TICKETED, VoicemailState.DISMISSED):
            _record_after_triage(row, status=callback.status, at=received_at)
            return row
        # The earliest signed callback bounds the recording time from above.
        row.recorded_at, row.clock_source = _recorded_at(callback, received_at=row.received_at)
        contact, reason = match_caller(row.caller_number, raw=callback.caller)
        row.contact = contact
        if callback.status and callback.status != "completed":
            reason = f"Twilio reports the recording as {callback.status}."
        if contact is not None and not reason:
            try:
                with transaction.atomic():
                    row.ticket = _open_ticket(row, contact=contact)
            except ValidationError as refusal:
                reason = " ".join(refusal.messages)
                if refusal.code == "policy_refuses_voicemail":
                    _tell_refused(row, contact=contact, reason=reason)
        if row.ticket is not None:
            row.state, row.reason = VoicemailState.TICKETED, ""
        else:
            row.state, row.reason = VoicemailState.TRIAGE, reason
        row.full_clean(exclude=["contact", "ticket", "handled_by"])
        row.save()
        return row


def _record_after_triage(row: Voicemail, *, status: str, at: datetime) -> None:
    """The recording of a voicemail an agent already matched or dismissed (transcript first).

    The agent's decision stands: state, contact, reason, and the clock (recorded_at) the
    ticket was opened on. The recording goes to the ticket as an internal note, unless the
    ticket is closed (then it stays on the row, as a late transcript does).
    """
    row.full_clean(exclude=["contact", "ticket", "handled_by"])
    row.save()
    ticket = row.ticket
    if ticket is None:  # dismissed: kept with the voicemail for the back office only
        return
    failed = (
        f" Twilio reports the recording as {status}." if status not in ("", "completed") else ""
    )
    added = False
    try:
        with transaction.atomic():
            conversation.ticket_add_message(
                ticket=ticket,
                kind=MessageKind.INTERNAL_NOTE,
                body=(
                    f"Voicemail recording ({row.recording_duration or 0} s): "
                    f"{row.recording_url}\n"
                    f"Twilio CallSid {row.call_sid}, RecordingSid {row.recording_sid}. "
                    "It arrived after the ticket was opened from triage; the clock still "
                    f"starts at {_clock_source_text(row)}.{failed}"
                ),
                at=at,
            )
        added = True
    except ValidationError:
        added = False  # closed: the recording stays on the voicemail row
    audit(
        ticket=ticket,
        code="voicemail.recording_added",
        at=at,
        recording_sid=row.recording_sid,
        call_sid=row.call_sid,
        caller=row.caller_number or row.caller_raw,
        duration=row.recording_duration,
        recording_url=row.recording_url,
        recording_status=status,
        added_to_ticket=added,
    )


def _tell_refused(row: Voicemail, *, contact: SupportContact, reason: str) -> None:
    """The caller's policy opens no ticket from voicemail: tell them how to open one."""
    zone = ZoneInfo(contact.time_zone or contact.organisation.time_zone)
    recorded = (row.recorded_at or row.received_at).astimezone(zone)
    notify.outbox_enqueue(
        kind=OutboxKind.MAIL_AUTO_REPLY,
        dedupe_key=f"voicemail.refused:{row.recording_sid}",
        recipient=contact.email,
        subject="Your voicemail did not open a support request",
        template="intake_voicemail/refused",
        context={
            "name": contact.name,
            "reason": reason,
            "recorded": f"{recorded:%A %d %B %Y, %H:%M} {recorded.tzname()}",
            "hub_url": notify.public_url("portal:new"),
        },
    )


def voicemail_transcribe(*, callback: TranscriptionCallback, received_at: datetime) -> Voicemail:
    """Keep the transcript and add it to the voicemail's ticket, if it has one yet.

    A retried callback changes nothing. Before the recording callback, the transcript waits
    on the row and goes into the ticket's description when the ticket is opened.
    """
    with transaction.atomic():
        row, _ = _locked(callback.recording_sid, received_at=received_at)
        if row.raw_transcription:
            return row
        row.raw_transcription = callback.params
        row.transcription_sid = callback.transcription_sid
        row.transcription_status = callback.status
        row.transcript = callback.text
        row.transcribed_at = received_at
        if not row.raw_recording:
            # Caller details for triage while the recording callback is awaited.
            row.call_sid = row.call_sid or callback.call_sid
            if callback.caller is not None and not row.caller_raw:
                row.caller_raw = callback.caller[:64]
                row.caller_number = caller_e164(callback.caller)
        row.full_clean(exclude=["contact", "ticket", "handled_by"])
        row.save()
        if row.ticket is not None:
            _transcript_to_ticket(row, row.ticket, at=received_at)
        return row


def _transcript_to_ticket(row: Voicemail, ticket: Ticket, *, at: datetime) -> None:
    """The caller's words, as their own message on the ticket (a closed ticket keeps it out)."""
    added = False
    if row.transcription_status == TranscriptionStatus.COMPLETED:
        try:
            with transaction.atomic():
                conversation.ticket_add_message(
                    ticket=ticket,
                    kind=MessageKind.PUBLIC_REPLY,
                    body="Transcript of the voicemail (automatic, may contain errors):\n\n"
                    + (row.transcript or "(silence)"),
                    author_contact=ticket.requester,
                    at=at,
                )
            added = True
        except ValidationError:
            added = False  # closed: the transcript stays on the voicemail row
    _audit_transcript(row, ticket, at=at, added=added)


# -- Triage -------------------------------------------------------------------------------------


def voicemail_open_ticket(
    *, voicemail: Voicemail, contact: SupportContact, viewer: Viewer, note: str = ""
) -> Ticket:
    """An agent matches a voicemail in triage to a Support Contact and opens its ticket.

    The contact's policy still decides: a policy that creates no tickets from voicemail
    refuses here too (ValidationError with its message), and the agent dismisses instead.
    Only staff who see every ticket triage (PermissionDenied for others).
    """
    require_triage(viewer)
    with transaction.atomic():
        row = Voicemail.objects.select_for_update().get(pk=voicemail.pk)
        if row.ticket_id is not None:
            raise ValidationError(f"This voicemail already has its ticket (#{row.ticket_id}).")
        if row.state == VoicemailState.DISMISSED:
            raise ValidationError("This voicemail was dismissed.")
        if not contact.is_active:
            raise ValidationError({"contact": f"{contact.name} is not an active Support Contact."})
        if row.recorded_at is None:  # only a transcript came: its receipt starts the clock
            row.recorded_at, row.clock_source = row.received_at, "receipt"
        ticket = _open_ticket(row, contact=contact, viewer=viewer)
        audit(
            ticket=ticket,
            code="voicemail.matched",
            actor=viewer.user,
            recording_sid=row.recording_sid,
            triage_reason=row.reason,
            note=note,
        )
        row.contact = contact
        row.ticket = ticket
        row.state = VoicemailState.TICKETED
        row.handled_by = viewer.staff
        row.handled_at = timezone.now()
        row.note = note
        row.save()
        voicemail.refresh_from_db()
        return ticket


def voicemail_dismiss(*, voicemail: Voicemail, viewer: Viewer, note: str) -> Voicemail:
    """An agent closes a voicemail in triage without a ticket (spam, called back...).

    Only staff who see every ticket triage (PermissionDenied for others).
    """
    require_triage(viewer)
    if not note.strip():
        raise ValidationError({"note": "Say why it needs no ticket (kept with the voicemail)."})
    with transaction.atomic():
        row = Voicemail.objects.select_for_update().get(pk=voicemail.pk)
        if row.ticket_id is not None:
            raise ValidationError(f"This voicemail already has its ticket (#{row.ticket_id}).")
        row.state = VoicemailState.DISMISSED
        row.handled_by = viewer.staff
        row.handled_at = timezone.now()
        row.note = note.strip()
        row.save(update_fields=["state", "handled_by", "handled_at", "note", "updated_at"])
        return row


def require_triage(viewer: Viewer) -> None:
    """PermissionDenied for staff who see only their organisations (triage shows them all)."""
    if not can_triage(viewer):
        raise PermissionDenied(
            "Voicemail triage is for support engineers and CS leads, who see every "
            "organisation's tickets."
        )
