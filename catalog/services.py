"""Write-side operations of the catalog app."""

from __future__ import annotations

from django.conf import settings

from catalog.models import Genre


def ensure_product_genres() -> list[Genre]:
    """The product's genres exist (the data migration creates them; flushes can remove them)."""
    return [Genre.objects.get_or_create(name=name)[0] for name in settings.GENRES]
