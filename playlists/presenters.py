"""What the exports show of a playlist (pure functions: M3U8 and JSON)."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

from catalog.models import Video
from playlists.models import Playlist
from search.presenters import media_url


def youtube_url(video: Video) -> str:
    return f"https://www.youtube.com/watch?v={video.youtube_id}" if video.youtube_id else ""


def entry_url(video: Video, absolute: Callable[[str], str]) -> str:
    """The YouTube URL when the video has a youtube_id, else its media file's absolute URL,
    else its page's (a video without either still gets a line that opens something)."""
    page = reverse("search:video", args=[video.pk])
    return youtube_url(video) or absolute(media_url(video) or page)


def _extinf_text(value: str) -> str:
    # A title is one line; a comma is fine after the first one (the duration's).
    return " ".join(str(value).split())


def m3u8(playlist: Playlist, videos: list[Video], absolute: Callable[[str], str]) -> str:
    """Extended M3U (UTF-8): #EXTM3U, then per video #EXTINF:<seconds>,<artist> - <title> and
    its URL."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_extinf_text(playlist.name)}"]
    for video in videos:
        seconds = round(video.duration_seconds) if video.duration_seconds else -1
        title = _extinf_text(video.title or f"Video {video.pk}")
        label = f"{_extinf_text(video.artist)} - {title}" if video.artist else title
        lines.append(f"#EXTINF:{seconds},{label}")
        lines.append(entry_url(video, absolute))
    return "\n".join(lines) + "\n"


def as_json(playlist: Playlist, videos: list[Video], absolute: Callable[[str], str]) -> dict:
    return {
        "id": playlist.pk,
        "name": playlist.name,
        "description": playlist.description,
        "ordering": playlist.ordering,
        "representation": playlist.representation,
        "metric": playlist.metric,
        "created_at": playlist.created_at.isoformat(),
        "updated_at": playlist.updated_at.isoformat(),
        "entries": [
            {
                "position": i,
                "video_id": video.pk,
                "title": video.title,
                "artist": video.artist,
                "duration_seconds": video.duration_seconds,
                "youtube_id": video.youtube_id or None,
                "url": entry_url(video, absolute),
                "page_url": absolute(reverse("search:video", args=[video.pk])),
            }
            for i, video in enumerate(videos)
        ],
    }
