"""Track descriptors from our own audio analysis, where Spotify's (or an import's) are missing.

Spotify refuses ``/audio-features`` (HTTP 403) to apps created since November 2024, so the
extraction stage measures tempo, loudness, energy and danceability itself
(``features.descriptors``, called by ``pipeline.steps``) and stores them here with
``sources[field] = "analysis"``. A value
from Spotify, an import or the demo generator is never overwritten; an earlier analysis value
is replaced by the new one.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from catalog.models import TrackMetadata, ValueSource, Video

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


def fill_from_analysis(video: Video, measured: Mapping[str, float] | None) -> list[str]:
    """Store the measured descriptors where allowed; returns the fields written.

    Creates the video's TrackMetadata if it has none. A field is written only when it is
    empty or its source is "analysis"; its source becomes "analysis". When the analysis
    found no tempo (silence, no pulse), an earlier analysis tempo is cleared rather than
    kept stale. ``measured`` None (no audio) writes nothing. One transaction, with the
    video row locked so two workers cannot both create the metadata.
    """
    if measured is None:
        return []
    values: dict[str, float | None] = {field: None for field in ANALYSIS_FIELDS}
    values.update({k: v for k, v in measured.items() if k in ANALYSIS_FIELDS})
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


__all__ = ["ANALYSIS_FIELDS", "analysis_needed", "fill_from_analysis"]
