"""Write-side operations of the features app: feature definitions and extraction results."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalog.models import Video
from catalog.services import record_media_facts
from features.definitions import FEATURE_DEFINITIONS
from features.extraction import ExtractionResult, aggregate, extract_file
from features.models import FeatureDefinition, Segment, VideoFeatures


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
    model = model or FeatureDefinition
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


def extract_video_features(
    video_id: int, progress: Callable[[int, int], None] | None = None
) -> ExtractionResult:
    """Extract and store the features of one video, replacing earlier ones atomically.

    Raises features.media.MediaError subclasses for bad media (nothing is written then).
    """
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


def store_extraction(
    video_id: int, result: ExtractionResult, seconds: float | None = None
) -> VideoFeatures:
    """Replace the video's segments and aggregates (and its media facts) in one transaction."""
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
        record_media_facts(
            video_id,
            duration=result.duration,
            has_audio=result.has_audio,
            has_video=result.has_video,
        )
    return features
