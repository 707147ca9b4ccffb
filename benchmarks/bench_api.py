"""Tickets created per second through Support Hub's REST API, against django-helpdesk 2.6.1.

Both applications run the same way in the same run, one after the other (never together: the
machine has 2 cores): gunicorn with the same number of sync workers (3, as `make serve`) on a
free loopback port, on their own database on the same PostgreSQL server, DEBUG off.

- Support Hub: `POST /api/tickets` with a bearer token made by `supporthub api-token create`;
  database `supporthub_bench_api`, loaded with `supporthub demo`. A sample response must carry
  the computed SLA (`sla.first_response.due_at` as ISO 8601 UTC, and its status).
- django-helpdesk 2.6.1 (PyPI), through its own DRF API, `POST /api/tickets/`, in its own
  virtualenv (var/bench/helpdesk-venv, made on first use from benchmarks/peers/helpdesk/
  requirements.txt) and the minimal project in benchmarks/peers/helpdesk; database
  `supporthub_bench_helpdesk`; DRF token authentication (see hdbench/settings.py for why).

Load: 32 concurrent clients (threads, each POST on a new connection with http.client rather than
httpx: see post_json), a warm-up of 100 creates, then 2,000 creates or 30 s, whichever comes
first; every request is timed. Rate = successful creates / wall time; p50 and p99 are over the
successful requests' latencies; non-2xx answers are counted and the first one shown. The CPU
spent per created ticket by the application's processes and by its PostgreSQL backends (from
/proc) is printed too: other work on the machine lowers the rates but hardly moves that figure.
SQL queries per created ticket are counted in-process for each application
(benchmarks/queries_per_create.py: django.test.Client and CaptureQueriesContext after a warm-up),
as Django counts them, BEGIN and COMMIT included and shown apart.
Targets are printed beside the figures; nothing is asserted about timings. The exit status is 1
only when Support Hub could not be measured (or its sample response lacks the SLA).

Run with `make bench` or `.venv/bin/python benchmarks/bench_api.py [--creates N] [--seconds S]`.
BENCH_PG_URL changes the PostgreSQL server (default postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUR_BIN = ROOT / ".venv" / "bin"
PEER_DIR = HERE / "peers" / "helpdesk"
PEER_REQUIREMENTS = PEER_DIR / "requirements.txt"
PEER_VENV = ROOT / "var" / "bench" / "helpdesk-venv"
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
OUR_DB = "supporthub_bench_api"
PEER_DB = "supporthub_bench_helpdesk"
LOOPBACK = "127.0.0.1"

TARGET_RATIO = 10.0
TARGET_QUERIES = 6.0
TARGET_P99_MS = 50.0

REQUESTER = "carol@northwind.example"  # a Support Contact of the demo's Northwind Logistics
BODY = "The nightly export stopped at 02:00 UTC; the dashboard shows no data since."


class StepFailed(Exception):
    """A setup command or a server failed; the message says which and shows its output."""


class RequestFailed(Exception):
    """A create answered with a non-2xx status; the message is the status and the body."""


@dataclass(frozen=True)
class Target:
    """One application under test: how to serve it and how to create a ticket through it."""

    name: str
    path: str
    auth: str
    payload: dict[str, Any]
    subject_key: str
    server: list[str]
    env: dict[str, str]
    cwd: Path
    python: Path
    database: str
    check: Callable[[httpx.Response], str]


@dataclass
class LoadResult:
    """What one load run saw: successes with their latencies, errors, wall and CPU time."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    wall: float = 0.0
    cpu: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile of the successful requests' latencies, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


@dataclass(frozen=True)
class Running:
    """A served application: its base URL and its gunicorn's process group (master, workers)."""

    url: str
    group: int


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds spent during a load run by the application's processes and its database's
    PostgreSQL backends: a figure that other work on the machine disturbs far less than the
    rate does."""

    app: float
    database: float


@dataclass(frozen=True)
class Queries:
    """SQL per created ticket as Django counts it; `transaction` is the BEGIN, COMMIT and
    SAVEPOINT part of it (Django logs those too; an API that writes in autocommit has none)."""

    total: float
    transaction: float


@dataclass
class Measurement:
    name: str
    load: LoadResult
    cpu: CpuUse
    queries: Queries | None


# --- processes and databases -------------------------------------------------------------


def run(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    """Run a setup command to completion; its stdout, or StepFailed with its output's tail."""
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise StepFailed(f"`{' '.join(argv)}` exited {done.returncode}:\n  " + "\n  ".join(tail))
    return done.stdout


