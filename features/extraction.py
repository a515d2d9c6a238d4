"""Turn a music video (or an audio file) into per-segment feature vectors.

    result = extract_file("clip.mp4", progress=lambda done, total: ...)
    audio_mean, visual_mean = aggregate(result.segments)

Segmenting (docs/features.md): consecutive, non-overlapping segments of ``segment_seconds``
starting at 0; a last partial segment is kept when it has at least ``min_last_segment``
seconds of content; a file shorter than one segment gives one segment if it has any content.
Segment boundaries come from the decoded streams themselves, so a truncated file that still
decodes gives the segments it really has.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import firwin, resample_poly

from features import musicnn
from features import thumbnails as thumbnails_module
from features.audio import AUDIO_RATE, Backend, audio_features
from features.definitions import N_AUDIO, N_VISUAL
from features.media import (
    MediaInfo,
    MediaTooLong,
    NoContent,
    SegmentReader,
    probe,
)
from features.visual import VisualExtractor

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SegmentFeatures:
    index: int
    start: float  # seconds
    end: float
    audio: np.ndarray  # float32 (68,)
    visual: np.ndarray  # float32 (354,)
    music: np.ndarray | None = None  # float32 (200,) MusiCNN embedding; None without audio
    music_tags: np.ndarray | None = None  # float32 (50,) tag probabilities
    thumbnail: bytes | None = None  # WebP of the middle frame (or waveform); features.thumbnails

    @property
    def vector(self) -> np.ndarray:
        """The full 422-vector, audio first (positions as in definitions.ALL_FEATURE_NAMES)."""
        return np.concatenate([self.audio, self.visual])


@dataclass
class ExtractionResult:
    path: str
    duration: float  # seconds of content actually decoded (longest stream)
    has_audio: bool
    has_video: bool
    segments: list[SegmentFeatures]
    info: MediaInfo
    decode_seconds: float = 0.0  # probing + time spent waiting for the decoders
    audio_seconds: float = 0.0  # audio feature computation
    visual_seconds: float = 0.0  # visual feature computation
    music_seconds: float = 0.0  # music embedding (resampling + MusiCNN)
    music_model: str = ""  # the MusiCNN checkpoint used; "" when none was
    thumbnail_seconds: float = 0.0  # picking and encoding the thumbnails and the poster
    poster: bytes | None = None  # WebP poster (features.thumbnails); None without thumbnails
    total_seconds: float = 0.0
    frames: int = 0  # sampled video frames analysed
    warnings: list[str] = field(default_factory=list)

    def matrix(self) -> np.ndarray:
        """(n_segments, 422) float32."""
        if not self.segments:
            return np.zeros((0, N_AUDIO + N_VISUAL), dtype=np.float32)
        return np.stack([s.vector for s in self.segments])


@functools.cache
def _resample_filter(up: int, down: int) -> np.ndarray:
    """The low-pass FIR filter that ``resample_poly(x, up, down)`` designs on every call (its
    default Kaiser window, beta 5, 10 zero crossings per side), designed once: passing it as
    ``window`` gives bit-identical output and saves ~30 % of the resampling time."""
    max_rate = max(up, down)
    taps = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps.setflags(write=False)  # resample_poly copies it
    return taps


def music_input(samples: np.ndarray, rate: int = AUDIO_RATE) -> np.ndarray:
    """int16-scale mono samples at ``rate`` -> float32 in [-1, 1] at MusiCNN's 16 kHz."""
    y = np.asarray(samples, dtype=np.float64) / 32768.0
    if rate != musicnn.SAMPLE_RATE:
        divisor = math.gcd(rate, musicnn.SAMPLE_RATE)
        up, down = musicnn.SAMPLE_RATE // divisor, rate // divisor
        y = resample_poly(y, up, down, window=_resample_filter(up, down))
    return y.astype(np.float32)


def embed_music(
    model: musicnn.MusicnnModel, samples: np.ndarray, rate: int = AUDIO_RATE
) -> tuple[np.ndarray, np.ndarray]:
    """(embedding (200,), tags (50,)) of one segment: the mean over its 3 s patches."""
    y = music_input(samples, rate)
    result = model.embed_segments(y, [(0.0, y.size / musicnn.SAMPLE_RATE)])
    return result.embeddings[0], result.tags[0]


def planned_segments(
    duration: float, segment_seconds: float = 10.0, min_last_segment: float = 5.0
) -> list[tuple[float, float]]:
    """(start, end) of the segments a file of ``duration`` seconds gets."""
    if duration <= 0:
        return []
    full = int(math.floor(duration / segment_seconds + 1e-9))
    spans = [(i * segment_seconds, (i + 1) * segment_seconds) for i in range(full)]
    rest = duration - full * segment_seconds
    if rest > 1e-9 and (rest >= min_last_segment - 1e-9 or full == 0):
        spans.append((full * segment_seconds, duration))
    return spans


