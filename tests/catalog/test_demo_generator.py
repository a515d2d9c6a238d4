"""The procedural demo catalog: deterministic, playable, and genres that differ like genres do.

Genre differences are measured on what was rendered (onset autocorrelation tempo, spectrum,
frame colour, cut detection), not read back from the style tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from catalog.demo import (
    GENRE_STYLES,
    GENRES,
    DemoClip,
    DemoGenerationError,
    demo_genre,
    generate_demo_catalog,
    generate_demo_video,
    plan_clip,
    render_clip_audio,
    render_clip_frames,
)
from catalog.demo_audio import SR
from catalog.genres import UnknownGenre
from tests.mediagen import FFMPEG

SMALL = (64, 36)


# --------------------------------------------------------------------------- measurements


def _stft_mag(y: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    n = 1 + (len(y) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return np.abs(np.fft.rfft(y[idx] * np.hanning(n_fft), axis=1))


def estimate_tempo(y: np.ndarray, sr: int = SR, lo: float = 55, hi: float = 200) -> float:
    """Spectral-flux onset envelope, autocorrelated; a log-normal prior around 110 BPM."""
    hop = 256
    flux = np.maximum(np.diff(np.log1p(100 * _stft_mag(y, hop=hop)), axis=0), 0).sum(axis=1)
    flux -= flux.mean()
    ac = np.correlate(flux, flux, "full")[len(flux) - 1 :]
    lags = np.arange(1, len(ac))
    bpm = 60 * sr / hop / lags
    score = ac[1:] * np.exp(-0.5 * np.log2(bpm / 110) ** 2)
    score[(bpm < lo) | (bpm > hi)] = -np.inf
    return float(bpm[np.argmax(score)])


def spectral_flatness(y: np.ndarray) -> float:
    p = _stft_mag(y) ** 2 + 1e-12
    return float(np.mean(np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)))


def high_band_ratio(y: np.ndarray, cutoff: float = 2000.0) -> float:
    spec = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    return float(spec[np.fft.rfftfreq(len(y), 1 / SR) > cutoff].sum() / spec.sum())


def gradient_direction(frame: np.ndarray) -> float:
    """Direction of the background's light gradient; medians ignore shapes and texture."""
    g = frame.mean(axis=2)
    h, w = g.shape
    dx = np.median(g[:, w // 2 :]) - np.median(g[:, : w // 2])
    dy = np.median(g[h // 2 :]) - np.median(g[: h // 2])
    return math.atan2(dy, dx)


def count_cuts(frames) -> int:
    cuts, prev = 0, None
    for frame in frames:
        a = gradient_direction(frame)
        if prev is not None and abs((a - prev + math.pi) % (2 * math.pi) - math.pi) > 1.0:
            cuts += 1
        prev = a
    return cuts


def mean_rgb(genre: str, index: int = 0, seed: int = 1, duration: float = 6) -> np.ndarray:
    frames = list(render_clip_frames(plan_clip(genre, index, seed, duration), SMALL, 5))
    return np.mean([f.reshape(-1, 3).mean(axis=0) for f in frames], axis=0)


def audio(genre: str, index: int, seed: int = 3, duration: float = 8) -> np.ndarray:
    return render_clip_audio(plan_clip(genre, index, seed, duration)).samples


# --------------------------------------------------------------------------- API & styles


def test_unknown_genre_lists_valid_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownGenre) as err:
        plan_clip("Polka", 0, 1)
    assert "Polka" in str(err.value) and "Hip Hop" in str(err.value) and "Reggae" in str(err.value)
    # The whole list is validated before anything is written.
    with pytest.raises(UnknownGenre):
        generate_demo_catalog(tmp_path, per_genre=1, seed=1, genres=["Rock", "Polka"])
    assert list(tmp_path.iterdir()) == []
    assert demo_genre("hip-hop") == "Hip Hop" and demo_genre("METAL") == "Metal"
    assert demo_genre("hip_hop") == demo_genre("hiphop") == "Hip Hop"


def test_ten_genres_with_characteristic_tempo_ranges() -> None:
    # The demo covers exactly the product genres (one list, in settings).
    assert set(GENRES) == set(settings.GENRES) and len(GENRES) == 10
    tempo = {g: s.sound.tempo for g, s in GENRE_STYLES.items()}
    assert tempo["House"] == (120, 128) and tempo["Reggae"][1] <= 85 and tempo["Metal"][0] >= 140
    with pytest.raises(dataclasses.FrozenInstanceError):
        GENRE_STYLES["Pop"].name = "Polka"  # type: ignore[misc]
    for genre in GENRES:  # per-clip draws stay inside the style
        lo, hi = tempo[genre]
        plans = [plan_clip(genre, i, 9) for i in range(8)]
        assert all(lo <= p.music.tempo_bpm <= hi for p in plans)
        assert all(30 <= p.duration <= 60 for p in plans)
        assert len({p.title for p in plans}) == 8  # no duplicate titles within a genre
        assert len({(p.music.tempo_bpm, p.music.key, p.music.mode) for p in plans}) > 1


# --------------------------------------------------------------------------- determinism


def test_audio_is_deterministic_and_normalised() -> None:
    a = render_clip_audio(plan_clip("Jazz", 3, 42, duration=6))
    b = render_clip_audio(plan_clip("Jazz", 3, 42, duration=6))
    other = render_clip_audio(plan_clip("Jazz", 4, 42, duration=6))
    assert a.samples.dtype == np.float32 and a.samples.shape == (6 * SR,)
    assert np.array_equal(a.samples, b.samples) and (a.energy, a.danceability) == (
        b.energy,
        b.danceability,
    )
    assert not np.array_equal(a.samples, other.samples)
    assert np.isfinite(a.samples).all()
    assert np.max(np.abs(a.samples)) == pytest.approx(0.9, abs=1e-3)
    assert np.sqrt(np.mean(a.samples**2)) > 0.03  # music, not near-silence
    assert 0 <= a.energy <= 1 and 0 <= a.danceability <= 1


def test_frames_are_deterministic() -> None:
    def pick(index: int) -> list[np.ndarray]:
        frames = list(render_clip_frames(plan_clip("House", index, 42, duration=4), SMALL, 10))
        assert len(frames) == 40
        return [frames[0], frames[20]]

    first, again, other = pick(0), pick(0), pick(1)
    assert first[0].shape == (36, 64, 3) and first[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])
    assert not np.array_equal(first[0], first[1])  # it moves


# --------------------------------------------------------------------------- the file


def _probe(path: Path) -> str:
    # No ffprobe: `ffmpeg -i` prints the stream table to stderr (and exits 1: no output).
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=60
    ).stderr


def _decode_errors(path: Path) -> str:
    run = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run.stderr.strip() if run.returncode == 0 else f"rc={run.returncode} {run.stderr}"


def _duration(info: str) -> float:
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_generated_file_is_playable_and_reproducible(tmp_path: Path) -> None:
    clip = generate_demo_video(
        "Reggae", 2, 7, tmp_path / "sub" / "a.mp4", duration=3, size=(96, 54), fps=10
    )
    assert isinstance(clip, DemoClip) and clip.path.exists()
    assert (clip.genre, clip.duration) == ("Reggae", 3.0) and clip.title and clip.artist
    assert 70 <= clip.tempo_bpm <= 85 and clip.mode in ("major", "minor")
    assert 0 <= clip.energy <= 1 and 0 <= clip.danceability <= 1
    assert _decode_errors(clip.path) == ""
    info = _probe(clip.path)
    assert re.search(r"Video: h264 .*yuv420p.*96x54", info), info
    assert "Audio: aac" in info and clip.title in info
    assert abs(_duration(info) - 3.0) <= 0.2
    assert not list(clip.path.parent.glob(".*partial*"))  # written atomically
    again = generate_demo_video(
        "Reggae", 2, 7, tmp_path / "b.mp4", duration=3, size=(96, 54), fps=10
    )
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (clip.path, again.path)]
    assert digest[0] == digest[1]


