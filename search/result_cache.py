"""Cached answers of ``GET /api/videos/{id}/similar/`` (issue 15; docs/reliability.md, "Load: the
result cache").

A video's result list only changes when something search reads changes: a vector (a new video
becoming ready, a re-materialisation, new codes after a model activation), a video's curated
fields, segments, thumbnails or the search settings. Every such write moves one *epoch* in
Redis, after its transaction commits (``bump_on_commit``); cached answers are keyed by the epoch,
so a write makes every older answer unreachable at once and Redis's LRU drops them later.

Bumping after commit is what keeps this race-free: a request that reads the new epoch starts
its search after the writer committed, so it cannot store an answer computed from the old data
under the new epoch. Writes that bypass model signals (``bulk_create``/``update``) call
``bump_on_commit`` themselves (search.materialize, search.services); anything missed is bounded
by the entries' lifetime (``SEARCH_RESULT_CACHE_SECONDS``, 0 turns the cache off).

``remember`` keeps other reads that only change with the epoch the same way (the catalog
counts every page shows).

The cache is an optimisation, never a dependency: when Redis does not answer, searches run
uncached and writes still commit.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from redis.exceptions import RedisError

from mvsite.db_routers import replica_configured

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _namespace() -> str:
    # Per database: several catalogs (development, benchmarks, tests) may share one Redis, and
    # a write to one must neither invalidate nor be answered from another's entries.
    return f"search:{connections['default'].settings_dict['NAME']}"


def epoch_key() -> str:
    return f"{_namespace()}:result-epoch"


_KEY_VERSION = 1  # bump when the cached answer's shape changes

# Process-local copies of what searches read on every request (the search settings, the
# materialisation generation) are dropped when the epoch moves, so this process never computes
# an answer for the new epoch from an old copy.
_forget_hooks: list[Callable[[], None]] = []
_seen_epoch: int | None = None


def when_stale(forget: Callable[[], None]) -> None:
    """Call ``forget`` whenever this process sees the epoch move or writes something searched."""
    if forget not in _forget_hooks:
        _forget_hooks.append(forget)


def forget_local() -> None:
    for forget in _forget_hooks:
        forget()


def enabled() -> bool:
    return settings.SEARCH_RESULT_CACHE_SECONDS > 0


def current_epoch() -> int | None:
    """The epoch now (created on first use), or None when Redis does not answer."""
    try:
        value = cache.get(epoch_key())
        if value is None:
            # A time-based start, not 0: after Redis lost the key, answers stored under an
            # older epoch can never match again.
            cache.add(epoch_key(), time.time_ns(), timeout=None)
            value = cache.get(epoch_key())
    except (RedisError, OSError) as exc:
        logger.warning("result cache unavailable (epoch): %s", exc)
        return None
    if value is None:
        return None
    global _seen_epoch
    if value != _seen_epoch:
        forget_local()
        _seen_epoch = value
    return int(value)


def bump() -> None:
    """Make every cached answer stale now."""
    try:
        cache.set(epoch_key(), time.time_ns(), timeout=None)
    except (RedisError, OSError) as exc:
        # The entries' lifetime bounds how long an answer can stay stale.
        logger.warning("result cache epoch not moved: %s", exc)


def bump_on_commit() -> None:
    """Make cached answers stale once the current transaction commits (at once outside one)."""
    transaction.on_commit(bump)


def settled(epoch: int) -> bool:
    """Whether an answer computed now may be stored under ``epoch``. With a read replica the
    write that moved the epoch may not have reached it yet: nothing is stored until
    REPLICA_LAG_SECONDS after the move (the epoch is the time it moved)."""
    if not replica_configured():
        return True
    return time.time_ns() - epoch >= settings.REPLICA_LAG_SECONDS * 1e9


def digest(asked: object) -> str:
    """A short, stable name for what was asked (its repr)."""
    return hashlib.blake2b(repr(asked).encode(), digest_size=16).hexdigest()


def get(entry: str) -> Any:
    try:
        return cache.get(entry)
    except (RedisError, OSError) as exc:
        logger.warning("result cache unavailable (get): %s", exc)
        return None


def put(entry: str, value: Any) -> None:
    try:
        cache.set(entry, value, timeout=settings.SEARCH_RESULT_CACHE_SECONDS)
    except (RedisError, OSError) as exc:
        logger.warning("result cache unavailable (set): %s", exc)


def fetch(name: str, compute: Callable[[], T]) -> tuple[T, str]:
    """``compute()``, kept in Redis under ``name`` until the epoch moves (or the entries'
    lifetime ends), and how it was got: "hit", "miss" (computed now) or "off" (the cache is
    off or Redis does not answer: computed every time). Nothing is stored when ``compute``
    raises."""
    epoch = current_epoch() if enabled() else None
    if epoch is None:
        return compute(), "off"
    entry = f"{_namespace()}:{_KEY_VERSION}:{epoch}:{name}"
    value = get(entry)
    if value is not None:
        return value, "hit"
    value = compute()
    if settled(epoch):
        put(entry, value)
    return value, "miss"


def remember(name: str, compute: Callable[[], T]) -> T:
    """``fetch`` without how."""
    return fetch(name, compute)[0]
