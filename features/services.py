"""Write-side operations of the features app (definitions, extraction requests, results)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from features.definitions import FEATURE_DEFINITIONS


class ExtractionUnavailable(RuntimeError):
    """Extraction cannot be queued; the message is shown to the editor."""


class NoMediaFile(ValueError):
    """The video has no media file to analyse (yet)."""


def feature_group(name: str) -> str:
    """The family a feature belongs to, for admin filters: 'mfcc', 'hist_red', 'lbp', ..."""
    if name.startswith("hist_"):
        return name.rsplit("_", 1)[0]
    for prefix in ("lbp", "hog", "flow", "mfcc", "spectral", "energy"):
        if name.startswith(prefix):
            return prefix
    if name.startswith("chroma"):
        return "chroma"
    return name.rsplit("_", 1)[0]


def ensure_feature_definitions(model=None) -> int:
    """Create the 422 FeatureDefinition rows that are missing; returns how many were created.

    The data migration passes its historical model; tests call it after a flush.
    """
    if model is None:
        from features.models import FeatureDefinition as model
    existing = set(model.objects.values_list("position", flat=True))
    rows = [
        model(
            position=position,
            name=name,
            modality=modality,
            group=feature_group(name),
            description=description,
            weight=1.0,
        )
        for position, name, modality, description in FEATURE_DEFINITIONS
        if position not in existing
    ]
    model.objects.bulk_create(rows)
    return len(rows)


def request_extraction(video_ids: list[int]) -> int:
    """Queue (re-)extraction of these videos; returns how many were queued."""
    from catalog import pipeline
    from catalog.models import Video

    videos = list(Video.objects.filter(pk__in=video_ids))
    if not videos:
        raise ExtractionUnavailable("None of the selected videos exist any more.")
    without_media = [video for video in videos if not video.media and not video.source_url]
    if len(without_media) == len(videos):
        raise ExtractionUnavailable("The selected videos have no media file to analyse.")
    queued = 0
    with transaction.atomic():
        for video in videos:
            if pipeline.start_processing(video, restart=True):
                queued += 1
    return queued


def extract_video_features(video_id: int, progress: Callable[[int, int], None] | None = None):
    """Extract and store the features of one video, replacing earlier ones atomically.

    Raises features.media.MediaError subclasses for bad media (nothing is written then).
    """
    from catalog.models import Video
    from features.extraction import extract_file

    video = Video.objects.get(pk=video_id)
    if not video.media:
        raise NoMediaFile(f"video {video_id} has no media file to analyse")
    path = Path(settings.MEDIA_ROOT) / video.media.name
    started = time.perf_counter()
    result = extract_file(
        path,
        segment_seconds=settings.SEGMENT_SECONDS,
        min_last_segment=settings.MIN_LAST_SEGMENT_SECONDS,
        max_duration=settings.MAX_VIDEO_SECONDS,
        fps=settings.FRAME_SAMPLE_FPS,
        width=settings.FRAME_WIDTH,
        progress=progress,
    )
    store_extraction(video_id, result, seconds=time.perf_counter() - started)
    return result


def run_extraction_stage(video_id: int, progress: Callable[[int, int], None] | None = None):
    """The whole extraction stage: features, searchable vectors, track descriptors, and the
    next pipeline stage queued. Bad media marks the video failed (no partial rows) and
    returns None; other errors propagate (RQ retries them)."""
    from catalog import pipeline
    from catalog.metadata import analyse_track
    from catalog.models import VideoStatus
    from features.media import MediaError
    from search.materialize import materialize_video

    try:
        result = extract_video_features(video_id, progress=progress)
    except (MediaError, NoMediaFile) as exc:
        pipeline.mark_failed(video_id, f"Could not analyse the media: {exc}")
        return None
    materialize_video(video_id)
    # Fills tempo/energy/loudness/danceability where Spotify gave none (source "analysis").
    analyse_track(video_id)
    pipeline.advance(video_id, VideoStatus.EXTRACTING)
    return result


def store_extraction(video_id: int, result, seconds: float | None = None):
    """Replace the video's segments and aggregates in one transaction."""
    from catalog.models import Video
    from features.extraction import aggregate
    from features.models import Segment, VideoFeatures

    if not result.segments:
        raise ValueError(f"video {video_id}: extraction produced no segments")
    audio_mean, visual_mean = aggregate(result.segments)
    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video_id)
        Segment.objects.filter(video=video).delete()
        Segment.objects.bulk_create(
            Segment(
                video=video,
                index=segment.index,
                start_seconds=segment.start,
                end_seconds=segment.end,
                audio=segment.audio,
                visual=segment.visual,
            )
            for segment in result.segments
        )
        features, _ = VideoFeatures.objects.update_or_create(
            video=video,
            defaults={
                "segment_count": len(result.segments),
                "audio_mean": audio_mean,
                "visual_mean": visual_mean,
                "extraction_seconds": seconds,
            },
        )
        video.duration_seconds = result.duration
        video.has_audio = result.has_audio
        video.has_video = result.has_video
        video.save(update_fields=["duration_seconds", "has_audio", "has_video", "updated_at"])
    return features
