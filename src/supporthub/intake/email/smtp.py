"""The SMTP listener: 250 only once the message is stored and committed, 451 when it is not.

A sending MTA keeps a message it got a 4xx for and tries again later, so a failure to store
(a database restart, a full disk) delays mail and never loses it. A 5xx would make the
sender give up: the listener never answers one for a storage failure. The only 5xx answers
are for the sender's own faults: a message over SMTP_LISTEN_MAX_BYTES (552, the limit EHLO
announces as SIZE; a single line longer than that gets aiosmtpd's 500) and an empty one.
Lines longer than RFC 5321's 1,000 octets are taken, as common MTAs take them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from supporthub.intake.email.models import Source
from supporthub.intake.email.services import Stored, inbox_store, wake_inbox
from supporthub.worker import CoalescedWake

logger = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 Stored"
TRY_LATER = "451 4.3.0 The message could not be stored; please try again later"
# Storing writes to the database: a few threads, each with its own connection.
STORE_THREADS = 4
# At most 20 wake-ups a second under a flood of mail (each one a read, or a task row): the
# worker woken drains everything stored before it, so more would only cost the listener.
WAKE_SPACING = 0.05


# aiosmtpd reads every MAIL FROM and RCPT TO address with the email package's RFC 5322
# parser, a quarter of the listener's CPU. The form nearly all mail uses, <dot-atom@dot-atom>
# (ASCII), is read here by a pattern with the same result; any other form goes to aiosmtpd.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ANGLE_ADDR = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*)>")


def plain_address(arg: str) -> tuple[str, str] | None:
    """(address, the rest) of `<local@domain> rest` as aiosmtpd's parser reads it (the
    whitespace after `>` dropped), or None when `arg` is not in that plain form."""
    match = _PLAIN_ANGLE_ADDR.match(arg)
    if match is None or "=?" in match[1]:  # the parser decodes RFC 2047 words even here
        return None
    rest = arg[match.end() :]
    if rest[:1] in (" ", "\t", "("):
        rest = rest.lstrip()  # as the parser's folding whitespace; a comment is not plain
        if rest.startswith("("):
            return None
    return match[1], rest


class _SMTP(SMTP):
    def __init__(self, handler: Any, *, data_size_limit: int, **kwargs: Any) -> None:
        # aiosmtpd refuses a line over RFC 5321's 1,000 octets with a permanent 500 and stores
        # nothing; mailers write longer ones (HTML or base64 in one line) and common MTAs pass
        # them on. A line may be as long as the whole message may be (SMTP_LISTEN_MAX_BYTES,
        # plus its CRLF and a transparency dot): only a message over that limit is refused.
        # The reader's buffer is sized by this limit: set before the reader is made.
        self.line_length_limit = data_size_limit + 3
        super().__init__(handler, data_size_limit=data_size_limit, **kwargs)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        plain = plain_address(arg)
        if plain is None:
            return super()._getaddr(arg)
        address, rest = plain
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _SMTP(self.handler, **self.SMTP_kwargs)


class InboxHandler:
    """aiosmtpd handler that stores each message in the inbox before answering."""

    def __init__(self, *, mailbox: str, threads: int = STORE_THREADS) -> None:
        self.mailbox = mailbox
        self.lock = threading.Lock()
        self.connections: list[BaseDatabaseWrapper] = []
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="smtp-store")
        # The storing threads ask; one thread wakes the inbox's worker for all of them.
        self.waker = CoalescedWake(wake_inbox, name="smtp-wake", spacing=WAKE_SPACING)

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> Stored:
        """Runs on a storing thread: remembers that thread's connection for close()."""
        wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's own
        with self.lock:
            if not any(known is wrapper for known in self.connections):
                self.connections.append(wrapper)
        # A connection that broke since the last message (a database restart) is replaced.
        close_old_connections()
        try:
            return inbox_store(
                raw=raw,
                source=Source.SMTP,
                mailbox=self.mailbox,
                envelope_sender=mail_from,
                envelope_recipients=rcpt_tos,
                waker=self.waker.request,
            )
        except Exception:
            wrapper.close()  # the next message starts on a fresh connection
            raise

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        mail_from = envelope.mail_from or ""
        rcpt_tos = list(envelope.rcpt_tos or [])
        peer = getattr(session, "peer", None)
        if not raw:
            return "554 5.6.0 Empty message"  # nothing to store: this is the sender's fault
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(
                self.executor, self._store, raw, mail_from, rcpt_tos
            )
        except Exception:
            # Anything at all (not only database errors): aiosmtpd would answer an escaping
            # exception with a 500, and the sender would drop the message.
            logger.exception("Could not store a message from %s (peer %s): 451", mail_from, peer)
            return TRY_LATER
        state = "stored" if stored.created else "already stored"
        logger.info(
            "Inbound message %s %s (from %s, %d bytes)",
            stored.message.pk,
            state,
            mail_from,
            len(raw),
        )
        return f"{ACCEPTED} as {stored.message.pk}"

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        # Django's connections are per thread: close each storing thread's from here (they
        # are idle now), so no session outlives the listener (nor blocks a test database).
        with self.lock:
            wrappers, self.connections = self.connections, []
        for wrapper in wrappers:
            wrapper.inc_thread_sharing()
            try:
                wrapper.close()
            finally:
                wrapper.dec_thread_sharing()
        self.waker.close()


def listener(*, host: str | None = None, port: int | None = None) -> Controller:
    """A started-on-demand aiosmtpd controller storing into the inbox (call .start()/.stop())."""
    host = host or settings.SMTP_LISTEN_HOST
    port = settings.SMTP_LISTEN_PORT if port is None else port
    handler = InboxHandler(mailbox=f"smtp://{host}:{port}")
    return _Controller(
        handler,
        hostname=host,
        port=port,
        data_size_limit=settings.SMTP_LISTEN_MAX_BYTES,
        enable_SMTPUTF8=True,
        ident="Support Hub",
    )
