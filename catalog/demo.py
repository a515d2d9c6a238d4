"""Procedural demo catalog: short music videos for 10 genres, generated offline.

The first run of mvsim has no network, so it synthesises its own catalog. Each genre has a
`GenreStyle` that differs the way real genres do (tempo, groove, harmony, timbre, distortion;
palette, brightness, motion, cut rate, texture), and every clip draws its own variation inside
that style from a seed, so similarity search and the genre classifier find real structure
without the clips being copies of each other.

Everything is deterministic for (genre, index, seed): the audio samples and frames are
identical, and the MP4 is byte-identical too (single-threaded, bit-exact ffmpeg).
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from catalog.demo_audio import MusicParams, RenderedAudio, plan_music, render_audio
from catalog.demo_styles import GENRE_STYLES, GENRES, GenreStyle
from catalog.demo_video import render_frames
from catalog.genres import UnknownGenre, genre_slug, match_genre_name

__all__ = [
    "GENRES",
    "GENRE_STYLES",
    "ClipPlan",
    "DemoClip",
    "DemoGenerationError",
    "GenreStyle",
    "demo_genre",
    "generate_demo_catalog",
    "generate_demo_video",
    "plan_clip",
    "render_clip_audio",
    "render_clip_frames",
]

DURATION_RANGE = (30.0, 60.0)


class DemoGenerationError(RuntimeError):
    """ffmpeg failed to encode a demo clip."""


@dataclass(frozen=True)
class DemoClip:
    path: Path
    genre: str
    title: str
    artist: str
    duration: float
    tempo_bpm: float
    key: str  # tonic, e.g. "F#"
    mode: str  # "major" | "minor"
    energy: float  # 0..1
    danceability: float  # 0..1


def demo_genre(name: str) -> str:
    """The genre of the style `name` names, matched like every genre name (by slug:
    "hip-hop" -> "Hip Hop"); raises UnknownGenre, which lists the genres with a style."""
    genre = match_genre_name(name, GENRES)
    if genre is None:
        raise UnknownGenre(name, GENRES)
    return genre


@dataclass(frozen=True)
class ClipPlan:
    """Every per-clip choice, drawn from the seed before anything is rendered."""

    genre: str
    index: int
    seed: int
    duration: float
    title: str
    artist: str
    music: MusicParams
    audio_seed: np.random.SeedSequence
    video_seed: np.random.SeedSequence

    @property
    def style(self) -> GenreStyle:
        return GENRE_STYLES[self.genre]


def plan_clip(genre: str, index: int, seed: int, duration: float | None = None) -> ClipPlan:
    """Draw the clip's duration, names and musical parameters from (genre, index, seed)."""
    genre = demo_genre(genre)
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    # crc32, not hash(): str hashes are salted per process, and clips must be reproducible.
    genre_id = zlib.crc32(genre.encode())
    meta_ss, audio_ss, video_ss = np.random.SeedSequence([seed, genre_id, index]).spawn(3)
    rng = np.random.default_rng(meta_ss)
    style = GENRE_STYLES[genre]
    drawn = round(float(rng.uniform(*DURATION_RANGE)), 1)
    music = plan_music(style.sound, rng)
    # Titles walk a per-(genre, seed) permutation so a catalog has no duplicate titles.
    first, second = style.titles
    combos = [f"{a} {b}" for a in first for b in second]
    order = np.random.default_rng([seed, genre_id]).permutation(len(combos))
    title = combos[order[index % len(combos)]]
    if index >= len(combos):
        title += f" (Take {index // len(combos) + 1})"
    a_first, a_second = style.artists
    artist = f"{a_first[rng.integers(len(a_first))]} {a_second[rng.integers(len(a_second))]}"
    return ClipPlan(
        genre=genre,
        index=index,
        seed=seed,
        duration=float(duration) if duration is not None else drawn,
        title=title,
        artist=artist,
        music=music,
        audio_seed=audio_ss,
        video_seed=video_ss,
    )


def render_clip_audio(plan: ClipPlan) -> RenderedAudio:
    """The clip's soundtrack (22050 Hz mono float32), identical on every call."""
    return render_audio(
        plan.style.sound, plan.music, np.random.default_rng(plan.audio_seed), plan.duration
    )


