"""Visual features on synthetic frames and generated clips (features/visual.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.definitions import (
    ALL_FEATURE_NAMES,
    AUDIO_FEATURE_NAMES,
    FEATURE_DEFINITIONS,
    VISUAL_FEATURE_NAMES,
)
from features.visual import VisualExtractor, VisualFeatureError, flow_direction_stats

V = {name: i for i, name in enumerate(VISUAL_FEATURE_NAMES)}


def _group(vec: np.ndarray, prefix: str) -> np.ndarray:
    return vec[[i for n, i in V.items() if n.startswith(prefix)]]


def _texture(h: int = 144, w: int = 256, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (trackable by optical flow)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def test_names_counts_and_definitions() -> None:
    assert len(VISUAL_FEATURE_NAMES) == 354 and len(AUDIO_FEATURE_NAMES) == 68
    assert len(ALL_FEATURE_NAMES) == 422 == len(set(ALL_FEATURE_NAMES))
    assert ALL_FEATURE_NAMES[:68] == AUDIO_FEATURE_NAMES
    assert VISUAL_FEATURE_NAMES[0] == "hist_red_00" and VISUAL_FEATURE_NAMES[95] == (
        "hist_saturation_15"
    )
    assert VISUAL_FEATURE_NAMES[96] == "lbp_000" and VISUAL_FEATURE_NAMES[224] == "hog_000"
    assert VISUAL_FEATURE_NAMES[-2:] == ("flow_angle_mean", "flow_angle_std")
    assert [d[0] for d in FEATURE_DEFINITIONS] == list(range(422))
    assert [d[1] for d in FEATURE_DEFINITIONS] == list(ALL_FEATURE_NAMES)
    assert {d[2] for d in FEATURE_DEFINITIONS[:68]} == {"audio"}
    assert {d[2] for d in FEATURE_DEFINITIONS[68:]} == {"visual"}
    assert all(len(d[3]) > 10 for d in FEATURE_DEFINITIONS)


def test_definitions_import_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, features.definitions as d; "
        "heavy = {'numpy', 'cv2', 'pyAudioAnalysis', 'scipy'} & set(sys.modules); "
        "print(len(d.FEATURE_DEFINITIONS), sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "422 []"


def test_histograms_are_distributions() -> None:
    vec = VisualExtractor().segment_features(np.stack([_texture(seed=s) for s in range(3)]))
    for ch in ("red", "green", "blue", "gray", "gradient", "saturation"):
        assert _group(vec, f"hist_{ch}_").sum() == pytest.approx(1.0, abs=1e-5)
    assert _group(vec, "lbp_").sum() == pytest.approx(1.0, abs=1e-5)
    # each frame's HOG is unit length (the segment mean of unit vectors is a bit shorter)
    frame = VisualExtractor().frame_features(_texture())
    assert np.linalg.norm(frame[224:352]) == pytest.approx(1.0, abs=1e-6)
    assert 0.9 < np.linalg.norm(_group(vec, "hog_")) <= 1.0


def test_flat_frame_lbp_hog_gradient() -> None:
    flat = np.full((1, 90, 160, 3), 77, dtype=np.uint8)
    vec = VisualExtractor().segment_features(flat)
    assert vec[V["lbp_127"]] == pytest.approx(1.0)  # every neighbour >= centre: code 255 // 2
    assert vec[V["hist_gradient_00"]] == pytest.approx(1.0)
    assert not _group(vec, "hog_").any()
    assert vec[V["hist_gray_04"]] == pytest.approx(1.0)  # 77 // 16 == 4


def test_vertical_edge_hog_orientation_and_cell() -> None:
    img = np.zeros((144, 256, 3), dtype=np.uint8)
    img[:, 96:] = 200  # one vertical edge at x=96: in cell column 1 (64..127), all rows
    vec = VisualExtractor().segment_features(img[None])
    hog = _group(vec, "hog_").reshape(4, 4, 8)  # (row, col, orientation)
    assert hog[:, 1, 0].sum() == pytest.approx(hog.sum(), rel=1e-6)  # horizontal gradient: bin 0
    assert np.allclose(hog[:, 1, 0], hog[0, 1, 0])  # the same in every row of cells
    grad = _group(vec, "hist_gradient_")
    assert grad[0] > 0.9 and grad[12] > 0  # 200 / 2 = 100 levels per pixel -> bin 12


def test_flow_direction_of_a_pan() -> None:
    base = _texture(200, 320)
    right = np.stack([base[:144, 10 + 4 * k : 266 + 4 * k] for k in range(4)][::-1])
    mean, std = VisualExtractor().segment_features(right)[-2:]
    assert abs(mean) < 0.2 and std < 0.6  # content moves right (+x): angle ~ 0
    down = np.stack([base[4 * k : 144 + 4 * k, :256] for k in range(4)][::-1])
    mean, std = VisualExtractor().segment_features(down)[-2:]
    assert mean == pytest.approx(math.pi / 2, abs=0.2)  # image y grows downwards


def test_static_frames_have_zero_flow() -> None:
    frames = np.repeat(_texture()[None], 5, axis=0)
    assert not VisualExtractor().segment_features(frames)[-2:].any()
    assert flow_direction_stats(0.0, 0.0, 0.0, 0) == (0.0, 0.0)


def test_flow_pairs_cross_segment_boundaries() -> None:
    base = _texture(200, 320)
    frames = [base[:144, 4 * k : 256 + 4 * k] for k in range(4)]
    ex = VisualExtractor()
    ex.segment_features(np.stack(frames[:2]))
    # a one-frame segment still has flow: its pair starts with the previous segment's last frame
    assert ex.segment_features(np.stack(frames[2:3]))[-1] > 0
    assert not VisualExtractor().segment_features(np.stack(frames[2:3]))[-2:].any()


def test_no_frames_gives_zeros_and_bad_frames_raise() -> None:
    vec = VisualExtractor().segment_features(np.zeros((0, 144, 256, 3), dtype=np.uint8))
    assert vec.shape == (354,) and not vec.any()
    with pytest.raises(VisualFeatureError):
        VisualExtractor().frame_features(np.zeros((144, 256), dtype=np.uint8))


def test_red_video_histograms(extracted) -> None:
    seg = extracted("red").segments[0]
    vec = seg.visual
    assert vec[V["hist_red_15"]] > 0.95
    assert vec[V["hist_green_00"]] > 0.95 and vec[V["hist_blue_00"]] > 0.95
    assert vec[V["hist_saturation_15"]] > 0.95


def test_static_blue_video_has_no_flow(extracted) -> None:
    result = extracted("blue")
    assert result.frames == 8
    for seg in result.segments:
        assert abs(seg.visual[V["flow_angle_mean"]]) < 1e-6
        assert abs(seg.visual[V["flow_angle_std"]]) < 1e-6
        assert seg.visual[V["hist_blue_15"]] > 0.95


def test_moving_testsrc2_has_flow(extracted) -> None:
    for seg in extracted("tone25").segments:
        assert seg.visual[V["flow_angle_std"]] > 0.1
        assert seg.visual[V["flow_angle_mean"]] != 0.0
