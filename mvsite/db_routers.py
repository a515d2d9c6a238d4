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
A replica that cannot be reached is left alone for ``REPLICA_RETRY_SECONDS``: searches read
the primary meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

REPLICA = "replica"
# After a failed connection to the replica, searches read the primary this long before the
# replica is tried again (each try may wait for the connect timeout).
REPLICA_RETRY_SECONDS = 30.0
_replica_down_until = 0.0  # time.monotonic(); per process
_replica_lock = threading.Lock()

# The alias the reads of the current search use; None outside a search.
_search_alias: ContextVar[str | None] = ContextVar("mvsim_search_alias", default=None)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def search_alias(changed_at: datetime | None = None) -> str:
    """The database a search reads: the replica when one is configured and reachable, unless
    what it searches for changed (``changed_at``) less than REPLICA_LAG_SECONDS ago."""
    if not replica_configured():
        return DEFAULT_DB_ALIAS
    if changed_at is not None:
        recent = timezone.now() - timedelta(seconds=settings.REPLICA_LAG_SECONDS)
        if changed_at > recent:
            return DEFAULT_DB_ALIAS
    return REPLICA if replica_reachable() else DEFAULT_DB_ALIAS


def replica_reachable() -> bool:
    """Whether the replica connection is open or can be opened now. A persistent connection
    that is open costs nothing here (Django's health check at each request's start closes a
    broken one, so it is opened again here); a failure is remembered for
    REPLICA_RETRY_SECONDS, so only one search in that time waits for the connect timeout."""
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError as exc:
        with _replica_lock:
            _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        logger.warning(
            "database replica unreachable (%s); searches read the primary for %.0f s",
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            REPLICA_RETRY_SECONDS,
        )
        return False
    return True


def forget_replica_failure() -> None:
    """Try the replica again at the next search (tests)."""
    global _replica_down_until
    with _replica_lock:
        _replica_down_until = 0.0


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
