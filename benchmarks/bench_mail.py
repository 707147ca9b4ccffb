"""Inbound mail per second: stored (SMTP), then parsed, threaded and ticketed, on PostgreSQL.

Support Hub, on its own database `supporthub_bench_mail` (migrated, `supporthub demo`):
- stored: `supporthub smtp-listen` on a free loopback port, 8 smtplib clients on their own
  connections; a message counts once the listener answered 250 (it is then committed).
- processed: `supporthub inbox process` workers (1, then 2: the machine has 2 cores) drain the
  stored messages: parse, thread, open a ticket or add a reply, enqueue the acknowledgement.
- end to end: a fresh batch sent while the listener and 2 workers run; the clock stops when
  the last message is ticketed. This is the figure the target (200 per second) is about.
Each phase sends its own batch of --messages (default 1,000): mail from the demo's Support
Contacts, every 7th a reply (In-Reply-To) to an earlier one, every 20th without a Message-ID.

The peer, in the same run: django-helpdesk 2.6.1's own mail ingestion,
`helpdesk.email.extract_email_metadata(message=..., queue=..., logger=...)` (what its IMAP and
POP3 pollers call per message; the older releases' object_from_message), in its virtualenv
(var/bench/helpdesk-venv, built by benchmarks/bench_api.py's ensure_peer_venv) on its own
database, one process as its `get_email` runs, over the same messages. django-helpdesk has no
storing step (it parses straight from the mailbox), so its rate is compared with ours in one
warm process too: a loop of inbox_process_due over a stored batch (storing timed apart).
Nothing is asserted about timings; the exit status is 1 only when Support Hub could not be
measured or a message was lost, duplicated or quarantined.

Run with `make bench` or `.venv/bin/python benchmarks/bench_mail.py [--messages N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from bench_api import (
    PEER_DIR,
    SERVER,
    StepFailed,
    drop_database,
    ensure_peer_venv,
    free_port,
    log_tail,
    peer_env,
    recreate_database,
    run,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUR_BIN = ROOT / ".venv" / "bin"
OUR_DB = "supporthub_bench_mail"
PEER_DB = "supporthub_bench_mail_helpdesk"
SENDERS = ["carol@northwind.example", "dev@northwind.example", "greta@globex.example"]
SENDERS += ["ila@initech.example", "ava@acme.example"]
CLIENTS = 8
TARGET = 200.0


def mail(batch: str, number: int) -> bytes:
    """Message `number` of a batch (deterministic: the peer gets the same bytes)."""
    sender = SENDERS[number % len(SENDERS)]
    headers = [f"From: {sender.split('@')[0].title()} <{sender}>", "To: support@bench.example"]
    if number % 7 == 3 and number >= 10:
        parent = number - 5 if (number - 5) % 20 else number - 10
        # A reply comes from the sender of what it answers (a participant of that ticket).
        sender = SENDERS[parent % len(SENDERS)]
        headers[0] = f"From: {sender.split('@')[0].title()} <{sender}>"
        headers += [
            f"Subject: Re: Export stopped again ({batch}-{parent})",
            f"In-Reply-To: <{batch}-{parent}@bench.example>",
            f"References: <{batch}-{parent}@bench.example>",
        ]
        body = "Still broken this morning.\r\n\r\n> The nightly export stopped at 02:00 UTC.\r\n"
    else:
        headers.append(f"Subject: Export stopped again ({batch}-{number})")
        body = (
            "The nightly export stopped at 02:00 UTC; the dashboard shows no data since.\r\n"
            "Logs attached in the portal.\r\n\r\n-- \r\nSent from the bench\r\n"
        )
    if number % 20:
        headers.append(f"Message-ID: <{batch}-{number}@bench.example>")
    headers += [
        "Date: Mon, 24 Nov 2025 15:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


# --- Support Hub ---------------------------------------------------------------------------


def our_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{SERVER}/{OUR_DB}",
        SUPPORTHUB_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="supporthub.settings",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        TASKS_BACKEND="db",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
    )
    return env


def counts(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT state, count(*) FROM intake_email_inboundmessage GROUP BY state"
    ).fetchall()
    return {str(state): int(str(n)) for state, n in rows}


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StepFailed(f"smtp-listen exited {process.returncode}:\n  {log_tail(log)}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.noop()
                return
        except OSError:
            time.sleep(0.2)
    raise StepFailed(f"smtp-listen not answering on {port}:\n  {log_tail(log)}")


def send(port: int, batch: str, messages: int) -> tuple[float, int]:
    """Send a batch with CLIENTS connections; (seconds, non-250 answers retried)."""
    retried = [0]
    lock = threading.Lock()
    numbers = iter(range(messages))

    def client_loop() -> None:
        client = smtplib.SMTP("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                break
            raw = mail(batch, number)
            sender = raw.split(b"<", 1)[1].split(b">", 1)[0].decode()
            while True:
                try:
                    client.sendmail(sender, ["support@bench.example"], raw)
                    break
                except smtplib.SMTPException:
                    with lock:
                        retried[0] += 1
                    time.sleep(0.05)
        client.quit()

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, retried[0]


def drain(expected_done: int, deadline: float = 600.0) -> None:
    """Wait until every message is processed or quarantined (one connection, polled at 10 Hz:
    a connection per poll would cost PostgreSQL a backend each and skew the figure)."""
    stop = time.monotonic() + deadline
    with psycopg.connect(f"{SERVER}/{OUR_DB}", autocommit=True) as conn:
        while True:
            now = counts(conn)
            if not now.get("stored") and sum(now.values()) >= expected_done:
                return
            if time.monotonic() > stop:
                raise StepFailed(f"the inbox was not drained in {deadline:.0f}s: {now}")
            time.sleep(0.1)


@contextmanager
def running_workers(
    n: int, env: dict[str, str], logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    argv = [str(OUR_BIN / "supporthub"), "inbox", "process", "--interval", "0.05", "--limit", "50"]
    with ExitStack() as stack:
        yield [
            stack.enter_context(started(argv, env, logs / f"worker-{number}.log"))
            for number in range(1, n + 1)
        ]


def cpu_seconds(pid: int) -> float:
    """User and system CPU of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[int, float]:
    """CPU so far of PostgreSQL's processes that work for our database: its backends, and
    the server's own (WAL writer, checkpointer, ...), not other databases' backends."""
    with psycopg.connect(f"{SERVER}/{OUR_DB}", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s OR datname IS NULL", [OUR_DB]
        ).fetchall()
    return {int(str(pid)): cpu_seconds(int(str(pid))) for (pid,) in rows}


