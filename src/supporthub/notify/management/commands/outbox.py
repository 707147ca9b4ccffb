"""`supporthub outbox deliver [--once] [--interval 5]`: send the outbox's due mail."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from supporthub.notify.delivery import outbox_deliver_due
from supporthub.worker import loop


class Command(BaseCommand):
    help = "Outbound mail: deliver what the outbox has due, retrying failures with backoff."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="Send due mail; loops until stopped.")
        deliver.add_argument("--once", action="store_true", help="one pass, then exit")
        deliver.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="seconds between passes when nothing was due (default 5)",
        )
        deliver.add_argument("--limit", type=int, default=100, help="messages per pass")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = max(float(options["interval"]), 0.1)
        limit = max(int(options["limit"]), 1)

        def deliver() -> bool:
            attempted = outbox_deliver_due(limit=limit)
            if attempted:
                self.stdout.write(f"{attempted} message(s) attempted")
            return attempted >= limit  # a full pass: more may be waiting, go again at once

        loop(deliver, pause=interval, once=options["once"])
