"""Writes on the outbox: enqueue mail inside the caller's transaction (delivered by the
workers through notify.delivery)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import strip_tags

from supporthub.customers.models import SupportContact
from supporthub.notify.delivery import wake
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.notify.tokens import reply_address
from supporthub.tickets.models import BodyFormat, Message, MessageKind, Status, Ticket
from supporthub.tickets.rendering import render_body

logger = logging.getLogger(__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ticket_root_message_id(ticket: Ticket) -> str:
    """The Message-ID every mail about the ticket refers to (In-Reply-To, References)."""
    return f"<sh-{ticket.pk}@{settings.REPLY_DOMAIN}>"


def _thread_headers(ticket: Ticket, contact: SupportContact, *, automatic: bool) -> dict[str, str]:
    root = ticket_root_message_id(ticket)
    headers = {
        "In-Reply-To": root,
        "References": root,
        "Reply-To": reply_address(ticket, contact),
        "X-SupportHub-Ticket": ticket.reference,
    }
    if automatic:
        # RFC 3834: auto-responders must not answer this (no mail loops with vacation replies).
        headers["Auto-Submitted"] = "auto-generated"
    return headers


def public_url(viewname: str, *args: Any) -> str:
    """An absolute link for mail and pages sent out (PUBLIC_BASE_URL + the path)."""
    return settings.PUBLIC_BASE_URL + reverse(viewname, args=args)


def portal_ticket_url(ticket: Ticket) -> str:
    """The customer's page of the ticket in the Support Hub."""
    return public_url("portal:ticket", ticket.pk)


def console_ticket_url(ticket: Ticket) -> str:
    """The agent console's page of the ticket (for staff: warnings, pages, escalations)."""
    return public_url("console:ticket", ticket.pk)


def _enqueue(
    *,
    kind: OutboxKind,
    source: str,
    ticket: Ticket,
    contact: SupportContact,
    template: str,
    context: dict[str, Any],
    automatic: bool,
) -> None:
    context = {
        **context,
        "ticket": ticket,
        "contact": contact,
        "url": portal_ticket_url(ticket),
        "reference": ticket.reference,
    }
    row = OutboxMessage(
        kind=kind,
        dedupe_key=f"{kind}:{source}",
        ticket=ticket,
        recipient=contact.email,
        subject=f"[{ticket.reference}] {_one_line(ticket.subject)}"[:300],
        text_body=render_to_string(f"notify/{template}.txt", context),
        html_body=render_to_string(f"notify/{template}.html", context),
        headers=_thread_headers(ticket, contact, automatic=automatic),
    )
    _store(row)


# Set while a batch writer (the inbox) commits many small transactions: their outbox wake-ups
# are collected here and sent once, when the batch ends, instead of once per transaction.
_batched_wakes: ContextVar[list[bool] | None] = ContextVar("outbox_batched_wakes", default=None)


@contextmanager
def outbox_wakes_batched() -> Iterator[None]:
    """Wake the outbox's worker once, at the end of the block, for every mail committed in it.

    Mail enqueued in a transaction that commits inside the block is woken for when the block
    exits (rolled back transactions wake nobody); the rows are durable either way, and the
    reconciler finds them if the process dies before the end of the block. Nesting is allowed:
    the outermost block wakes.
    """
    if _batched_wakes.get() is not None:
        yield
        return
    committed: list[bool] = []
    token = _batched_wakes.set(committed)
    try:
        yield
    finally:
        _batched_wakes.reset(token)
        if committed:
            wake()


def _wake_after_commit() -> None:
    committed = _batched_wakes.get()
    if committed is None:
        wake()
    else:
        committed.append(True)


def _store(row: OutboxMessage) -> None:
    # The same event enqueued twice (a retried handler) keeps the first row: one event, one mail.
    OutboxMessage.objects.bulk_create([row], ignore_conflicts=True)
    if _batched_wakes.get() is None:
        transaction.on_commit(wake, robust=True)
    else:
        transaction.on_commit(_wake_after_commit, robust=True)