def machine_busy() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores so far, from /proc/stat."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass
class CpuMeter:
    """CPU spent by the listener, the workers and PostgreSQL between start() and stop()."""

    listener: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    before: dict[str, Any] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, Any]:
        return {
            "listener": cpu_seconds(self.listener.pid),
            "workers": sum(cpu_seconds(w.pid) for w in self.workers),
            "postgres": postgres_cpu(),
            "machine": machine_busy(),
        }

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> None:
        after = self._sample()
        pg_before, pg_after = self.before["postgres"], after["postgres"]
        self.spent = {
            "listener": after["listener"] - self.before["listener"],
            "workers": after["workers"] - self.before["workers"],
            # A backend that started during the phase counts from zero.
            "postgres": sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items()),
        }
        busy = after["machine"][0] - self.before["machine"][0]
        total = after["machine"][1] - self.before["machine"][1]
        self.spent["busy_share"] = busy / total if total else 0.0

    def report(self, messages: int, cores: int) -> str:
        ms = {k: v / messages * 1000 for k, v in self.spent.items() if k != "busy_share"}
        per_message = sum(ms.values())
        return (
            f"   CPU per message end to end: listener {ms['listener']:.1f} ms, workers "
            f"{ms['workers']:.1f} ms, PostgreSQL {ms['postgres']:.1f} ms = {per_message:.1f} ms "
            f"(cores busy {self.spent['busy_share']:.0%}): {cores} cores allow at most "
            f"{cores * 1000 / per_message:,.0f}/s at this cost"
        )


