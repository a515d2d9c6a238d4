"""New video rows, and the one rule that says a video is already there.

A video is one we already have when it has the same content (sha256 of its file), the same
YouTube id or the same source URL as a stored video, catalog entry or user query alike
(`catalog.selectors.existing_video`). Every way in creates its row through `add_video`: folder
import, the demo catalog, ingest, and the uploads and URLs people search with
(`pipeline.intake` handles those requests and asks for their query rows here). `add_video`
checks first and turns a lost race (the unique constraints on the hash and the YouTube id)
into the same answer: DuplicateContent naming the video we have.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.db import IntegrityError, transaction

from catalog.models import Video, VideoSource, VideoStatus
from catalog.selectors import existing_video

OnCreated = Callable[[Video], object] | None


class DuplicateContent(ValueError):
    """The file (or YouTube video, or URL) is one we already have: `existing`."""

    def __init__(self, existing: Video, what: str = "file"):
        super().__init__(f"Same {what} as video {existing.pk} ({existing}); not added twice.")
        self.existing = existing


def duplicate_of(
    *, sha256: str = "", youtube_id: str | None = None, source_url: str = ""
) -> DuplicateContent | None:
    """DuplicateContent for the stored video with this content, YouTube id or URL, if any."""
    existing = existing_video(sha256=sha256, youtube_id=youtube_id, source_url=source_url)
    if existing is None:
        return None
    if sha256 and existing.content_sha256 == sha256:
        return DuplicateContent(existing, "file")
    if youtube_id and existing.youtube_id == youtube_id:
        return DuplicateContent(existing, "YouTube video")
    return DuplicateContent(existing, "source URL")


def add_video(*, then: OnCreated = None, **fields) -> Video:
    """Create a Video from `fields` unless we have it already (raises DuplicateContent).

    ``then(video)`` runs in the same transaction as the insert (start the pipeline, add the
    track metadata, move the file into place): if it fails, the row is rolled back. An
    IntegrityError that is not about the video being there already (e.g. a Spotify id taken
    in ``then``) is raised as it is.
    """
    keys = {
        "sha256": fields.get("content_sha256", ""),
        "youtube_id": fields.get("youtube_id"),
        "source_url": fields.get("source_url", ""),
    }
    if (duplicate := duplicate_of(**keys)) is not None:
        raise duplicate
    try:
        with transaction.atomic():
            video = Video.objects.create(**fields)
            if then is not None:
                then(video)
    except IntegrityError:
        if (duplicate := duplicate_of(**keys)) is not None:  # added at the same moment
            raise duplicate from None
        raise
    return video


# --- user queries (pipeline.intake accepts them and starts their processing) ----------------


def add_url_query(url: str, youtube_id: str, *, then: OnCreated = None) -> Video:
    """A query video for a YouTube URL (downloaded by the pipeline); see `add_video`."""
    return add_video(
        is_query=True,
        source=VideoSource.YOUTUBE,
        source_url=url,
        youtube_id=youtube_id,
        status=VideoStatus.PENDING,
        then=then,
    )


def add_upload_query(
    *,
    media: str,
    original_filename: str,
    sha256: str,
    duration: float | None,
    has_audio: bool,
    has_video: bool,
    then: OnCreated = None,
) -> Video:
    """A query video for an uploaded file already stored at `media`; see `add_video`."""
    return add_video(
        is_query=True,
        source=VideoSource.UPLOAD,
        title=Path(original_filename).stem[:300],
        original_filename=original_filename,
        media=media,
        content_sha256=sha256,
        duration_seconds=duration,
        has_audio=has_audio,
        has_video=has_video,
        status=VideoStatus.PENDING,
        then=then,
    )


def discard_query(video: Video | None) -> None:
    """Delete a new query whose first job could not be queued: the user got an error (503)
    and no search, so the row goes too (a later submission starts afresh)."""
    if video is not None:
        Video.objects.filter(pk=video.pk, is_query=True).delete()
