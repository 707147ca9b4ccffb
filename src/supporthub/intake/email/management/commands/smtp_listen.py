"""`supporthub smtp-listen [--host H] [--port P]`: the SMTP listener, until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from supporthub.intake.email.checks import log_sender_check
from supporthub.intake.email.smtp import InboxHandler, listener

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Receive mail over SMTP into the inbox: 250 only once a message is stored, 451 (try "
        "again later) when storing fails. Processing is the worker's job."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=settings.SMTP_LISTEN_HOST)
        parser.add_argument("--port", type=int, default=settings.SMTP_LISTEN_PORT)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        # aiosmtpd logs every SMTP command at INFO; the listener logs each stored message.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        log_sender_check(logger)  # loudly, until the operator chooses how to trust From
        controller = listener(host=host, port=port)
        controller.start()
        self.stdout.write(f"SMTP listener on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
            handler = controller.handler
            if isinstance(handler, InboxHandler):
                handler.close()
