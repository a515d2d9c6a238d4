"""Turn "the database/Redis is not running" into one clear line instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

HINT = "start the embedded services with `python manage.py services up` (or set {var})"


def describe_service_error(exc: BaseException) -> str | None:
    """A one-line explanation when exc means a service is unreachable, else None."""
    from django.conf import settings
    from django.db.utils import OperationalError

    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:  # pragma: no cover
        RedisConnectionError = ()  # type: ignore[assignment]

    if isinstance(exc, OperationalError):
        db = settings.DATABASES["default"]
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or ''}/{db.get('NAME')}"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"mvsim: PostgreSQL is not reachable at {where} ({first}); " + HINT.format(
            var="DATABASE_URL"
        )
    if RedisConnectionError and isinstance(exc, RedisConnectionError):
        return f"mvsim: Redis is not reachable at {settings.REDIS_URL}; " + HINT.format(
            var="REDIS_URL"
        )
    return None


def run_with_clear_service_errors(func: Callable[..., Any], *args: Any) -> Any:
    from mvsite.env import ConfigError

    try:
        return func(*args)
    except ConfigError as exc:
        print(f"mvsim: bad setting: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        message = describe_service_error(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        raise SystemExit(1) from None
