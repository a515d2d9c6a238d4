"""Cached answers of ``GET /api/videos/{id}/similar/`` (issue 15, docs/search.md "Result cache").

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

The cache is an optimisation, never a dependency: when Redis does not answer, searches run
uncached and writes still commit.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

EPOCH_KEY = "search:result-epoch"
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
        value = cache.get(EPOCH_KEY)
        if value is None:
            # A time-based start, not 0: after Redis lost the key, answers stored under an
            # older epoch can never match again.
            cache.add(EPOCH_KEY, time.time_ns(), timeout=None)
            value = cache.get(EPOCH_KEY)
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
        cache.set(EPOCH_KEY, time.time_ns(), timeout=None)
    except (RedisError, OSError) as exc:
        # The entries' lifetime bounds how long an answer can stay stale.
        logger.warning("result cache epoch not moved: %s", exc)


def bump_on_commit() -> None:
    """Make cached answers stale once the current transaction commits (at once outside one)."""
    transaction.on_commit(bump)


def key(epoch: int, video_id: str, params: Iterable[tuple[str, str]]) -> str:
    """The entry for one video and one canonical parameter list (order-independent)."""
    canonical = "&".join(f"{name}={value}" for name, value in sorted(params))
    digest = hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
    return f"search:similar:{_KEY_VERSION}:{epoch}:{video_id}:{digest}"


def get(entry: str) -> bytes | None:
    try:
        return cache.get(entry)
    except (RedisError, OSError) as exc:
        logger.warning("result cache unavailable (get): %s", exc)
        return None


def put(entry: str, body: bytes) -> None:
    try:
        cache.set(entry, body, timeout=settings.SEARCH_RESULT_CACHE_SECONDS)
    except (RedisError, OSError) as exc:
        logger.warning("result cache unavailable (set): %s", exc)
