"""One row per attempt of a pipeline stage on a video: what ran, where, when, and how it ended."""

from __future__ import annotations

from django.db import models


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    # A newer run of the same video replaced it (restart, re-queue): whatever it does is ignored.
    SUPERSEDED = "superseded", "Superseded"


class RunPlace(models.TextChoices):
    QUEUE = "queue", "RQ worker"
    HERE = "here", "In a command's process"


class StageRun(models.Model):
    video = models.ForeignKey("catalog.Video", on_delete=models.CASCADE, related_name="stage_runs")
    stage = models.CharField(max_length=16, help_text="The video status while this stage runs.")
    job_id = models.CharField(
        max_length=64, unique=True, help_text="The RQ job id (or a local id)."
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    place = models.CharField(max_length=8, choices=RunPlace.choices, default=RunPlace.QUEUE)
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.QUEUED)
    worker = models.CharField(max_length=200, blank=True, help_text="Who ran it.")
    timeout_seconds = models.PositiveIntegerField()
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True, help_text="The outcome or the reason it failed.")

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["video", "-queued_at"])]

    def __str__(self) -> str:
        return f"{self.stage} of video {self.video_id} (attempt {self.attempt}, {self.state})"
