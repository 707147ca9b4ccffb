"""IMAP polling: store each new message (committed), then move it to the processed folder.

Nothing leaves the watched folder before it is stored, so a poller killed at any point loses
nothing: the next poll fetches what is still there, storing is idempotent (Message-ID, or
sha256 without one; and the mailbox's UIDVALIDITY + UID), and the move is done again.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from imaplib import IMAP4
from typing import Any

from django.conf import settings
from django.utils import timezone
from imapclient import DELETED, IMAPClient  # type: ignore[import-untyped]

from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.services import inbox_store, wake_inbox

logger = logging.getLogger(__name__)

BATCH = 50  # messages fetched, stored and moved per round trip
CHUNK_BYTES = 32 * 1024 * 1024  # and no more than this many bytes of mail held at once
# INTERNALDATE is the server's receipt instant for delivered mail; a client that puts a message
# in the folder itself (drag and drop, a mailbox migration's APPEND) sets it to anything, often
# the Date header. Mail delivered before the start of a poll that took everything was taken by
# that poll: a message still there with an older INTERNALDATE (less this much clock skew) was
# put there later, and its receipt is the poll that finds it.
CLOCK_SKEW = timedelta(minutes=5)
_complete_polls: dict[str, datetime] = {}  # mailbox -> start of its last complete poll
_complete_polls_lock = threading.Lock()


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    use_ssl: bool = True
    timeout: float = 60.0

    @classmethod
    def from_settings(cls) -> ImapConfig:
        return cls(
            host=settings.IMAP_HOST,
            port=settings.IMAP_PORT,
            user=settings.IMAP_USER,
            password=settings.IMAP_PASSWORD,
            folder=settings.IMAP_FOLDER,
            processed_folder=settings.IMAP_PROCESSED_FOLDER,
            use_ssl=settings.IMAP_SSL,
            timeout=float(settings.IMAP_TIMEOUT),
        )

    @property
    def mailbox(self) -> str:
        """How stored rows name this source (never with the password)."""
        return f"imap://{self.user}@{self.host}:{self.port}/{self.folder}"


def imap_configured() -> bool:
    return bool(settings.IMAP_HOST)


@dataclass
class PollResult:
    uidvalidity: int = 0
    seen: int = 0  # messages found in the folder
    stored: int = 0  # new rows
    already: int = 0  # copies of rows stored before (a poll interrupted before its move)
    moved: int = 0
    failed: list[str] = field(default_factory=list)  # "UID n: why", left in the folder


@contextmanager
def connect(config: ImapConfig) -> Iterator[IMAPClient]:
    context = ssl.create_default_context() if config.use_ssl else None
    client = IMAPClient(
        config.host,
        port=config.port,
        ssl=config.use_ssl,
        ssl_context=context,
        timeout=config.timeout,
    )
    # Times as the server gave them, with their offset: INTERNALDATE is the receipt instant.
    client.normalise_times = False
    try:
        client.login(config.user, config.password)
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - a connection already gone has nothing to log out of
            logger.debug("IMAP logout failed", exc_info=True)


def _received_at(value: Any, *, floor: datetime | None) -> datetime:
    """The receipt instant: INTERNALDATE, unless it is before `floor` (the start of the last
    complete poll, less CLOCK_SKEW), in the future, or missing: then now, as we take it."""
    now = timezone.now()
    if not isinstance(value, datetime):
        return now
    at: datetime = value
    if timezone.is_naive(at):
        at = timezone.make_aware(at, timezone.get_current_timezone())
    if at > now or (floor is not None and at < floor - CLOCK_SKEW):
        return now
    return at


def _move(client: IMAPClient, uids: list[int], folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move(uids, folder)
        return
    client.copy(uids, folder)
    client.add_flags(uids, [DELETED])
    if client.has_capability("UIDPLUS"):
        client.expunge(uids)  # UID EXPUNGE: only the messages we flagged
    # Without UIDPLUS a plain EXPUNGE would also remove messages someone else flagged: they
    # stay flagged \Deleted (and are skipped by our search) for the mail client to expunge.


def _check_uidvalidity(config: ImapConfig, uidvalidity: int) -> None:
    last = (
        InboundMessage.objects.filter(mailbox=config.mailbox, imap_uidvalidity__isnull=False)
        .order_by("-pk")
        .values_list("imap_uidvalidity", flat=True)
        .first()
    )
    if last is not None and last != uidvalidity:
        # The server renumbered the folder: old UIDs mean nothing now. Messages already
        # stored are still recognised by their Message-ID (or bytes) and are not stored twice.
        logger.warning(
            "IMAP %s: UIDVALIDITY changed from %s to %s; de-duplicating by Message-ID",
            config.mailbox,
            last,
            uidvalidity,
        )


def imap_poll(*, config: ImapConfig | None = None, limit: int | None = None) -> PollResult:
    """One poll: store every message in the folder (or the first `limit`), then move it."""
    config = config or ImapConfig.from_settings()
    result = PollResult()
    began = timezone.now()
    with _complete_polls_lock:
        floor = _complete_polls.get(config.mailbox)
    with connect(config) as client:
        if not client.folder_exists(config.processed_folder):
            client.create_folder(config.processed_folder)
        selected = client.select_folder(config.folder)
        result.uidvalidity = int(selected[b"UIDVALIDITY"])
        _check_uidvalidity(config, result.uidvalidity)
        found = sorted(int(uid) for uid in client.search(["NOT", "DELETED"]))
        uids = found if limit is None else found[:limit]
        result.seen = len(uids)
        for chunk in _chunks(client, uids):
            stored = _store_chunk(client, config, result, chunk, floor=floor)
            if stored:
                _move(client, stored, config.processed_folder)
                result.moved += len(stored)
    if len(uids) == len(found) and not result.failed:
        with _complete_polls_lock:
            _complete_polls[config.mailbox] = began
    if result.stored or result.failed:
        logger.info(
            "IMAP %s: %d new, %d already stored, %d moved, %d left after an error",
            config.mailbox,
            result.stored,
            result.already,
            result.moved,
            len(result.failed),
        )
    return result


def _chunks(client: IMAPClient, uids: list[int]) -> Iterator[list[int]]:
    """The UIDs a chunk at a time: BATCH messages at most, and CHUNK_BYTES of mail at most
    (a message larger than that comes alone)."""
    sizes: dict[int, int] = {}
    try:
        for start in range(0, len(uids), 1000):
            for uid, data in client.fetch(uids[start : start + 1000], ["RFC822.SIZE"]).items():
                sizes[int(uid)] = int(data.get(b"RFC822.SIZE") or 0)
    except IMAP4.abort:
        raise
    except IMAP4.error:
        # A message the server cannot serve may fail this too: chunks of BATCH, sizes unknown.
        logger.warning("IMAP: the server would not give message sizes", exc_info=True)
        sizes = {}
    chunk: list[int] = []
    held = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if chunk and (len(chunk) == BATCH or held + size > CHUNK_BYTES):
            yield chunk
            chunk, held = [], 0
        chunk.append(uid)
        held += size
    if chunk:
        yield chunk


def _fetch(client: IMAPClient, chunk: list[int]) -> tuple[dict[int, Any], dict[int, str]]:
    """The chunk's messages, and why the server would not send some. One message the server
    cannot send (a NO for the whole FETCH, as Gmail and Exchange answer) is left out alone,
    not its whole chunk: the chunk is fetched again a message at a time."""
    # BODY.PEEK leaves \Seen alone: a person reading the mailbox sees what is new to them.
    try:
        return client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"]), {}
    except IMAP4.abort:
        raise  # the connection is gone: this poll is over, the next one starts again
    except IMAP4.error as exc:
        if len(chunk) == 1:
            return {}, {chunk[0]: f"the server would not send it: {exc}"}
    fetched: dict[int, Any] = {}
    refused: dict[int, str] = {}
    for uid in chunk:
        one, why = _fetch(client, [uid])
        fetched.update(one)
        refused.update(why)
    return fetched, refused


def _store_chunk(
    client: IMAPClient,
    config: ImapConfig,
    result: PollResult,
    chunk: list[int],
    *,
    floor: datetime | None,
) -> list[int]:
    """Store each fetched message (each committed on its own); the UIDs that are stored."""
    fetched, refused = _fetch(client, chunk)
    done: list[int] = []
    new = False
    for uid in chunk:
        if uid in refused:
            logger.warning(
                "IMAP %s: UID %s left in the folder: %s", config.mailbox, uid, refused[uid]
            )
            result.failed.append(f"UID {uid}: {refused[uid]}")
            continue
        data = fetched.get(uid) or {}
        raw = data.get(b"BODY[]")
        if not raw:
            result.failed.append(f"UID {uid}: the server returned no message")
            continue
        try:
            stored = inbox_store(
                raw=bytes(raw),
                source=Source.IMAP,
                mailbox=config.mailbox,
                received_at=_received_at(data.get(b"INTERNALDATE"), floor=floor),
                imap_uidvalidity=result.uidvalidity,
                imap_uid=uid,
                waker=_later,  # one wake-up for the chunk, below
            )
        except Exception as exc:  # noqa: BLE001 - left in the folder; the next poll retries
            logger.exception("IMAP %s: could not store UID %s", config.mailbox, uid)
            result.failed.append(f"UID {uid}: {type(exc).__name__}: {exc}")
            continue
        if stored.created:
            result.stored += 1
            new = True
        else:
            result.already += 1
        done.append(uid)
    if new:
        wake_inbox()  # every message of the chunk is committed by now
    return done


def _later() -> None:
    """inbox_store's waker for a chunk: the chunk wakes the inbox worker once at its end."""