def measure_ours(messages: int, logs: Path) -> dict[str, float]:
    recreate_database(OUR_DB)
    env = our_env(logs / "data")
    supporthub = str(OUR_BIN / "supporthub")
    run([supporthub, "migrate", "--no-input"], env)
    run([supporthub, "demo"], env)
    port = free_port()
    listen = [supporthub, "smtp-listen", "--host", "127.0.0.1", "--port", str(port)]
    figures: dict[str, float] = {}
    done = 0
    with started(listen, env, logs / "listener.log") as listener:
        wait_for_port(port, listener, logs / "listener.log")
        for workers_n, batch in ((1, "b1"), (2, "b2")):
            seconds, retried = send(port, batch, messages)
            with psycopg.connect(f"{SERVER}/{OUR_DB}", autocommit=True) as conn:
                stored = counts(conn).get("stored", 0)
            figures["stored"] = max(figures.get("stored", 0.0), messages / seconds)
            print(
                f"   stored over SMTP: {messages:,} in {seconds:.2f}s = {messages / seconds:,.0f}"
                f"/s ({CLIENTS} clients, {retried} retried; {stored:,} waiting)"
            )
            began = time.perf_counter()
            with running_workers(workers_n, env, logs):
                drain(done + messages)
            seconds = time.perf_counter() - began
            done += messages
            figures[f"processed_{workers_n}"] = messages / seconds
            print(
                f"   parsed, threaded, ticketed by {workers_n} worker(s): {messages:,} in "
                f"{seconds:.2f}s = {messages / seconds:,.0f}/s (process start included)"
            )
        with running_workers(2, env, logs) as workers:
            time.sleep(3)  # the workers are up and idle before the clock starts
            meter = CpuMeter(listener, workers)
            meter.start()
            began = time.perf_counter()
            seconds, retried = send(port, "b3", messages)
            drain(done + messages)
            total = time.perf_counter() - began
            meter.stop()
        done += messages
        figures["end_to_end"] = messages / total
        print(
            f"   end to end (listener + 2 workers at once): {messages:,} sent in {seconds:.2f}s, "
            f"all ticketed after {total:.2f}s = {messages / total:,.0f}/s"
        )
        print(meter.report(messages, os.cpu_count() or 1))
    figures["in_process"] = measure_in_process(messages, env)
    check_ours(done + messages + 20)
    return figures


# Run by our python: the same loop as the peer's (one warm process, no SMTP, no polling):
# store a batch with inbox_store, then time inbox_process_due until nothing is left.
OUR_SCRIPT = r"""
import json, sys, time
import django
django.setup()
sys.path.insert(0, sys.argv[1])
from bench_mail import mail
from supporthub.intake.email.models import Source
from supporthub.intake.email.services import inbox_process_due, inbox_store
batch, messages = sys.argv[2], int(sys.argv[3])
def store(raw):
    sender = raw.split(b"<", 1)[1].split(b">", 1)[0].decode()
    inbox_store(raw=raw, source=Source.SMTP, mailbox="smtp://bench", envelope_sender=sender)
for number in range(20):
    store(mail("warm-" + batch, number))
while inbox_process_due(limit=50):
    pass
raw = [mail(batch, number) for number in range(messages)]
began = time.perf_counter()
for message in raw:
    store(message)
stored = time.perf_counter() - began
began = time.perf_counter()
done = 0
while taken := inbox_process_due(limit=50):
    done += taken
print(json.dumps({"stored": stored, "processed": time.perf_counter() - began, "done": done}))
"""


def measure_in_process(messages: int, env: dict[str, str]) -> float:
    argv = [str(OUR_BIN / "python"), "-c", OUR_SCRIPT, str(HERE), "b4", str(messages)]
    report = json.loads(run(argv, env).strip().splitlines()[-1])
    rate = report["done"] / report["processed"]
    print(
        f"   one warm process, as the peer is measured: stored {messages:,} in "
        f"{report['stored']:.2f}s ({messages / report['stored']:,.0f}/s), then parsed, "
        f"threaded, ticketed in {report['processed']:.2f}s = {rate:,.0f}/s"
    )
    return rate


def check_ours(total: int) -> None:
    with psycopg.connect(f"{SERVER}/{OUR_DB}", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, disposition, count(*) FROM intake_email_inboundmessage "
            "GROUP BY state, disposition ORDER BY 1, 2"
        ).fetchall()
        tickets = conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()
        acks = conn.execute(
            "SELECT count(*), count(DISTINCT ticket_id) FROM notify_outboxmessage "
            "WHERE kind = 'ticket.acknowledged'"
        ).fetchone()
    outcome = {f"{state}/{disposition or '-'}": n for state, disposition, n in rows}
    print(f"   outcome: {outcome}; tickets {tickets[0] if tickets else 0}; acknowledgements {acks}")
    stored = sum(outcome.values())
    if stored != total or any(not key.startswith("processed/") for key in outcome):
        raise StepFailed(f"expected {total:,} processed messages, found {outcome}")
    if acks is None or acks[0] != acks[1]:
        raise StepFailed(f"a ticket was acknowledged twice: {acks}")


