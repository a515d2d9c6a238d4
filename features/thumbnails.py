"""Thumbnails: a poster per video and one small picture per segment (docs/features.md).

* **Segment thumbnail**: the sampled frame nearest the segment's middle (frame ``n // 2`` of
  the segment's ``n`` frames, the ones the extractor decodes anyway), scaled with area
  averaging to ``THUMB_WIDTH`` px wide, WebP quality ``QUALITY``.
* **Poster**: of the segment thumbnails' frames, the one with the highest ``frame_score``
  (colourfulness + contrast, so a black fade or a flat title card loses) among the segments
  that start in the first third of the video; ``POSTER_WIDTH`` px wide (the decoded width).
* **Audio-only** files (no picture at all): each segment gets a waveform of its samples and
  the poster is the waveform of the whole track (per-column peak envelope drawn with numpy).
  A segment of a video that has no frame (the picture ended before the sound) gets none.

Files are stored through the media storage (mvsite/storage.py: MEDIA_ROOT on local disk, or
an S3 bucket) as ``thumbs/<video_id>/poster.webp`` and ``thumbs/<video_id>/seg-0003.webp``.
``stage`` writes a new set into a hidden staging folder; ``Staged.publish`` moves the files
into place (a rename on local disk; on an object store each is written again from the bytes
it holds and the staged one deleted: 3 requests a picture) and removes the old set's
leftovers, ``Staged.discard`` removes the staging folder, so a failed extraction leaves no
thumbnail behind and a page never sees a half-written file. Writing the staged set before the
database rows means a storage that cannot be written fails the extraction before any row.
Nothing here touches the database: features.services records the names.
"""

from __future__ import annotations

import math
import os
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import cv2
import numpy as np
from django.core.files.storage import Storage

from features.media import (
    DecodeError,
    DecodeTimeout,
    MediaInfo,
    ffmpeg_exe,
    ffmpeg_input,
    output_size,
)
from mvsite import storage as stored

THUMB_DIR = "thumbs"
EXTENSION = ".webp"
THUMB_WIDTH = 160
POSTER_WIDTH = 256
QUALITY = 70
POSTER_NAME = f"poster{EXTENSION}"
WAVE_HEIGHT = 90  # waveform pictures: 16:9 like most videos
WAVE_BACKGROUND = (24, 32, 48)  # RGB
WAVE_COLOUR = (96, 165, 250)
ENVELOPE_COLUMNS = 64  # per segment, for the whole-track waveform of an audio-only poster
SEEK_TIMEOUT = 60.0
_STAGING_PREFIX = ".staging-"


# --- pictures --------------------------------------------------------------------------------


def encode(image: np.ndarray, width: int = THUMB_WIDTH, quality: int = QUALITY) -> bytes:
    """An RGB uint8 (H, W, 3) picture as WebP bytes, ``width`` px wide (aspect kept)."""
    h, w = image.shape[:2]
    if w != width:
        height = max(2, int(round(h * width / w / 2.0)) * 2)
        interpolation = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
        image = cv2.resize(image, (width, height), interpolation=interpolation)
    ok, data = cv2.imencode(
        EXTENSION, np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_WEBP_QUALITY, quality]
    )
    if not ok:  # pragma: no cover - OpenCV without WebP
        raise RuntimeError("OpenCV cannot encode WebP")
    return data.tobytes()


