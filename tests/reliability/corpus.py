"""A corpus of hostile and malformed media, generated with ffmpeg (lavfi) and byte surgery.

Nothing here is committed as media: ``build(folder)`` writes every case (each well under
1 MB) and returns them by name. Each case says what the product must do with it: ``ready``
(accepted and analysed) or ``failed`` with a reason matching ``reason``.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.mediagen import make_audio, make_video, run_ffmpeg

TEN_HOURS = 10 * 3600
NAMES = (
    "zero.mp4",
    "cut10.mp4",
    "cut50.mp4",
    "cut90.mp4",
    "fastcut10.mp4",
    "fastcut50.mp4",
    "fastcut90.mp4",
    "mkvcut10.mkv",
    "mkvcut50.mkv",
    "mkvcut90.mkv",
    "wavcut50.wav",
    "mp4.wav",
    "wav.mp4",
    "text.mp4",
    "huge-declared.avi",
    "huge-real.avi",
    "fps0.avi",
    "ts0.mkv",
    "fps1000.mp4",
    "tenhours.wav",
    "tenhours.mka",
    "audio-only.m4a",
    "video-only.mp4",
    "eight-audio.mkv",
    "tags.mp4",
    "polyglot-zip.mp4",
    "polyglot-html.mp4",
)


@dataclass(frozen=True)
class Case:
    name: str  # file name (its extension may lie on purpose)
    expect: str  # "ready" or "failed"
    reason: str = ""  # regex the video's error must match when it fails
    what: str = ""  # what the file is, for the docs table


def _truncate(src: Path, dst: Path, fraction: float) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])


def _patch_mjpeg_size(src: Path, dst: Path, width: int, height: int) -> None:
    """An MJPEG AVI whose headers and every JPEG frame declare width x height."""
    data = bytearray(src.read_bytes())
    at = 0
    while (at := data.find(b"\xff\xc0", at)) >= 0:  # SOF0: len(2) precision(1) height width
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
        at += 2
    avih = data.find(b"avih") + 8  # MainAVIHeader: ... width at 32, height at 36
    data[avih + 32 : avih + 40] = struct.pack("<II", width, height)
    strf = data.find(b"strf") + 8  # BITMAPINFOHEADER: size(4) width height
    data[strf + 4 : strf + 12] = struct.pack("<ii", width, height)
    dst.write_bytes(data)


def _zero_rate_avi(src: Path, dst: Path) -> None:
    """The AVI's stream header says 0 frames per second (dwRate = 0, no frame period)."""
    data = bytearray(src.read_bytes())
    strh = data.find(b"strh") + 8  # fccType fccHandler flags prio lang initial scale rate
    data[strh + 24 : strh + 28] = struct.pack("<I", 0)
    avih = data.find(b"avih") + 8
    data[avih : avih + 4] = struct.pack("<I", 0)
    dst.write_bytes(data)


def _wav_claiming(src: Path, dst: Path, seconds: float) -> None:
    """A 1 s WAV whose RIFF and data sizes claim ``seconds`` of 22050 Hz mono 16-bit."""
    data = bytearray(src.read_bytes())
    claimed = int(seconds * 22050 * 2)
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", claimed)
    data[4:8] = struct.pack("<I", claimed + at + 8 - 8)
    dst.write_bytes(data)


