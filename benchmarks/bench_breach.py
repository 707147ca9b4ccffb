"""One breach scan with 1,000,000 open tickets on PostgreSQL; target under 20 ms.

The scan is the query the scheduler runs every SLA_SCAN_EVERY seconds
(`supporthub.sla.selectors.warnings_due(now=...)`, first 500 ids, through the ORM as
`breach_scan` runs it), timed repeatedly: median and p99, and EXPLAIN ANALYZE showing the
`ticket_sla_warning_due` partial index. Every one of the 1M tickets is an open, unanswered
clock with a warning still to send (the largest the partial index can be); `--due` of them
(default 100) fell due in the last 30 s, the rest over the next two weeks.

Peers, in the same run:
- the same scan without the partial index (dropped inside a transaction, rolled back);
- django-helpdesk 2.6.1's approach: its `escalate_tickets` management command selects, per
  queue with `escalate_days`, the open tickets not on hold whose last escalation (or
  creation) is older than the window: that query, built by its own ORM models in its own
  virtualenv (var/bench/helpdesk-venv, shared with bench_api.py) over 1M open tickets of
  which the same number are due, database `supporthub_bench_breach_helpdesk`. `--no-helpdesk`
  skips it (it needs PyPI on the first run to build the virtualenv).

Run with `make bench` (or `.venv/bin/python benchmarks/bench_breach.py [--tickets N]`).
Uses its own database, `supporthub_bench_breach`, on the local server (BENCH_PG_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
sys.path.insert(0, str(ROOT / "src"))
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
OUR_DB = "supporthub_bench_breach"
PEER_DB = "supporthub_bench_breach_helpdesk"
os.environ["DATABASE_URL"] = f"{SERVER}/{OUR_DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supporthub.settings")

TARGET_MS = 20.0
ZONES = ["America/New_York", "Europe/Paris", "Asia/Kolkata", "Australia/Sydney"]
LEVELS = ["gold", "platinum", "enterprise"]


def _recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def _timings(run: Callable[[], object], repeat: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100, help="tickets due at the scan")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--organisations", type=int, default=24)
    parser.add_argument("--no-helpdesk", action="store_true")
    args = parser.parse_args()
    _recreate_database(OUR_DB)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from supporthub.customers.models import Organisation
    from supporthub.sla.selectors import warnings_due
    from supporthub.sla.warnings import SCAN_BATCH
    from supporthub.testing import factories as f

    call_command("migrate", verbosity=0)
    f.load_example_policy("cloud-support")
    for i in range(args.organisations):
        organisation = Organisation.objects.create(
            name=f"Bench {i}", country="US", time_zone=ZONES[i % len(ZONES)]
        )
        f.subscribe(organisation, level=LEVELS[i % len(LEVELS)], term_start=date(2024, 6, 11))

    now = timezone.now()
    every = max(1, args.tickets // max(1, args.due))
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # Open, unanswered tickets; each has a warning still to send: `--due` of them fell
        # due in the last 30 s, the others fall due over the next two weeks.
        cursor.execute(
            """
            INSERT INTO tickets_ticket (organisation_id, subject, body, body_format, severity,
                type, channel, status, region, out_of_scope, escalation_reason, external_id,
                received_at, policy_version_id, subscription_id, support_level,
                first_response_due_at, first_response_status, sla_warned_point,
                sla_next_warning_at, created_at, updated_at, version)
            SELECT s.organisation_id, 'bench', '', 'text', 1 + (g %% 3), 'incident', 'hub',
                   (ARRAY['new', 'open', 'pending_customer', 'on_hold'])[1 + g %% 4], '', '',
                   '', '', %(now)s::timestamptz - interval '1 day',
                   s.policy_version_id, s.id, s.support_level, w.at + interval '1 hour',
                   'pending', 0, w.at, now(), now(), 1
            FROM generate_series(1, %(tickets)s) AS g
            CROSS JOIN LATERAL (SELECT CASE WHEN g %% %(every)s = 0
                THEN %(now)s::timestamptz - ((g * 13) %% 30) * interval '1 second'
                ELSE %(now)s::timestamptz + interval '60 seconds'
                     + ((g::bigint * 7919) %% (14 * 86400)) * interval '1 second'
                END AS at) w
            JOIN (
                SELECT row_number() OVER (ORDER BY sub.id) - 1 AS n, sub.id,
                       sub.organisation_id,
                       (SELECT max(id) FROM policies_policyversion) AS policy_version_id,
                       CASE sub.level WHEN 'gold' THEN 'base' WHEN 'platinum' THEN 'enhanced'
                            ELSE 'premium' END AS support_level
                FROM customers_subscription sub
            ) s ON s.n = g %% %(organisations)s
            """,
            {
                "now": now,
                "tickets": args.tickets,
                "every": every,
                "organisations": args.organisations,
            },
        )
        cursor.execute("VACUUM ANALYZE tickets_ticket")
    print(f"created {args.tickets:,} open tickets in {time.perf_counter() - t0:.1f}s")

    def scan() -> list[int]:
        return list(warnings_due(now=now).values_list("pk", flat=True)[:SCAN_BATCH])

    due = len(scan())
    queryset = warnings_due(now=now).values_list("pk", flat=True)[:SCAN_BATCH]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = [row[0] for row in cursor.fetchall()]
    print(f"the scan (rows due: {due}):\n  {sql % tuple(repr(str(p)) for p in params)}")
    print("  " + "\n  ".join(plan))
    ours = _timings(scan, args.repeat)
    median, p99 = _summary(ours)
    verdict = "meets" if p99 < TARGET_MS else "MISSES"
    print(
        f"Support Hub breach scan, {args.tickets:,} open tickets, {due} due: median "
        f"{median:.2f} ms, p99 {p99:.2f} ms over {args.repeat} runs; target under "
        f"{TARGET_MS:.0f} ms: {verdict}"
    )

    class _Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX ticket_sla_warning_due")
            assert len(scan()) == due
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN {sql}", params)
                unindexed_plan = [row[0] for row in cursor.fetchall()]
            bare = _timings(scan, max(10, args.repeat // 10), warmup=2)
            raise _Rollback
    except _Rollback:
        pass
    bare_median, bare_p99 = _summary(bare)
    print("  without the partial index:\n  " + "\n  ".join(unindexed_plan))
    print(
        f"same scan without the partial index: median {bare_median:.2f} ms, p99 "
        f"{bare_p99:.2f} ms; ratio {bare_median / median:.0f}x (median)"
    )
    if not args.no_helpdesk:
        helpdesk(args.tickets, due, args.repeat, median)


# The peer: django-helpdesk 2.6.1's escalate_tickets selection, run by its own models.
PEER_SCRIPT = r"""
import json, statistics, sys, time
from datetime import timedelta
import django
django.setup()
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from helpdesk.models import EscalationExclusion, Queue, Ticket

