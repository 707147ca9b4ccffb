"""`supporthub imap-poll [--once] [--interval S]`: store new IMAP mail, then move it."""

from __future__ import annotations

import logging
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from supporthub.intake.email.checks import log_sender_check
from supporthub.intake.email.imap import imap_configured, imap_poll

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Poll the IMAP folder (IMAP_HOST, IMAP_USER, IMAP_PASSWORD, IMAP_FOLDER): store each "
        "message, then move it to IMAP_PROCESSED_FOLDER. `supporthub worker` does this too."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="one poll, then exit")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between polls (default IMAP_POLL_SECONDS)",
        )

    def handle(self, *args: Any, once: bool, interval: float | None, **options: Any) -> None:
        if not imap_configured():
            raise CommandError("IMAP is not configured: set IMAP_HOST, IMAP_USER, IMAP_PASSWORD")
        log_sender_check(logger)  # loudly, until the operator chooses how to trust From
        pause = max(interval if interval is not None else settings.IMAP_POLL_SECONDS, 0.1)
        while True:
            try:
                result = imap_poll()
            except Exception as exc:
                if once:
                    raise CommandError(f"IMAP poll failed: {type(exc).__name__}: {exc}") from exc
                logger.exception("IMAP poll failed; trying again in %gs", pause)
                # A connection the failure left broken (a database restart) is dropped: the
                # next poll opens a new one.
                close_old_connections()
            else:
                self.stdout.write(
                    f"{result.seen} in the folder: {result.stored} stored, {result.already} "
                    f"already stored, {result.moved} moved, {len(result.failed)} left"
                )
                for failure in result.failed:
                    self.stderr.write(failure)
            if once:
                return
            time.sleep(pause)