def decode(data: bytes) -> np.ndarray | None:
    """WebP/JPEG/PNG bytes -> RGB uint8 picture (None when the bytes are not a picture)."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else image[:, :, ::-1]


def frame_score(frame: np.ndarray) -> float:
    """How good a poster a frame makes: Hasler & Süsstrunk colourfulness + the standard
    deviation of gray (contrast), on every 4th pixel. A black or flat frame scores ~0."""
    small = frame[::4, ::4].astype(np.float32)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    colourfulness = math.hypot(float(rg.std()), float(yb.std())) + 0.3 * math.hypot(
        float(rg.mean()), float(yb.mean())
    )
    gray = 0.299 * r + 0.587 * g + 0.114 * b
    return colourfulness + float(gray.std())


def middle_frame(frames: np.ndarray) -> np.ndarray | None:
    """The frame nearest the middle of a segment's sampled frames (None without frames)."""
    return frames[len(frames) // 2] if len(frames) else None


def envelope(samples: np.ndarray, columns: int) -> np.ndarray:
    """(columns, 2) min and max of int16-scale samples per column, scaled to [-1, 1]."""
    out = np.zeros((columns, 2), dtype=np.float32)
    if samples.size == 0:
        return out
    edges = np.linspace(0, samples.size, columns + 1).astype(np.int64)
    x = samples.astype(np.float32) / 32768.0
    for i in range(columns):
        part = x[edges[i] : max(edges[i + 1], edges[i] + 1)]
        out[i] = part.min(), part.max()
    return out


def waveform(env: np.ndarray, width: int = THUMB_WIDTH, height: int = WAVE_HEIGHT) -> np.ndarray:
    """An RGB picture of an envelope ((n, 2) min/max in [-1, 1]) resampled to ``width``
    columns; quiet audio is scaled up to its own peak so that it stays visible."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = WAVE_BACKGROUND
    if len(env) == 0:
        return image
    pick = np.minimum((np.arange(width) * len(env)) // width, len(env) - 1)
    lows, highs = env[pick, 0], env[pick, 1]
    peak = max(float(np.abs(env).max()), 1e-3)
    mid = (height - 1) / 2.0
    top = np.floor(mid - highs / peak * mid * 0.9)
    bottom = np.ceil(mid - lows / peak * mid * 0.9)
    rows = np.arange(height)[:, None]
    mask = (rows >= np.minimum(top, mid)) & (rows <= np.maximum(bottom, mid))
    image[mask] = WAVE_COLOUR
    return image


# --- collecting while extracting -------------------------------------------------------------


@dataclass
class Collector:
    """Fed each segment the extractor keeps; returns its thumbnail bytes and picks the poster.

    ``has_video``: the file has a picture (frames) — else waveforms are drawn from the audio.
    ``duration``: the probed duration (None: every segment may give the poster).
    """

    has_video: bool
    duration: float | None
    _best: tuple[float, np.ndarray] | None = None
    _envelopes: list[np.ndarray] = field(default_factory=list)

    def add(self, start: float, frames: np.ndarray, audio: np.ndarray) -> bytes | None:
        if self.has_video:
            frame = middle_frame(frames)
            if frame is None:
                return None
            self.consider(start, frame)
            return encode(frame, THUMB_WIDTH)
        if audio.size == 0:
            return None
        env = envelope(audio, THUMB_WIDTH)
        self._envelopes.append(env[np.linspace(0, THUMB_WIDTH - 1, ENVELOPE_COLUMNS).astype(int)])
        return encode(waveform(env, THUMB_WIDTH), THUMB_WIDTH)

    def consider(self, start: float, frame: np.ndarray) -> None:
        """A poster candidate: a segment's middle frame (the first third of the video counts,
        and the first segment always)."""
        if self.duration is None or start < self.duration / 3 or self._best is None:
            score = frame_score(frame)
            if self._best is None or score > self._best[0]:
                self._best = (score, frame.copy())

    def poster(self) -> bytes | None:
        if self._best is not None:
            return encode(self._best[1], POSTER_WIDTH)
        if self._envelopes:
            picture = waveform(np.concatenate(self._envelopes), POSTER_WIDTH, 144)
            return encode(picture, POSTER_WIDTH)
        return None


def pick_poster(candidates: Iterable[tuple[float, np.ndarray]], duration: float | None) -> bytes:
    """The poster from (segment start, middle frame) pairs, by the rule ``Collector`` uses."""
    collector = Collector(has_video=True, duration=duration)
    for start, frame in candidates:
        collector.consider(start, frame)
    poster = collector.poster()
    if poster is None:
        raise ValueError("no frame to make a poster of")
    return poster


# --- files -----------------------------------------------------------------------------------


def video_dir(video_id: int) -> str:
    """The video's thumbnail folder, relative to MEDIA_ROOT."""
    return f"{THUMB_DIR}/{int(video_id)}"


def poster_name(video_id: int) -> str:
    return f"{video_dir(video_id)}/{POSTER_NAME}"


def segment_name(video_id: int, index: int) -> str:
    return f"{video_dir(video_id)}/seg-{int(index):04d}{EXTENSION}"


