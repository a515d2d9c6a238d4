"""The search's choices, defined once: what to compare (representation), how to measure it
(metric) and which videos to rank (pool).

Search forms, serializers, the API, the admin and evaluation import them from here. The
representation and metric TextChoices are the ones the search models store (``search.models``
keeps them beside the fields, for the migrations); the rest is derived from them.
"""

from __future__ import annotations

from django.db import models

from search.models import Metric, Representation

__all__ = [
    "ALL_METRICS",
    "ALL_REPRESENTATIONS",
    "POOLS",
    "Metric",
    "Pool",
    "Representation",
]


class Pool(models.TextChoices):
    """Which videos a search ranks: the catalog, or the queries of earlier searches."""

    CATALOG = "catalog", "Catalog"
    QUERIES = "queries", "Earlier searches"


ALL_REPRESENTATIONS: tuple[str, ...] = tuple(Representation.values)
ALL_METRICS: tuple[str, ...] = tuple(Metric.values)
POOLS: tuple[str, ...] = tuple(Pool.values)
