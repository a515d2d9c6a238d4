"""Write-side operations of the features app: feature definitions and extraction results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from catalog.models import Video
from catalog.services import record_media_facts
from features import musicnn, thumbnails
from features.audio import AUDIO_RATE
from features.definitions import missing_definitions
from features.extraction import (
    ExtractionResult,
    aggregate,
    aggregate_music,
    embed_music,
    extract_file,
    mean_music,
)
from features.media import MediaInfo, SegmentReader, probe
from features.models import FeatureDefinition, Segment, VideoFeatures
from mvsite.storage import local_copy, media_storage


def _audio_reader(info: MediaInfo) -> SegmentReader:
    """The decoded audio of each segment, no pictures (for work added to extracted videos)."""
    return SegmentReader(
        info,
        segment_seconds=settings.SEGMENT_SECONDS,
        audio_rate=AUDIO_RATE,
        include_video=False,
        timeout=120.0 + 2.0 * (info.duration or settings.MAX_VIDEO_SECONDS),
    )


class NoMediaFile(ValueError):
    """The video has no media file to analyse (yet)."""


def ensure_feature_definitions() -> int:
    """Create the 422 FeatureDefinition rows that are missing (e.g. after a test flushed the
    table); returns how many were created. The data migration creates them the first time."""
    existing = set(FeatureDefinition.objects.values_list("position", flat=True))
    rows = missing_definitions(FeatureDefinition, existing)
    FeatureDefinition.objects.bulk_create(rows)
    return len(rows)


def music_model() -> musicnn.MusicnnModel | None:
    """The process-wide MusiCNN model extraction uses (loaded, with TensorFlow, on the first
    call), or None when music embeddings are turned off (MVSIM_MUSIC_EMBEDDINGS=0)."""
    if not settings.MUSIC_EMBEDDINGS:
        return None
    return musicnn.get_model(settings.MUSICNN_MODEL, settings.MUSICNN_DIR)


@contextmanager
def local_media(video: Video) -> Iterator[Path]:
    """A path ffmpeg can read for the video's media file: the file itself on local storage,
    else a copy fetched from the storage for the block (mvsite.storage.local_copy)."""
    if not video.media:
        raise NoMediaFile(f"video {video.pk} has no media file to analyse")
    with local_copy(media_storage(), video.media.name) as path:
        yield path


def extract_video_features(
    video_id: int,
    progress: Callable[[int, int], None] | None = None,
    *,
    media: Path | None = None,
) -> ExtractionResult:
    """Extract and store the features of one video, replacing earlier ones atomically.
    ``media``: a local path of its file the caller already holds (``local_media``).

    Raises features.media.MediaError subclasses for bad media (nothing is written then).
    """
    if media is None:
        with local_media(Video.objects.get(pk=video_id)) as path:
            return extract_video_features(video_id, progress, media=path)
    model = music_model()
    started = time.perf_counter()
    result = extract_file(
        media,
        segment_seconds=settings.SEGMENT_SECONDS,
        min_last_segment=settings.MIN_LAST_SEGMENT_SECONDS,
        max_duration=settings.MAX_VIDEO_SECONDS,
        fps=settings.FRAME_SAMPLE_FPS,
        width=settings.FRAME_WIDTH,
        progress=progress,
        music_model=model,
    )
    store_extraction(video_id, result, seconds=time.perf_counter() - started)
    return result


def store_extraction(
    video_id: int, result: ExtractionResult, seconds: float | None = None
) -> VideoFeatures:
    """Replace the video's segments and aggregates (and its media facts) in one transaction,
    and its thumbnails with the result's (none: the old ones are removed)."""
    if not result.segments:
        raise ValueError(f"video {video_id}: extraction produced no segments")
    audio_mean, visual_mean = aggregate(result.segments)
    music = aggregate_music(result.segments)
    pictures = {s.index: s.thumbnail for s in result.segments if s.thumbnail is not None}
    with _new_thumbnails(video_id, result.poster, pictures) as staged, transaction.atomic():
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
                music=segment.music,
                music_tags=segment.music_tags,
                thumbnail=staged.segments.get(segment.index, "") if staged else "",
            )
            for segment in result.segments
        )
        features, _ = VideoFeatures.objects.update_or_create(
            video=video,
            defaults={
                "segment_count": len(result.segments),
                "audio_mean": audio_mean,
                "visual_mean": visual_mean,
                "music_mean": music[0] if music else None,
                "music_tags": music[1] if music else None,
                "music_model": result.music_model if music else "",
                "extraction_seconds": seconds,
                "poster": staged.poster if staged else "",
            },
        )
        record_media_facts(
            video_id,
            duration=result.duration,
            has_audio=result.has_audio,
            has_video=result.has_video,
        )
    return features


