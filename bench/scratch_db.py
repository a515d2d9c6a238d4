"""The scratch database a benchmark runs in: created fresh and migrated, dropped at the end;
and the small helpers every benchmark on it uses (log lines, SQL, a COPY connection, the
report file).

Import after ``django.setup()``, with ``MVSIM_DB_NAME`` set to the benchmark's own database.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

from mvsite import services as embedded

OUT = Path(__file__).resolve().parent / "out"


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def sql(statement: str, params: list | dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def raw_connection() -> psycopg.Connection:
    """A psycopg connection of its own to the benchmark's database (binary COPY)."""
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    )


def write_report(name: str, table: str) -> None:
    """Print the Markdown table and keep it as bench/out/<name>.md."""
    print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.md").write_text(table + "\n")


def drop_database(name: str) -> None:
    connections.close_all()
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database(name: str) -> None:
    """Start the embedded services and create ``name`` again, migrated."""
    assert settings.DATABASES["default"]["NAME"] == name, "refusing to touch another DB"
    embedded.postgres_up()
    embedded.redis_up()
    drop_database(name)
    embedded.postgres_up()  # creates the database again
    call_command("migrate", verbosity=0)
