"""`supporthub inbox process|reprocess|status`: drain, retry and inspect the inbox."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from supporthub.intake.email.selectors import inbox_counts
from supporthub.intake.email.services import inbox_process_due, inbox_reprocess
from supporthub.worker import loop


class Command(BaseCommand):
    help = "Inbound mail: process stored messages, reprocess quarantined ones, show counts."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        process = sub.add_parser("process", help="Process stored mail; loops until stopped.")
        process.add_argument("--once", action="store_true", help="until none is due, then exit")
        process.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="seconds between passes when nothing was due (default 5)",
        )
        process.add_argument("--limit", type=int, default=50, help="messages per pass")
        again = sub.add_parser("reprocess", help="Queue quarantined messages again.")
        again.add_argument("ids", nargs="+", type=int, help="inbound message ids")
        sub.add_parser("status", help="How many messages are in each state.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "reprocess":
            count = inbox_reprocess(ids=options["ids"])
            self.stdout.write(f"{count} message(s) queued again")
            return
        if action == "status":
            for state, count in inbox_counts().items():
                self.stdout.write(f"{state}: {count}")
            return
        interval = max(float(options["interval"]), 0.05)
        limit = max(int(options["limit"]), 1)
        total = 0

        def process() -> bool:
            nonlocal total
            taken = inbox_process_due(limit=limit)
            total += taken
            if taken:
                self.stdout.write(f"{taken} message(s) taken")
            return taken >= limit  # a full pass: more may be waiting, go again at once

        loop(process, pause=interval, until_idle=options["once"])
        self.stdout.write(f"{total} message(s) taken in all")
