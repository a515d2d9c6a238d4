"""Searches read from a replica of the database when one is configured (DATABASE_REPLICA_URL).

Only code that says so reads the replica: a search (``search.selectors.similar``, ``explore``)
runs inside :func:`search_reads`, and the router sends that block's reads, the k-NN statement
(``search.sql.run_search`` asks the router for its connection) and the ORM reads of videos,
segments and posters, to the ``replica`` alias. Everything else reads ``default``: the pipeline,
the admin and the API's writes must see what they just wrote. Every write and every migration
goes to ``default``. Without a replica the block reads ``default`` like everything else.

A replica is a little behind the primary (replication lag): a video that changed (became
ready) less than ``REPLICA_LAG_SECONDS`` ago is searched on the primary, so a user's own
upload is never "not found" on its results page. Other videos that became ready moments ago
may be missing from results read on the replica until it catches up (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

REPLICA = "replica"

# The alias the reads of the current search use; None outside a search.
_search_alias: ContextVar[str | None] = ContextVar("mvsim_search_alias", default=None)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def search_alias(changed_at: datetime | None = None) -> str:
    """The database a search reads: the replica when one is configured, unless what it
    searches for changed (``changed_at``) less than REPLICA_LAG_SECONDS ago."""
    if not replica_configured():
        return DEFAULT_DB_ALIAS
    if changed_at is not None:
        recent = timezone.now() - timedelta(seconds=settings.REPLICA_LAG_SECONDS)
        if changed_at > recent:
            return DEFAULT_DB_ALIAS
    return REPLICA


@contextmanager
def search_reads(changed_at: datetime | None = None) -> Iterator[str]:
    """Reads inside the block go to :func:`search_alias`'s database; yields that alias."""
    alias = search_alias(changed_at)
    token = _search_alias.set(alias)
    try:
        yield alias
    finally:
        _search_alias.reset(token)


class ReplicaRouter:
    """Reads inside :func:`search_reads` to its alias; all else (and every write) to default."""

    def db_for_read(self, model: type, **hints: object) -> str | None:
        # None outside a search: Django then reads where the instance came from (related
        # objects of a video read on the replica come from the replica too), else default.
        return _search_alias.get()

    def db_for_write(self, model: type, **hints: object) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: object, obj2: object, **hints: object) -> bool:
        return True  # the replica holds the same rows

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return db == DEFAULT_DB_ALIAS  # the replica gets the schema by replication