def test_bad_geometry_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        generate_demo_video("Pop", 0, 1, tmp_path / "x.mp4", duration=1, size=(95, 54))
    with pytest.raises(ValueError, match="duration"):
        plan_clip("Pop", 0, 1, duration=0)


def test_encoder_failure_is_reported_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("catalog.demo.imageio_ffmpeg.get_ffmpeg_exe", lambda: "false")
    with pytest.raises(DemoGenerationError, match="ffmpeg failed"):
        generate_demo_video("Pop", 0, 1, tmp_path / "x.mp4", duration=1, size=(32, 18), fps=5)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- genres differ


def test_estimated_tempo_house_faster_than_reggae() -> None:
    house = [estimate_tempo(audio("House", i)) for i in range(2)]
    reggae = [estimate_tempo(audio("Reggae", i)) for i in range(2)]
    assert min(house) > max(reggae) + 20, (house, reggae)
    # ...and the estimate matches what the metadata will claim.
    for i, bpm in enumerate(house):
        assert bpm == pytest.approx(plan_clip("House", i, 3).music.tempo_bpm, rel=0.04)


def test_metal_is_brighter_and_noisier_than_jazz() -> None:
    metal = [audio("Metal", i, duration=5) for i in range(2)]
    jazz = [audio("Jazz", i, duration=5) for i in range(2)]
    assert min(map(high_band_ratio, metal)) > max(map(high_band_ratio, jazz))
    assert np.mean([high_band_ratio(y) for y in metal]) > 1.3 * np.mean(
        [high_band_ratio(y) for y in jazz]
    )
    assert min(map(spectral_flatness, metal)) > max(map(spectral_flatness, jazz))
    m = render_clip_audio(plan_clip("Metal", 0, 3, 5))
    j = render_clip_audio(plan_clip("Jazz", 0, 3, 5))
    h = render_clip_audio(plan_clip("House", 0, 3, 5))
    assert m.energy > j.energy + 0.15 and h.danceability > m.danceability + 0.3