def _check_args(segment_seconds: float, min_last_segment: float, max_duration: float) -> None:
    if segment_seconds <= 0:
        raise ValueError(f"segment_seconds must be > 0, got {segment_seconds}")
    if not 0 <= min_last_segment <= segment_seconds:
        raise ValueError("min_last_segment must be between 0 and segment_seconds")
    if max_duration <= 0:
        raise ValueError(f"max_duration must be > 0, got {max_duration}")


def _format_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def extract_file(
    path: str | os.PathLike[str],
    *,
    segment_seconds: float = 10.0,
    min_last_segment: float = 5.0,
    max_duration: float = 900.0,
    fps: float = 2.0,
    width: int = 256,
    progress: ProgressCallback | None = None,
    timeout: float | None = None,
    decoder_threads: int = 1,
    audio_backend: Backend = "vectorized",
    music_model: musicnn.MusicnnModel | None = None,
    thumbnails: bool = True,
) -> ExtractionResult:
    """Features of every segment of a media file.

    With ``music_model`` every segment with audio also gets its MusiCNN embedding and tags,
    from the same decoded samples (resampled to 16 kHz). With ``thumbnails`` every segment
    gets a small WebP of its middle frame (a waveform without picture) and the result a
    poster, from the frames decoded anyway (features.thumbnails); nothing is written to disk.

    Raises a ``features.media.MediaError`` subclass for bad media: UnreadableMedia (incl.
    EmptyFile), NoStreams, MediaTooLong (checked before decoding when the duration is known,
    else while decoding), DecodeError / DecodeTimeout, NoContent. ``timeout`` (seconds for
    the whole decode) defaults to 120 + 2 x duration.
    """
    _check_args(segment_seconds, min_last_segment, max_duration)
    t0 = time.perf_counter()
    info = probe(path)
    if info.duration is not None and info.duration > max_duration:
        raise MediaTooLong(
            f"the file is {_format_duration(info.duration)} long; the limit is "
            f"{_format_duration(max_duration)} ({max_duration:g} s)"
        )
    probe_seconds = time.perf_counter() - t0
    if timeout is None:
        timeout = 120.0 + 2.0 * (info.duration or max_duration)
    kwargs = dict(
        segment_seconds=segment_seconds,
        min_last_segment=min_last_segment,
        max_duration=max_duration,
        fps=fps,
        width=width,
        progress=progress,
        timeout=timeout,
        decoder_threads=decoder_threads,
        audio_backend=audio_backend,
        music_model=music_model,
        thumbnails=thumbnails,
    )
    result = _extract(info, skip_nonref=True, **kwargs)
    if info.has_video and result.frames == 0:
        # Skipping unreferenced frames left nothing (an exotic all-non-reference stream?):
        # decode every frame instead before concluding the video is empty.
        result = _extract(info, skip_nonref=False, **kwargs)
    result.decode_seconds += probe_seconds
    result.total_seconds = time.perf_counter() - t0
    return result


