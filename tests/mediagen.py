"""Generate small test media with the ffmpeg binary from imageio-ffmpeg (nothing is committed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=300,
    )


def make_video(
    path: Path | str,
    seconds: float = 12.0,
    *,
    size: str = "160x90",
    fps: int = 25,
    video: str = "testsrc2",
    tone_hz: float | None = 440.0,
    audio: str | None = None,
) -> Path:
    """An H.264 (+AAC) clip. `video` is a lavfi source: 'testsrc2', 'color=c=red', ...

    `audio` is a lavfi audio source ('anullsrc' for silence); by default a sine at tone_hz.
    tone_hz=None and audio=None gives a clip with no audio track.
    """
    path = Path(path)
    source = video if "=" in video else f"{video}=size={size}:rate={fps}"
    if "=" in video and "size=" not in video and video.startswith("color"):
        source = f"{video}:size={size}:rate={fps}"
    args = ["-f", "lavfi", "-i", source]
    audio_src = audio or (f"sine=frequency={tone_hz}:sample_rate=22050" if tone_hz else None)
    if audio_src:
        if audio_src == "anullsrc":
            audio_src = "anullsrc=channel_layout=mono:sample_rate=22050"
        args += ["-f", "lavfi", "-i", audio_src]
    args += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio_src:
        args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    else:
        args += ["-an"]
    run_ffmpeg([*args, str(path)])
    return path


def make_audio(
    path: Path | str, seconds: float = 12.0, *, tone_hz: float | None = 440.0, rate: int = 22050
) -> Path:
    """An audio-only file; the container follows the suffix (.wav, .mp3, .ogg, .flac)."""
    path = Path(path)
    src = (
        f"sine=frequency={tone_hz}:sample_rate={rate}"
        if tone_hz
        else (f"anullsrc=channel_layout=mono:sample_rate={rate}")
    )
    run_ffmpeg(["-f", "lavfi", "-i", src, "-t", str(seconds), "-ac", "1", str(path)])
    return path
