"""Query intake: turn a YouTube URL, an uploaded file or a catalog video into a query video
that enters the pipeline.

Services only (the views and the API stay thin). Nothing is stored for bad input: a rejected
URL never reaches the database, a rejected upload leaves no file and no row; with the queue
(Redis) unreachable nothing is stored either (QueueUnavailable, HTTP 503). A query that is
already known (same YouTube id, same content hash) is reused, so nothing is downloaded or
extracted twice — unless it failed or is stuck, then it starts again. Each accepted search is
logged as a `search.Search` row.

The rows themselves, and the rule that a video is already there, are the catalog's
(`catalog.intake`, shared with folder import, ingest and the demo catalog); this module
checks the input, stores the uploaded bytes and starts the processing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from catalog.intake import DuplicateContent, add_upload_query, add_url_query, discard_query
from catalog.models import Video, VideoStatus
from catalog.selectors import existing_video
from catalog.url_safety import UnsafeUrl, parse_youtube_url
from features.media import MediaError, probe
from mvsite.queues import QueueUnavailable, require_queue
from mvsite.storage import discard_media, local_path, media_storage, publish_media
from mvsite.uploads import human_size
from pipeline.reconcile import check_video
from pipeline.services import restart, start
from pipeline.stages import IN_PROGRESS
from search.forms import SearchParams
from search.models import Search
from search.services import record_search

__all__ = ["QueueUnavailable"]

logger = logging.getLogger(__name__)

UPLOAD_DIR = "uploads"


class IntakeError(ValueError):
    """A query cannot be accepted; str() is shown to the user. `field` names the input."""

    status = 400

    def __init__(self, message: str, *, field: str = "url"):
        super().__init__(message)
        self.message = message
        self.field = field


class UploadTooLarge(IntakeError):
    status = 413


class VideoNotReady(IntakeError):
    status = 409


class StorageFailed(IntakeError):
    """The upload could not be written (disk full, MEDIA_ROOT unwritable): nothing was kept."""

    status = 507


@dataclass(frozen=True)
class Intake:
    video: Video
    created: bool  # a new query video was stored (and queued)
    job_id: str | None = None

    @property
    def reused(self) -> bool:
        return not self.created


def ensure_processing(video: Video) -> str | None:
    """Make sure the video gets to ready: start it when pending or failed, start it again
    when it is stuck in a stage (its run is lost). Returns the job id working on it."""
    if video.status == VideoStatus.READY:
        return None
    if video.status in IN_PROGRESS:
        reason = check_video(video)
        if reason is None:
            return video.job_id
        logger.info("video %s was stuck (%s): starting it again", video.pk, reason)
        run = restart(video)
    else:
        run = start(video)
    return run.job_id if run else None


def _reuse(video: Video) -> Intake:
    """An existing video answers this query; one that failed or is stuck starts again."""
    job_id = ensure_processing(video)
    video.refresh_from_db()
    return Intake(video=video, created=False, job_id=job_id)


class _Starting:
    """Starts a new query's processing in the transaction that stores it (`add_video`'s
    ``then``); keeps the video and the job id, also for the clean-up when the queue is down."""

    video: Video | None = None
    job_id: str | None = None

    def __call__(self, video: Video) -> None:
        self.video = video
        run = start(video)
        self.job_id = run.job_id if run else None


# --- YouTube URL -----------------------------------------------------------------------------


def submit_url(url: str, *, allowed_hosts: Iterable[str] | None = None) -> Intake:
    """A YouTube URL: reuse a video with that YouTube id, or store a query and queue it.

    `allowed_hosts` is for tests only (a local stand-in for YouTube); the site never passes it.
    """
    url = (url or "").strip()
    if not url:
        raise IntakeError("Paste a YouTube URL.", field="url")
    try:
        if allowed_hosts is None:
            parsed = parse_youtube_url(url)
        else:
            parsed = parse_youtube_url(url, allowed_hosts=allowed_hosts)
    except UnsafeUrl as exc:
        raise IntakeError(str(exc), field="url") from None

    require_queue()
    existing = existing_video(youtube_id=parsed.video_id)
    if existing is not None:
        return _reuse(existing)
    starting = _Starting()
    try:
        video = add_url_query(parsed.url, parsed.video_id, then=starting)
    except DuplicateContent as duplicate:  # the same URL submitted concurrently
        return _reuse(duplicate.existing)
    except QueueUnavailable:
        discard_query(starting.video)
        raise
    video.refresh_from_db()
    return Intake(video=video, created=True, job_id=starting.job_id)


# --- upload ----------------------------------------------------------------------------------


_EXTENSIONS = (  # ffmpeg's format name -> a file extension browsers and ffmpeg understand
    ("mp4", ".mp4"),
    ("mov", ".mov"),
    ("webm", ".webm"),
    ("matroska", ".mkv"),
    ("avi", ".avi"),
    ("mp3", ".mp3"),
    ("wav", ".wav"),
    ("ogg", ".ogg"),
    ("flac", ".flac"),
    ("aac", ".aac"),
    ("mpegts", ".ts"),
    ("mpeg", ".mpg"),
    ("flv", ".flv"),
    ("asf", ".wmv"),
)
_IMAGE_FORMATS = ("image2", "_pipe", "gif", "apng", "tty")


def _extension_for(format_name: str, video_codec: str) -> str:
    names = format_name.split(",")
    if "webm" in names and video_codec not in ("", "vp8", "vp9", "av1"):
        return ".mkv"
    for key, ext in _EXTENSIONS:
        if key in names:
            return ext
    return ".media"


def _probe_upload(path: Path, original_name: str):
    try:
        info = probe(path)
    except MediaError as exc:
        reason = str(exc).replace(str(path), original_name).replace(path.name, original_name)
        raise IntakeError(
            f"“{original_name}” is not a video or audio file we can read ({reason}).",
            field="file",
        ) from None
    if any(marker in info.format_name for marker in _IMAGE_FORMATS) or not info.duration:
        raise IntakeError(
            f"“{original_name}” is a still image or has no duration; upload a video or audio file.",
            field="file",
        )
    if info.duration > settings.MAX_VIDEO_SECONDS:
        raise IntakeError(
            f"“{original_name}” is {info.duration / 60:.1f} minutes long; the limit is "
            f"{settings.MAX_VIDEO_SECONDS / 60:.0f} minutes.",
            field="file",
        )
    return info


def submit_upload(uploaded) -> Intake:
    """An uploaded file (Django UploadedFile): checked by size, then by probing with ffmpeg.

    The bytes go to MEDIA_ROOT/uploads/ with a random name (no user-chosen extension, so
    ffmpeg judges the content), hashed while writing. Same content as a stored video -> that
    video is reused and the new copy deleted.
    """
    limit = settings.UPLOAD_MAX_BYTES
    original = Path(getattr(uploaded, "name", "") or "upload").name[:300] or "upload"
    size = getattr(uploaded, "size", None)
    if size is None or size > limit:
        raise UploadTooLarge(
            f"“{original}” is too large ({human_size(size or 0)}); the limit is "
            f"{human_size(limit)}.",
            field="file",
        )
    if size == 0:
        raise IntakeError(f"“{original}” is empty.", field="file")
    require_queue()

    folder = Path(settings.MEDIA_ROOT) / UPLOAD_DIR
    path = folder / f"{uuid.uuid4().hex}.upload"
    keep = False
    stored = ""  # its name in the media storage once published
    try:
        digest = hashlib.sha256()
        written = 0
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as out:
                for chunk in uploaded.chunks():
                    written += len(chunk)
                    if written > limit:  # the declared size lied
                        raise UploadTooLarge(
                            f"“{original}” is larger than the limit of {human_size(limit)}.",
                            field="file",
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:  # disk full, MEDIA_ROOT unwritable: say so, keep nothing
            logger.error("could not store an upload in %s: %s", folder, exc)
            raise StorageFailed(
                f"“{original}” could not be stored on the server ({exc.strerror or exc}); "
                "nothing was kept. Try again later.",
                field="file",
            ) from exc
        sha = digest.hexdigest()
        info = _probe_upload(path, original)

        existing = existing_video(sha256=sha)
        if existing is not None:
            return _reuse(existing)

        final = path.with_suffix(_extension_for(info.format_name, info.video_codec))
        path.rename(final)
        path = final
        # A remote media storage gets the file now (mvsite/storage.py); on local disk it
        # already is there.
        try:
            stored = publish_media(final)
        except OSError as exc:
            logger.error("could not store an upload in the media storage: %s", exc)
            raise StorageFailed(
                f"“{original}” could not be stored on the server ({exc.strerror or exc}); "
                "nothing was kept. Try again later.",
                field="file",
            ) from exc
        starting = _Starting()
        try:
            video = add_upload_query(
                media=stored,
                original_filename=original,
                sha256=sha,
                duration=info.duration,
                has_audio=info.has_audio,
                has_video=info.has_video,
                then=starting,
            )
        except DuplicateContent as duplicate:  # the same file uploaded concurrently
            return _reuse(duplicate.existing)
        except QueueUnavailable:
            discard_query(starting.video)  # the file goes in `finally`
            raise
        keep = True  # committed: the row owns the file now
        video.refresh_from_db()
        return Intake(video=video, created=True, job_id=starting.job_id)
    finally:
        if not keep:
            with contextlib.suppress(OSError):  # e.g. its folder could not be made
                path.unlink(missing_ok=True)
            if stored and not local_path(media_storage(), stored):
                discard_media(stored)  # uploaded to a remote storage: no row owns it


# --- existing video --------------------------------------------------------------------------


def use_existing(video: Video | int) -> Intake:
    """More like this: any ready video (catalog or an earlier query)."""
    if not isinstance(video, Video):
        try:
            video = Video.objects.get(pk=video)
        except (Video.DoesNotExist, ValueError, TypeError):
            raise IntakeError(f"There is no video {video}.", field="video") from None
    if not video.is_ready:
        raise VideoNotReady(
            f"“{video}” is not ready yet ({video.get_status_display().lower()}).", field="video"
        )
    return Intake(video=video, created=False)


# --- searches --------------------------------------------------------------------------------


def search_by_url(
    url: str, params: SearchParams, *, allowed_hosts: Iterable[str] | None = None
) -> tuple[Intake, Search]:
    intake = submit_url(url, allowed_hosts=allowed_hosts)
    return intake, record_search(intake.video, params)


def search_by_upload(uploaded, params: SearchParams) -> tuple[Intake, Search]:
    intake = submit_upload(uploaded)
    return intake, record_search(intake.video, params)


def search_existing(video: Video | int, params: SearchParams) -> tuple[Intake, Search]:
    intake = use_existing(video)
    return intake, record_search(intake.video, params)
