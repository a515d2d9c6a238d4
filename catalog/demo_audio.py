"""Procedural music for the demo catalog: drum kit, bass, chords and a lead, all in numpy.

A clip is a few one-shot samples (drums synthesised from noise + envelopes, Karplus-Strong
plucks, saw/square synths, tanh distortion) placed on a swung 16-step grid, bar by bar.
Every random choice comes from the numpy Generator handed in, so a (style, params, rng)
triple always renders the same samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

SR = 22050
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# One chord per bar: (semitones above the tonic, chord quality).
Progression = tuple[tuple[int, str], ...]

CHORDS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "9": (0, 4, 7, 10, 14),
    "m9": (0, 3, 7, 10, 14),
    "m7b5": (0, 3, 6, 10),
    "5": (0, 7, 12),  # power chord: no third, the sound of rock and metal guitars
}
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "major_pent": (0, 2, 4, 7, 9),
    "minor_pent": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}

# Pattern characters: a 16-step bar, one character per sixteenth note.
VELOCITY = {"X": 1.0, "x": 0.8, "o": 0.55, "-": 0.3}
RANDOM_HIT = "?"  # plays (softly) with this probability, so bars of one clip differ
RANDOM_HIT_PROB = 0.35

KICKS = ("kick", "kick808", "kick_metal")
BACKBEAT = ("snare", "snare_tight", "clap", "rim")


@dataclass(frozen=True)
class SoundStyle:
    """How a genre sounds: tempo, groove, harmony and which instruments play what.

    Patterns are 16 characters per bar ('.' rest, X/x/o/- velocities, '?' random ghost).
    Bass patterns use letters instead: R root, T third, F fifth, S sixth/seventh, O octave,
    W walking (chord tone, passing tone, chromatic approach to the next chord).
    """

    tempo: tuple[int, int]
    drums: tuple[tuple[str, str], ...]
    bass: str
    bass_tone: str
    comp: str
    comp_tone: str
    progressions_major: tuple[Progression, ...]
    progressions_minor: tuple[Progression, ...]
    minor_prob: float = 0.5
    swing: tuple[float, float] = (0.5, 0.5)  # where the off-beat lands in its pair (0.67=triplet)
    swing_unit: int = 8  # 8: swung eighths (jazz, blues); 16: swung sixteenths (boom-bap)
    lead: str = ""
    lead_tone: str = ""
    lead_scale: str = "pent"  # "pent" follows the mode, "blues" is always the blues scale
    drive: float = 0.0  # tanh drive on the chord instrument (guitars)
    lead_drive: float = 0.0
    fill: str = ""  # snare pattern for the last bar of every four
    crash_every: int = 0  # crash cymbal on the first beat of every N bars
    breakdown: bool = False  # drop kick and bass for two bars mid-song (dance genres)
    humanize: float = 0.0  # timing jitter in seconds (0 for quantised electronic genres)
    groove: float = 0.5  # how steady and body-moving the rhythm is, feeds danceability
    mix: tuple[float, float, float, float] = (1.0, 0.7, 0.5, 0.45)  # drums, bass, comp, lead
    headroom: float = 4.0  # master clipper threshold in multiples of the mix RMS (lower = louder)


@dataclass(frozen=True)
class MusicParams:
    """The per-clip musical choices, drawn once so picture and sound share the tempo."""

    tempo_bpm: float
    swing: float
    key: int  # pitch class of the tonic, 0 = C
    mode: str  # "major" | "minor"
    progression: Progression

    @property
    def key_name(self) -> str:
        return NOTE_NAMES[self.key]


@dataclass(frozen=True)
class RenderedAudio:
    samples: np.ndarray  # float32 mono, peak 0.9
    sr: int
    energy: float  # 0..1, from loudness, note density, tempo and distortion
    danceability: float  # 0..1, from the groove, tempo and how steady the beat is


def plan_music(sound: SoundStyle, rng: np.random.Generator) -> MusicParams:
    """Draw tempo, swing, key, mode and chord progression inside the style's ranges."""
    tempo = float(rng.integers(sound.tempo[0], sound.tempo[1] + 1))
    swing = float(round(rng.uniform(*sound.swing), 3))
    minor = rng.random() < sound.minor_prob
    choices = sound.progressions_minor if minor else sound.progressions_major
    if not choices:  # a style may only know one mode
        minor = not minor
        choices = sound.progressions_minor if minor else sound.progressions_major
    progression = choices[int(rng.integers(len(choices)))]
    return MusicParams(
        tempo_bpm=tempo,
        swing=swing,
        key=int(rng.integers(12)),
        mode="minor" if minor else "major",
        progression=progression,
    )


