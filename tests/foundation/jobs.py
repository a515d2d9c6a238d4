"""Tiny RQ job used by the worker tests (importable by a separate worker process)."""

from catalog.models import Genre


def create_genre(name: str) -> int:
    return Genre.objects.create(name=name).pk
