"""Run every benchmark in this folder, one after the other (`make bench`).

Each benchmark prints its own figures and the peer it is measured against. Pass names to
run only some: `.venv/bin/python benchmarks/run.py due retime`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "due": "bench_due.py",  # per-call due instants vs businesstimedelta and pandas
    "retime": "bench_retime.py",  # 1M open tickets re-timed on PostgreSQL
    "breach": "bench_breach.py",
    "api": "bench_api.py",  # tickets/s through the REST API vs django-helpdesk's, gunicorn + PG
    "mail": "bench_mail.py",
}


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in chosen:
        print(f"== {name} ({BENCHMARKS[name]})", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / BENCHMARKS[name])], check=False)
        print(f"== {name}: {time.perf_counter() - started:.0f}s, exit {done.returncode}\n")
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
