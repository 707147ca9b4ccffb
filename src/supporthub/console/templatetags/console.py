"""Console template helpers: audit codes as readable text, people's names, severity badges.

Audit entries store stable codes (never labels); this is the one place they become words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.contrib.auth.models import User
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.safestring import SafeString

from supporthub.dse import wording as dse_wording
from supporthub.policies import schema
from supporthub.tickets.models import AuditEntry, Channel, Status
from supporthub.tickets.rendering import local_time

register = template.Library()

AUDIT_LABELS = {
    "ticket.opened": "Ticket opened",
    "ticket.imported": "Imported from another helpdesk",
    "ticket.severity_forced_by_channel": "Severity set by the channel",
    "ticket.severity_changed": "Severity changed",
    "ticket.status_changed": "Status changed",
    "ticket.assigned": "Assigned",
    "ticket.unassigned": "Unassigned",
    "ticket.escalated": "Escalated to the CS lead",
    "ticket.closed_out_of_scope": "Closed as out of scope",
    "message.public_reply": "Public reply",
    "message.progress_note": "Progress note",
    "development.linked": "Linked to development",
    "development.unlinked": "Unlinked from development",
    "message.internal_note": "Internal note",
    "message.auto_acknowledgement": "Automatic acknowledgement sent",
    "attachment.added": "Attachment added",
    "sla.first_response_met": "Target Initial Response met",
    "sla.first_response_breached": "Target Initial Response breached",
    "sla.first_response_no_target": "First response (no target)",
    "sla.first_response_rederived": "Target Initial Response re-derived",
    "sla.first_response_retimed": "Target Initial Response re-timed",
    "sla.policy_version_adopted": "New policy version adopted",
    "mail.received": "Email received",
    "mail.acknowledged": "Acknowledgement emailed",
    "mail.severity_requested": "Email asked for a higher severity (email tickets are Severity 3)",
    "mail.follow_up_of_closed": "Opened by an email replying to a closed ticket",
    "mail.followed_up_in": "A reply by email opened a follow-up ticket",
    "mail.attachments_left_out": "Email attachments left out (over the limits)",
    "oncall.paged": "On-call engineer paged (after hours)",
    "oncall.nobody_on_call": "Nobody on call could be paged (after hours)",
    "oncall.page_unreachable": "On call but unreachable: no email, PagerDuty or webhook",
    "oncall.cs_lead_notified": "CS lead notified (after hours)",
    "oncall.staff_notified": "Staff notified (after hours)",
    "oncall.nobody_to_notify": "Nobody to notify (after hours)",
    "oncall.page_delivered": "Page delivered",
    "oncall.page_failed": "Page delivery failed",
    "oncall.acknowledged": "Page acknowledged",
    "oncall.resolved": "Page resolved",
    "sla.warning": "Breach warning sent",
    "sla.breached": "Breach notified",
    "voicemail.received": "Voicemail received",
    "voicemail.recording_added": "Voicemail recording added after triage",
    "voicemail.matched": "Voicemail matched to a contact from triage",
    "voicemail.transcribed": "Voicemail transcript received",
    "voicemail.transcription_failed": "Voicemail could not be transcribed",
    **dse_wording.AUDIT_LABELS,
}


@register.filter
def audit_label(code: str) -> str:
    """Readable text for a stable audit code; an unknown code is shown as itself."""
    return AUDIT_LABELS.get(code, code)


@register.filter
def person(user: User | None) -> str:
    """A user as people know them: staff display name, contact name, else the login."""
    if user is None:
        return "System"
    staff = getattr(user, "staff_member", None)
    if staff is not None:
        return str(staff.display_name)
    contact = getattr(user, "support_contact", None)
    if contact is not None:
        return str(contact.name)
    return user.get_full_name() or user.get_username()


@register.simple_tag
def severity_badge(level: int, policy: schema.Policy | None = None) -> SafeString:
    """`S2` as a coloured badge, the policy's name for the level in its title."""
    name = f"Severity {level}"
    if policy is not None:
        name = next((s.name for s in policy.severities if s.level == level), name)
    return format_html('<span class="badge sev-{}" title="{}">S{}</span>', level, name, level)


def _when(value: Any, zone: str) -> str:
    if not isinstance(value, str) or not value:
        return "none"
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    shown = local_time(instant, zone)
    return shown.strftime("%a %d %b, %H:%M %Z") if shown is not None else value


def _status(value: Any) -> str:
    return Status(value).label if value in Status.values else str(value)