# --------------------------------------------------------------------------- helpers


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12)


@lru_cache(maxsize=64)
def _sos(order: int, freq: float | tuple[float, float], btype: str) -> np.ndarray:
    nyq = SR / 2
    wn = tuple(f / nyq for f in freq) if isinstance(freq, tuple) else freq / nyq
    return signal.butter(order, wn, btype=btype, output="sos")


def _filt(x: np.ndarray, freq: float | tuple[float, float], btype: str, order: int = 2):
    return signal.sosfilt(_sos(order, freq, btype), x)


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _decay(n: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * SR))


def _ar_env(n: int, attack: float = 0.005, release: float = 0.03) -> np.ndarray:
    """Attack/release gate so sustained notes start and stop without clicks."""
    env = np.ones(n)
    a, r = min(n, int(attack * SR)), min(n, int(release * SR))
    if a:
        env[:a] = np.linspace(0, 1, a, endpoint=False)
    if r:
        env[n - r :] *= np.linspace(1, 0, r)
    return env


def _norm(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x / peak).astype(np.float32) if peak > 0 else x.astype(np.float32)


def _saw(f: float, t: np.ndarray, phase: float = 0.0) -> np.ndarray:
    return 2.0 * ((f * t + phase) % 1.0) - 1.0


def _square(f: float, t: np.ndarray, phase: float = 0.0) -> np.ndarray:
    return np.where((f * t + phase) % 1.0 < 0.5, 1.0, -1.0)


def _drive(x: np.ndarray, amount: float) -> np.ndarray:
    """tanh waveshaping: amount 0 is clean, ~3 crunchy, ~9 a metal wall of fuzz."""
    if amount <= 0:
        return x
    return np.tanh(amount * x) / np.tanh(amount)


def karplus_strong(
    rng: np.random.Generator, freq: float, dur: float, bright: float = 0.5, t60: float = 1.5
) -> np.ndarray:
    """Plucked string: a noise burst recirculating through a delay line with an averaging filter.

    Vectorised one period at a time: every sample of a period only depends on the previous one.
    """
    n = max(1, int(dur * SR))
    period = max(2, int(round(SR / freq - 0.5)))  # the averaging filter adds half a sample
    exc = rng.uniform(-1.0, 1.0, period)
    if bright < 1.0:  # a darker pick: low-pass the excitation
        exc = signal.lfilter([bright], [1.0, -(1.0 - bright)], exc)
    gain = 10.0 ** (-3.0 * (period / SR) / t60)  # -60 dB after t60 seconds
    y = np.zeros(n + 1)
    y[1 : min(n, period) + 1] = exc[: min(n, period)]
    for start in range(period + 1, n + 1, period):
        stop = min(start + period, n + 1)
        length = stop - start
        y[start:stop] = (
            gain
            * 0.5
            * (
                y[start - period : start - period + length]
                + y[start - period - 1 : start - period - 1 + length]
            )
        )
    return y[1:] * _ar_env(n, 0.0005, 0.02)


# --------------------------------------------------------------------------- drum kit


def _kick(rng, tune, decay, f_hi=150.0, f_lo=50.0, tau=0.2, length=0.45, click=0.25, sat=1.0):
    t = _t(length)
    f = f_lo * tune + (f_hi - f_lo) * tune * np.exp(-t / 0.035)
    y = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / (tau * decay))
    nc = int(0.004 * SR)
    y[:nc] += click * rng.standard_normal(nc) * np.linspace(1, 0, nc)
    return np.tanh(sat * y)


