"""Probe and decode media with the ffmpeg binary from imageio-ffmpeg, streaming segment by segment.

* ``probe(path)`` runs ``ffmpeg -i`` (there is no ffprobe) and parses its stderr.
* ``SegmentReader`` decodes the file once: one ffmpeg process writes mono s16le PCM, another
  raw rgb24 frames already sampled at ``fps`` and scaled to ``width`` inside ffmpeg. A thread
  per pipe cuts the bytes into per-segment chunks and keeps at most ``QUEUE_SEGMENTS`` chunks
  ahead, so memory stays bounded for long videos and decoding overlaps feature computation
  when there is more than one core. The file is never cut into part files.

All failures raise a ``MediaError`` subclass whose message can be shown to a user.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import imageio_ffmpeg
import numpy as np

QUEUE_SEGMENTS = 2  # decoded segments buffered ahead per stream
PROBE_TIMEOUT = 30.0
# Largest frame decoded: 8K UHD. Every frame is decoded at full size before it is scaled down,
# so a declared 10,000 x 10,000 stream costs ~330 MB and ~0.7 s per frame in ffmpeg.
MAX_FRAME_PIXELS = 7680 * 4320


# --- errors ----------------------------------------------------------------------------------


class MediaError(Exception):
    """A media file cannot be analysed. ``str(err)`` is a human-readable reason."""


class UnreadableMedia(MediaError):
    """ffmpeg cannot open the file (missing, not a media file, truncated container...)."""


class EmptyFile(UnreadableMedia):
    """The file has 0 bytes."""


class NoStreams(MediaError):
    """The file opens but has neither an audio nor a video stream."""


class MediaTooLong(MediaError):
    """The file is longer than the allowed maximum duration."""


class FrameTooLarge(MediaError):
    """The video stream declares frames larger than MAX_FRAME_PIXELS."""


class DecodeError(MediaError):
    """ffmpeg started but failed while decoding."""


class DecodeTimeout(DecodeError):
    """Decoding took longer than its time limit (the decoders were killed)."""


class NoContent(MediaError):
    """The streams decode to nothing (zero samples and zero frames)."""


# --- probing ---------------------------------------------------------------------------------


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class MediaInfo:
    """What ``ffmpeg -i`` says about a file. ``duration`` is None when ffmpeg reports N/A."""

    path: str
    format_name: str
    duration: float | None
    audio_stream: int | None = None  # absolute stream index, for -map 0:N
    video_stream: int | None = None
    audio_codec: str = ""
    video_codec: str = ""
    audio_rate: int | None = None
    width: int | None = None  # coded size, before rotation
    height: int | None = None
    display_aspect: float | None = None  # width / height as displayed (SAR and rotation applied)
    fps: float | None = None
    rotation: int = 0

    @property
    def has_audio(self) -> bool:
        return self.audio_stream is not None

    @property
    def has_video(self) -> bool:
        return self.video_stream is not None


_INPUT_RE = re.compile(r"^Input #0, ([^,]+(?:,[^ ,]+)*), from ")
_DURATION_RE = re.compile(r"Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)")
_STREAM_RE = re.compile(r"^\s*Stream #0:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (\w+): (.*)$")
_SIZE_RE = re.compile(r"(?:^|[ ,])(\d{1,5})x(\d{1,5})(?=[ ,]|$)")
_DAR_RE = re.compile(r"DAR (\d+):(\d+)")
_FPS_RE = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
_RATE_RE = re.compile(r"(\d+) Hz")
_ROTATION_RE = re.compile(r"rotation of (-?[\d.]+) degrees")


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    interesting = [ln for ln in lines if "Error opening input" not in ln]
    line = (interesting or lines or ["no output from ffmpeg"])[-1]
    return re.sub(r"^\[[^\]]*\]\s*", "", line)  # drop "[in#0 @ 0x...]" prefixes


# Plain-language explanations for the ffmpeg errors people actually hit.
_HINTS = {
    "moov atom not found": "the MP4/MOV index is missing: the file is truncated or not an MP4",
    "Invalid data found when processing input": "the data is not in a format ffmpeg knows",
    "Permission denied": "the file cannot be read (permission denied)",
    "does not contain any stream": "the file contains no streams",
}


def _explain(line: str) -> str:
    for needle, hint in _HINTS.items():
        if needle in line:
            return f"{hint} (ffmpeg: {line})"
    return line


def parse_probe(path: str, stderr: str) -> MediaInfo:
    """Parse the stderr of ``ffmpeg -i path`` (separate from probe() so it can be unit-tested)."""
    lines = stderr.splitlines()
    fmt = next((m.group(1) for ln in lines if (m := _INPUT_RE.match(ln.strip()))), None)
    if fmt is None:
        reason = _explain(_last_error_line(stderr))
        raise UnreadableMedia(f"not a media file ffmpeg can read: {reason}")
    duration = None
    if m := _DURATION_RE.search(stderr):
        if m.group(1) is not None:
            duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    info: dict = {"path": path, "format_name": fmt, "duration": duration}
    current: str | None = None  # kind of the stream whose side data we are reading
    for ln in lines:
        if m := _STREAM_RE.match(ln):
            index, kind, desc = int(m.group(1)), m.group(2), m.group(3)
            current = None
            codec = desc.split(",")[0].split(" ")[0]
            if kind == "Audio" and "audio_stream" not in info:
                rate = _RATE_RE.search(desc)
                info.update(audio_stream=index, audio_codec=codec)
                info["audio_rate"] = int(rate.group(1)) if rate else None
            elif kind == "Video" and "video_stream" not in info and "(attached pic)" not in desc:
                # cover art in mp3/m4a is a one-picture "video" stream: not a video
                size = _SIZE_RE.search(desc)
                if size is None:
                    continue
                w, h = int(size.group(1)), int(size.group(2))
                if w == 0 or h == 0:
                    continue
                dar = _DAR_RE.search(desc)
                aspect = int(dar.group(1)) / int(dar.group(2)) if dar else w / h
                if not aspect > 0:
                    aspect = w / h
                fps = _FPS_RE.search(desc)
                fps_value = None
                if fps:
                    fps_value = float(fps.group(1)) * (1000 if fps.group(2) else 1)
                info.update(
                    video_stream=index,
                    video_codec=codec,
                    width=w,
                    height=h,
                    display_aspect=aspect,
                    fps=fps_value,
                )
                current = "video"
        elif current == "video" and (m := _ROTATION_RE.search(ln)):
            rotation = int(round(float(m.group(1)))) % 360
            info["rotation"] = rotation
            if rotation in (90, 270):  # ffmpeg auto-rotates, so the picture is transposed
                info["display_aspect"] = 1.0 / info["display_aspect"]
    return MediaInfo(**info)


def ffmpeg_input(path: str | os.PathLike[str]) -> str:
    """Absolute path with the file: protocol, so a name like "http:x" or "pipe:1" stays a file."""
    return "file:" + str(Path(path).resolve())


def probe(path: str | os.PathLike[str], *, timeout: float = PROBE_TIMEOUT) -> MediaInfo:
    """Describe a media file. Raises UnreadableMedia / EmptyFile / NoStreams / DecodeTimeout /
    FrameTooLarge."""
    p = Path(path)
    if not p.exists():
        raise UnreadableMedia(f"file not found: {p}")
    if not p.is_file():
        raise UnreadableMedia(f"not a regular file: {p}")
    if p.stat().st_size == 0:
        raise EmptyFile(f"the file is empty (0 bytes): {p.name}")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_input(p)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DecodeTimeout(f"ffmpeg needed more than {timeout:.0f} s to open {p.name}") from exc
    info = parse_probe(str(p.resolve()), proc.stderr.decode("utf-8", errors="replace"))
    if not info.has_audio and not info.has_video:
        raise NoStreams(f"{p.name} has neither an audio nor a video stream")
    if info.width and info.height and info.width * info.height > MAX_FRAME_PIXELS:
        raise FrameTooLarge(
            f"the video frames are {info.width}x{info.height}; the limit is 7680x4320 (8K)"
        )
    return info


def output_size(info: MediaInfo, width: int) -> tuple[int, int]:
    """(width, height) of decoded frames: ``width`` wide, display aspect kept, height even."""
    aspect = info.display_aspect or ((info.width or 16) / (info.height or 9))
    height = max(2, int(round(width / aspect / 2.0)) * 2)
    return width, height


# --- starting decoders -----------------------------------------------------------------------

# Audio leaves the filter graph in frames of 16384 input samples instead of the codec's ~1024,
# so the encoder and muxer threads behind it see 16x fewer frames (fewer thread hand-offs: the
# audio decoder's CPU time drops by about a third). Same bytes out: no padding (p=0), and the
# resampling and downmix that -ar/-ac add run after it.
AUDIO_FILTER = ("-af", "asetnsamples=n=16384:p=0")

# Decoders write into pipes of this size (Linux default 64 KiB): fewer wake-ups of ffmpeg and of
# the reader threads per decoded megabyte. Capped by /proc/sys/fs/pipe-max-size (1 MiB default).
PIPE_BYTES = 1 << 20


@contextlib.contextmanager
def _batch_scheduling() -> Iterator[None]:
    """Run the block with the calling thread under SCHED_BATCH, so that processes started in it
    inherit that policy; the thread's own policy is restored afterwards.

    Why: ffmpeg >= 7 runs demuxer, decoder, filters and muxer in separate threads that hand
    each packet and frame to the next one. Under the default policy every hand-off wakes and
    immediately switches to the receiving thread, so on one busy core the decoders spend a
    large share of their time in context switches (the audio decoder: ~60 % system time, 35k
    switches for a 3-minute track). SCHED_BATCH (a normal-priority policy for non-interactive
    work, same CPU share) only disables preemption on wake-up, so the threads hand over in
    batches. Output is unchanged (bench/extract.py --against measures the saving). No-op
    where the policy cannot be changed or the thread is not under SCHED_OTHER (e.g. already
    batch or real-time).
    """
    try:
        policy = os.sched_getscheduler(0)
        param = os.sched_getparam(0)
    except (AttributeError, OSError):  # not Linux, or refused
        yield
        return
    if policy != os.SCHED_OTHER:
        yield
        return
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.sched_setscheduler(0, policy, param)


def start_decoder(cmd: list[str], *, stderr: IO[bytes] | int) -> subprocess.Popen[bytes]:
    """Start an ffmpeg process that writes raw samples or frames to its stdout pipe.

    It runs under SCHED_BATCH (see ``_batch_scheduling``) and its stdout pipe is enlarged to
    ``PIPE_BYTES`` where the system allows. Raises DecodeError if ffmpeg cannot be started.
    """
    try:
        with _batch_scheduling():
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, bufsize=0
            )
    except OSError as exc:
        raise DecodeError(f"could not start ffmpeg: {exc}") from exc
    assert proc.stdout is not None
    with contextlib.suppress(OSError, AttributeError):  # F_SETPIPE_SZ: Linux >= 2.6.35
        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return proc


# --- streaming decode ------------------------------------------------------------------------


@dataclass
class RawSegment:
    """Decoded data of one segment: int16 mono samples and (n, H, W, 3) uint8 RGB frames."""

    index: int
    audio: np.ndarray  # empty when the file has no audio (or it ended)
    frames: np.ndarray  # shape (0, H, W, 3) when there is no video (or it ended)
    audio_seconds: float
    video_seconds: float

    @property
    def content_seconds(self) -> float:
        return max(self.audio_seconds, self.video_seconds)


_EOF = object()


@dataclass
class _Stream:
    kind: str
    proc: subprocess.Popen[bytes]
    stderr: IO[bytes]
    queue: queue.Queue[object] = field(default_factory=lambda: queue.Queue(QUEUE_SEGMENTS))
    thread: threading.Thread | None = None
    done: bool = False
    bytes_read: int = 0

    def error_tail(self) -> str:
        try:
            self.stderr.seek(0)
            text = self.stderr.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        return _last_error_line(text) if text.strip() else ""


def _segment_bounds(index: int, seconds: float, per_second: float) -> int:
    """Number of samples / frames before the start of segment ``index`` (no drift)."""
    return math.ceil(index * seconds * per_second - 1e-6)


class SegmentReader:
    """Decode a file once and yield ``RawSegment``s of ``segment_seconds`` each.

    Use as a context manager; leaving it (normally or by an exception) kills the decoders.
    Iteration ends when every stream is exhausted; the last chunk may be partial.
    """

    def __init__(
        self,
        info: MediaInfo,
        *,
        segment_seconds: float = 10.0,
        fps: float = 2.0,
        width: int = 256,
        audio_rate: int = 22050,
        timeout: float | None = None,
        threads: int = 1,
        skip_nonref: bool = True,
        include_video: bool = True,
    ) -> None:
        if segment_seconds <= 0 or fps <= 0 or width < 16 or audio_rate <= 0:
            raise ValueError("segment_seconds, fps, audio_rate must be > 0 and width >= 16")
        self.info = info
        self.segment_seconds = segment_seconds
        self.fps = fps
        self.audio_rate = audio_rate
        self.size = output_size(info, width) if info.has_video else (width, 0)
        self.timeout = timeout
        self.threads = threads
        self.skip_nonref = skip_nonref
        self.include_video = include_video  # False: decode the audio only
        self.timed_out = False
        self.warnings: list[str] = []
        self._streams: dict[str, _Stream] = {}
        self._timer: threading.Timer | None = None
        self._stop = threading.Event()

    # -- process management --

    def _commands(self) -> dict[str, list[str]]:
        exe, info, t = ffmpeg_exe(), self.info, str(self.threads)
        common = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", t]
        cmds = {}
        if info.has_audio:
            cmds["audio"] = [
                *common,
                "-i",
                ffmpeg_input(info.path),
                "-map",
                f"0:{info.audio_stream}",
                "-vn",
                "-sn",
                "-dn",
                *AUDIO_FILTER,
                "-ac",
                "1",
                "-ar",
                str(self.audio_rate),
                "-f",
                "s16le",
                "-c:a",
                "pcm_s16le",
                "pipe:1",
            ]
        if info.has_video and self.include_video:
            w, h = self.size
            # Frames nobody references (most B-frames) can be skipped: fps= then picks the
            # nearest decoded frame, at most a frame or two away. Decoding is the bottleneck.
            skip = ["-skip_frame", "noref"] if self.skip_nonref else []
            cmds["video"] = [
                *common,
                "-filter_threads",
                t,
                *skip,
                "-i",
                ffmpeg_input(info.path),
                "-map",
                f"0:{info.video_stream}",
                "-an",
                "-sn",
                "-dn",
                "-vf",
                f"fps={self.fps:g},scale={w}:{h}:flags=area,setsar=1",
                "-pix_fmt",
                "rgb24",
                "-f",
                "rawvideo",
                "pipe:1",
            ]
        return cmds

    def __enter__(self) -> SegmentReader:
        try:
            for kind, cmd in self._commands().items():
                err = tempfile.TemporaryFile()
                try:
                    proc = start_decoder(cmd, stderr=err)
                except DecodeError:
                    err.close()
                    raise
                stream = _Stream(kind, proc, err)
                self._streams[kind] = stream
                stream.thread = threading.Thread(
                    target=self._pump, args=(stream,), name=f"mvsim-{kind}-reader", daemon=True
                )
                stream.thread.start()
            if self.timeout is not None:
                self._timer = threading.Timer(self.timeout, self._on_timeout)
                self._timer.daemon = True
                self._timer.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _on_timeout(self) -> None:
        self.timed_out = True
        self._kill_all()

    def _kill_all(self) -> None:
        for s in self._streams.values():
            if s.proc.poll() is None:
                s.proc.kill()

    def close(self) -> None:
        """Kill the decoders (if still running) and release pipes, threads and temp files."""
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        self._kill_all()
        for s in self._streams.values():
            if s.thread is not None:
                s.thread.join(timeout=5)
            try:
                s.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - kill() is not ignorable
                pass
            if s.proc.stdout is not None:
                s.proc.stdout.close()
            s.stderr.close()

    # -- reading --

    def _chunk_bytes(self, kind: str, index: int) -> int:
        if kind == "audio":
            rate, unit = float(self.audio_rate), 2
        else:
            rate, unit = self.fps, self.size[0] * self.size[1] * 3
        n = _segment_bounds(index + 1, self.segment_seconds, rate) - _segment_bounds(
            index, self.segment_seconds, rate
        )
        return n * unit

    def _put(self, stream: _Stream, item: object) -> bool:
        while not self._stop.is_set():
            try:
                stream.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self, stream: _Stream) -> None:
        """Reader thread: cut one pipe into per-segment chunks (bytes) until EOF."""
        pipe = stream.proc.stdout
        assert pipe is not None
        try:
            index = 0
            while not self._stop.is_set():
                want = self._chunk_bytes(stream.kind, index)
                if want == 0:  # e.g. no sampled frame falls in a very short segment
                    if not self._put(stream, b""):
                        return
                    index += 1
                    continue
                buf = bytearray(want)
                view = memoryview(buf)
                got = 0
                while got < want:
                    n = pipe.readinto(view[got:])
                    if not n:
                        break
                    got += n
                if got and not self._put(stream, bytes(view[:got]) if got < want else buf):
                    return
                if got < want:
                    break
                index += 1
        except (OSError, ValueError) as exc:  # pipe closed under us by close()/timeout
            if not self._stop.is_set():
                self._put(stream, DecodeError(f"reading decoded {stream.kind} failed: {exc}"))
        finally:
            self._put(stream, _EOF)

    def _next_chunk(self, stream: _Stream) -> bytes | None:
        if stream.done:
            return None
        item = stream.queue.get()
        if isinstance(item, BaseException):
            stream.done = True
            raise item
        if item is _EOF:
            stream.done = True
            self._finish(stream)
            return None
        stream.bytes_read += len(item)  # type: ignore[arg-type]
        return item  # type: ignore[return-value]

    def _finish(self, stream: _Stream) -> None:
        """The stream hit EOF: check how its decoder ended."""
        try:
            rc = stream.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stream.proc.kill()
            rc = stream.proc.wait()
        if self.timed_out:
            raise DecodeTimeout(f"decoding took longer than {self.timeout:.0f} s and was stopped")
        if rc != 0:
            reason = stream.error_tail() or f"ffmpeg exited with status {rc}"
            if stream.bytes_read == 0:
                raise DecodeError(f"could not decode the {stream.kind} stream: {reason}")
            # Typical for truncated files: keep what was decoded, but say so.
            self.warnings.append(f"{stream.kind} decoding stopped early: {reason}")

    def __iter__(self) -> Iterator[RawSegment]:
        w, h = self.size
        frame_bytes = w * h * 3
        index = 0
        while True:
            audio_chunk = video_chunk = None
            if "audio" in self._streams:
                audio_chunk = self._next_chunk(self._streams["audio"])
            if "video" in self._streams:
                video_chunk = self._next_chunk(self._streams["video"])
            if audio_chunk is None and video_chunk is None:
                return
            audio = (
                np.frombuffer(audio_chunk, dtype="<i2", count=len(audio_chunk) // 2)
                if audio_chunk
                else np.zeros(0, dtype=np.int16)
            )
            n_frames = len(video_chunk) // frame_bytes if video_chunk else 0
            frames = (
                np.frombuffer(video_chunk, dtype=np.uint8, count=n_frames * frame_bytes).reshape(
                    n_frames, h, w, 3
                )
                if n_frames
                else np.zeros((0, h, w, 3), dtype=np.uint8)
            )
            yield RawSegment(
                index=index,
                audio=audio,
                frames=frames,
                audio_seconds=audio.size / self.audio_rate,
                video_seconds=n_frames / self.fps,
            )
            index += 1


__all__ = [
    "AUDIO_FILTER",
    "DecodeError",
    "DecodeTimeout",
    "EmptyFile",
    "FrameTooLarge",
    "MediaError",
    "MediaInfo",
    "MediaTooLong",
    "NoContent",
    "NoStreams",
    "RawSegment",
    "SegmentReader",
    "UnreadableMedia",
    "output_size",
    "parse_probe",
    "probe",
    "start_decoder",
]