@register.simple_tag(takes_context=True)
def audit_detail(context: template.Context, entry: AuditEntry) -> str:
    """What an entry's data says, in words; times in the viewer's zone."""
    viewer = context.get("viewer")
    zone = viewer.time_zone if viewer is not None else "UTC"
    staff: dict[int, str] = context.get("staff_names") or {}
    policy: schema.Policy | None = context.get("policy")
    d = entry.data or {}

    def who(pk: Any) -> str:
        if pk is None:
            return "nobody"
        return staff.get(pk, f"staff #{pk}")

    code = entry.code
    if code == "ticket.opened":
        channel = Channel(d["channel"]).label if d.get("channel") in Channel.values else "?"
        due = d.get("first_response_due_at")
        tail = f"; Target Initial Response due {_when(due, zone)}" if due else "; no target"
        return f"Through {channel}, Severity {d.get('severity')}{tail}"
    if code == "ticket.severity_forced_by_channel":
        channel = Channel(d["channel"]).label if d.get("channel") in Channel.values else "?"
        return (
            f"Asked for Severity {d.get('requested')}; {channel} opens Severity {d.get('severity')}"
        )
    if code == "ticket.severity_changed":
        return f"Severity {d.get('previous')} → {d.get('severity')}: {d.get('reason', '')}"
    if code == "ticket.status_changed":
        return f"{_status(d.get('previous'))} → {_status(d.get('status'))}"
    if code in ("ticket.assigned", "ticket.unassigned"):
        return f"{who(d.get('previous'))} → {who(d.get('assignee'))}"
    if code == "ticket.escalated":
        return str(d.get("reason", ""))
    if code == "development.linked":
        return str(d.get("issue", ""))
    if code == "development.unlinked":
        return f"{d.get('issue', '')}: {d.get('reason', '')}"
    if code == "ticket.closed_out_of_scope":
        key = d.get("exclusion", "")
        name = key
        if policy is not None:
            name = next((e.name or e.key for e in policy.exclusions if e.key == key), key)
        note = d.get("note") or ""
        return f"{name}: {note}" if note else str(name)
    if code == "attachment.added":
        size = filesizeformat(d.get("size") or 0)
        internal = ", internal" if d.get("internal") else ""
        return f"{d.get('filename', '')} ({size}{internal})"
    if code in ("sla.first_response_met", "sla.first_response_breached"):
        return f"Due {_when(d.get('due_at'), zone)}, answered {_when(d.get('responded_at'), zone)}"
    if code in (
        "sla.first_response_rederived",
        "sla.first_response_retimed",
        "sla.policy_version_adopted",
    ):
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return (
            f"Due {_when(d.get('previous_due_at'), zone)} → {_when(d.get('due_at'), zone)}{reason}"
        )
    if code == "ticket.imported":
        return f"External id {d.get('external_id', '')}, opened {_when(d.get('opened_at'), zone)}"
    if code.startswith("oncall."):
        return _oncall_detail(code, d)
    if code.startswith("mail."):
        return _mail_detail(code, d)
    if code.startswith("voicemail."):
        return _voicemail_detail(code, d)
    if code.startswith("dse."):
        return dse_wording.audit_detail(code, d, when=lambda v: _when(v, zone), who=who)
    if code in ("sla.warning", "sla.breached"):
        notified = ", ".join(d.get("notified") or []) or "nobody with an email"
        return f"{d.get('point')}% of the target, due {_when(d.get('due_at'), zone)}; to {notified}"
    return ""


def _mail_detail(code: str, d: dict[str, Any]) -> str:
    """Inbound mail entries (supporthub.intake.email.ticketing) in words."""
    if code == "mail.received":
        parts = [f"From {d.get('sender', '?')}, stored mail #{d.get('inbound', '?')}"]
        if d.get("message_id"):
            parts.append(f"Message-ID {d['message_id']}")
        if d.get("named_tickets"):
            parts.append("also named " + ", ".join(d["named_tickets"]) + " (not joined)")
        parts += list(d.get("notes") or [])
        return "; ".join(parts)
    if code == "mail.acknowledged":
        return f"To {d.get('recipient', '?')}, at Severity {d.get('severity')}"
    if code == "mail.severity_requested":
        return f"Asked for Severity {d.get('requested')}; opened at Severity {d.get('severity')}"
    if code in ("mail.follow_up_of_closed", "mail.followed_up_in"):
        return str(d.get("reference", ""))
    if code == "mail.attachments_left_out":
        return ", ".join(d.get("files") or [])
    return ""


def _voicemail_detail(code: str, d: dict[str, Any]) -> str:
    """Voicemail entries (supporthub.intake.voicemail) in words."""
    if code in ("voicemail.received", "voicemail.recording_added"):
        return f"From {d.get('caller') or 'an unknown number'}, {d.get('duration') or 0} s"
    if code == "voicemail.matched":
        note = f": {d['note']}" if d.get("note") else ""
        return f"Was in triage ({d.get('triage_reason', '')}){note}"
    return ""


def _oncall_detail(code: str, d: dict[str, Any]) -> str:
    """After-hours paging entries (supporthub.routing.paging) in words."""
    via = ", ".join(d.get("transports") or []) or "no transport"
    rotation = f" ({d['rotation']})" if d.get("rotation") else ""
    if code == "oncall.paged":
        return f"{d.get('engineer_name', '?')}{rotation} by {via}"
    if code == "oncall.nobody_on_call":
        where = d.get("rotation") or f"region {d.get('region') or '?'} has no rotation"
        return f"Nobody on call: {where}"
    if code in ("oncall.cs_lead_notified", "oncall.staff_notified", "oncall.nobody_to_notify"):
        names = ", ".join(d.get("names") or [])
        return names or f"no active {d.get('role', 'staff')} with an email"
    if code in ("oncall.page_delivered", "oncall.page_failed"):
        tail = f": {d['error']}" if d.get("error") else ""
        return f"{d.get('action')} by {d.get('transport')}, attempt {d.get('attempts')}{tail}"
    if code == "oncall.acknowledged":
        return f"{d.get('why', '')}; sent by {via}"
    if code == "oncall.resolved":
        return f"Ticket {_status(d.get('status'))}; sent by {via}"
    return ""
