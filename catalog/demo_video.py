"""Procedural pictures for the demo catalog: scenes of gradients, textures and moving shapes.

Each scene's background is drawn once; per frame we only copy it, slide a texture layer,
draw a few shapes with OpenCV and pulse the brightness on the beat, so a 45 s clip at
320x180 costs well under a second. Frames come out one at a time (a generator).
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

TEXTURES = ("smooth", "grain", "noise", "stripes", "dots")
SHAPES = ("circle", "ring", "rect", "bar")


@dataclass(frozen=True)
class PictureStyle:
    """How a genre looks. Hues are in degrees, saturation/brightness in 0..1 (HSV)."""

    hue: tuple[float, float]
    accent_hue: tuple[float, float]  # colour of the moving shapes and texture highlights
    saturation: tuple[float, float]
    brightness: tuple[float, float]
    motion: float  # shape speed in frame widths per second
    cuts_per_min: float  # scene changes per minute
    texture: str = "smooth"
    texture_strength: float = 0.3
    shape: str = "circle"
    shape_count: tuple[int, int] = (2, 4)
    beat_pulse: float = 0.0  # brightness flash on every beat (strobes for dance genres)
    vignette: float = 0.0

    def __post_init__(self) -> None:
        if self.texture not in TEXTURES:
            raise ValueError(f"texture must be one of {TEXTURES}, got {self.texture!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        for name in ("hue", "accent_hue", "saturation", "brightness", "shape_count"):
            lo, hi = getattr(self, name)
            if lo > hi:  # hues may go below 0 to wrap around red: (-5, 12)
                raise ValueError(f"{name} range must be (low, high), got {(lo, hi)}")


def hsv_rgb(hue_deg: float, sat: float, val: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb((hue_deg % 360) / 360, min(max(sat, 0), 1), min(max(val, 0), 1))
    return np.array([r, g, b]) * 255.0


@dataclass
class _Shape:
    x: float
    y: float
    vx: float
    vy: float
    r: float
    color: tuple[int, int, int]
    phase: float


@dataclass
class _Scene:
    start: int  # first frame
    hue: float
    hue2: float  # far end of the gradient
    sat: float
    val: float
    angle: float
    accent: np.ndarray
    shapes: list[_Shape]
    stripe_period: int
    stripe_slant: float
    stripe_dir: int


def _bounce(p: float, lo: float, hi: float) -> float:
    """Position bouncing between the walls: a triangle wave of the free-running position."""
    span = max(hi - lo, 1e-6)
    u = (p - lo) % (2 * span)
    return lo + (u if u < span else 2 * span - u)


def plan_scenes(
    style: PictureStyle,
    rng: np.random.Generator,
    duration: float,
    tempo_bpm: float,
    size: tuple[int, int],
    fps: int,
) -> list[_Scene]:
    """Cut points snapped to the beat, and what each scene shows."""
    w, h = size
    beat = 60.0 / tempo_bpm
    mean_len = 60.0 / style.cuts_per_min
    hue_shift = rng.uniform(-8, 8)  # per-clip palette shift, so neighbours in a genre differ
    scenes: list[_Scene] = []
    t, angle = 0.0, rng.uniform(0, 2 * math.pi)
    while t < duration:
        sat = rng.uniform(*style.saturation)
        val = rng.uniform(*style.brightness)
        accent = hsv_rgb(
            rng.uniform(*style.accent_hue) + hue_shift, min(1, sat + 0.15), min(1.0, val + 0.35)
        )
        shapes = []
        for _ in range(int(rng.integers(style.shape_count[0], style.shape_count[1] + 1))):
            speed = style.motion * w * rng.uniform(0.6, 1.4)
            direction = rng.uniform(0, 2 * math.pi)
            col = hsv_rgb(
                rng.uniform(*style.accent_hue) + hue_shift,
                min(1, sat + 0.1),
                min(1.0, val + rng.uniform(0.25, 0.5)),
            )
            shapes.append(
                _Shape(
                    x=rng.uniform(0, w),
                    y=rng.uniform(0, h),
                    vx=speed * math.cos(direction),
                    vy=speed * math.sin(direction),
                    r=h * rng.uniform(0.06, 0.16),
                    color=tuple(int(c) for c in col),
                    phase=rng.uniform(0, 2 * math.pi),
                )
            )
        scenes.append(
            _Scene(
                start=int(round(t * fps)),
                hue=rng.uniform(*style.hue) + hue_shift,
                hue2=rng.uniform(*style.hue) + hue_shift,
                sat=sat,
                val=val,
                angle=angle,
                accent=accent,
                shapes=shapes,
                stripe_period=max(4, int(w * rng.uniform(0.06, 0.18))),
                stripe_slant=rng.uniform(-0.8, 0.8),
                stripe_dir=1 if rng.random() < 0.5 else -1,
            )
        )
        # A cut must read as a cut: turn the gradient at least 100 degrees.
        angle += rng.uniform(math.radians(100), math.radians(260))
        beats = max(1, round(mean_len * rng.uniform(0.6, 1.4) / beat))
        t += beats * beat
    return scenes


class _Canvas:
    """Per-clip precomputed geometry and texture tiles."""

    def __init__(self, style: PictureStyle, rng: np.random.Generator, size: tuple[int, int]):
        w, h = size
        self.style, self.w, self.h = style, w, h
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        self.xs, self.ys = xs, ys
        self.nx, self.ny = (xs - w / 2) / (w / 2), (ys - h / 2) / (w / 2)  # square pixels
        self.tiles: list[tuple[np.ndarray, np.ndarray]] = []
        amp = 14.0 * style.texture_strength
        if style.texture in ("grain", "noise"):
            # A few signed noise tiles, cycled: fresh noise per frame is slow to draw and to
            # encode. 2x2-pixel grain that changes every other frame keeps the bitrate sane.
            hh, hw = (h + 1) // 2, (w + 1) // 2
            for _ in range(4):
                noise = rng.normal(0, amp, (hh, hw))
                if style.texture == "noise":  # VHS: horizontal streaks
                    noise = noise * 0.6 + rng.normal(0, amp * 0.8, (hh, 1))
                noise = np.repeat(np.repeat(noise, 2, axis=0), 2, axis=1)[:h, :w, None]
                noise = np.repeat(noise, 3, axis=2)
                self.tiles.append(
                    (
                        np.clip(noise, 0, 255).astype(np.uint8),
                        np.clip(-noise, 0, 255).astype(np.uint8),
                    )
                )

    def background(self, sc: _Scene) -> np.ndarray:
        st = self.style
        d = self.nx * math.cos(sc.angle) + self.ny * math.sin(sc.angle)
        d = (d - d.min()) / max(float(d.max() - d.min()), 1e-6)
        c1 = hsv_rgb(sc.hue, sc.sat, sc.val * 1.4)
        c2 = hsv_rgb(sc.hue2, sc.sat, sc.val * 0.6)
        img = c1 * (1 - d)[..., None] + c2 * d[..., None]
        if st.vignette:
            img *= (1 - st.vignette * np.clip(self.nx**2 + self.ny**2 * 1.8, 0, 1))[..., None]
        if st.texture == "noise":  # scanlines
            img[1::2] *= 1 - 0.35 * st.texture_strength
        elif st.texture == "dots":  # halftone dots in the accent colour
            cell = max(6, self.w // 32)
            dist = ((self.xs % cell) - cell / 2) ** 2 + ((self.ys % cell) - cell / 2) ** 2
            dots = (dist < (cell * 0.3) ** 2)[..., None]
            img = np.where(
                dots, img * (1 - st.texture_strength) + sc.accent * st.texture_strength, img
            )
        return np.clip(img, 0, 255).astype(np.uint8)

    def stripes(self, sc: _Scene) -> np.ndarray:
        """Laser-like stripes, periodic in x so a slice of a wider layer scrolls them."""
        p = sc.stripe_period
        ys, xs = np.mgrid[0 : self.h, 0 : self.w + p].astype(np.float32)
        wave = 0.5 + 0.5 * np.cos(2 * np.pi * (xs + sc.stripe_slant * ys) / p)
        mask = wave**6 * self.style.texture_strength
        return (sc.accent[None, None, :] * mask[..., None]).astype(np.uint8)


def render_frames(
    style: PictureStyle,
    rng: np.random.Generator,
    duration: float,
    tempo_bpm: float,
    size: tuple[int, int] = (320, 180),
    fps: int = 15,
) -> Iterator[np.ndarray]:
    """Yield round(duration*fps) RGB frames (h, w, 3) uint8, each a fresh array."""
    w, h = size
    if w <= 0 or h <= 0 or fps <= 0 or duration <= 0:
        raise ValueError(f"bad video geometry: size={size} fps={fps} duration={duration}")
    scenes = plan_scenes(style, rng, duration, tempo_bpm, size, fps)
    canvas = _Canvas(style, rng, size)
    beat = 60.0 / tempo_bpm
    n_frames = int(round(duration * fps))
    bg = layer = None
    k = -1
    for i in range(n_frames):
        t = i / fps
        while k + 1 < len(scenes) and scenes[k + 1].start <= i:
            k += 1
            bg = canvas.background(scenes[k])
            layer = canvas.stripes(scenes[k]) if style.texture == "stripes" else None
        sc = scenes[k]
        frame = bg.copy()
        if layer is not None:
            off = int(t * style.motion * w * 2 * sc.stripe_dir) % sc.stripe_period
            np.maximum(frame, layer[:, off : off + w], out=frame)  # "lighten" blend
        elif canvas.tiles:
            pos, neg = canvas.tiles[(i // 2) % len(canvas.tiles)]
            cv2.add(frame, pos, dst=frame)
            cv2.subtract(frame, neg, dst=frame)
        pulse = math.exp(-((t / beat) % 1.0) * beat / 0.12) * style.beat_pulse
        for s in sc.shapes:
            r = s.r * (1 + 0.4 * pulse)
            x = _bounce(s.x + s.vx * t, r, w - r)
            y = _bounce(s.y + s.vy * t, r, h - r)
            _draw(frame, style.shape, x, y, r, s, t, h)
        if pulse > 0.01:
            frame = cv2.convertScaleAbs(frame, alpha=1.0 + 0.5 * pulse)
        yield frame


def _draw(
    frame: np.ndarray, kind: str, x: float, y: float, r: float, s: _Shape, t: float, h: int
) -> None:
    cx, cy, ri = int(x), int(y), max(1, int(r))
    if kind == "circle":
        cv2.circle(frame, (cx, cy), ri, s.color, -1, cv2.LINE_AA)
    elif kind == "ring":
        cv2.circle(frame, (cx, cy), ri, s.color, max(1, ri // 4), cv2.LINE_AA)
    elif kind == "rect":
        cv2.rectangle(frame, (cx - ri, cy - ri), (cx + ri, cy + ri), s.color, -1)
    else:  # "bar": equaliser-like column rising from the bottom
        height = int(h * (0.25 + 0.6 * abs(math.sin(s.phase + 2.5 * t))))
        cv2.rectangle(
            frame, (cx - max(1, ri // 2), h - height), (cx + max(1, ri // 2), h), s.color, -1
        )
