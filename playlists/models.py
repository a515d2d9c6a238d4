"""Playlists: a named, ordered list of catalog videos, public by id, editable with a secret.

No accounts: creating a playlist returns a secret token once; only its SHA-256 is stored
(``secret_hash``) and an edit compares hashes with ``hmac.compare_digest``. Staff may edit any.
"""

from __future__ import annotations

from django.db import models

NAME_MAX = 120
DESCRIPTION_MAX = 2000
MAX_ENTRIES = 1000


class PlaylistOrder(models.TextChoices):
    AS_GIVEN = "given", "As given"
    SMOOTH = "smooth", "Smooth path (greedy nearest neighbour)"
    BETWEEN = "between", "Smooth path between two videos"


class Playlist(models.Model):
    name = models.CharField(max_length=NAME_MAX)
    description = models.TextField(max_length=DESCRIPTION_MAX, blank=True)
    secret_hash = models.CharField(max_length=64, editable=False)
    # How the entries were last ordered (and over which vectors), for the page.
    ordering = models.CharField(
        max_length=16, choices=PlaylistOrder.choices, default=PlaylistOrder.AS_GIVEN
    )
    representation = models.CharField(max_length=16, blank=True)
    metric = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class PlaylistEntry(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="entries")
    # A video deleted from the catalog leaves the playlists it was in.
    video = models.ForeignKey(
        "catalog.Video", on_delete=models.CASCADE, related_name="playlist_entries"
    )
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["playlist", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["playlist", "position"], name="playlist_entry_position_unique"
            ),
            models.UniqueConstraint(
                fields=["playlist", "video"], name="playlist_entry_video_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.playlist_id}#{self.position}: {self.video_id}"