def test_palettes_differ_by_genre() -> None:
    rgb = {g: mean_rgb(g) for g in ("Metal", "Pop", "Reggae", "Blues", "Country", "House")}
    bright = {g: float(c.mean()) for g, c in rgb.items()}
    assert bright["Metal"] < 0.5 * bright["Pop"]
    assert rgb["Metal"][0] > rgb["Metal"][2]  # dark red
    r, g, b = rgb["Reggae"]
    assert g > r and g > b  # green
    assert rgb["Blues"][2] > rgb["Blues"][0]  # blue
    assert rgb["Country"][0] > rgb["Country"][2]  # warm
    assert rgb["House"][2] > rgb["House"][0] and rgb["House"][1] > rgb["House"][0]  # cyan


def test_cut_rate_pop_and_house_above_blues() -> None:
    def cuts(genre: str, index: int) -> int:
        return count_cuts(render_clip_frames(plan_clip(genre, index, 5, 20), SMALL, 10))

    blues = max(cuts("Blues", i) for i in range(2))
    assert blues <= 3
    assert min(cuts("Pop", i) for i in range(2)) >= blues + 6
    assert min(cuts("House", i) for i in range(2)) >= blues + 5


# --------------------------------------------------------------------------- whole catalog


def _decoded_features(path: Path) -> np.ndarray:
    video = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-i",
            str(path),
            "-vf",
            "scale=32:18",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    pcm = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-i",
            str(path),
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SR),
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    frames = np.frombuffer(video, np.uint8).reshape(-1, 18 * 32, 3).astype(np.float64)
    y = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    colour = frames.mean(axis=(0, 1))
    return np.array([*colour, colour.mean(), estimate_tempo(y)])


@pytest.mark.slow
def test_catalog_of_twenty_clips_separates_genres(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    clips = generate_demo_catalog(
        tmp_path,
        per_genre=2,
        seed=2024,
        duration=6,
        size=(96, 54),
        fps=10,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert len(clips) == 20 and calls[-1] == (20, 20) and len(calls) == 20
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == sorted(c.path.name for c in clips)
    assert {c.genre for c in clips} == set(GENRES)
    assert "hip-hop-001.mp4" in {c.path.name for c in clips}
    for clip in clips:
        assert _decode_errors(clip.path) == "", clip.path

    # Leave-one-out nearest centroid on [mean RGB, brightness, rough tempo] of decoded files.
    x = np.array([_decoded_features(c.path) for c in clips])
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    labels = [c.genre for c in clips]
    correct = 0
    for i, label in enumerate(labels):
        centroids = {
            g: x[[j for j, lj in enumerate(labels) if lj == g and j != i]].mean(axis=0)
            for g in GENRES
        }
        guess = min(centroids, key=lambda g: np.linalg.norm(x[i] - centroids[g]))
        correct += guess == label
    assert correct / len(clips) >= 0.6, f"{correct}/20 (chance is 2/20)"