def _extract(
    info: MediaInfo,
    *,
    skip_nonref: bool,
    segment_seconds: float,
    min_last_segment: float,
    max_duration: float,
    fps: float,
    width: int,
    progress: ProgressCallback | None,
    timeout: float,
    decoder_threads: int,
    audio_backend: Backend,
    music_model: musicnn.MusicnnModel | None,
    thumbnails: bool,
) -> ExtractionResult:
    expected = (
        len(planned_segments(info.duration, segment_seconds, min_last_segment))
        if info.duration is not None
        else 0
    )
    visual = VisualExtractor()
    segments: list[SegmentFeatures] = []
    decode_s = audio_s = visual_s = music_s = thumb_s = 0.0
    collector = (
        thumbnails_module.Collector(has_video=info.has_video, duration=info.duration)
        if thumbnails
        else None
    )
    decoded = 0.0
    audio_samples = frames = 0
    reported_total = 0
    reader = SegmentReader(
        info,
        segment_seconds=segment_seconds,
        fps=fps,
        width=width,
        audio_rate=AUDIO_RATE,
        timeout=timeout,
        threads=decoder_threads,
        skip_nonref=skip_nonref,
    )
    with reader:
        iterator = iter(reader)
        while True:
            t = time.perf_counter()
            raw = next(iterator, None)
            decode_s += time.perf_counter() - t
            if raw is None:
                break
            start = round(raw.index * segment_seconds, 6)
            content = min(raw.content_seconds, segment_seconds)
            if info.duration is not None:
                # frames / fps over-estimates a tail when frames are sparse (low fps)
                content = max(0.0, min(content, info.duration - start))
            decoded = start + content
            audio_samples += raw.audio.size
            if decoded > max_duration + 1.0:  # duration was unknown (or wrong) when probing
                raise MediaTooLong(
                    f"the file is longer than the limit of {_format_duration(max_duration)} "
                    f"({max_duration:g} s)"
                )
            partial = content < segment_seconds - 1e-6
            if partial and content < min_last_segment - 1e-9 and raw.index > 0:
                continue  # a too-short tail; nothing follows a partial chunk
            if content <= 0:
                continue
            t = time.perf_counter()
            a = audio_features(raw.audio, AUDIO_RATE, backend=audio_backend)
            audio_s += time.perf_counter() - t
            t = time.perf_counter()
            v = visual.segment_features(raw.frames)
            visual_s += time.perf_counter() - t
            music = tags = None
            if music_model is not None and raw.audio.size:
                t = time.perf_counter()
                music, tags = embed_music(music_model, raw.audio)
                music_s += time.perf_counter() - t
            thumb = None
            if collector is not None:
                t = time.perf_counter()
                thumb = collector.add(start, raw.frames, raw.audio)
                thumb_s += time.perf_counter() - t
            frames += len(raw.frames)
            segments.append(
                SegmentFeatures(raw.index, start, start + content, a, v, music, tags, thumb)
            )
            if progress is not None:
                reported_total = max(expected, len(segments))
                progress(len(segments), reported_total)
        warnings = list(reader.warnings)
    if info.duration is not None and decoded < info.duration - max(1.0, 0.05 * info.duration):
        warnings.append(
            f"only {decoded:.1f} s of the announced {info.duration:.1f} s could be decoded "
            "(truncated file?)"
        )
    if not segments:
        raise NoContent(
            f"{os.path.basename(info.path)} decodes to no audio samples and no video frames"
        )
    if progress is not None and reported_total != len(segments):
        progress(len(segments), len(segments))
    poster = None
    if collector is not None:
        t = time.perf_counter()
        poster = collector.poster()
        thumb_s += time.perf_counter() - t
    return ExtractionResult(
        path=info.path,
        duration=decoded,
        has_audio=info.has_audio and audio_samples > 0,
        has_video=info.has_video and frames > 0,
        segments=segments,
        info=info,
        decode_seconds=decode_s,
        audio_seconds=audio_s,
        visual_seconds=visual_s,
        music_seconds=music_s,
        music_model=music_model.name if music_model is not None else "",
        thumbnail_seconds=thumb_s,
        poster=poster,
        frames=frames,
        warnings=warnings,
    )


_AGGREGATORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda m: m.mean(axis=0),
    "std": lambda m: m.std(axis=0),
}


def aggregate(
    segments: Sequence[SegmentFeatures], how: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """(audio (68,), visual (354,)) float32 statistic over segments; ``how`` is "mean" or "std".

    Adding another statistic is one entry in ``_AGGREGATORS``.
    """
    if not segments:
        raise ValueError("cannot aggregate zero segments")
    if how not in _AGGREGATORS:
        raise ValueError(f"unknown aggregate {how!r}; choose from {sorted(_AGGREGATORS)}")
    fn = _AGGREGATORS[how]
    audio = fn(np.stack([s.audio for s in segments]).astype(np.float64))
    visual = fn(np.stack([s.visual for s in segments]).astype(np.float64))
    return audio.astype(np.float32), visual.astype(np.float32)


def aggregate_music(
    segments: Sequence[SegmentFeatures],
) -> tuple[np.ndarray, np.ndarray] | None:
    """(embedding (200,), tags (50,)) float32 means over the segments that have music; None
    when none has (no audio, or extracted without a music model)."""
    return mean_music([(s.music, s.music_tags) for s in segments if s.music is not None])


def mean_music(
    rows: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray] | None:
    """(embedding, tags) float32 means of per-segment (embedding, tags) rows; None if empty."""
    if not rows:
        return None
    music = np.stack([m for m, _ in rows]).astype(np.float64).mean(axis=0)
    tags = np.stack([t for _, t in rows]).astype(np.float64).mean(axis=0)
    return music.astype(np.float32), tags.astype(np.float32)


__all__ = [
    "ExtractionResult",
    "SegmentFeatures",
    "aggregate",
    "aggregate_music",
    "embed_music",
    "extract_file",
    "mean_music",
    "planned_segments",
]
