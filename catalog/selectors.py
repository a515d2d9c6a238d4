"""Read-only queries about the catalog."""

from __future__ import annotations

import re
from collections import Counter

from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Replace

from catalog.genres import UnknownGenre, genre_slug, loose_slug
from catalog.models import Genre, TrackMetadata, Video, VideoSource, VideoStatus


def in_catalog(path: str = "") -> Q:
    """The filter that says "a catalog video, not a user's query"; `path` reaches the video
    from another model (``VideoFeatures.objects.filter(in_catalog("video"))``)."""
    return Q(**{f"{path}__is_query" if path else "is_query": False})


def catalog_videos() -> QuerySet[Video]:
    return Video.objects.filter(in_catalog())


def genre_by_name(name: str) -> Genre:
    """The genre a person means by `name`, matched on the slug (see `catalog.genres`):
    "Hip Hop", "hip-hop", "hip_hop" and "HIP HOP" are one genre, and so is "hiphop".

    Raises UnknownGenre (listing the known genres) when none matches
    (`catalog.services.genre_named` creates it instead).
    """
    slug = genre_slug(name)
    if slug:
        genre = Genre.objects.filter(slug=slug).first()
        if genre is not None:
            return genre
        genre = (
            Genre.objects.annotate(_loose=Replace("slug", Value("-"), Value("")))
            .filter(_loose=loose_slug(slug))
            .order_by("pk")
            .first()
        )
        if genre is not None:
            return genre
    raise UnknownGenre(name, known_genre_names())


def known_genre_names() -> list[str]:
    return list(Genre.objects.order_by("name").values_list("name", flat=True))


def catalog_is_demo() -> bool:
    """True while every catalog video came from the procedural demo generator."""
    videos = catalog_videos()
    return videos.exists() and not videos.exclude(source=VideoSource.DEMO).exists()


# --- Catalog health (ingest --report) --------------------------------------------------------


def catalog_status_counts() -> dict[str, int]:
    """Catalog videos per status, every status listed (zeros included), in pipeline order."""
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
    failed = catalog_videos().filter(status=VideoStatus.FAILED).values_list("error", "media")
    counts = Counter(failure_reason(error, downloaded=bool(media)) for error, media in failed)
    return dict(counts.most_common())


# --- Ingest ------------------------------------------------------------------------------------


def spotify_ids_in_catalog() -> set[str]:
    return set(TrackMetadata.objects.exclude(spotify_id=None).values_list("spotify_id", flat=True))


def ingested_track_count(genre_name: str) -> int:
    """Catalog videos of this genre that came from a Spotify track (the ingest's quota)."""
    return (
        catalog_videos()
        .filter(genre__slug=genre_slug(genre_name), metadata__spotify_id__isnull=False)
        .count()
    )


def existing_video(
    *,
    sha256: str = "",
    youtube_id: str | None = None,
    source_url: str = "",
    exclude: int | None = None,
) -> Video | None:
    """The stored video (catalog or query; not the one with pk `exclude`) with this content
    hash, YouTube id or source URL: the one rule for "we have this video already" (see
    `catalog.intake.add_video`)."""
    match = Q()
    if sha256:
        match |= Q(content_sha256=sha256)
    if youtube_id:
        match |= Q(youtube_id=youtube_id)
    if source_url:
        match |= Q(source_url=source_url)
    if not match:
        return None
    return Video.objects.filter(match).exclude(pk=exclude).order_by("pk").first()