def outbox_enqueue(
    *,
    kind: OutboxKind,
    dedupe_key: str,
    recipient: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    ticket: Ticket | None = None,
    headers: dict[str, str] | None = None,
    automatic: bool = True,
) -> None:
    """Any outbound mail, inside the caller's transaction; delivered by the workers.

    `template` names a pair, `<template>.txt` and `<template>.html` (e.g. "mailin/refused"),
    rendered with `context`. `dedupe_key` names the event: enqueueing it again is a no-op,
    so a retried handler never mails twice. Automatic mail carries `Auto-Submitted`
    (RFC 3834) so that auto-responders do not answer it.
    """
    extra = dict(headers or {})
    if automatic:
        extra.setdefault("Auto-Submitted", "auto-generated")
    if ticket is not None:
        extra.setdefault("X-SupportHub-Ticket", ticket.reference)
    _store(
        OutboxMessage(
            kind=kind,
            dedupe_key=dedupe_key[:120],
            ticket=ticket,
            recipient=recipient,
            subject=_one_line(subject)[:300],
            text_body=render_to_string(f"{template}.txt", context),
            html_body=render_to_string(f"{template}.html", context),
            headers=extra,
        )
    )


def mail_time(at: datetime, zone: str) -> str:
    """An instant as customer mail gives it: local wall time with its zone, then UTC."""
    local = at.astimezone(ZoneInfo(zone))
    utc = at.astimezone(ZoneInfo("UTC"))
    return (
        f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()} "
        f"({utc.day} {utc:%B %Y, %H:%M} UTC)"
    )


def outbox_enqueue_acknowledgement(*, ticket: Ticket) -> None:
    """The acknowledgement of a new ticket: reference, severity, Target Initial Response, due."""
    contact = ticket.requester
    if contact is None:
        return
    _enqueue(
        kind=OutboxKind.ACKNOWLEDGED,
        source=f"ticket:{ticket.pk}",
        ticket=ticket,
        contact=contact,
        template="ticket_acknowledged",
        context=acknowledgement_facts(ticket, contact),
        automatic=True,
    )


def acknowledgement_facts(ticket: Ticket, contact: SupportContact) -> dict[str, str]:
    """What every acknowledgement says: the severity's name, the Target Initial Response and
    its due time in the contact's zone (`severity`, `target`, `due`, `zone`)."""
    policy = ticket.policy_version.document()
    severity = next((s for s in policy.severities if s.level == ticket.severity), None)
    level = policy.support_levels.get(ticket.support_level)
    target = level.targets.get(ticket.severity) if level is not None else None
    zone = contact.time_zone or ticket.organisation.time_zone
    due = ticket.first_response_due_at
    return {
        "severity": severity.name
        if severity is not None and severity.name
        else f"Severity {ticket.severity}",
        "target": target.describe() if target is not None else "",
        "due": mail_time(due, zone) if due is not None else "",
        "zone": zone,
    }


def outbox_enqueue_staff_reply(
    *, ticket: Ticket, message: Message, status_before: str | None = None
) -> None:
    """A public reply by staff, quoted in full; a status it moved the ticket to is named too.

    Internal notes, and replies by the customer, never leave the Support Hub.
    """
    if message.kind != MessageKind.PUBLIC_REPLY or message.author_staff_id is None:
        return
    contact = ticket.requester
    if contact is None:
        return
    html = render_body(message.body, message.body_format)
    if message.body_format == BodyFormat.HTML:
        text = unescape(strip_tags(html)).strip()
    else:
        text = message.body.strip()
    author = message.author_staff.display_name if message.author_staff is not None else ""
    _enqueue(
        kind=OutboxKind.STAFF_REPLY,
        source=f"message:{message.pk}",
        ticket=ticket,
        contact=contact,
        template="staff_reply",
        context={
            "author": author,
            "reply_text": text,
            "reply_html": html,
            "previous": Status(status_before).label
            if status_before and status_before != ticket.status
            else "",
            "status": Status(ticket.status).label,
        },
        automatic=False,
    )


def outbox_enqueue_status_change(
    *, ticket: Ticket, previous: str, audit_entry_id: int, reason: str = ""
) -> None:
    """A status change the customer should hear about: old -> new (and why, if given)."""
    contact = ticket.requester
    if contact is None or previous == ticket.status:
        return
    _enqueue(
        kind=OutboxKind.STATUS_CHANGED,
        source=f"audit:{audit_entry_id}",
        ticket=ticket,
        contact=contact,
        template="status_changed",
        context={
            "previous": Status(previous).label,
            "status": Status(ticket.status).label,
            "reason": reason,
        },
        automatic=True,
    )


def outbox_enqueue_progress_note(*, ticket: Ticket, message: Message) -> None:
    """A customer-visible progress note (a development ticket's move), threaded on the ticket."""
    contact = ticket.requester
    if contact is None or message.kind != MessageKind.PROGRESS_NOTE:
        return
    _enqueue(
        kind=OutboxKind.PROGRESS_NOTE,
        source=f"message:{message.pk}",
        ticket=ticket,
        contact=contact,
        template="progress_note",
        context={"note": message.body.strip()},
        automatic=True,
    )