def add_music_embeddings(video_id: int, model: musicnn.MusicnnModel) -> bool:
    """Compute the music embeddings of an already extracted video (decoding its audio only)
    and store them on its segments and features; returns False when it has no audio.

    For catalogs extracted before music embeddings existed (``extract --only music``).
    """
    video = Video.objects.get(pk=video_id)
    segments = {s.index: s for s in Segment.objects.filter(video_id=video_id)}
    if not segments:
        raise ValueError(f"video {video_id} has no extracted segments; extract it first")
    computed: dict[int, tuple] = {}
    with local_media(video) as path:
        info = probe(path)
        if info.has_audio:
            reader = _audio_reader(info)
            with reader:
                for raw in reader:
                    if raw.index in segments and raw.audio.size:
                        computed[raw.index] = embed_music(model, raw.audio)
    with transaction.atomic():
        Video.objects.select_for_update().get(pk=video_id)
        rows = []
        for index, segment in segments.items():
            segment.music, segment.music_tags = computed.get(index, (None, None))
            rows.append(segment)
        Segment.objects.bulk_update(rows, ["music", "music_tags"])
        music = mean_music(list(computed.values()))
        if music is not None:
            update = {"music_mean": music[0], "music_tags": music[1], "music_model": model.name}
        else:
            update = {"music_mean": None, "music_tags": None, "music_model": ""}
        VideoFeatures.objects.filter(video_id=video_id).update(**update)
    return bool(computed)


# --- thumbnails ------------------------------------------------------------------------------


@contextmanager
def _new_thumbnails(
    video_id: int, poster: bytes | None, pictures: dict[int, bytes]
) -> Iterator[thumbnails.Staged | None]:
    """Stage a video's new thumbnails (None when there are none) for the block, which records
    their names; after it they replace the old ones (or, without new ones, the old ones are
    removed). If the block fails, the staged files are discarded and the old ones stay."""
    root = media_storage()
    staged = thumbnails.stage(root, video_id, poster, pictures) if poster or pictures else None
    try:
        yield staged
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if staged is not None:
        staged.publish()
    else:
        thumbnails.remove(root, video_id)


def thumbnails_missing(video_id: int, poster: str) -> bool:
    """Whether an extracted video needs its thumbnails made: no poster recorded, or its file
    is gone."""
    return not poster or not media_storage().exists(poster)


@dataclass(frozen=True)
class ThumbnailOutcome:
    video_id: int
    poster: str
    segments: int  # segments that got a picture
    seconds: float


def make_thumbnails(video_id: int) -> ThumbnailOutcome:
    """Make the thumbnails of an already extracted video (``manage.py thumbnails``), decoding
    only what they need: one fast seek per segment middle for a picture, the audio alone
    for an audio-only file. The same frames and poster rule as extraction (up to the frame a
    seek lands on); replaces the video's earlier thumbnails.

    Raises NoMediaFile, ValueError (not extracted yet) and features.media.MediaError.
    """
    started = time.perf_counter()
    video = Video.objects.get(pk=video_id)
    rows = list(
        Segment.objects.filter(video_id=video_id)
        .order_by("index")
        .values_list("index", "start_seconds", "end_seconds")
    )
    if not rows:
        raise ValueError(f"video {video_id} has no extracted segments; extract it first")
    with local_media(video) as path:
        pictures, poster = _pictures(path, rows)
    with _new_thumbnails(video_id, poster, pictures) as staged, transaction.atomic():
        Video.objects.select_for_update().get(pk=video_id)
        names = staged.segments if staged else {}
        changed = []
        for segment in Segment.objects.filter(video_id=video_id):
            segment.thumbnail = names.get(segment.index, "")
            changed.append(segment)
        Segment.objects.bulk_update(changed, ["thumbnail"])
        VideoFeatures.objects.filter(video_id=video_id).update(
            poster=staged.poster if staged else ""
        )
    return ThumbnailOutcome(
        video_id, staged.poster if staged else "", len(pictures), time.perf_counter() - started
    )


def _pictures(path: Path, rows: list[tuple]) -> tuple[dict[int, bytes], bytes | None]:
    """The segment pictures and the poster of the media file at ``path`` (make_thumbnails)."""
    info = probe(path)
    collector = thumbnails.Collector(has_video=info.has_video, duration=info.duration)
    pictures: dict[int, bytes] = {}
    no_audio = np.zeros(0, dtype=np.int16)
    if info.has_video:
        fps = settings.FRAME_SAMPLE_FPS
        for index, start, end in rows:
            at = thumbnails.middle_time(start, end, fps)
            frame = thumbnails.seek_frame(info, at, settings.FRAME_WIDTH)
            if frame is not None:
                pictures[index] = collector.add(start, frame[None], no_audio)
    elif info.has_audio:
        wanted = {index: start for index, start, _ in rows}
        reader = _audio_reader(info)
        with reader:
            for raw in reader:
                if raw.index in wanted:
                    picture = collector.add(wanted[raw.index], raw.frames, raw.audio)
                    if picture is not None:
                        pictures[raw.index] = picture
    return pictures, collector.poster()


def remove_thumbnails(video_id: int) -> None:
    """Forget and delete a video's thumbnails."""
    with transaction.atomic():
        Segment.objects.filter(video_id=video_id).update(thumbnail="")
        VideoFeatures.objects.filter(video_id=video_id).update(poster="")
    thumbnails.remove(media_storage(), video_id)


def prune_thumbnails() -> int:
    """Delete the thumbnail folders of videos that no longer exist (and leftovers of a
    process that died mid-way); returns how many folders went."""
    return thumbnails.prune(media_storage(), set(Video.objects.values_list("pk", flat=True)))
