"""SQL queries per ticket created through a REST API, counted in-process (used by bench_api.py).

Runs inside the virtualenv of the application measured (Support Hub's or the django-helpdesk
peer's), with its DJANGO_SETTINGS_MODULE and database environment: a few warm-up creates, then
`--creates` POSTs through django.test.Client, each request's queries captured with
CaptureQueriesContext on the default connection. Prints one JSON line:
{"creates": N, "queries": Q, "per_ticket": Q / N, "transaction_per_ticket": T / N,
"statuses": {...}, "sample": [...]}, where T counts the BEGIN/COMMIT/SAVEPOINT entries.

    python benchmarks/queries_per_create.py --path /api/tickets --auth "Bearer TOKEN" \
        --payload '{"subject": "...", ...}' --subject-key subject
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supporthub.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def is_transaction(sql: str) -> bool:
    """BEGIN, COMMIT, ROLLBACK and savepoints, which Django logs beside the statements."""
    return sql.lstrip().upper().startswith(TRANSACTION)


def post(client: Client, path: str, auth: str, payload: dict[str, Any]) -> int:
    response = client.post(
        path, data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    return int(response.status_code)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--auth", required=True, help="the Authorization header's value")
    parser.add_argument("--payload", required=True, help="JSON body of one create")
    parser.add_argument("--subject-key", required=True, help="field made unique per create")
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    payload: dict[str, Any] = json.loads(args.payload)
    # The servers' ALLOWED_HOSTS hold the loopback names only, never Django's "testserver".
    client = Client(HTTP_HOST="127.0.0.1")

    def create(i: int) -> int:
        return post(client, args.path, args.auth, {**payload, args.subject_key: f"Count {i}"})

    for i in range(args.warmup):
        create(-1 - i)
    statuses: Counter[int] = Counter()
    with CaptureQueriesContext(connection) as captured:
        first = len(captured)
        statuses[create(0)] += 1
        sample = [query["sql"][:160] for query in captured.captured_queries[first:]]
        for i in range(1, args.creates):
            statuses[create(i)] += 1
    queries = len(captured)
    transaction = sum(1 for query in captured.captured_queries if is_transaction(query["sql"]))
    print(
        json.dumps(
            {
                "creates": args.creates,
                "queries": queries,
                "per_ticket": queries / args.creates,
                "transaction_per_ticket": transaction / args.creates,
                "statuses": {str(code): count for code, count in statuses.items()},
                "sample": sample,
            }
        )
    )


if __name__ == "__main__":
    main()
