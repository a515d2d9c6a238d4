"""Searchable per-video vectors (pgvector + HNSW), search settings and the search log."""

from __future__ import annotations

import time
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from pgvector.django import HnswIndex, VectorField

from features.models import AUDIO_DIM, BOTH_DIM, MUSIC_DIM, VISUAL_DIM
from search.choices import Metric, Representation

CODE_DIM = 40


REPRESENTATION_DIMS = {
    Representation.CODE: CODE_DIM,
    Representation.MUSIC: MUSIC_DIM,
    Representation.AUDIO: AUDIO_DIM,
    Representation.VISUAL: VISUAL_DIM,
    Representation.BOTH: BOTH_DIM,
}


def _hnsw(column: str, opclass: str, suffix: str) -> HnswIndex:
    return HnswIndex(
        name=f"vv_{column}_{suffix}_hnsw",
        fields=[column],
        m=16,
        ef_construction=64,
        opclasses=[opclass],
    )


class VideoVector(models.Model):
    """What the k-NN index searches: standardised, weighted feature vectors and the code.

    Rows are rewritten in one transaction when weights change, so a search always sees one
    consistent generation.
    """

    video = models.OneToOneField(
        "catalog.Video", on_delete=models.CASCADE, primary_key=True, related_name="vector"
    )
    audio = VectorField(dimensions=AUDIO_DIM, null=True, blank=True)
    visual = VectorField(dimensions=VISUAL_DIM, null=True, blank=True)
    both = VectorField(dimensions=BOTH_DIM, null=True, blank=True)
    code = VectorField(dimensions=CODE_DIM, null=True, blank=True)
    # The video's mean MusiCNN embedding; NULL without audio, so it never matches as silence.
    music = VectorField(dimensions=MUSIC_DIM, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            _hnsw(column, opclass, suffix)
            for column in ("audio", "visual", "both", "code", "music")
            for opclass, suffix in (("vector_l2_ops", "l2"), ("vector_cosine_ops", "cos"))
        ]

    def __str__(self) -> str:
        return f"Vectors of video {self.video_id}"


class SearchSettings(models.Model):
    """Singleton (pk=1): defaults for every search, editable in admin.

    ``load()`` reads the row; ``cached()`` is what the search hot path uses: the row kept in
    this process for ``CACHE_SECONDS``, so a search costs no settings query. ``save()`` and
    ``delete()`` forget the cached row at once in their process; other processes (web
    workers, RQ workers) see an edit within ``CACHE_SECONDS``.
    """

    CACHE_SECONDS: ClassVar[float] = 5.0
    _cached: ClassVar[tuple[float, SearchSettings] | None] = None

    k = models.PositiveSmallIntegerField(default=10, help_text="Results per search (1-100).")
    genre_boost = models.FloatField(
        default=0.8,
        help_text="Distance multiplier for candidates of the query's genre (<1 boosts; 1 = off).",
    )
    ef_search = models.PositiveSmallIntegerField(default=100, help_text="hnsw.ef_search (1-1000).")
    candidate_pool_factor = models.PositiveSmallIntegerField(
        default=10, help_text="Fetch k x this many candidates from the index before re-ranking."
    )
    max_per_artist = models.PositiveSmallIntegerField(
        default=2,
        help_text="At most this many results per artist on the pages and the API (1-100; "
        "k or more turns it off). Videos without an artist are not capped.",
    )
    audio_weight = models.FloatField(default=1.0, help_text="Weight of audio in 'both'.")
    visual_weight = models.FloatField(default=1.0, help_text="Weight of visual in 'both'.")
    default_representation = models.CharField(
        max_length=8, choices=Representation.choices, default=Representation.BOTH
    )
    default_metric = models.CharField(max_length=10, choices=Metric.choices, default=Metric.COSINE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "search settings"

    def __str__(self) -> str:
        return "Search settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        SearchSettings.forget_cached()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        SearchSettings.forget_cached()
        return result

    def clean(self) -> None:
        if not 1 <= self.k <= 100:
            raise ValidationError({"k": "k must be between 1 and 100."})
        if not 0 < self.genre_boost <= 1:
            raise ValidationError({"genre_boost": "The boost must be in (0, 1]; 1 turns it off."})
        if not 1 <= self.ef_search <= 1000:
            raise ValidationError({"ef_search": "ef_search must be between 1 and 1000."})
        if self.candidate_pool_factor < 10:
            raise ValidationError({"candidate_pool_factor": "Use at least 10 (pool >= 10 x k)."})
        if not 1 <= self.max_per_artist <= 100:
            raise ValidationError(
                {"max_per_artist": "max_per_artist must be between 1 and 100 (100 = off)."}
            )
        if self.audio_weight < 0 or self.visual_weight < 0:
            raise ValidationError("Modality weights cannot be negative.")

    @classmethod
    def load(cls) -> SearchSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def cached(cls) -> SearchSettings:
        """The settings as of at most CACHE_SECONDS ago (read-only: don't modify it)."""
        now = time.monotonic()
        entry = SearchSettings._cached
        if entry is None or now - entry[0] > cls.CACHE_SECONDS:
            entry = SearchSettings._cached = (now, cls.load())
        return entry[1]

    @classmethod
    def forget_cached(cls) -> None:
        SearchSettings._cached = None


class Search(models.Model):
    query_video = models.ForeignKey(
        "catalog.Video", on_delete=models.CASCADE, related_name="searches"
    )
    representation = models.CharField(max_length=8, choices=Representation.choices)
    metric = models.CharField(max_length=10, choices=Metric.choices)
    boost = models.FloatField(default=1.0)
    k = models.PositiveSmallIntegerField(default=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "searches"

    def __str__(self) -> str:
        return f"Search {self.pk}: {self.query_video} ({self.representation}, {self.metric})"


class FeatureStats(models.Model):
    """Singleton (pk=1): the standardisation statistics and weights of the current generation.

    The searchable feature vectors are ``(raw - mean) / std x multiplier`` (see
    search.materialize); keeping the weights that were used here means a video materialised
    later (a new upload, a query) lands in the same space as the rest of the catalog even if
    someone edited a weight and the re-materialisation job has not run yet.
    """

    mean = VectorField(dimensions=BOTH_DIM)
    std = VectorField(dimensions=BOTH_DIM, help_text="Population std; 1 where a feature is flat.")
    feature_weights = VectorField(
        dimensions=BOTH_DIM, help_text="FeatureDefinition.weight by position, as materialised."
    )
    audio_weight = models.FloatField(default=1.0)
    visual_weight = models.FloatField(default=1.0)
    n_videos = models.PositiveIntegerField(default=0, help_text="Catalog videos fitted.")
    n_with_audio = models.PositiveIntegerField(default=0)
    n_with_visual = models.PositiveIntegerField(default=0)
    fitted_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "feature statistics"

    def __str__(self) -> str:
        return f"Feature statistics ({self.n_videos} videos)"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)


class MaterializationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Materialization(models.Model):
    """One (re-)materialisation of every searchable feature vector, e.g. after a weight edit."""

    reason = models.CharField(max_length=200, blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=8, choices=MaterializationStatus.choices, default=MaterializationStatus.QUEUED
    )
    n_vectors = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Materialisation {self.pk} ({self.status})"
