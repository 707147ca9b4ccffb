"""Writes on the inbox: store raw mail (before its source is told), then process what is due.

Storing is idempotent on the message's identity (its Message-ID, or the sha256 of its bytes
when it has none) and on its IMAP UID, so a source that delivers again after a crash or a
lost reply stores nothing twice. Processing locks one stored row at a time, calls
`ticketing.mail_to_ticket` and records the outcome in that same transaction: a worker killed
half-way leaves the row stored, and the next worker processes it once.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from supporthub.intake.email import ticketing
from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.intake.email.outcome import MailOutcome, MailUnprocessable
from supporthub.intake.email.parsing import first_header, first_raw
from supporthub.intake.email.selectors import claimable
from supporthub.notify.services import outbox_wakes_batched
from supporthub.worker import queue
from supporthub.worker.queue import Queue

logger = logging.getLogger(__name__)

FIELD_MAX = 998  # the longest line RFC 5322 allows, and the display columns' length
# The stored Message-ID is indexed: a B-tree entry must stay under PostgreSQL's ~2.7 kB (998
# characters of UTF-8 can be 4 kB). Only a Message-ID of mostly non-ASCII characters is cut.
MESSAGE_ID_MAX_BYTES = 2000
REASON_MAX = 2000


@dataclass(frozen=True)
class Stored:
    """What `inbox_store` did: the row, and whether this call created it (False: a copy)."""

    message: InboundMessage
    created: bool


def _claim_lapses() -> timedelta:
    return timedelta(seconds=settings.INBOX_CLAIM_SECONDS)


# The inbox as a durable queue (supporthub.worker.queue): its claim, re-stamp, recovery and
# retry. Its attempt is counted (and committed) before the work, and a message is
# quarantined rather than failed: its reason says why, for an admin to reprocess it.
INBOX = queue.register(
    Queue(
        name="inbox",
        model=InboundMessage,
        task="supporthub.intake.email.tasks.process_inbox",
        max_attempts="INBOX_MAX_ATTEMPTS",
        stuck_after=_claim_lapses,
        due=claimable,
        order=("received_at", "pk"),
        # A stored message stays stored while claimed: its claim is claimed_at/claimed_by.
        pending=InboundState.STORED,
        claimed=InboundState.STORED,
        done=InboundState.PROCESSED,
        failed=InboundState.QUARANTINED,
        error_field="reason",
        due_field=None,
        counted_at_start=True,
        interrupted="Processing was interrupted {attempts} times (the worker stopped while "
        "processing this message).",
        retry_fields={"processed_at": None},
        batch=50,
        rounds=20,
    )
)


def wake_inbox() -> None:
    """Ask a worker to process the inbox now; never raises into the caller."""
    # The row is stored: a broker that is down costs a minute (the reconciler), not mail.
    INBOX.wake()


# --- storing ------------------------------------------------------------------------------


def _clean(text: str, limit: int = FIELD_MAX) -> str:
    # Undecodable bytes come back from the parser as surrogates, which no database takes; NUL
    # is refused by PostgreSQL's text type. Neither may cost us the message.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(text.replace("\x00", "").split())[:limit]


def _header(headers: Any, name: str) -> str:
    # Decoded as parse() decodes it (raw 8-bit bytes as UTF-8, else Windows-1252, where the
    # stdlib's str() gives U+FFFD), so the inbox list shows what the ticket will say.
    try:
        return _clean(first_header(headers, name))
    except Exception:  # noqa: BLE001 - a header that cannot be read shows as written
        try:
            return _clean(str(headers.get(name) or ""))
        except Exception:  # noqa: BLE001 - never fails (identify's dedupe key depends on it)
            return ""


def _as_written(headers: Any, name: str) -> str:
    # The value as received, raw 8-bit bytes kept (as surrogates), white space collapsed:
    # for an ASCII header exactly what _clean gives (the keys stored before are unchanged).
    raw = first_raw(headers, name) or ""
    return " ".join(raw.replace("\x00", "").split())[:FIELD_MAX]


@dataclass(frozen=True)
class Identity:
    """What the inbox reads from a message's headers when it stores it."""

    sha256: str
    message_id: str
    dedupe_key: str
    sender: str
    subject: str