def _snare(rng, tune, decay, tone=185.0, noise_tau=0.13, crack=1.0, length=0.35):
    t = _t(length)
    body = 0.6 * np.sin(2 * np.pi * tone * tune * t) * np.exp(-t / 0.06)
    noise = _filt(rng.standard_normal(t.size), (1000.0, 9000.0), "bandpass")
    return body + crack * noise * np.exp(-t / (noise_tau * decay))


def _metal_hit(rng, freqs, band, tau, length, noise=0.5):
    """808-style cymbal: six detuned square waves plus noise, band-passed, long decay."""
    t = _t(length)
    tones = sum(_square(f, t, rng.random()) for f in freqs)
    y = _filt(tones + noise * 6 * rng.standard_normal(t.size), band, "bandpass")
    return y * np.exp(-t / tau)


_CYMBAL = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)


def _clap(rng, tune, decay):
    t = _t(0.3)
    env = np.exp(-t / (0.08 * decay))
    for burst in (0.0, 0.011, 0.022):
        env += np.where(t >= burst, np.exp(-np.maximum(t - burst, 0) / 0.005), 0) * 1.5
    return _filt(rng.standard_normal(t.size), (900.0 * tune, 2600.0 * tune), "bandpass") * env


def _conga(rng, tune, decay, base):
    t = _t(0.35)
    f = base * tune * (1 + 0.08 * np.exp(-t / 0.02))
    y = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / (0.12 * decay))
    slap = _filt(rng.standard_normal(t.size), 2500.0, "highpass") * np.exp(-t / 0.006)
    return y + 0.3 * slap


DRUM_VOICES: dict[str, Callable[[np.random.Generator, float, float], np.ndarray]] = {
    "kick": lambda r, tu, de: _kick(r, tu, de),
    "kick808": lambda r, tu, de: _kick(r, tu, de, 110, 45, 0.55, 1.2, 0.1, 1.6),
    "kick_metal": lambda r, tu, de: _kick(r, tu, de, 220, 55, 0.08, 0.25, 0.9),
    "snare": lambda r, tu, de: _snare(r, tu, de),
    "snare_tight": lambda r, tu, de: _snare(r, tu, de, 230, 0.1, 1.6, 0.3),
    "rim": lambda r, tu, de: (
        np.sin(2 * np.pi * 1700 * tu * _t(0.06)) * _decay(int(0.06 * SR), 0.008)
        + 0.5
        * _filt(r.standard_normal(int(0.06 * SR)), (2000.0, 6000.0), "bandpass")
        * _decay(int(0.06 * SR), 0.006)
    ),
    "clap": _clap,
    "hat": lambda r, tu, de: (
        _filt(r.standard_normal(int(0.09 * SR)), 7000.0, "highpass", 4)
        * _decay(int(0.09 * SR), 0.022 * de)
    ),
    "ohat": lambda r, tu, de: (
        _filt(r.standard_normal(int(0.45 * SR)), 6000.0, "highpass", 4)
        * _decay(int(0.45 * SR), 0.16 * de)
    ),
    "ride": lambda r, tu, de: (
        _metal_hit(r, [f * 2 * tu for f in _CYMBAL], (2500.0, 8000.0), 0.7 * de, 1.2, 0.3)
        + 0.3 * np.sin(2 * np.pi * 2400 * tu * _t(1.2)) * _decay(int(1.2 * SR), 0.35)
    ),
    "crash": lambda r, tu, de: _metal_hit(
        r, [f * 3 * tu for f in _CYMBAL], (3500.0, 10500.0), 0.9 * de, 1.8, 1.0
    ),
    "conga_hi": lambda r, tu, de: _conga(r, tu, de, 330.0),
    "conga_lo": lambda r, tu, de: _conga(r, tu, de, 220.0),
    "cowbell": lambda r, tu, de: (
        _filt(_square(587 * tu, _t(0.3)) + _square(845 * tu, _t(0.3)), (600.0, 3000.0), "bandpass")
        * _decay(int(0.3 * SR), 0.07)
    ),
    "clave": lambda r, tu, de: (
        np.sin(2 * np.pi * 2500 * tu * _t(0.1)) * _decay(int(0.1 * SR), 0.02)
    ),
    "shaker": lambda r, tu, de: (
        _filt(r.standard_normal(int(0.12 * SR)), (5000.0, 10000.0), "bandpass")
        * _ar_env(int(0.12 * SR), 0.012, 0.09)
    ),
    "brush": lambda r, tu, de: (
        _filt(r.standard_normal(int(0.18 * SR)), (1800.0, 7000.0), "bandpass")
        * _ar_env(int(0.18 * SR), 0.02, 0.15)
    ),
}
DRUM_GAIN = {  # balance between voices of one kit
    "kick": 1.0, "kick808": 1.0, "kick_metal": 0.85, "snare": 0.8, "snare_tight": 0.85,
    "rim": 0.45, "clap": 0.7, "hat": 0.3, "ohat": 0.3, "ride": 0.25, "crash": 0.45,
    "conga_hi": 0.5, "conga_lo": 0.55, "cowbell": 0.3, "clave": 0.4, "shaker": 0.2,
    "brush": 0.35,
}  # fmt: skip


