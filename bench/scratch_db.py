"""The scratch database a benchmark runs in: created fresh and migrated, dropped at the end.

Import after ``django.setup()``, with ``MVSIM_DB_NAME`` set to the benchmark's own database.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from mvsite import services as embedded


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