def identify(raw: bytes) -> Identity:
    """The identity of a message (never raises, whatever the bytes are)."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        # compat32 hands back headers as written; a headers-only parse never looks at MIME.
        headers: Any = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        # Decoded as parse() decodes In-Reply-To and References, so a reply finds it.
        message_id = _header(headers, "Message-ID")
        message_id = message_id.encode()[:MESSAGE_ID_MAX_BYTES].decode("utf-8", "ignore")
        sender = _header(headers, "From")
        subject = _header(headers, "Subject")
        # What the sender's client wrote, which no relay on the way changes: two copies of
        # one message agree on all three; a client that reuses a Message-ID for another
        # message (some scripts do) does not lose that message. Byte for byte: two
        # Message-IDs that differ only in 8-bit characters are two messages.
        written = "\0".join(_as_written(headers, name) for name in ("Message-ID", "From", "Date"))
    except Exception:  # noqa: BLE001 - unparseable headers: de-duplicated by the bytes
        logger.warning("Could not read the headers of a %d-byte message", len(raw), exc_info=True)
        message_id = sender = subject = written = ""
    if message_id:
        key = "mid:" + hashlib.sha256(written.encode("utf-8", "surrogateescape")).hexdigest()
    else:
        key = "sha256:" + digest
    return Identity(
        sha256=digest, message_id=message_id, dedupe_key=key, sender=sender, subject=subject
    )


def _existing(
    identity: Identity, mailbox: str, uid: tuple[int, int] | None
) -> InboundMessage | None:
    found = InboundMessage.objects.filter(dedupe_key=identity.dedupe_key).first()
    if found is None and uid is not None:
        found = InboundMessage.objects.filter(
            mailbox=mailbox, imap_uidvalidity=uid[0], imap_uid=uid[1]
        ).first()
    return found


def inbox_store(
    *,
    raw: bytes,
    source: Source,
    mailbox: str,
    received_at: datetime | None = None,
    imap_uidvalidity: int | None = None,
    imap_uid: int | None = None,
    envelope_sender: str = "",
    envelope_recipients: Iterable[str] = (),
    waker: Callable[[], None] = wake_inbox,
) -> Stored:
    """Store one received message, committed when this returns; a copy stores nothing.

    Call it outside any transaction, and acknowledge the source only after it returned: the
    message is then durable. `received_at` is the server's receipt instant (now by default).
    `waker` runs once it is committed (the SMTP listener passes its CoalescedWake.request).
    """
    if not raw:
        raise ValueError("raw: an empty message cannot be stored")
    if (imap_uid is None) != (imap_uidvalidity is None):
        raise ValueError("imap_uid and imap_uidvalidity: give both or neither")
    identity = identify(raw)
    mailbox = _clean(mailbox, 300)
    uid = None
    if imap_uidvalidity is not None and imap_uid is not None:
        uid = (imap_uidvalidity, imap_uid)
    row = InboundMessage(
        raw=raw,
        sha256=identity.sha256,
        message_id=identity.message_id,
        dedupe_key=identity.dedupe_key,
        source=source,
        mailbox=mailbox,
        imap_uidvalidity=imap_uidvalidity,
        imap_uid=imap_uid,
        envelope_sender=_clean(envelope_sender),
        envelope_recipients=[_clean(r) for r in envelope_recipients],
        sender=identity.sender,
        subject=identity.subject,
        received_at=received_at or timezone.now(),
    )
    try:
        # No look before the insert: the unique keys (dedupe_key; mailbox + IMAP UID) refuse
        # a copy, in one statement instead of two for every message that is not one.
        with transaction.atomic(durable=True):
            row.save(force_insert=True)
            transaction.on_commit(waker, robust=True)
    except IntegrityError:
        # A copy: stored before, or by another listener or poller at the same moment.
        found = _existing(identity, mailbox, uid)
        if found is None:
            raise
        return Stored(message=found, created=False)
    return Stored(message=row, created=True)


# --- processing ---------------------------------------------------------------------------


def _claim(*, now: datetime, limit: int) -> list[int]:
    """Take up to `limit` stored messages for this worker; their ids.

    A message that has used up its INBOX_MAX_ATTEMPTS and is claimable again was never
    finished (a failure that raises is recorded and quarantines it at the last attempt): its
    worker died while processing it. It is quarantined instead of being tried again, so one
    message cannot kill worker after worker.
    """
    return INBOX.claim(now=now, limit=limit)


def _start(
    pk: int, claimed_at: datetime, batch: dict[int, InboundMessage] | None = None
) -> InboundMessage | None:
    """Count the attempt and return the row to process; None when it is no longer ours.

    Counted, and committed, before the attempt: an attempt that kills its worker still counts.
    The claim is re-stamped so a slow batch's later rows are not taken for a dead worker's;
    a row whose claim another worker took over is left to that worker. `batch`: the claimed
    rows as read once for the whole batch; while the claim is ours nobody else writes the
    row, so it only takes what the re-stamp wrote (one read per batch, not per message).
    """
    renewed = INBOX.restamp(pk, claimed_at=claimed_at, now=claimed_at)
    if renewed is None:
        return None
    row = batch.get(pk) if batch is not None else None
    if row is None:
        return InboundMessage.objects.filter(pk=pk, state=InboundState.STORED).first()
    row.attempts += 1
    row.claimed_at, row.claimed_by = renewed, queue.holder()
    return row


class _Superseded(Exception):
    """Another worker recorded this message first: this attempt's writes are rolled back."""


