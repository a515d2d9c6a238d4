"""Read-only queries about the catalog."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from catalog.models import Video, VideoSource, VideoStatus


def catalog_videos() -> QuerySet[Video]:
    return Video.objects.filter(is_query=False)


def catalog_is_demo() -> bool:
    """True while every catalog video came from the procedural demo generator."""
    videos = catalog_videos()
    return videos.exists() and not videos.exclude(source=VideoSource.DEMO).exists()


def ready_catalog_videos() -> QuerySet[Video]:
    return catalog_videos().filter(status=VideoStatus.READY)


# --- Catalog health (ingest --report) --------------------------------------------------------


def catalog_status_counts() -> dict[str, int]:
    """Catalog videos per status, every status listed (zeros included), in pipeline order."""
    from django.db.models import Count

    counts = dict(
        catalog_videos().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in VideoStatus.values}


def failure_reason(error: str, *, downloaded: bool) -> str:
    """A short code for a failed video, for counting: the jobs store only the message text.

    Before the download finished the text is yt-dlp's (classified like YouTubeClient does);
    after it, the failure was in feature extraction or encoding.
    """
    if error.startswith("Same file as video"):
        return "duplicate"
    if downloaded:
        return "processing"
    # YouTubeClient's own limit messages, which classify_error (made for yt-dlp's) doesn't know.
    if re.search(r"longer than the .* limit|exceeds the .* limit|live streams", error):
        return "too_long"
    if re.search(r"byte limit", error):
        return "too_large"
    from catalog.youtube_client import classify_error  # yt-dlp import: only when needed

    reason = classify_error(error).reason if error else "unknown"
    return "download_failed" if reason == "failed" else reason


def catalog_failures_by_reason() -> dict[str, int]:
    """Failed catalog videos counted by `failure_reason`, most frequent first."""
    from collections import Counter

    failed = catalog_videos().filter(status=VideoStatus.FAILED).values_list("error", "media")
    counts = Counter(failure_reason(error, downloaded=bool(media)) for error, media in failed)
    return dict(counts.most_common())


# --- Ingest ------------------------------------------------------------------------------------


def spotify_ids_in_catalog() -> set[str]:
    from catalog.models import TrackMetadata

    return set(TrackMetadata.objects.exclude(spotify_id=None).values_list("spotify_id", flat=True))


def ingested_track_count(genre_name: str) -> int:
    """Catalog videos of this genre that came from a Spotify track (the ingest's quota)."""
    return (
        catalog_videos()
        .filter(genre__name__iexact=genre_name, metadata__spotify_id__isnull=False)
        .count()
    )


def video_with_source_exists(url: str, youtube_id: str | None) -> bool:
    """A video with this YouTube id, or (for other hosts) this exact source URL, exists."""
    from django.db.models import Q

    match = Q(source_url=url) | Q(youtube_id=youtube_id) if youtube_id else Q(source_url=url)
    return Video.objects.filter(match).exists()
