"""Reads of playlists: a playlist with its videos in order, and the export formats."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Video
from playlists.models import Playlist, PlaylistEntry


def playlist_or_none(playlist_id) -> Playlist | None:
    try:
        return Playlist.objects.filter(pk=int(playlist_id)).first()
    except (TypeError, ValueError):
        return None


def entries(playlist: Playlist) -> QuerySet[PlaylistEntry]:
    return playlist.entries.select_related("video", "video__genre").order_by("position")


def videos(playlist: Playlist) -> list[Video]:
    return [entry.video for entry in entries(playlist)]


def recent(limit: int = 20) -> list[Playlist]:
    return list(Playlist.objects.all()[:limit])
