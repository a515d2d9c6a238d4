"""The catalog: genres, videos (catalog entries and user queries) and their track metadata."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from catalog.genres import genre_slug


class Genre(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(
        max_length=60,
        unique=True,
        editable=False,
        help_text="Always genre_slug(name): what genre names are matched on (catalog.genres).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.slug = genre_slug(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "slug"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Forms (the admin) reject a name whose slug another genre has: they are one genre."""
        slug = genre_slug(self.name)
        if not slug:
            raise ValidationError({"name": "A genre name needs a letter or a digit."})
        other = Genre.objects.filter(slug=slug).exclude(pk=self.pk).first()
        if other is not None:
            raise ValidationError({"name": f"That is the genre {other.name!r} (slug {slug!r})."})


class VideoStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DOWNLOADING = "downloading", "Downloading"
    EXTRACTING = "extracting", "Extracting features"
    MATERIALIZING = "materializing", "Making it searchable"
    ENCODING = "encoding", "Encoding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class VideoSource(models.TextChoices):
    YOUTUBE = "youtube", "YouTube"
    UPLOAD = "upload", "Upload"
    LOCAL = "local", "Local folder"
    DEMO = "demo", "Demo catalog"


class Video(models.Model):
    title = models.CharField(max_length=300, blank=True)
    artist = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=16, choices=VideoSource.choices, default=VideoSource.LOCAL)
    source_url = models.URLField(max_length=500, blank=True)
    youtube_id = models.CharField(max_length=32, null=True, blank=True, unique=True)
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    media = models.FileField(upload_to="videos/", max_length=500, blank=True)
    original_filename = models.CharField(max_length=300, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(null=True, blank=True)
    has_video = models.BooleanField(null=True, blank=True)
    genre = models.ForeignKey(
        Genre,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="videos",
        help_text="Curated genre (from the catalog source or an editor).",
    )
    predicted_genre = models.ForeignKey(
        Genre, null=True, blank=True, on_delete=models.SET_NULL, related_name="predicted_videos"
    )
    predicted_confidence = models.FloatField(null=True, blank=True)
    is_query = models.BooleanField(
        default=False, db_index=True, help_text="A user's search, not part of the catalog."
    )
    status = models.CharField(
        max_length=16, choices=VideoStatus.choices, default=VideoStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    job_id = models.CharField(
        max_length=64, blank=True, help_text="The pipeline run (RQ job id) working on it now."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_sha256"],
                condition=~Q(content_sha256=""),
                name="video_unique_content_sha256",
            ),
        ]
        indexes = [
            models.Index(fields=["is_query", "status"]),
            # The explore page's order: a page at any offset without sorting the catalog.
            models.Index(
                fields=["artist", "title", "id"],
                condition=Q(is_query=False),
                name="catalog_video_order",
            ),
        ]

    def __str__(self) -> str:
        label = " - ".join(part for part in (self.artist, self.title) if part)
        return label or f"Video {self.pk}"

    @property
    def youtube_url(self) -> str:
        return f"https://www.youtube.com/watch?v={self.youtube_id}" if self.youtube_id else ""

    @property
    def is_ready(self) -> bool:
        return self.status == VideoStatus.READY


class ValueSource(models.TextChoices):
    SPOTIFY = "spotify", "Spotify"
    ANALYSIS = "analysis", "Our audio analysis"
    DEMO = "demo", "Demo generator"
    IMPORT = "import", "Imported CSV"


class TrackMetadata(models.Model):
    """Spotify-style descriptors of a video's track; `sources` says where each value came from."""

    AUDIO_FEATURE_FIELDS = (
        "danceability",
        "energy",
        "loudness",
        "speechiness",
        "acousticness",
        "instrumentalness",
        "liveness",
        "valence",
        "tempo",
    )

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="metadata")
    spotify_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    spotify_popularity = models.PositiveSmallIntegerField(null=True, blank=True)
    album = models.CharField(max_length=300, blank=True)
    spotify_audio_features_available = models.BooleanField(
        null=True, blank=True, help_text="False when Spotify refused audio-features (HTTP 403)."
    )
    danceability = models.FloatField(null=True, blank=True)
    energy = models.FloatField(null=True, blank=True)
    loudness = models.FloatField(null=True, blank=True, help_text="dB")
    speechiness = models.FloatField(null=True, blank=True)
    acousticness = models.FloatField(null=True, blank=True)
    instrumentalness = models.FloatField(null=True, blank=True)
    liveness = models.FloatField(null=True, blank=True)
    valence = models.FloatField(null=True, blank=True)
    tempo = models.FloatField(null=True, blank=True, help_text="BPM")
    sources = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per field, where its value came from: {"tempo": "analysis"}',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "track metadata"

    def __str__(self) -> str:
        return f"Metadata of {self.video}"