def build(folder: Path) -> dict[str, tuple[Path, Case]]:
    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "_sources"
    work.mkdir(exist_ok=True)
    clip = make_video(work / "clip.mp4", 6, size="96x64")  # moov index at the end
    fast = work / "fast.mp4"
    run_ffmpeg(["-i", str(clip), "-c", "copy", "-movflags", "+faststart", str(fast)])
    wav = make_audio(work / "tone.wav", 6)
    mkv = work / "clip.mkv"
    run_ffmpeg(["-i", str(clip), "-c", "copy", str(mkv)])
    mjpeg = work / "mjpeg.avi"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=160x96:rate=5", "-t", "2", "-c:v", "mjpeg"]
        + ["-q:v", "5", str(mjpeg)]
    )
    one_second = make_audio(work / "one.wav", 1)

    cases: list[tuple[Case, Callable[[Path], object]]] = []

    def add(case: Case, make: Callable[[Path], object]) -> None:
        cases.append((case, make))

    add(
        Case("zero.mp4", "failed", r"empty \(0 bytes\)", "0 bytes"),
        lambda p: p.write_bytes(b""),
    )
    for pct in (10, 50, 90):
        add(
            Case(
                f"cut{pct}.mp4",
                "failed",
                r"index is missing: the file is truncated",
                f"MP4 (index at the end) cut at {pct} %",
            ),
            lambda p, pct=pct: _truncate(clip, p, pct / 100),
        )
    # A faststart MP4 keeps what decodes: 10 % of 6 s has too little content for a segment
    # of its own but one short segment is kept (a file shorter than a segment gives one).
    for pct in (10, 50, 90):
        add(
            Case(f"fastcut{pct}.mp4", "ready", what=f"faststart MP4 cut at {pct} %"),
            lambda p, pct=pct: _truncate(fast, p, pct / 100),
        )
    for pct in (10, 50, 90):
        add(
            Case(f"mkvcut{pct}.mkv", "ready", what=f"Matroska cut at {pct} %"),
            lambda p, pct=pct: _truncate(mkv, p, pct / 100),
        )
    add(
        Case("wavcut50.wav", "ready", what="WAV cut at 50 % (header claims 6 s)"),
        lambda p: _truncate(wav, p, 0.5),
    )
    add(
        Case("mp4.wav", "ready", what="an MP4 named .wav"),
        lambda p: p.write_bytes(clip.read_bytes()),
    )
    add(
        Case("wav.mp4", "ready", what="a WAV named .mp4"), lambda p: p.write_bytes(wav.read_bytes())
    )
    add(
        Case("text.mp4", "failed", r"not a media file ffmpeg can read", "plain text named .mp4"),
        lambda p: p.write_text("<p>not a video</p>\n" * 200),
    )
    add(
        Case(
            "huge-declared.avi",
            "failed",
            r"frames are 10000x10000; the limit is 7680x4320",
            "MJPEG AVI, 160x96 content, headers and every JPEG declare 10,000 x 10,000",
        ),
        lambda p: _patch_mjpeg_size(mjpeg, p, 10000, 10000),
    )
    add(
        Case(
            "huge-real.avi",
            "failed",
            r"frames are 10000x10000; the limit is 7680x4320",
            "a real 10,000 x 10,000 MJPEG frame (one blue frame, 0.6 MB)",
        ),
        lambda p: run_ffmpeg(
            ["-f", "lavfi", "-i", "color=c=blue:size=10000x10000:rate=1", "-t", "1"]
            + ["-c:v", "mjpeg", "-q:v", "31", "-pix_fmt", "yuvj420p", "-threads", "1"]
            + ["-filter_threads", "1", str(p)]
        ),
    )
    add(
        Case("fps0.avi", "ready", what="AVI whose headers say 0 fps (ffmpeg assumes 25)"),
        lambda p: _zero_rate_avi(mjpeg, p),
    )
    add(
        Case(
            "ts0.mkv",
            "failed",
            r"decodes to no audio samples and no video frames",
            "H.264 in Matroska, every frame at timestamp 0",
        ),
        lambda p: run_ffmpeg(
            ["-i", str(clip), "-an", "-c", "copy", "-bsf:v", "setts=ts=0", str(p)]
        ),
    )
    add(
        Case("fps1000.mp4", "ready", what="H.264 at 1,000 fps (2,000 frames) + AAC"),
        lambda p: run_ffmpeg(
            ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1000", "-f", "lavfi"]
            + ["-i", "sine=sample_rate=22050", "-t", "2", "-c:v", "libx264", "-preset"]
            + ["ultrafast", "-c:a", "aac", "-shortest", str(p)]
        ),
    )
    add(
        Case(
            "tenhours.wav",
            "ready",
            what="1 s WAV whose header claims 10 h (ffmpeg believes the file size: 1 s)",
        ),
        lambda p: _wav_claiming(one_second, p, TEN_HOURS),
    )
    add(
        Case(
            "tenhours.mka",
            "failed",
            r"long; the limit is",
            "AAC silence in Matroska, packets at 0 s and at 10 h (1 KB)",
        ),
        lambda p: run_ffmpeg(
            ["-f", "lavfi", "-i", "anullsrc=channel_layout=mono:sample_rate=8000", "-t", "1"]
            + ["-c:a", "aac", "-b:a", "8k", "-bsf:a", f"setts=ts=TS+gte(N\\,4)*{TEN_HOURS}/TB"]
            + [str(p)]
        ),
    )
    add(Case("audio-only.m4a", "ready", what="AAC only"), lambda p: make_audio(p, 4))
    add(
        Case("video-only.mp4", "ready", what="H.264 only"),
        lambda p: make_video(p, 4, size="96x64", tone_hz=None),
    )
    add(
        Case("eight-audio.mkv", "ready", what="one video and 8 audio streams"),
        lambda p: run_ffmpeg(
            ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10"]
            + [
                arg
                for hz in range(8)
                for arg in ("-f", "lavfi", "-i", f"sine=frequency={220 + 110 * hz}")
            ]
            + ["-t", "3", "-map", "0"]
            + [arg for i in range(8) for arg in ("-map", str(i + 1))]
            + ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(p)]
        ),
    )
    add(
        Case("tags.mp4", "ready", what="5,000-character title and artist, non-UTF-8 comment"),
        lambda p: _tagged(clip, p),
    )
    add(
        Case("polyglot-zip.mp4", "ready", what="a valid MP4 with a ZIP appended (also a ZIP)"),
        lambda p: _with_zip(clip, p),
    )
    add(
        Case("polyglot-html.mp4", "ready", what="a valid MP4 with an HTML page appended"),
        lambda p: p.write_bytes(
            clip.read_bytes() + b"<html><script>alert(document.cookie)</script></html>"
        ),
    )
    built = {}
    for case, make in cases:
        path = folder / case.name
        make(path)
        assert path.stat().st_size < 1024 * 1024, case.name
        built[case.name] = (path, case)
    assert tuple(built) == NAMES
    return built


def _tagged(src: Path, dst: Path) -> None:
    import subprocess

    from tests.mediagen import FFMPEG

    long = "é" * 2500 + "x" * 2500
    latin1 = "caf\xe9 na\xefve \xff\xfe".encode("latin-1")  # not UTF-8
    subprocess.run(
        [
            FFMPEG.encode(),
            b"-hide_banner",
            b"-loglevel",
            b"error",
            b"-y",
            b"-i",
            str(src).encode(),
            b"-c",
            b"copy",
            b"-metadata",
            f"title={long}".encode(),
            b"-metadata",
            f"artist={long}".encode(),
            b"-metadata",
            b"comment=" + latin1,
            str(dst).encode(),
        ],
        check=True,
        timeout=60,
    )


def _with_zip(src: Path, dst: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", "<html><body>hello</body></html>")
    dst.write_bytes(src.read_bytes() + buffer.getvalue())
    with zipfile.ZipFile(dst) as archive:  # really a ZIP too
        assert archive.namelist() == ["index.html"]