tickets, due, repeat = (int(a) for a in sys.argv[1:4])
queue, _ = Queue.objects.get_or_create(
    slug="bench", defaults={"title": "Bench", "email_address": "s@bench.example",
                            "escalate_days": 1})
assert set(Ticket.OPEN_STATUSES) >= {1, 2}  # open and reopened
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM helpdesk_ticket")
    every = max(1, tickets // max(1, due))
    cursor.execute('''
        INSERT INTO helpdesk_ticket (title, queue_id, created, modified, submitter_email,
            status, on_hold, description, resolution, priority, due_date, last_escalation,
            secret_key, kbitem_id, merged_to_id)
        SELECT 'bench', %s, CASE WHEN g %% %s = 0 THEN now() - interval '3 days'
                                 ELSE now() - (g %% 7200) * interval '1 second' END,
               now(), 'c@bench.example', 1 + (g %% 2), false, '', '', 2 + g %% 4,
               NULL, NULL, md5(g::text), NULL, NULL
        FROM generate_series(1, %s) AS g''', [queue.pk, every, tickets])
    cursor.execute("VACUUM ANALYZE helpdesk_ticket")

def scan():
    # helpdesk/management/commands/escalate_tickets.py (2.6.1): the selection it iterates.
    found = []
    queues = Queue.objects.filter(escalate_days__isnull=False).exclude(escalate_days=0)
    for queue in queues:
        last = timezone.now().date() - timedelta(days=queue.escalate_days)
        today = timezone.now().date()
        workdate = last
        days = 0
        while workdate < today:
            if not EscalationExclusion.objects.filter(date=workdate).exists():
                days += 1
            workdate = workdate + timedelta(days=1)
        req_last_escl_date = timezone.now() - timedelta(days=days)
        found += list(
            queue.ticket_set.filter(status__in=Ticket.OPEN_STATUSES)
            .exclude(priority=1)
            .filter(Q(on_hold__isnull=True) | Q(on_hold=False))
            .filter(
                Q(last_escalation__lte=req_last_escl_date)
                | Q(last_escalation__isnull=True, created__lte=req_last_escl_date)
            )
        )
    return found

found = len(scan())
for _ in range(3):
    scan()
times = []
for _ in range(repeat):
    t = time.perf_counter(); scan(); times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({"found": found, "median": statistics.median(times),
                  "p99": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]}))
"""


def helpdesk(tickets: int, due: int, repeat: int, our_median: float) -> None:
    from bench_api import ensure_peer_venv, peer_env  # the venv bench_api.py also uses

    try:
        bin_dir = ensure_peer_venv()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"django-helpdesk 2.6.1: could not build its virtualenv ({exc}); not measured")
        return
    _recreate_database(PEER_DB)
    env = {**peer_env(), "HELPDESK_BENCH_DB": PEER_DB}
    peer_dir = HERE / "peers" / "helpdesk"
    python = str(bin_dir / "python")
    subprocess.run(
        [python, "-m", "django", "migrate", "--no-input", "--verbosity", "0"],
        env=env,
        cwd=peer_dir,
        check=True,
    )
    out = subprocess.run(
        [python, "-c", PEER_SCRIPT, str(tickets), str(due), str(max(10, repeat // 10))],
        env=env,
        cwd=peer_dir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(
        f"django-helpdesk 2.6.1 escalate_tickets selection, {tickets:,} open tickets, "
        f"{result['found']} due: median {result['median']:.2f} ms, p99 {result['p99']:.2f} ms; "
        f"ratio {result['median'] / our_median:.0f}x (median)"
    )


if __name__ == "__main__":
    main()
