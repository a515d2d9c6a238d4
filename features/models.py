"""Feature definitions (422 named features) and per-segment feature vectors."""

from __future__ import annotations

from django.db import models
from pgvector.django import VectorField

AUDIO_DIM = 68
VISUAL_DIM = 354
BOTH_DIM = AUDIO_DIM + VISUAL_DIM
MUSIC_DIM = 200  # MusiCNN penultimate embedding (features/musicnn.py)
MUSIC_TAG_COUNT = 50  # MusiCNN tag probabilities, in the model's tag order


class Modality(models.TextChoices):
    AUDIO = "audio", "Audio"
    VISUAL = "visual", "Visual"


class FeatureDefinition(models.Model):
    """One of the 422 features; created by a data migration, weights edited in admin."""

    position = models.PositiveSmallIntegerField(unique=True, help_text="0-67 audio, 68-421 visual")
    name = models.CharField(max_length=64, unique=True)
    modality = models.CharField(max_length=8, choices=Modality.choices)
    group = models.CharField(max_length=32, blank=True, help_text="e.g. mfcc, hist_red, lbp")
    description = models.TextField(blank=True)
    weight = models.FloatField(default=1.0, help_text="Multiplier in weighted search (0 disables).")

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.position}: {self.name}"


class Segment(models.Model):
    video = models.ForeignKey("catalog.Video", on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start_seconds = models.FloatField()
    end_seconds = models.FloatField()
    audio = VectorField(dimensions=AUDIO_DIM)
    visual = VectorField(dimensions=VISUAL_DIM)
    # NULL: the video has no audio (or was extracted before music embeddings existed).
    music = VectorField(dimensions=MUSIC_DIM, null=True, blank=True)
    music_tags = VectorField(dimensions=MUSIC_TAG_COUNT, null=True, blank=True)
    thumbnail = models.CharField(
        max_length=200,
        blank=True,
        help_text="Picture of the segment (path under MEDIA_ROOT; features.thumbnails).",
    )

    class Meta:
        ordering = ["video_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "index"], name="segment_unique_video_index")
        ]

    def __str__(self) -> str:
        return f"{self.video_id}#{self.index} ({self.start_seconds:.0f}-{self.end_seconds:.0f}s)"


class VideoFeatures(models.Model):
    """Raw per-video aggregates of the segment vectors (mean now; std is easy to add)."""

    video = models.OneToOneField(
        "catalog.Video", on_delete=models.CASCADE, primary_key=True, related_name="features"
    )
    segment_count = models.PositiveIntegerField()
    audio_mean = VectorField(dimensions=AUDIO_DIM)
    visual_mean = VectorField(dimensions=VISUAL_DIM)
    music_mean = VectorField(dimensions=MUSIC_DIM, null=True, blank=True)
    music_tags = VectorField(
        dimensions=MUSIC_TAG_COUNT, null=True, blank=True, help_text="Mean tag probabilities."
    )
    music_model = models.CharField(
        max_length=32, blank=True, help_text="The MusiCNN checkpoint the music columns came from."
    )
    extracted_at = models.DateTimeField(auto_now=True)
    extraction_seconds = models.FloatField(null=True, blank=True)
    poster = models.CharField(
        max_length=200,
        blank=True,
        help_text="Poster picture (path under MEDIA_ROOT; '' until made; features.thumbnails).",
    )

    class Meta:
        verbose_name_plural = "video features"

    def __str__(self) -> str:
        return f"Features of video {self.video_id} ({self.segment_count} segments)"