def _build_kit(voices: set[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One kit per clip, tuned and damped a little differently each time."""
    kit = {}
    for name in sorted(voices):  # sorted: the rng draw order must not depend on set order
        tune, decay = rng.uniform(0.92, 1.08), rng.uniform(0.85, 1.15)
        kit[name] = _norm(DRUM_VOICES[name](rng, tune, decay)) * DRUM_GAIN[name]
    return kit


# --------------------------------------------------------------------------- pitched voices


def _bass_note(tone: str, rng, midi: int, dur: float) -> np.ndarray:
    f = midi_hz(midi)
    t = _t(dur + 0.03)
    if tone == "sub":  # 808 boom: sine that glides down onto the note, saturated
        ff = f * (1 + 0.2 * np.exp(-t / 0.03))
        y = np.tanh(1.8 * np.sin(2 * np.pi * np.cumsum(ff) / SR) * np.exp(-t / max(0.3, dur)))
    elif tone == "synth":
        y = _filt(_saw(f, t) + _saw(f * 1.005, t, 0.3), 450.0, "lowpass") * (
            0.35 + 0.65 * np.exp(-t / 0.12)
        )
    elif tone == "upright":
        y = karplus_strong(rng, f, t.size / SR, bright=0.2, t60=1.0)
    elif tone == "pick":
        y = _filt(_drive(_saw(f, t) * 0.7, 2.0), 1400.0, "lowpass") * np.exp(-t / 0.6)
    else:  # "electric": round sine with a little filtered edge
        y = (np.sin(2 * np.pi * f * t) + 0.35 * _filt(_saw(f, t), 700.0, "lowpass")) * np.exp(
            -t / 0.5
        )
    return y * _ar_env(t.size, 0.003, 0.03)


def _chord_note(tone: str, rng, midi: int, dur: float) -> np.ndarray:
    f = midi_hz(midi)
    t = _t(dur + 0.05)
    if tone == "pad":  # two detuned saws, slow attack, sustained
        y = _filt(_saw(f * 0.996, t) + _saw(f * 1.004, t, 0.5), 2400.0, "lowpass")
        return y * _ar_env(t.size, 0.08, 0.15)
    if tone == "stab":
        y = _filt(_saw(f, t) + 0.5 * _square(f * 2, t), 3200.0, "lowpass")
        return y * np.exp(-t / 0.14) * _ar_env(t.size, 0.002, 0.03)
    if tone == "skank":  # reggae chop: short bright pluck plus organ, high-passed
        y = karplus_strong(rng, f, t.size / SR, bright=0.7, t60=0.25)
        y += 0.4 * sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3))
        return _filt(y, 300.0, "highpass") * np.exp(-t / 0.09)
    if tone == "strum":  # twangy acoustic guitar
        return karplus_strong(rng, f, t.size / SR, bright=0.85, t60=1.4)
    if tone == "piano":  # harmonics decaying faster the higher they are, slightly stretched
        k = np.arange(1, 9)[:, None]
        partials = np.sin(2 * np.pi * f * k * np.sqrt(1 + 0.0004 * k**2) * t) / k**1.3
        y = (partials * np.exp(-t * (1.2 + 0.8 * k))).sum(axis=0)
        return y * _ar_env(t.size, 0.002, 0.05)
    if tone == "rhodes":  # sine plus a bell partial with tremolo
        y = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * f * 7.01 * t) * np.exp(-t / 0.08)
        return y * (1 + 0.25 * np.sin(2 * np.pi * 4.5 * t)) * np.exp(-t / 1.5) * _ar_env(t.size)
    if tone == "organ":
        y = sum(w * np.sin(2 * np.pi * f * k * t) for k, w in ((1, 1.0), (2, 0.6), (3, 0.4)))
        return y * _ar_env(t.size, 0.01, 0.06)
    # "power": detuned saws into tanh distortion, cabinet low-pass; short hits sound palm-muted
    y = _saw(f * 0.997, t) + _saw(f * 1.003, t, 0.4)
    return y * np.exp(-t / max(0.08, 2 * dur)) * _ar_env(t.size, 0.002, 0.02)


def _lead_note(tone: str, rng, midi: int, dur: float, drive: float) -> np.ndarray:
    f = midi_hz(midi)
    t = _t(dur + 0.05)
    if tone == "square":  # pop synth lead with delayed vibrato
        vib = 1 + 0.008 * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - 0.15) * 4, 0, 1)
        y = _filt(np.where((np.cumsum(f * vib) / SR) % 1 < 0.5, 1.0, -1.0), 4000.0, "lowpass")
        return y * _ar_env(t.size, 0.01, 0.05)
    if tone == "vibes":
        y = np.sin(2 * np.pi * f * t) + 0.25 * np.sin(2 * np.pi * f * 4 * t) * np.exp(-t / 0.1)
        return y * (1 + 0.3 * np.sin(2 * np.pi * 5 * t)) * np.exp(-t / 0.8) * _ar_env(t.size)
    bright = 0.95 if tone == "twang" else 0.6
    y = karplus_strong(rng, f, t.size / SR, bright=bright, t60=1.2)
    return _filt(_drive(_norm(y), drive), 5000.0, "lowpass") if drive else y


class _Voices:
    """Caches rendered notes per clip: a song repeats the same few notes and chords."""

    def __init__(self, sound: SoundStyle, rng: np.random.Generator):
        self.sound, self.rng, self.cache = sound, rng, {}

    def get(self, part: str, notes: tuple[int, ...], dur: float) -> np.ndarray:
        dur = round(max(0.05, dur), 2)
        key = (part, notes, dur)
        if key not in self.cache:
            s = self.sound
            if part == "bass":
                y = _bass_note(s.bass_tone, self.rng, notes[0], dur)
            elif part == "lead":
                y = _lead_note(s.lead_tone, self.rng, notes[0], dur, s.lead_drive)
            else:
                parts = []
                for i, m in enumerate(notes):
                    note = _chord_note(s.comp_tone, self.rng, m, dur)
                    if s.comp_tone == "strum":  # a strum rolls across the strings
                        note = np.concatenate([np.zeros(int(0.012 * SR) * i), note])
                    parts.append(note)
                size = max(p.size for p in parts)
                y = sum(np.pad(p, (0, size - p.size)) for p in parts)
                if s.comp_tone == "power":
                    # Like a real rig: tighten the lows before the fuzz, then a cabinet band.
                    y = _drive(_norm(_filt(y, 250.0, "highpass")), s.drive)
                    y = _filt(y, (110.0, 7000.0), "bandpass")
                    y = y + 1.0 * _filt(y, 2000.0, "highpass")  # presence
            self.cache[key] = _norm(y)
        return self.cache[key]


# --------------------------------------------------------------------------- sequencing


def _step_offsets(beat: float, swing: float, unit: int) -> np.ndarray:
    """Start time of each of the 16 steps of a bar, with the off-beats pushed late by swing."""
    steps = np.arange(16)
    if unit == 16:
        pos = (steps // 2) * 0.5 + (steps % 2) * swing * 0.5
    else:
        within = np.array([0.0, swing / 2, swing, swing + (1 - swing) / 2])
        pos = steps // 4 + within[steps % 4]
    return pos * beat


def _hits(pattern: str, rng: np.random.Generator) -> list[tuple[int, float]]:
    out = []
    for step, ch in enumerate(pattern[:16]):
        if ch == RANDOM_HIT:
            if rng.random() < RANDOM_HIT_PROB:
                out.append((step, 0.45))
        elif ch in VELOCITY:
            out.append((step, VELOCITY[ch]))
    return out


def _place(buf: np.ndarray, sample: np.ndarray, at: float, gain: float) -> None:
    start = max(0, int(round(at * SR)))
    end = min(buf.size, start + sample.size)
    if end > start:
        buf[start:end] += gain * sample[: end - start]


def _fold(midi: int, lo: int, hi: int) -> int:
    while midi < lo:
        midi += 12
    while midi > hi:
        midi -= 12
    return midi


def _bass_pitch(letter: str, root: int, quality: str, mode: str) -> int:
    shape = CHORDS[quality]
    third = shape[1] if quality != "5" else (3 if mode == "minor" else 4)
    minorish = third == 3
    offset = {"R": 0, "T": third, "F": 7, "S": 10 if minorish else 9, "O": 12}[letter]
    return root + offset


def render_audio(
    sound: SoundStyle, music: MusicParams, rng: np.random.Generator, duration: float
) -> RenderedAudio:
    """Render `duration` seconds of the style at 22050 Hz mono, peak-normalised to 0.9."""
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    beat = 60.0 / music.tempo_bpm
    bar = 4 * beat
    n = int(round(duration * SR))
    n_bars = int(math.ceil(duration / bar))
    offsets = _step_offsets(beat, music.swing, sound.swing_unit)
    voices_used = {v for v, _ in sound.drums} | ({"crash"} if sound.crash_every else set())
    kit = _build_kit(voices_used, rng)
    voices = _Voices(sound, rng)
    parts = {p: np.zeros(n + 2 * SR) for p in ("drums", "bass", "comp", "lead")}
    prog = music.progression
    lead_scale = (
        SCALES["blues"]
        if sound.lead_scale == "blues"
        else SCALES["minor_pent" if music.mode == "minor" else "major_pent"]
    )
    lead_pool = [60 + music.key + 12 * o + s for o in (0, 1) for s in lead_scale]
    lead_idx = len(lead_pool) // 2
    breakdown = set()
    if sound.breakdown and n_bars >= 12:
        start = 4 * int(rng.integers(1, max(2, n_bars // 4 - 1)))
        breakdown = {start, start + 1}
    events = 0

    def jitter() -> float:
        return float(rng.normal(0, sound.humanize)) if sound.humanize else 0.0

    def timed(hits: list[tuple[int, float]], t0: float) -> list[tuple[float, float, float]]:
        """(time, velocity, duration until the next hit or the bar's end)."""
        times = [t0 + offsets[s] for s, _ in hits]
        ends = times[1:] + [t0 + bar]
        return [(t, v, e - t) for (t, (_, v), e) in zip(times, hits, ends, strict=True)]

    for b in range(n_bars):
        t0 = b * bar
        off, quality = prog[b % len(prog)]
        next_off = prog[(b + 1) % len(prog)][0]
        chord_pc = (music.key + off) % 12
        dropped = b in breakdown

        # Drums
        for voice, pattern in sound.drums:
            if dropped and voice in KICKS + BACKBEAT:
                continue
            if sound.fill and b % 4 == 3 and voice in ("snare", "snare_tight"):
                pattern = sound.fill
            for step, vel in _hits(pattern, rng):
                vel *= rng.uniform(0.9, 1.0)
                _place(parts["drums"], kit[voice], t0 + offsets[step] + jitter(), vel)
                events += 1
        if sound.crash_every and b % sound.crash_every == 0 and not dropped:
            _place(parts["drums"], kit["crash"], t0, 0.9)

        # Bass
        if not dropped:
            root = _fold(33 + chord_pc - 9, 33, 44)  # A1..G#2
            hits = [(s, VELOCITY["x"]) for s, ch in enumerate(sound.bass[:16]) if ch != "."]
            walks = [s for s, ch in enumerate(sound.bass[:16]) if ch == "W"]
            for (t, vel, dur), (step, _) in zip(timed(hits, t0), hits, strict=True):
                letter = sound.bass[step]
                if letter == "W":  # walking: root, chord tones, then approach the next root
                    if step == walks[0]:
                        pitch = root
                    elif step == walks[-1]:
                        target = _fold(33 + (music.key + next_off - 9) % 12, 33, 44)
                        pitch = target + (1 if rng.random() < 0.5 else -1)
                    else:
                        pitch = root + int(rng.choice([CHORDS[quality][1], 7, 5, 9, 12]))
                else:
                    pitch = _bass_pitch(letter, root, quality, music.mode)
                _place(parts["bass"], voices.get("bass", (pitch,), dur * 0.9), t + jitter(), vel)
                events += 1

        # Chords
        if sound.comp_tone == "power":
            chord = tuple(_fold(40 + chord_pc - 4, 40, 51) + i for i in CHORDS["5"])
        else:
            chord = tuple(_fold(50 + chord_pc - 2, 50, 61) + i for i in CHORDS[quality])
        for t, vel, dur in timed(_hits(sound.comp, rng), t0):
            _place(parts["comp"], voices.get("comp", chord, dur * 0.95), t + jitter(), vel)
            events += 1

        # Lead: a random walk on the scale that lands on a chord tone at each bar start
        if sound.lead and (b >= 2 or n_bars <= 4) and not dropped and rng.random() < 0.8:
            chord_pcs = {(chord_pc + i) % 12 for i in CHORDS[quality]}
            for i, (t, vel, dur) in enumerate(timed(_hits(sound.lead, rng), t0)):
                lead_idx = int(np.clip(lead_idx + rng.integers(-2, 3), 0, len(lead_pool) - 1))
                if i == 0:
                    tones = [j for j, m in enumerate(lead_pool) if m % 12 in chord_pcs]
                    if tones:
                        lead_idx = min(tones, key=lambda j: abs(j - lead_idx))
                note = (lead_pool[lead_idx],)
                _place(
                    parts["lead"], voices.get("lead", note, min(dur, beat) * 0.9), t + jitter(), vel
                )
                events += 1

    # Mix: each part at unit RMS, then the style's balance, so synth levels don't matter.
    mix = np.zeros(n)
    for gain, name in zip(sound.mix, ("drums", "bass", "comp", "lead"), strict=True):
        part = parts[name][:n]
        rms = float(np.sqrt(np.mean(part**2)))
        if rms > 1e-9:
            mix += gain * part / rms
    # Master "limiter": soft-clip peaks above headroom x RMS, so hits don't dwarf sustained
    # parts after normalisation; modern dance/rock productions are mastered louder.
    rms = float(np.sqrt(np.mean(mix**2)))
    if rms > 0:
        mix = np.tanh(mix / (sound.headroom * rms))
    mix *= _ar_env(n, 0.01, min(0.3, duration / 4))
    peak = float(np.max(np.abs(mix)))
    y = (mix * (0.9 / peak) if peak > 0 else mix).astype(np.float32)

    energy, dance = _describe(y, sound, music, events / duration)
    return RenderedAudio(samples=y, sr=SR, energy=energy, danceability=dance)


def _describe(
    y: np.ndarray, sound: SoundStyle, music: MusicParams, density: float
) -> tuple[float, float]:
    """Energy and danceability of what was actually synthesised (Spotify-like 0..1 scales)."""
    rms_db = 20 * math.log10(float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) + 1e-9)

    def unit(x: float) -> float:
        return float(np.clip(x, 0.0, 1.0))

    energy = unit(
        0.08
        + 0.35 * unit((rms_db + 16) / 8)  # at peak 0.9, dense and limited mixes have more RMS
        + 0.2 * unit(density / 35)  # notes and hits per second
        + 0.15 * unit((music.tempo_bpm - 60) / 120)
        + 0.2 * unit(sound.drive / 9)  # distortion
    )
    # How many quarter notes carry a kick or backbeat hit: steady pulses are danceable.
    on_beat = {
        s
        for v, p in sound.drums
        if v in KICKS + BACKBEAT
        for s in range(0, 16, 4)
        if s < len(p) and p[s] in VELOCITY
    }
    tempo_fit = math.exp(-(((music.tempo_bpm - 118) / 35) ** 2))
    dance = unit(0.5 * sound.groove + 0.3 * tempo_fit + 0.2 * len(on_beat) / 4)
    return round(energy, 3), round(dance, 3)
