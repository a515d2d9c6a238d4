"""Probing and streaming decode (features/media.py)."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from features.media import (
    AUDIO_FILTER,
    PIPE_BYTES,
    DecodeError,
    DecodeTimeout,
    MediaInfo,
    SegmentReader,
    UnreadableMedia,
    ffmpeg_exe,
    ffmpeg_input,
    output_size,
    parse_probe,
    probe,
    start_decoder,
)

MP4_STDERR = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':
  Metadata:
    major_brand     : isom
  Duration: 00:03:05.52, start: 0.000000, bitrate: 861 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), \
1920x1080 [SAR 1:1 DAR 16:9], 726 kb/s, 29.97 fps, 29.97 tbr, 12800 tbn (default)
    Metadata:
      handler_name    : VideoHandler
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s
At least one output file must be specified
"""

MP3_COVER_STDERR = """\
Input #0, mp3, from 'song.mp3':
  Duration: 00:00:03.00, start: 0.025056, bitrate: 65 kb/s
  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, mono, fltp, 64 kb/s, start 0.025057
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 64x64 \
[SAR 1:1 DAR 1:1], 90k tbr, 90k tbn, start 0.025056 (attached pic)
At least one output file must be specified
"""

RAW_STDERR = """\
Input #0, h264, from 'raw.h264':
  Duration: N/A, bitrate: N/A
  Stream #0:0: Video: h264 (High), yuv420p(progressive), 160x90 [SAR 1:1 DAR 16:9], 25 fps, \
25 tbr, 1200k tbn
"""


def test_parse_probe_mp4_with_rotation() -> None:
    info = parse_probe("clip.mp4", MP4_STDERR)
    assert info.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    assert info.duration == pytest.approx(185.52)
    assert (info.video_stream, info.audio_stream) == (0, 1)
    assert (info.width, info.height, info.fps) == (1920, 1080, pytest.approx(29.97))
    assert (info.video_codec, info.audio_codec, info.audio_rate) == ("h264", "aac", 44100)
    assert info.rotation == 270
    # ffmpeg auto-rotates: a rotated 16:9 picture is shown 9:16
    assert info.display_aspect == pytest.approx(9 / 16)
    assert output_size(info, 256) == (256, 456)


def test_parse_probe_ignores_cover_art() -> None:
    info = parse_probe("song.mp3", MP3_COVER_STDERR)
    assert info.has_audio and not info.has_video
    assert info.duration == pytest.approx(3.0)


def test_parse_probe_unknown_duration() -> None:
    info = parse_probe("raw.h264", RAW_STDERR)
    assert info.duration is None and info.has_video and not info.has_audio


def test_parse_probe_rejects_garbage_with_reason() -> None:
    err = "[in#0 @ 0x5] moov atom not found\nError opening input: Invalid data found\n"
    with pytest.raises(UnreadableMedia, match="truncated or not an MP4"):
        parse_probe("x.mp4", err)


def test_probe_generated_clip(media) -> None:
    info = probe(media("tone3"))
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.has_audio and info.has_video
    assert (info.width, info.height, info.fps) == (160, 90, 25.0)
    assert output_size(info, 256) == (256, 144)


def test_output_size_even_height() -> None:
    info = MediaInfo(
        path="x",
        format_name="x",
        duration=1.0,
        video_stream=0,
        width=100,
        height=75,
        display_aspect=100 / 75,
    )
    assert output_size(info, 256) == (256, 192)
    info = MediaInfo(
        path="x",
        format_name="x",
        duration=1.0,
        video_stream=0,
        width=640,
        height=270,
        display_aspect=640 / 270,
    )
    w, h = output_size(info, 256)
    assert w == 256 and h % 2 == 0 and abs(h - 108) <= 1


def test_reader_chunks_per_segment(media) -> None:
    info = probe(media("long12"))
    with SegmentReader(info, segment_seconds=5.0, fps=2.0, width=64, audio_rate=8000) as reader:
        segs = list(reader)
    assert [s.index for s in segs] == [0, 1, 2]
    assert [s.frames.shape for s in segs] == [(10, 36, 64, 3), (10, 36, 64, 3), (4, 36, 64, 3)]
    assert [s.audio.size for s in segs] == [40000, 40000, 16000]
    assert segs[0].audio.dtype == np.int16 and segs[0].frames.dtype == np.uint8
    assert [s.content_seconds for s in segs] == [5.0, 5.0, 2.0]
    # a 440 Hz tone really came through: ~880 zero crossings per second
    crossings = np.count_nonzero(np.diff(np.sign(segs[0].audio.astype(float)))) / 5.0
    assert crossings == pytest.approx(880, rel=0.02)


def test_reader_kills_decoders_when_left_early(media) -> None:
    info = probe(media("long12"))
    reader = SegmentReader(info, segment_seconds=1.0, width=64)
    with reader:
        next(iter(reader))
        procs = [s.proc for s in reader._streams.values()]
        assert len(procs) == 2
    assert all(p.poll() is not None for p in procs)


def test_reader_timeout_kills_and_raises(media) -> None:
    info = probe(media("long12"))
    with pytest.raises(DecodeTimeout, match="longer than"):
        with SegmentReader(info, width=64, timeout=0.001) as reader:
            list(reader)
    assert all(s.proc.poll() is not None for s in reader._streams.values())


def _policy_of(pid: int) -> int:
    """Scheduling policy of a process from /proc (field 41 of stat), no privileges needed."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[38])


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies only")
def test_start_decoder_runs_ffmpeg_as_batch_and_restores_caller() -> None:
    before = os.sched_getscheduler(0)
    proc = start_decoder(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=d=30",
            "-f",
            "s16le",
            "pipe:1",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _policy_of(proc.pid) == os.SCHED_BATCH
        assert os.sched_getscheduler(0) == before  # the calling thread is back to its policy
        size = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        max_size = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert size == min(PIPE_BYTES, max_size) or size == 65536  # 64 KiB if refused
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_start_decoder_reports_missing_binary() -> None:
    with pytest.raises(DecodeError, match="could not start ffmpeg"):
        start_decoder(["/nonexistent/ffmpeg"], stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("name", ["tone3", "a6.mp3", "a6.ogg"])
def test_audio_filter_only_rechunks(media, name: str) -> None:
    """AUDIO_FILTER changes how ffmpeg hands frames between its threads, not one sample."""
    path = ffmpeg_input(media(name))

    def decode(extra: tuple[str, ...]) -> bytes:
        cmd = [
            ffmpeg_exe(),
            "-nostdin",
            "-loglevel",
            "error",
            "-threads",
            "1",
            "-i",
            path,
            "-vn",
            *extra,
            "-ac",
            "1",
            "-ar",
            "22050",
            "-f",
            "s16le",
            "pipe:1",
        ]
        return subprocess.run(cmd, capture_output=True, check=True).stdout

    plain = decode(())
    assert len(plain) > 0
    assert decode(AUDIO_FILTER) == plain