def _record(row: InboundMessage, outcome: MailOutcome) -> bool:
    # Conditional on the row still being stored, in the transaction that holds what
    # mail_to_ticket wrote: of two workers that both processed it (a claim that lapsed
    # mid-way), the second finds it processed, and its ticket is rolled back.
    return INBOX.finish(
        row.pk,
        disposition=str(outcome.disposition),
        reason=outcome.reason[:REASON_MAX],
        ticket_id=outcome.ticket_id,
        ticket_message_id=outcome.ticket_message_id,
        processed_at=timezone.now(),
    )


def _process_one(row: InboundMessage) -> str:
    """Process one started message in one transaction; the state it was left in."""
    pk = row.pk
    try:
        # Whatever raises out of this block rolls the whole transaction back.
        with transaction.atomic():
            if not _record(row, ticketing.mail_to_ticket(inbound=row)):
                raise _Superseded
    except _Superseded:
        return "skipped"
    except MailUnprocessable as exc:
        # Everything mail_to_ticket wrote was rolled back with the transaction.
        reason = (str(exc) or type(exc).__name__)[:REASON_MAX]
        INBOX.give_up(pk, error=reason)
        logger.warning("Inbound message %s quarantined: %s", pk, reason)
        return InboundState.QUARANTINED
    return InboundState.PROCESSED


def _failed(pk: int, exc: Exception) -> str:
    """Record an unexpected failure; quarantined once it has used up its attempts."""
    reason = f"{type(exc).__name__}: {exc}"[:REASON_MAX]
    with transaction.atomic():
        row = InboundMessage.objects.filter(pk=pk, state=InboundState.STORED).first()
        if row is None:
            return "skipped"
        spent = row.attempts >= settings.INBOX_MAX_ATTEMPTS
        # The claim's time is kept when it will be retried: it waits INBOX_CLAIM_SECONDS
        # first. Its holder is not: this worker is alive, and only the time-out gives it back.
        InboundMessage.objects.filter(pk=pk, state=InboundState.STORED).update(
            state=InboundState.QUARANTINED if spent else InboundState.STORED,
            reason=f"Attempt {row.attempts} failed: {reason}"[:REASON_MAX],
            claimed_at=None if spent else row.claimed_at,
            claimed_by="",
        )
    logger.warning(
        "Inbound message %s failed (attempt %s)%s: %s",
        pk,
        row.attempts,
        "; quarantined" if spent else "",
        reason,
        exc_info=exc,
    )
    return InboundState.QUARANTINED if spent else InboundState.STORED


def inbox_process_due(*, limit: int = 50, now: datetime | None = None) -> int:
    """Process up to `limit` stored messages, one transaction each; returns how many were taken.

    Nothing a message does stops the loop: a MailUnprocessable quarantines it with its reason;
    any other exception rolls its transaction back and it is tried again after
    INBOX_CLAIM_SECONDS, then quarantined after INBOX_MAX_ATTEMPTS with the exception's text.
    """
    now = now or timezone.now()
    INBOX.recover(now=now)
    ids = _claim(now=now, limit=limit)
    # The acknowledgements committed by this batch wake the outbox's worker once, when the
    # batch is done (a read, or a task row, per batch instead of per message).
    batch = InboundMessage.objects.in_bulk(ids)
    with outbox_wakes_batched():
        for pk in ids:
            try:
                row = _start(pk, now, batch)
                if row is not None:
                    _process_one(row)
            except Exception as exc:  # noqa: BLE001 - one message must never stop the worker
                try:
                    _failed(pk, exc)
                except Exception:
                    # The database itself is failing: the claim lapses and the row is retried.
                    logger.exception("Could not record the failure of inbound message %s", pk)
    return len(ids)


def inbox_reprocess(*, ids: Iterable[int]) -> int:
    """Put quarantined messages back in the queue with fresh attempts (the admin's action)."""
    return INBOX.retry(ids=ids)
