"""Database faults for tests: what a PostgreSQL restart does to a process's connection."""

from __future__ import annotations

from django.db import connection


def drop_this_connection() -> None:
    """Have PostgreSQL end this thread's connection, as a server restart does: the next
    statement on it fails. PostgreSQL only."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("PostgreSQL did not say which backend this connection is")
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [row[0]])
