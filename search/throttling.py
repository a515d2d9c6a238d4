"""The per-client rate limit of search submissions (DRF throttling).

One budget per client address for `POST /api/searches/` and the search pages' forms (URL,
upload, "more like this"): REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["search"]
(MVSIM_SEARCH_RATE, default 30/min). The request history lives in Django's cache, Redis
(settings.CACHES), so every web process counts against the same budget. A client over the
rate gets 429 with Retry-After; nothing of the refused request is read or stored.

When the cache (Redis) cannot be reached the limit is not applied (logged): the submission
then meets the queue's own check, which answers 503 without storing anything.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

SCOPE = "search"
_PERIOD_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


class SearchSubmitThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle keyed by the client address (REMOTE_ADDR, or the
    NUM_PROXIES-th X-Forwarded-For entry from the right behind proxies).

    The history is read, checked and written back without a lock, as in DRF: two processes
    answering the same client in the same millisecond may both let one more through.
    """

    scope = SCOPE

    def get_rate(self) -> str | None:
        # The settings as they are now (DRF's class attribute keeps the import-time value).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("search rate limit not applied: the cache is unreachable (%s)", exc)
            return True

    def wait(self) -> float:
        """Seconds until the next submission is allowed (at least 1): until the request
        that keeps the count at the rate leaves the window. (DRF's spreads the wait over the
        remaining requests and gives none once the history is longer than the rate, as after
        the rate was lowered.)"""
        if len(self.history) < self.num_requests:
            return 1.0
        oldest_counted = self.history[self.num_requests - 1]
        return max(1.0, self.duration - (self.now - oldest_counted))

    def wait_seconds(self) -> int:
        return math.ceil(self.wait())

    def describe(self) -> str:
        period = _PERIOD_NAMES.get(self.duration, f"{self.duration} seconds")
        searches = "search" if self.num_requests == 1 else "searches"
        return f"at most {self.num_requests} {searches} a {period}"


class SearchThrottled(Throttled):
    """429 for POST /api/searches/: {"detail": "..."} and Retry-After (DRF's handler)."""

    default_detail = "Too many searches from your address."
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


@dataclass(frozen=True)
class RateLimited:
    wait: int  # seconds, for Retry-After
    message: str


def message(throttle: SearchSubmitThrottle, wait: int) -> str:
    unit = "second" if wait == 1 else "seconds"
    return (
        f"Too many searches from your address ({throttle.describe()}). Try again in {wait} {unit}."
    )


def check(request) -> RateLimited | None:
    """Count one search submission of this client (a Django or DRF request); None when it
    is allowed, else how long to wait and what to tell the user."""
    throttle = SearchSubmitThrottle()
    if throttle.allow_request(request, None):
        return None
    wait = throttle.wait_seconds()
    return RateLimited(wait=wait, message=message(throttle, wait))