def render_clip_frames(
    plan: ClipPlan, size: tuple[int, int] = (320, 180), fps: int = 15
) -> Iterator[np.ndarray]:
    """The clip's frames, (h, w, 3) uint8 RGB, one at a time, identical on every call."""
    return render_frames(
        plan.style.picture,
        np.random.default_rng(plan.video_seed),
        plan.duration,
        plan.music.tempo_bpm,
        size,
        fps,
    )


def _write_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def generate_demo_video(
    genre: str,
    index: int,
    seed: int,
    out_path: Path,
    duration: float | None = None,
    size: tuple[int, int] = (320, 180),
    fps: int = 15,
) -> DemoClip:
    """Render one clip and encode it as H.264 (yuv420p) + AAC MP4 at `out_path`.

    Raises UnknownGenre, ValueError (bad size/fps/duration) or DemoGenerationError (ffmpeg).
    The file appears atomically: it is written beside out_path and renamed when complete.
    """
    w, h = size
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise ValueError(f"size must be even and at least 16x16 (yuv420p), got {size}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    plan = plan_clip(genre, index, seed, duration)
    if round(plan.duration * fps) < 1:
        raise ValueError(f"duration {plan.duration}s is shorter than one frame at {fps} fps")
    audio = render_clip_audio(plan)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.stem}.partial.mp4")

    with tempfile.TemporaryDirectory(prefix="mvsim-demo-") as tmp:
        wav = Path(tmp) / "audio.wav"
        _write_wav(wav, audio.samples, audio.sr)
        log = Path(tmp) / "ffmpeg.log"
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate",
            str(fps), "-i", "pipe:0", "-i", str(wav), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
            "-g", str(fps * 2), "-threads", "1",  # one thread: deterministic and core-friendly
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-t", f"{plan.duration:.3f}",
            "-metadata", f"title={plan.title}", "-metadata", f"artist={plan.artist}",
            "-metadata", f"genre={plan.genre}", "-metadata", "comment=mvsim demo",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-movflags", "+faststart", "-f", "mp4", str(partial),
        ]  # fmt: skip
        with open(log, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
            try:
                assert proc.stdin is not None
                # Frames are streamed one by one: a clip never sits in memory as a whole.
                for frame in render_clip_frames(plan, size, fps):
                    proc.stdin.write(frame.data)
                proc.stdin.close()
                rc = proc.wait(timeout=300)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                proc.kill()
                rc = proc.wait()
            except BaseException:  # e.g. KeyboardInterrupt: don't leave ffmpeg behind
                proc.kill()
                proc.wait()
                partial.unlink(missing_ok=True)
                raise
        if rc != 0:
            partial.unlink(missing_ok=True)
            message = log.read_text(errors="replace").strip()[-2000:]
            raise DemoGenerationError(f"ffmpeg failed ({rc}) for {out_path.name}: {message}")
    partial.replace(out_path)
    return DemoClip(
        path=out_path,
        genre=plan.genre,
        title=plan.title,
        artist=plan.artist,
        duration=plan.duration,
        tempo_bpm=plan.music.tempo_bpm,
        key=plan.music.key_name,
        mode=plan.music.mode,
        energy=audio.energy,
        danceability=audio.danceability,
    )


def generate_demo_catalog(
    out_dir: Path,
    per_genre: int,
    seed: int,
    genres: list[str] | None = None,
    duration: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    size: tuple[int, int] = (320, 180),
    fps: int = 15,
) -> list[DemoClip]:
    """Generate `per_genre` clips for each genre into out_dir/<genre-slug>-<index>.mp4.

    Genres are validated before anything is written (UnknownGenre lists the valid names).
    Clips are generated round-robin over genres, so an interrupted run is still balanced.
    `progress(done, total)` is called after each clip.
    """
    if per_genre < 0:
        raise ValueError(f"per_genre must be >= 0, got {per_genre}")
    names = [demo_genre(g) for g in (genres if genres is not None else GENRES)]
    names = list(dict.fromkeys(names))  # drop duplicates, keep order
    out_dir = Path(out_dir)
    total = per_genre * len(names)
    clips: list[DemoClip] = []
    for index in range(per_genre):
        for genre in names:
            path = out_dir / f"{genre_slug(genre)}-{index:03d}.mp4"
            clips.append(generate_demo_video(genre, index, seed, path, duration, size, fps))
            if progress is not None:
                progress(len(clips), total)
    return clips
