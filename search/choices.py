"""The search's choices, defined once: what to compare (representation), how to measure it
(metric) and which videos to rank (pool).

Search models, forms, serializers, the API, the admin and evaluation import them from here.
"""

from __future__ import annotations

from django.db import models

__all__ = [
    "ALL_METRICS",
    "ALL_REPRESENTATIONS",
    "POOLS",
    "Metric",
    "Pool",
    "Representation",
]


class Representation(models.TextChoices):
    CODE = "code", "Learned 40-d code"
    # The default for sound: it finds the genre far more often (docs/benchmarks.md).
    MUSIC = "music", "Sound: music embedding (MusiCNN)"
    AUDIO = "audio", "Sound: hand-made audio features"
    VISUAL = "visual", "Picture: visual features"
    BOTH = "both", "Sound + picture features"


class Metric(models.TextChoices):
    EUCLIDEAN = "euclidean", "Euclidean"
    COSINE = "cosine", "Cosine"


class Pool(models.TextChoices):
    """Which videos a search ranks: the catalog, or the queries of earlier searches."""

    CATALOG = "catalog", "Catalog"
    QUERIES = "queries", "Earlier searches"


ALL_REPRESENTATIONS: tuple[str, ...] = tuple(Representation.values)
ALL_METRICS: tuple[str, ...] = tuple(Metric.values)
POOLS: tuple[str, ...] = tuple(Pool.values)