@dataclass
class Staged:
    """A new set of thumbnails written to a staging folder, not yet visible."""

    storage: Storage  # the media storage
    video_id: int
    staging: PurePosixPath  # the staging folder's name in the storage
    poster: str  # stored name ('' when none)
    segments: dict[int, str]  # segment index -> stored name
    # Final name -> bytes: an object store cannot rename, so publishing writes them again.
    data: dict[str, bytes] = field(default_factory=dict, repr=False)

    def publish(self) -> None:
        """Move the staged files into place and remove the video's other thumbnails."""
        keep = set(self.data)
        for name, data in self.data.items():
            staged = str(self.staging / PurePosixPath(name).name)
            stored.move(self.storage, staged, name, data)
        for name in stored.files(self.storage, video_dir(self.video_id)):
            if name not in keep:
                self.storage.delete(name)
        self.discard()

    def discard(self) -> None:
        stored.delete_tree(self.storage, str(self.staging))


def stage(
    root: Storage | str | os.PathLike[str],
    video_id: int,
    poster: bytes | None,
    segments: dict[int, bytes],
) -> Staged:
    """Write a video's new thumbnails into a staging folder next to its live ones.

    ``root``: the media storage (or a folder on local disk)."""
    storage = stored.as_storage(root)
    staging = PurePosixPath(video_dir(video_id)) / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
    staged = Staged(storage, video_id, staging, "", {})
    pictures = [(poster_name(video_id), poster)] if poster is not None else []
    pictures += [(segment_name(video_id, i), data) for i, data in sorted(segments.items())]
    try:
        for name, data in pictures:
            stored.write_bytes(storage, str(staging / PurePosixPath(name).name), data)
            staged.data[name] = data
        staged.poster = poster_name(video_id) if poster is not None else ""
        staged.segments = {i: segment_name(video_id, i) for i in sorted(segments)}
    except BaseException:
        staged.discard()
        raise
    return staged


def remove(root: Storage | str | os.PathLike[str], video_id: int) -> None:
    """Delete every thumbnail of a video (its folder)."""
    stored.delete_tree(stored.as_storage(root), video_dir(video_id))


def prune(root: Storage | str | os.PathLike[str], known_ids: set[int]) -> int:
    """Remove the thumbnail folders of videos not in ``known_ids`` and leftover staging folders
    (of a process that died mid-way); returns how many folders went."""
    storage = stored.as_storage(root)
    removed = 0
    for folder in stored.folders(storage, THUMB_DIR):
        name = PurePosixPath(folder).name
        if not name.isdigit() or int(name) not in known_ids:
            stored.delete_tree(storage, folder)
            removed += 1
            continue
        for leftover in stored.folders(storage, folder):
            if PurePosixPath(leftover).name.startswith(_STAGING_PREFIX):
                stored.delete_tree(storage, leftover)
                removed += 1
    return removed


# --- frames of an already extracted video (manage.py thumbnails) ------------------------------


def middle_time(start: float, end: float, fps: float) -> float:
    """The nominal time of the sampled frame the extractor takes for a segment [start, end):
    frames are at k / fps; the segment holds k in [ceil(start * fps), ceil(end * fps))."""
    first = math.ceil(start * fps - 1e-6)
    count = max(1, math.ceil(end * fps - 1e-6) - first)
    return (first + count // 2) / fps


def seek_frame(info: MediaInfo, seconds: float, width: int = POSTER_WIDTH) -> np.ndarray | None:
    """The frame at ``seconds``, ``width`` px wide like the extractor's, by a fast seek (ffmpeg
    jumps to the keyframe before it and decodes from there); None past the end."""
    w, h = output_size(info, width)
    cmd = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-threads",
        "1",
        "-ss",
        f"{max(seconds, 0.0):.3f}",
        "-i",
        ffmpeg_input(info.path),
        "-map",
        f"0:{info.video_stream}",
        "-an",
        "-sn",
        "-dn",
        "-frames:v",
        "1",
        "-vf",
        f"scale={w}:{h}:flags=area,setsar=1",
        "-pix_fmt",
        "rgb24",
        "-f",
        "rawvideo",
        "pipe:1",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=SEEK_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DecodeTimeout(
            f"seeking to {seconds:.1f} s took more than {SEEK_TIMEOUT:.0f} s"
        ) from exc
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise DecodeError(f"could not decode a frame at {seconds:.1f} s: {(reason or ['?'])[-1]}")
    if len(proc.stdout) < w * h * 3:
        return None
    return np.frombuffer(proc.stdout[: w * h * 3], dtype=np.uint8).reshape(h, w, 3)


__all__ = [
    "Collector",
    "Staged",
    "decode",
    "encode",
    "envelope",
    "frame_score",
    "middle_frame",
    "middle_time",
    "pick_poster",
    "poster_name",
    "prune",
    "remove",
    "seek_frame",
    "segment_name",
    "stage",
    "video_dir",
    "waveform",
]
