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

Load: 32 concurrent clients (threads, one httpx.Client each), a warm-up of 100 creates, then
2,000 creates or 30 s, whichever comes first. Rate = successful creates / wall time; p50 and p99
are over the successful requests' latencies; non-2xx answers are counted and the first shown.
SQL queries per created ticket are counted in-process for each application
(benchmarks/queries_per_create.py, django.test.Client + CaptureQueriesContext, after a warm-up).
Targets are printed beside the figures; nothing is asserted about timings. The exit status is 1
only when Support Hub could not be measured (or its sample response lacks the SLA).

Run with `make bench` or `.venv/bin/python benchmarks/bench_api.py [--creates N] [--seconds S]`.
BENCH_PG_URL changes the PostgreSQL server (default postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
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


@dataclass
class Measurement:
    name: str
    load: LoadResult
    queries: float | None
    queries_note: str = ""


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
def serving(target: Target, workers: int, log: Path) -> Iterator[str]:
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
            yield url
        finally:
            stop(process)


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
        check=check_peer,
    )


# --- load and queries --------------------------------------------------------------------


def run_load(
    url: str, target: Target, *, creates: int, seconds: float, clients: int, first: int
) -> LoadResult:
    """`clients` threads create tickets until `creates` were sent or `seconds` have passed."""
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

    def record(elapsed: float, response: httpx.Response | None, error: str) -> None:
        with lock:
            if response is not None and response.is_success:
                result.latencies.append(elapsed)
                return
            result.errors += 1
            if result.first_error is None:
                result.first_error = error

    def client_loop() -> None:
        headers = {"Authorization": target.auth}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            start.wait()
            while (number := take()) is not None:
                body = {**target.payload, target.subject_key: f"Bench ticket {number}"}
                began = time.perf_counter()
                response: httpx.Response | None
                try:
                    response = client.post(target.path, json=body)
                    error = f"{response.status_code}: {response.text}"
                except httpx.HTTPError as exc:
                    response, error = None, f"{type(exc).__name__}: {exc}"
                record(time.perf_counter() - began, response, error[:500])

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


def count_queries(target: Target, creates: int) -> tuple[float | None, str]:
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
    return float(report["per_ticket"]), f"{report['queries']} queries over {creates} creates"


def measure(target: Target, args: argparse.Namespace, logs: Path) -> Measurement:
    print(f"-- {target.name}: gunicorn, {args.workers} workers, {args.clients} clients")
    log = logs / f"{target.name.split()[0].lower()}-gunicorn.log"
    with serving(target, args.workers, log) as url:
        with httpx.Client(base_url=url, headers={"Authorization": target.auth}) as client:
            sample = client.post(target.path, json={**target.payload, target.subject_key: "Sample"})
        print(f"   sample create: {target.check(sample)}")
        warm = run_load(url, target, creates=args.warmup, seconds=60, clients=args.clients, first=0)
        print(f"   warm-up: {warm.ok} created, {warm.errors} errors in {warm.wall:.1f}s")
        load = run_load(
            url,
            target,
            creates=args.creates,
            seconds=args.seconds,
            clients=args.clients,
            first=args.warmup,
        )
    print_load(load)
    queries, note = count_queries(target, args.query_creates)
    shown = "-" if queries is None else f"{queries:.1f}"
    print(f"   SQL queries per created ticket: {shown} ({note})")
    return Measurement(target.name, load, queries, note)


# --- printing ----------------------------------------------------------------------------


def print_load(load: LoadResult) -> None:
    cores = os.cpu_count() or 1
    print(
        f"   {load.ok:,} created in {load.wall:.2f}s: {load.rate:,.1f} creates/s, "
        f"p50 {load.percentile_ms(0.50):.1f} ms, p99 {load.percentile_ms(0.99):.1f} ms; "
        f"{load.errors} errors"
    )
    if load.first_error:
        print(f"   first error: {load.first_error}")
    share = 100 * load.cpu / (load.wall * cores) if load.wall else 0.0
    print(f"   load generator used {load.cpu:.1f} CPU-s ({share:.0f}% of {cores} cores)")


def verdict(meets: bool) -> str:
    return "meets" if meets else "MISSES"


def print_summary(ours: Measurement | None, peer: Measurement | None, clients: int) -> None:
    print("\nsummary (tickets created through each REST API on PostgreSQL, gunicorn):")
    for m in (ours, peer):
        if m is None:
            continue
        queries = "-" if m.queries is None else f"{m.queries:.1f}"
        print(
            f"  {m.name:<22} {m.load.rate:>9,.1f} creates/s  "
            f"p50 {m.load.percentile_ms(0.50):>7.1f} ms  p99 {m.load.percentile_ms(0.99):>7.1f} ms"
            f"  {queries:>5} queries/ticket  ({m.load.ok:,} ok, {m.load.errors} errors)"
        )
    if ours is None:
        print("  Support Hub: not measured (see above)")
        return
    if peer is not None and peer.load.rate:
        ratio = ours.load.rate / peer.load.rate
        print(f"  ratio Support Hub / django-helpdesk: {ratio:.1f}x")
        print(
            f"target: ratio >= {TARGET_RATIO:.0f}x: {verdict(ratio >= TARGET_RATIO)} ({ratio:.1f}x)"
        )
    else:
        print(f"target: ratio >= {TARGET_RATIO:.0f}x: not measured (no peer figure)")
    if ours.queries is None:
        print(f"target: <= {TARGET_QUERIES:.0f} queries per created ticket: not measured")
    else:
        meets = ours.queries <= TARGET_QUERIES
        print(
            f"target: <= {TARGET_QUERIES:.0f} queries per created ticket: {verdict(meets)} "
            f"({ours.queries:.1f})"
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
    peer_bin = ensure_peer_venv()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        logs = Path(tmp)
        try:
            print("-- Support Hub: migrate, demo, api-token")
            ours = try_measure(lambda: prepare_ours(logs / "data"), args, logs)
            print("-- django-helpdesk 2.6.1: migrate, queue, API token")
            peer = try_measure(lambda: prepare_peer(peer_bin), args, logs)
        finally:
            if not args.keep_databases:
                drop_database(OUR_DB)
                drop_database(PEER_DB)
    print_summary(ours, peer, args.clients)
    return 0 if ours is not None else 1


if __name__ == "__main__":
    sys.exit(main())