# --- django-helpdesk ------------------------------------------------------------------------

# Run by the peer's python in benchmarks/peers/helpdesk; argv[1] is a JSON file of messages
# (latin-1 strings of the exact bytes), decoded as its IMAP poller does (force_str).
PEER_SCRIPT = r"""
import json, logging, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdbench.settings")
django.setup()
from django.utils import encoding
from helpdesk.email import extract_email_metadata
from helpdesk.models import FollowUp, Queue, Ticket
batches = json.load(open(sys.argv[1]))
queue = Queue.objects.get(slug="bench")
logger = logging.getLogger("bench")
logger.setLevel(logging.WARNING)
def ingest(raw):
    message = encoding.force_str(raw.encode("latin-1"), errors="replace")
    extract_email_metadata(message=message, queue=queue, logger=logger)
for raw in batches["warm"]:
    ingest(raw)
began = time.perf_counter()
for raw in batches["measured"]:
    ingest(raw)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "tickets": Ticket.objects.count(),
                  "followups": FollowUp.objects.count()}))
"""


def measure_peer(messages: int, logs: Path) -> float:
    bin_dir = ensure_peer_venv()
    recreate_database(PEER_DB)
    env = peer_env()
    env["HELPDESK_BENCH_DB"] = PEER_DB
    python = str(bin_dir / "python")
    run([python, "-m", "django", "migrate", "--no-input", "--verbosity", "0"], env, PEER_DIR)
    run([python, "setup_peer.py"], env, PEER_DIR)
    batches = logs / "peer-messages.json"
    batches.write_text(
        json.dumps(
            {
                "warm": [mail("warm", n).decode("latin-1") for n in range(20)],
                "measured": [mail("b1", n).decode("latin-1") for n in range(messages)],
            }
        )
    )
    out = run([python, "-c", PEER_SCRIPT, str(batches)], env, PEER_DIR)
    report = json.loads(out.strip().splitlines()[-1])
    rate = messages / report["seconds"]
    print(
        f"   extract_email_metadata, one warm process: {messages:,} in {report['seconds']:.2f}s = "
        f"{rate:,.0f}/s; {report['tickets']} tickets, {report['followups']} follow-ups "
        "(20 warm-up messages included in the counts)"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="per phase (default 1000)")
    parser.add_argument("--keep-databases", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; PostgreSQL at {SERVER}; loopback only")
    ours: dict[str, float] | None = None
    peer: float | None = None
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
        logs = Path(tmp)
        try:
            print("-- Support Hub: migrate, demo, smtp-listen, inbox workers")
            try:
                ours = measure_ours(args.messages, logs)
            except StepFailed as exc:
                print(f"   not measured: {exc}")
            print("-- django-helpdesk 2.6.1: helpdesk.email.extract_email_metadata")
            try:
                peer = measure_peer(args.messages, logs)
            except StepFailed as exc:
                print(f"   not measured: {exc}")
        finally:
            if not args.keep_databases:
                drop_database(OUR_DB)
                drop_database(PEER_DB)
    print("\nsummary: inbound mail per second on PostgreSQL")
    if ours is None:
        print("  Support Hub: not measured (see above)")
        return 1
    print(f"  Support Hub stored (SMTP 250 after commit): {ours['stored']:,.0f}/s")
    print(f"  Support Hub processed, 1 worker:  {ours['processed_1']:,.0f}/s")
    print(f"  Support Hub processed, 2 workers: {ours['processed_2']:,.0f}/s")
    print(f"  Support Hub end to end (stored + ticketed): {ours['end_to_end']:,.0f}/s")
    print(f"  Support Hub, one warm process: {ours['in_process']:,.0f}/s")
    if peer:
        print(f"  django-helpdesk 2.6.1, one warm process: {peer:,.0f}/s")
        ratio = ours["in_process"] / peer
        print(f"  Support Hub / django-helpdesk, one warm process each: {ratio:.2f}x")
    else:
        print("  django-helpdesk 2.6.1: not measured (see above)")
    verdict = "meets" if ours["end_to_end"] >= TARGET else "MISSES"
    print(
        f"target: >= {TARGET:.0f} messages/s stored, parsed, threaded and ticketed: {verdict} "
        f"({ours['end_to_end']:,.0f}/s end to end)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
