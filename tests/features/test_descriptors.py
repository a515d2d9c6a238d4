"""Our own track descriptors (tempo, loudness, energy, danceability) on generated and real audio."""

from __future__ import annotations

import math
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from features.descriptors import AudioDescriptors, describe_audio, energy_from, loudness_db
from features.media import MediaError
from tests.mediagen import make_video

RATE = 22050
SECONDS = 20.0
REAL = Path("/work/shared/data/real-audio")


def write_wav(path: Path, signal: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(signal, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return path


def _hit(kind: str) -> np.ndarray:
    t = np.arange(int(0.05 * RATE)) / RATE
    if kind == "kick":  # pitch drops from 160 Hz to 60 Hz, fast decay
        return np.sin(2 * np.pi * (60 + 100 * np.exp(-t * 40)) * t) * np.exp(-t * 50)
    return np.sin(2 * np.pi * 3000 * t) * np.exp(-t * 200)  # "click" / hi-hat


def beat_track(
    bpm: float, *, gain: float = 0.5, tone: float = 0.1, offbeat_hats: bool = False
) -> np.ndarray:
    """Kick + click on every beat over a 440 Hz tone (optionally hi-hats between the beats)."""
    t = np.arange(int(SECONDS * RATE)) / RATE
    signal = tone * np.sin(2 * np.pi * 440 * t)
    hit = _hit("kick") + 0.3 * _hit("click")
    hat = 0.4 * _hit("click")
    period = 60.0 / bpm
    for beat in np.arange(0.0, SECONDS, period):
        for start, sound in [(beat, hit), *([(beat + period / 2, hat)] if offbeat_hats else [])]:
            i = int(round(start * RATE))
            n = min(sound.size, signal.size - i)
            if n > 0:
                signal[i : i + n] += gain * sound[:n]
    return signal


@pytest.fixture(scope="module")
def describe(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., AudioDescriptors]:
    """describe(name, signal) -> descriptors of the signal written as a 22.05 kHz WAV."""
    root = tmp_path_factory.mktemp("descriptors")

    def run(name: str, signal: np.ndarray) -> AudioDescriptors:
        result = describe_audio(write_wav(root / f"{name}.wav", signal))
        assert result is not None
        for value in (result.loudness, result.energy, result.danceability):
            assert math.isfinite(value)
        return result

    return run


@pytest.mark.parametrize("bpm", [90, 128])
def test_tempo_of_a_beat_track(describe, bpm: int) -> None:
    result = describe(f"beats{bpm}", beat_track(bpm))
    assert result.tempo is not None and abs(result.tempo - bpm) <= 1.5, result
    assert result.tempo_confidence > 0.7
    assert result.seconds == pytest.approx(SECONDS, abs=0.01)


def test_offbeat_hihats_do_not_double_the_tempo(describe) -> None:
    result = describe("hats128", beat_track(128, offbeat_hats=True))
    assert result.tempo is not None and abs(result.tempo - 128) <= 1.5, result


def test_louder_file_has_higher_loudness_and_energy(describe) -> None:
    quiet = describe("quiet", beat_track(120, gain=0.05, tone=0.01))
    loud = describe("loud", beat_track(120, gain=0.5, tone=0.1))
    assert loud.loudness - quiet.loudness == pytest.approx(20.0, abs=0.5)  # 10x amplitude
    assert loud.energy > quiet.energy + 0.1
    assert loud.tempo == quiet.tempo  # the tempo does not depend on the level


def test_silence(describe) -> None:
    result = describe("silence", np.zeros(int(SECONDS * RATE)))
    assert result.loudness == -60.0
    assert result.energy == 0.0
    assert result.tempo is None and result.tempo_confidence == 0.0
    assert result.danceability == 0.0
    assert "tempo" not in result.metadata_values()


def test_steady_tone_has_no_beat(describe) -> None:
    # Numerical ripple of a steady spectrum must not be standardised into a fake pulse.
    t = np.arange(int(SECONDS * RATE)) / RATE
    result = describe("tone", 0.5 * np.sin(2 * np.pi * 440 * t))
    assert result.tempo is None and result.danceability == 0.0
    assert result.loudness == pytest.approx(-9.03, abs=0.1)  # RMS of a 0.5 sine


def test_steady_beat_is_more_danceable_than_white_noise(describe) -> None:
    noise = np.random.default_rng(7).standard_normal(int(SECONDS * RATE)) * 0.2
    beats = describe("dance", beat_track(124))
    hiss = describe("noise", noise)
    assert beats.danceability > 0.8
    assert hiss.danceability < 0.3
    assert hiss.energy > beats.energy  # loud, bright, busy: white noise is "energetic"


def test_short_audio_has_no_tempo(describe) -> None:
    result = describe("short", beat_track(120)[: 2 * RATE])
    assert result.tempo is None and result.seconds == pytest.approx(2.0, abs=0.01)


def test_max_seconds_and_determinism(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "beats.wav", beat_track(100))
    first = describe_audio(path, max_seconds=8)
    assert first is not None and first.seconds == pytest.approx(8.0, abs=0.01)
    assert describe_audio(path, max_seconds=8) == first


def test_video_without_audio_gives_none(tmp_path: Path) -> None:
    assert describe_audio(make_video(tmp_path / "mute.mp4", 2, tone_hz=None)) is None


def test_aac_in_mp4_is_decoded(tmp_path: Path) -> None:
    # ffmpeg's sine source has amplitude 1/8: RMS -21.1 dBFS, and no beat.
    result = describe_audio(make_video(tmp_path / "tone.mp4", 4))
    assert result is not None and result.tempo is None
    assert result.loudness == pytest.approx(-21.1, abs=0.5)


def test_unreadable_file_raises_media_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(MediaError):
        describe_audio(bad)


def test_formulas() -> None:
    assert loudness_db(0.0, 100) == -60.0
    assert loudness_db(100.0, 100) == 0.0  # full-scale square wave
    assert loudness_db(1e-12, 100) == -60.0  # clipped to the floor
    assert energy_from(-60.0, 1.0, 10.0) == 0.0
    assert energy_from(-20.0, 0.0, 0.0) == pytest.approx(0.2)  # level 0.5, no activity
    assert energy_from(-20.0, 0.6, 8.0) == pytest.approx(0.5)  # activity saturates at 1
    assert energy_from(-8.0, 0.3, 4.0) > 0.9


# --- real music --------------------------------------------------------------------------


def _clips(genre: str) -> list[Path]:
    return sorted((REAL / genre).glob("*.wav"))[:4]


@pytest.fixture(scope="module")
def real() -> dict[str, list[AudioDescriptors]]:
    if not REAL.is_dir():
        pytest.skip(f"real audio clips not available in {REAL}")
    found: dict[str, list[AudioDescriptors]] = {}
    for genre in ("techno", "metal", "classical"):
        clips = _clips(genre)
        assert len(clips) == 4, genre
        found[genre] = [d for d in map(describe_audio, clips) if d is not None]
        assert len(found[genre]) == 4
    return found


def test_techno_tempo_is_in_house_range(real) -> None:
    tempos = [d.tempo for d in real["techno"]]
    assert sum(t is not None and 100 <= t <= 150 for t in tempos) >= 3, tempos


def test_metal_has_more_energy_than_classical(real) -> None:
    metal = np.mean([d.energy for d in real["metal"]])
    classical = np.mean([d.energy for d in real["classical"]])
    assert metal > classical + 0.15, (metal, classical)


def test_techno_is_more_danceable_than_classical(real) -> None:
    techno = np.mean([d.danceability for d in real["techno"]])
    classical = np.mean([d.danceability for d in real["classical"]])
    assert techno > classical + 0.2, (techno, classical)
