"""CalendarStamp and the triggers that renew its token on every write to sla_closure."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import migrations, models

# An upsert: the row comes back even after a flush emptied the table (tests do that).
_PG_FUNCTION = """
CREATE FUNCTION sla_closure_stamp() RETURNS trigger AS $$
BEGIN
    INSERT INTO sla_calendarstamp (id, token) VALUES (1, gen_random_uuid()::text)
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""
_PG_TRIGGER = """
CREATE TRIGGER sla_closure_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sla_closure
FOR EACH STATEMENT EXECUTE FUNCTION sla_closure_stamp();
"""
_PG_DROP = [
    "DROP TRIGGER IF EXISTS sla_closure_stamp ON sla_closure;",
    "DROP FUNCTION IF EXISTS sla_closure_stamp();",
]
_SQLITE_BODY = (
    "INSERT INTO sla_calendarstamp (id, token) VALUES (1, lower(hex(randomblob(16)))) "
    "ON CONFLICT (id) DO UPDATE SET token = excluded.token;"
)
_SQLITE_EVENTS = ("insert", "update", "delete")


def create_triggers(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(_PG_FUNCTION)
        schema_editor.execute(_PG_TRIGGER)
    elif vendor == "sqlite":
        for event in _SQLITE_EVENTS:
            schema_editor.execute(
                f"CREATE TRIGGER sla_closure_stamp_{event} AFTER {event.upper()} ON sla_closure "
                f"BEGIN {_SQLITE_BODY} END;"
            )
    else:
        raise RuntimeError(f"No closure-stamp triggers for {vendor}")
    stamps = apps.get_model("sla", "CalendarStamp").objects.using(schema_editor.connection.alias)
    stamps.create(id=1, token=uuid.uuid4().hex)  # random from the start: never a value seen before


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in _PG_DROP:
            schema_editor.execute(statement)
    else:
        for event in _SQLITE_EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS sla_closure_stamp_{event};")


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="CalendarStamp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(max_length=40)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
