"""Tiny generated media shared by the feature tests (made once per session, never committed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.mediagen import make_audio, make_video, run_ffmpeg


def _mp3_with_cover_art(path: Path) -> None:
    """A 6 s mp3 whose cover picture ffmpeg lists as an "(attached pic)" video stream."""
    cover = path.with_suffix(".jpg")
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=green:size=64x64", "-frames:v", "1", str(cover)])
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=22050:duration=6",
            "-i",
            str(cover),
            "-map",
            "0",
            "-map",
            "1",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "copy",
            "-disposition:v",
            "attached_pic",
            str(path),
        ]
    )


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """media(name) -> path of a generated clip, created on first use. Names:

    tone25 (25 s testsrc2 + 440 Hz), tone3 (3 s), red (3 s solid red), blue (4 s static blue),
    silent (6 s testsrc2 + silent AAC), noaudio (3 s, no audio track), long12 (12 s),
    a24.wav (24 s tone), a6.{wav,mp3,ogg,flac} (6 s tone), cover.mp3 (mp3 with cover art).
    """
    root = tmp_path_factory.mktemp("features-media")
    makers: dict[str, Callable[[Path], object]] = {
        "tone25": lambda p: make_video(p, 25),
        "tone3": lambda p: make_video(p, 3),
        "red": lambda p: make_video(p, 3, video="color=c=red"),
        "blue": lambda p: make_video(p, 4, video="color=c=blue"),
        "silent": lambda p: make_video(p, 6, audio="anullsrc"),
        "noaudio": lambda p: make_video(p, 3, tone_hz=None),
        "long12": lambda p: make_video(p, 12),
        "a24.wav": lambda p: make_audio(p, 24),
        "a6.wav": lambda p: make_audio(p, 6),
        "a6.mp3": lambda p: make_audio(p, 6),
        "a6.ogg": lambda p: make_audio(p, 6),
        "a6.flac": lambda p: make_audio(p, 6),
        "cover.mp3": _mp3_with_cover_art,
    }
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            path = root / (name if "." in name else f"{name}.mp4")
            makers[name](path)
            cache[name] = path
        return cache[name]

    return get


@pytest.fixture(scope="session")
def extracted(media: Callable[[str], Path]) -> Callable[[str], object]:
    """extracted(name) -> ExtractionResult of media(name) with default settings (cached)."""
    from features.extraction import extract_file

    cache: dict[str, object] = {}

    def get(name: str) -> object:
        if name not in cache:
            cache[name] = extract_file(media(name))
        return cache[name]

    return get
