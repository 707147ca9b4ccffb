"""IMAP polling: store each new message (committed), then move it to the processed folder.

Nothing leaves the watched folder before it is stored, so a poller killed at any point loses
nothing: the next poll fetches what is still there, storing is idempotent (Message-ID, or
sha256 without one; and the mailbox's UIDVALIDITY + UID), and the move is done again.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from imapclient import DELETED, IMAPClient  # type: ignore[import-untyped]

from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.services import inbox_store, wake_inbox

logger = logging.getLogger(__name__)

BATCH = 50  # messages fetched, stored and moved per round trip


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


def _received_at(value: Any) -> datetime:
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            return timezone.make_aware(value, timezone.get_current_timezone())
        return value
    return timezone.now()


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
    with connect(config) as client:
        if not client.folder_exists(config.processed_folder):
            client.create_folder(config.processed_folder)
        selected = client.select_folder(config.folder)
        result.uidvalidity = int(selected[b"UIDVALIDITY"])
        _check_uidvalidity(config, result.uidvalidity)
        uids = sorted(int(uid) for uid in client.search(["NOT", "DELETED"]))
        if limit is not None:
            uids = uids[:limit]
        result.seen = len(uids)
        for start in range(0, len(uids), BATCH):
            chunk = uids[start : start + BATCH]
            stored = _store_chunk(client, config, result, chunk)
            if stored:
                _move(client, stored, config.processed_folder)
                result.moved += len(stored)
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


def _store_chunk(
    client: IMAPClient, config: ImapConfig, result: PollResult, chunk: list[int]
) -> list[int]:
    """Store each fetched message (each committed on its own); the UIDs that are stored."""
    # BODY.PEEK leaves \Seen alone: a person reading the mailbox sees what is new to them.
    fetched = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
    done: list[int] = []
    new = False
    for uid in chunk:
        data = fetched.get(uid)
        raw = data.get(b"BODY[]") if data else None
        if not raw:
            result.failed.append(f"UID {uid}: the server returned no message")
            continue
        try:
            stored = inbox_store(
                raw=bytes(raw),
                source=Source.IMAP,
                mailbox=config.mailbox,
                received_at=_received_at(data.get(b"INTERNALDATE")),
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
