"""Re-time 1,000,000 open tickets on PostgreSQL after a holiday is added, write-back included.

Run with `make bench` (or `.venv/bin/python benchmarks/bench_retime.py [--tickets N]`).
Uses its own database, `supporthub_bench`, on the local server (BENCH_PG_URL to change).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
os.environ["DATABASE_URL"] = f"{SERVER}/supporthub_bench"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supporthub.settings")

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Paris",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Africa/Cairo",
    "America/Santiago",
    "Pacific/Auckland",
]
LEVELS = ["gold", "platinum", "enterprise"]


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS supporthub_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE supporthub_bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--organisations", type=int, default=48)
    args = parser.parse_args()
    _recreate_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from supporthub.customers.models import Organisation
    from supporthub.sla.closures import closure_save
    from supporthub.sla.models import Closure
    from supporthub.sla.retiming import retime_open_tickets
    from supporthub.testing import factories as f

    call_command("migrate", verbosity=0)
    f.load_example_policy("cloud-support")
    for i in range(args.organisations):
        organisation = Organisation.objects.create(
            name=f"Bench {i}", country="US", time_zone=ZONES[i % len(ZONES)]
        )
        f.subscribe(organisation, level=LEVELS[i % len(LEVELS)], term_start=date(2024, 6, 11))

    start_day = date(2026, 3, 2)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # Tickets received over two working weeks, every severity, spread over organisations.
        cursor.execute(
            """
            INSERT INTO tickets_ticket (organisation_id, subject, body, severity, type, channel,
                status, region, received_at, policy_version_id, subscription_id, support_level,
                first_response_due_at, first_response_status, created_at, updated_at, version,
                body_format, escalation_reason, external_id, out_of_scope, sla_warned_point)
            SELECT s.organisation_id, 'bench', '', 1 + (g %% 3), 'incident', 'hub', 'open', '',
                   %s::timestamptz + ((g::bigint * 7919) %% (14 * 86400)) * interval '1 second',
                   s.policy_version_id, s.id, s.support_level,
                   %s::timestamptz, 'pending', now(), now(), 1,
                   'text', '', '', '', 0
            FROM generate_series(1, %s) AS g
            JOIN (
                SELECT row_number() OVER (ORDER BY sub.id) - 1 AS n, sub.id,
                       sub.organisation_id,
                       (SELECT max(id) FROM policies_policyversion) AS policy_version_id,
                       CASE sub.level WHEN 'gold' THEN 'base' WHEN 'platinum' THEN 'enhanced'
                            ELSE 'premium' END AS support_level
                FROM customers_subscription sub
            ) s ON s.n = g %% %s
            """,
            [start_day.isoformat(), start_day.isoformat(), args.tickets, args.organisations],
        )
        cursor.execute("ANALYZE tickets_ticket")
    print(f"created {args.tickets:,} open tickets in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    first = retime_open_tickets(reason="initial timing")
    full = time.perf_counter() - t0
    print(
        f"full re-time: {first.examined:,} clocks computed, {first.retimed:,} written "
        f"in {full:.1f}s"
    )

    t0 = time.perf_counter()
    result = closure_save(
        closure=Closure(
            date=start_day + timedelta(days=8), name="Bench holiday", holiday_country="US"
        )
    )
    elapsed = time.perf_counter() - t0
    print(
        f"holiday added: {result.examined:,} clocks re-computed, {result.retimed:,} moved and "
        f"written (with audit entries) in {elapsed:.1f}s"
    )
    verdict = "meets" if elapsed < 30 else "MISSES"
    print(
        f"target: 1M open tickets re-timed after a holiday is added, write-back included, "
        f"under 30 s: {verdict} ({elapsed:.1f}s)"
    )
    print(f"worst case, every clock moved and written with its audit entry: {full:.1f}s")


if __name__ == "__main__":
    main()