def recreate_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n  ".join(text.strip().splitlines()[-lines:])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StepFailed(f"server exited {process.returncode}:\n  {log_tail(log)}")
        try:
            httpx.get(url + "/", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise StepFailed(f"server not answering on {url} after 60 s:\n  {log_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn we started (its own process group: master and workers), by its id."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@contextmanager
def serving(target: Target, workers: int, log: Path) -> Iterator[Running]:
    port = free_port()
    argv = [*target.server, "--bind", f"{LOOPBACK}:{port}", "--workers", str(workers)]
    argv.append("--no-control-socket")  # gunicorn 27's control socket is one per user
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            env=target.env,
            cwd=target.cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://{LOOPBACK}:{port}"
            wait_until_serving(url, process, log)
            yield Running(url=url, group=process.pid)
        finally:
            stop(process)


def process_cpu() -> dict[int, tuple[int, float]]:
    """Every process's (process group, user + system CPU seconds), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        found[int(stat.parent.name)] = (int(fields[2]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def backend_pids(database: str) -> set[int]:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
        return {int(pid) for (pid,) in rows}


def cpu_use(
    before: dict[int, tuple[int, float]],
    after: dict[int, tuple[int, float]],
    group: int,
    backends: set[int],
) -> CpuUse:
    """CPU spent between two snapshots by the gunicorn group and by the database's backends."""

    def spent(pid: int) -> float:
        return after[pid][1] - before.get(pid, (0, 0.0))[1]

    app = sum(spent(pid) for pid, (pgrp, _) in after.items() if pgrp == group)
    database = sum(spent(pid) for pid in backends if pid in after)
    return CpuUse(app=app, database=database)


# --- the two applications ----------------------------------------------------------------


def check_ours(response: httpx.Response) -> str:
    """A created ticket must carry its computed first-response SLA."""
    if response.status_code != 201:
        raise StepFailed(f"sample create answered {response.status_code}: {response.text[:500]}")
    first = response.json().get("sla", {}).get("first_response", {})
    due_at, status = first.get("due_at"), first.get("status")
    if not isinstance(due_at, str) or not isinstance(status, str) or not status:
        raise StepFailed(f"sample ticket lacks sla.first_response due_at/status: {first!r}")
    due = datetime.fromisoformat(due_at)
    if due.utcoffset() != timedelta(0):
        raise StepFailed(f"sla.first_response.due_at is not UTC: {due_at!r}")
    return f"sla.first_response.due_at {due_at}, status {status!r}"


def check_peer(response: httpx.Response) -> str:
    if response.status_code != 201:
        raise StepFailed(f"sample create answered {response.status_code}: {response.text[:500]}")
    ticket = response.json()
    followups = ticket["followup_set"]
    mailed = followups[0]["email_recipients"] if followups else []
    return f"ticket id {ticket['id']}, due_date {ticket['due_date']}, mailed {mailed}"


def our_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{SERVER}/{OUR_DB}",
        SUPPORTHUB_DATA_DIR=str(data_dir),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="supporthub.settings",
    )
    return env


def prepare_ours(data_dir: Path) -> Target:
    recreate_database(OUR_DB)
    env = our_env(data_dir)
    supporthub = str(OUR_BIN / "supporthub")
    run([supporthub, "migrate", "--no-input"], env)
    run([supporthub, "demo"], env)
    run([supporthub, "collectstatic", "--no-input", "--verbosity", "0"], env)  # as `make serve`
    created = run(
        [supporthub, "api-token", "create", "--organisation", "Northwind Logistics"]
        + ["--name", "bench"],
        env,
    )
    token = created.strip().splitlines()[-1].strip()
    return Target(
        name="Support Hub",
        path="/api/tickets",
        auth=f"Bearer {token}",
        payload={
            "subject": "",
            "body": BODY,
            "severity": 3,
            "type": "incident",
            "requester_email": REQUESTER,
        },
        subject_key="subject",
        server=[str(OUR_BIN / "gunicorn"), "supporthub.wsgi"],
        env=env,
        cwd=ROOT,
        python=OUR_BIN / "python",
        database=OUR_DB,
        check=check_ours,
    )


def ensure_peer_venv() -> Path:
    """var/bench/helpdesk-venv with the pinned requirements; reused while they are unchanged."""
    bin_dir = PEER_VENV / "bin"
    stamp = PEER_VENV / "installed-requirements.txt"
    wanted = PEER_REQUIREMENTS.read_text()
    if (bin_dir / "gunicorn").exists() and stamp.exists() and stamp.read_text() == wanted:
        return bin_dir
    print(f"creating {PEER_VENV.relative_to(ROOT)} (django-helpdesk 2.6.1, first run only)...")
    base = shutil.which("python3.11") or sys.executable
    PEER_VENV.parent.mkdir(parents=True, exist_ok=True)
    run([base, "-m", "venv", "--clear", str(PEER_VENV)], dict(os.environ))
    pip = [
        str(bin_dir / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    run([*pip, "-r", str(PEER_REQUIREMENTS)], dict(os.environ))
    stamp.write_text(wanted)
    return bin_dir


def peer_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="hdbench.settings",
        PYTHONPATH=str(PEER_DIR),
        BENCH_PG_URL=SERVER,
        HELPDESK_BENCH_DB=PEER_DB,
    )
    return env


def prepare_peer(bin_dir: Path) -> Target:
    recreate_database(PEER_DB)
    env = peer_env()
    python = bin_dir / "python"
    run([str(python), "-m", "django", "migrate", "--no-input", "--verbosity", "0"], env, PEER_DIR)
    info = json.loads(run([str(python), "setup_peer.py"], env, PEER_DIR).strip().splitlines()[-1])
    return Target(
        name="django-helpdesk 2.6.1",
        path="/api/tickets/",
        auth=f"Token {info['token']}",
        payload={
            "queue": info["queue"],
            "title": "",
            "description": BODY,
            "submitter_email": REQUESTER,
            "priority": 3,
        },
        subject_key="title",
        server=[str(bin_dir / "gunicorn"), "hdbench.wsgi"],
        env=env,
        cwd=PEER_DIR,
        python=python,
        database=PEER_DB,
        check=check_peer,
    )


# --- load and queries --------------------------------------------------------------------


def post_json(address: tuple[str, int], path: str, headers: dict[str, str], body: bytes) -> int:
    """One POST on a new connection (gunicorn's sync workers close each one); the status.

    The standard library's http.client, not httpx: on this 2-core machine the load generator
    shares the CPU with the server, and httpx spends about 1.3 ms of CPU per request here
    against 0.17 ms for http.client (measured with 32 threads against a trivial WSGI app).
    A non-2xx status raises RequestFailed with the body.
    """
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise RequestFailed(f"{response.status}: {content[:500].decode(errors='replace')}")
    return response.status


def run_load(
    url: str, target: Target, *, creates: int, seconds: float, clients: int, first: int
) -> LoadResult:
    """`clients` threads create tickets until `creates` were sent or `seconds` have passed."""
    parts = urlsplit(url)
    address = (parts.hostname or LOOPBACK, parts.port or 80)
    headers = {"Authorization": target.auth, "Content-Type": "application/json"}
    result = LoadResult()
    lock = threading.Lock()
    numbers = itertools.count(first)
    left = creates
    start = threading.Barrier(clients + 1)
    deadline = math.inf

    def take() -> int | None:
        nonlocal left
        with lock:
            if left <= 0 or time.perf_counter() >= deadline:
                return None
            left -= 1
            return next(numbers)

    def record(elapsed: float, error: str | None) -> None:
        with lock:
            if error is None:
                result.latencies.append(elapsed)
                return
            result.errors += 1
            if result.first_error is None:
                result.first_error = error

    def client_loop() -> None:
        start.wait()
        while (number := take()) is not None:
            payload = {**target.payload, target.subject_key: f"Bench ticket {number}"}
            body = json.dumps(payload).encode()
            began = time.perf_counter()
            error: str | None = None
            try:
                post_json(address, target.path, headers, body)
            except (OSError, http.client.HTTPException, RequestFailed) as exc:
                error = str(exc) if isinstance(exc, RequestFailed) else repr(exc)
            record(time.perf_counter() - began, error)

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    began = time.perf_counter()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - began
    result.cpu = time.process_time() - cpu0
    return result


def count_queries(target: Target, creates: int) -> tuple[Queries | None, str]:
    """Queries per created ticket, counted in-process with the application's own virtualenv."""
    argv = [str(target.python), str(HERE / "queries_per_create.py")]
    argv += ["--path", target.path, "--auth", target.auth, "--payload", json.dumps(target.payload)]
    argv += ["--subject-key", target.subject_key, "--creates", str(creates)]
    try:
        report = json.loads(run(argv, target.env, target.cwd).strip().splitlines()[-1])
    except StepFailed as exc:
        return None, f"not counted: {exc}"
    created = report["statuses"].get("201", 0)
    if created != creates:
        return None, f"not counted: {report['statuses']} of {creates} creates succeeded"
    queries = Queries(total=report["per_ticket"], transaction=report["transaction_per_ticket"])
    return queries, f"{report['queries']} queries over {creates} creates"


def sample_create(url: str, target: Target) -> str:
    """Create one ticket and check the answer with the target's check; what it found."""
    body = {**target.payload, target.subject_key: "Sample"}
    try:
        with httpx.Client(base_url=url, headers={"Authorization": target.auth}) as client:
            return target.check(client.post(target.path, json=body, timeout=30))
    except (httpx.HTTPError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise StepFailed(f"sample create: {type(exc).__name__}: {exc}") from exc


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def measure(target: Target, args: argparse.Namespace, logs: Path) -> Measurement:
    print(f"-- {target.name}: gunicorn, {args.workers} workers, {args.clients} clients")
    log = logs / f"{target.name.split()[0].lower()}-gunicorn.log"
    with serving(target, args.workers, log) as running:
        url = running.url
        print(f"   sample create: {sample_create(url, target)}")
        print(f"   machine before the run: {load_average()}")
        warm = run_load(url, target, creates=args.warmup, seconds=60, clients=args.clients, first=0)
        print(f"   warm-up: {warm.ok} created, {warm.errors} errors in {warm.wall:.1f}s")
        before = process_cpu()
        load = run_load(
            url,
            target,
            creates=args.creates,
            seconds=args.seconds,
            clients=args.clients,
            first=args.warmup,
        )
        cpu = cpu_use(before, process_cpu(), running.group, backend_pids(target.database))
    print_load(load, cpu)
    queries, note = count_queries(target, args.query_creates)
    print(f"   SQL queries per created ticket: {format_queries(queries)} ({note})")
    return Measurement(target.name, load, cpu, queries)


# --- printing ----------------------------------------------------------------------------


def format_queries(queries: Queries | None) -> str:
    if queries is None:
        return "-"
    if not queries.transaction:
        return f"{queries.total:.1f}"
    statements = queries.total - queries.transaction
    return f"{queries.total:.1f} ({statements:.1f} + {queries.transaction:.1f} BEGIN/COMMIT)"


def cpu_ms(seconds: float, load: LoadResult) -> float:
    return 1000 * seconds / load.ok if load.ok else math.nan


def print_load(load: LoadResult, cpu: CpuUse) -> None:
    cores = os.cpu_count() or 1
    print(
        f"   {load.ok:,} created in {load.wall:.2f}s: {load.rate:,.1f} creates/s, "
        f"p50 {load.percentile_ms(0.50):.1f} ms, p99 {load.percentile_ms(0.99):.1f} ms; "
        f"{load.errors} errors"
    )
    if load.first_error:
        print(f"   first error: {load.first_error}")
    share = 100 * load.cpu / (load.wall * cores) if load.wall else 0.0
    print(
        f"   CPU per created ticket: application {cpu_ms(cpu.app, load):.2f} ms, "
        f"PostgreSQL {cpu_ms(cpu.database, load):.2f} ms; "
        f"load generator {load.cpu:.1f} CPU-s in all ({share:.0f}% of {cores} cores)"
    )


def verdict(meets: bool) -> str:
    return "meets" if meets else "MISSES"


def print_summary(ours: Measurement | None, peer: Measurement | None, clients: int) -> None:
    print(f"\nsummary: tickets created through each REST API, {clients} concurrent clients")
    print(
        f"  {'':<22} {'creates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/ticket':>14}"
        "  queries/ticket"
    )
    for m in (ours, peer):
        if m is not None:
            cpu = cpu_ms(m.cpu.app + m.cpu.database, m.load)
            print(
                f"  {m.name:<22} {m.load.rate:>10,.1f} {m.load.percentile_ms(0.50):>8.1f} "
                f"{m.load.percentile_ms(0.99):>8.1f} {cpu:>14.2f}  {format_queries(m.queries)}"
            )
    if ours is None:
        print("  Support Hub: not measured (see above)")
        return
    print_targets(ours, peer, clients)


def print_targets(ours: Measurement, peer: Measurement | None, clients: int) -> None:
    if peer is not None and peer.load.rate and ours.load.ok:
        ratio = ours.load.rate / peer.load.rate
        cpu_ratio = (peer.cpu.app + peer.cpu.database) / peer.load.ok
        cpu_ratio /= (ours.cpu.app + ours.cpu.database) / ours.load.ok
        print(
            f"  Support Hub / django-helpdesk: {ratio:.1f}x the creates per second; "
            f"{cpu_ratio:.1f}x less CPU (application + PostgreSQL) per created ticket"
        )
        print(
            f"target: ratio >= {TARGET_RATIO:.0f}x: {verdict(ratio >= TARGET_RATIO)} ({ratio:.1f}x)"
        )
    else:
        print(f"target: ratio >= {TARGET_RATIO:.0f}x: not measured (no figure for both)")
    if ours.queries is None:
        print(f"target: <= {TARGET_QUERIES:.0f} queries per created ticket: not measured")
    else:
        meets = ours.queries.total <= TARGET_QUERIES
        print(
            f"target: <= {TARGET_QUERIES:.0f} queries per created ticket: {verdict(meets)} "
            f"({format_queries(ours.queries)})"
        )
    p99 = ours.load.percentile_ms(0.99)
    print(
        f"target: p99 < {TARGET_P99_MS:.0f} ms with {clients} concurrent clients: "
        f"{verdict(p99 < TARGET_P99_MS)} ({p99:.1f} ms)"
    )


# --- main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (Makefile: 3)")
    parser.add_argument("--query-creates", type=int, default=50)
    parser.add_argument("--keep-databases", action="store_true")
    return parser.parse_args()


def try_measure(
    prepare: Callable[[], Target], args: argparse.Namespace, logs: Path
) -> Measurement | None:
    try:
        return measure(prepare(), args, logs)
    except StepFailed as exc:
        print(f"   not measured: {exc}")
        return None


def main() -> int:
    args = parse_args()
    print(f"{os.cpu_count()} cores; PostgreSQL at {SERVER}; loopback only")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        logs = Path(tmp)
        try:
            print("-- Support Hub: migrate, demo, api-token")
            ours = try_measure(lambda: prepare_ours(logs / "data"), args, logs)
            print("-- django-helpdesk 2.6.1: virtualenv, migrate, queue, API token")
            peer = try_measure(lambda: prepare_peer(ensure_peer_venv()), args, logs)
        finally:
            if not args.keep_databases:
                drop_database(OUR_DB)
                drop_database(PEER_DB)
    print_summary(ours, peer, args.clients)
    return 0 if ours is not None else 1


if __name__ == "__main__":
    sys.exit(main())
