"""Track descriptors from our own audio analysis, where Spotify's (or an import's) are missing.

Spotify refuses ``/audio-features`` (HTTP 403) to apps created since November 2024, so the
extraction job measures tempo, loudness, energy and danceability itself
(``features.descriptors``) and stores them here with ``sources[field] = "analysis"``. A value
from Spotify, an import or the demo generator is never overwritten; an earlier analysis value
is replaced by the new one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalog.models import TrackMetadata, ValueSource, Video
from features.descriptors import AudioDescriptors, describe_audio
from features.media import MediaError

logger = logging.getLogger(__name__)

ANALYSIS_FIELDS = ("tempo", "loudness", "energy", "danceability")


def _ours(metadata: TrackMetadata, field: str) -> bool:
    """May the analysis write this field? Only when it is empty or came from the analysis."""
    return getattr(metadata, field) is None or metadata.sources.get(field) == ValueSource.ANALYSIS


def analysis_needed(video: Video) -> bool:
    """True for a catalog video whose metadata lacks one of the four analysed values or holds
    one from an earlier analysis (it is refreshed). User queries are never analysed."""
    if video.is_query:
        return False
    metadata = TrackMetadata.objects.filter(video_id=video.pk).first()
    return metadata is None or any(_ours(metadata, field) for field in ANALYSIS_FIELDS)


def fill_from_analysis(video: Video, descriptors: AudioDescriptors | None) -> list[str]:
    """Store the measured descriptors where allowed; returns the fields written.

    Creates the video's TrackMetadata if it has none. A field is written only when it is
    empty or its source is "analysis"; its source becomes "analysis". When the analysis
    found no tempo (silence, no pulse), an earlier analysis tempo is cleared rather than
    kept stale. ``descriptors`` None (no audio) writes nothing. One transaction, with the
    video row locked so two workers cannot both create the metadata.
    """
    if descriptors is None:
        return []
    values: dict[str, float | None] = {field: None for field in ANALYSIS_FIELDS}
    values.update(descriptors.metadata_values())
    with transaction.atomic():
        locked = Video.objects.select_for_update().get(pk=video.pk)
        metadata, _ = TrackMetadata.objects.select_for_update().get_or_create(video=locked)
        written: list[str] = []
        for field in ANALYSIS_FIELDS:
            value = values[field]
            if not _ours(metadata, field):
                continue
            if value is None:
                # nothing measured: clear only what an earlier analysis left
                if metadata.sources.get(field) != ValueSource.ANALYSIS:
                    continue
                setattr(metadata, field, None)
                metadata.sources.pop(field)
            else:
                setattr(metadata, field, value)
                metadata.sources[field] = str(ValueSource.ANALYSIS)
            written.append(field)
        if written:
            metadata.save(update_fields=[*written, "sources", "updated_at"])
    return written


def analyse_track(video_id: int) -> list[str]:
    """Measure a catalog video's audio and fill its metadata; the extraction job's call site.

    Returns the fields written ([] when nothing was needed, the video has no media or no
    audio, or the media cannot be decoded: a descriptor problem must not fail a video whose
    features are stored).
    """
    video = Video.objects.get(pk=video_id)
    if not video.media or video.has_audio is False or not analysis_needed(video):
        return []
    path = Path(settings.MEDIA_ROOT) / video.media.name
    try:
        descriptors = describe_audio(path, max_seconds=settings.MAX_VIDEO_SECONDS)
    except MediaError as exc:
        logger.warning("video %s: no track descriptors: %s", video_id, exc)
        return []
    return fill_from_analysis(video, descriptors)


__all__ = ["ANALYSIS_FIELDS", "analyse_track", "analysis_needed", "fill_from_analysis"]
