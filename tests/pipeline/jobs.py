"""Jobs the worker tests enqueue (importable by a worker process)."""

from __future__ import annotations

import time

from catalog.models import Genre


def sleep_then_create_genre(seconds: float, name: str) -> str:
    time.sleep(seconds)
    Genre.objects.get_or_create(name=name)
    return name
