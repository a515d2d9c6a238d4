"""Stored evaluation runs and catalog maps (this app writes these tables, nothing else)."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

from catalog.models import Video
from ml.models import ModelVersion

# A running run or map whose progress has not moved for this long was interrupted (its
# worker died); it no longer blocks a new one and the pages say so.
STALE_AFTER = timedelta(minutes=15)


class WorkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class _Work(models.Model):
    """What a run and a map share: a status, progress while running, the error if it failed."""

    status = models.CharField(max_length=10, choices=WorkStatus.choices, default=WorkStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1 while running.")
    progress_label = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def in_progress(self) -> bool:
        return self.status in (WorkStatus.QUEUED, WorkStatus.RUNNING) and not self.is_stale

    @property
    def is_stale(self) -> bool:
        return (
            self.status in (WorkStatus.QUEUED, WorkStatus.RUNNING)
            and self.updated_at is not None
            and timezone.now() - self.updated_at > STALE_AFTER
        )

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class EvaluationRun(_Work):
    """One evaluation of the catalog: its parameters, what it ran on, and its figures."""

    parameters = models.JSONField(default=dict, help_text="What was asked (see evaluate).")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True, help_text="Kept if it is deleted.")
    catalog_size = models.PositiveIntegerField(default=0)
    settings = models.JSONField(default=dict, help_text="SearchSettings at the start.")
    figures = models.JSONField(default=dict, blank=True)
    job_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Evaluation run #{self.pk} ({self.status})"


class CatalogMap(_Work):
    """A 2-D layout of the catalog in one representation, computed by a job and stored."""

    representation = models.CharField(max_length=10)
    metric = models.CharField(max_length=10)
    method = models.CharField(max_length=10, default="pca")
    n_videos = models.PositiveIntegerField(default=0)
    # The points the page draws (a seeded, genre-stratified sample when the catalog is big)
    # and the kNN edges among them; every video's position is a MapPoint.
    display = models.JSONField(default=dict, blank=True)
    job_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Map #{self.pk} of {self.representation}/{self.metric} ({self.status})"


class MapPoint(models.Model):
    catalog_map = models.ForeignKey(CatalogMap, on_delete=models.CASCADE, related_name="points")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="+")
    x = models.FloatField()
    y = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("catalog_map", "video"), name="one_point_per_video")
        ]
