"""Names, positions and descriptions of the 422 per-segment features.

This module is imported by a data migration, so it must stay light: standard library only
(no numpy / cv2 / pyAudioAnalysis at module level). docs/features.md explains every group.

Layout of a full feature vector (``ALL_FEATURE_NAMES``):

    positions   0 ..  67   audio  (68)  pyAudioAnalysis mid-term statistics
    positions  68 .. 421   visual (354) histograms, LBP, HOG, optical flow
"""

from __future__ import annotations

from typing import Literal

Modality = Literal["audio", "visual"]

# --- audio -----------------------------------------------------------------------------------

# The 34 classic pyAudioAnalysis short-term features, in the library's order
# (ShortTermFeatures.feature_extraction, without the "delta" features added in 0.3.x).
SHORT_TERM_NAMES: tuple[str, ...] = (
    "zcr",
    "energy",
    "energy_entropy",
    "spectral_centroid",
    "spectral_spread",
    "spectral_entropy",
    "spectral_flux",
    "spectral_rolloff",
    *(f"mfcc_{i}" for i in range(1, 14)),
    *(f"chroma_{i}" for i in range(1, 13)),
    "chroma_std",
)

_SHORT_TERM_DESCRIPTIONS: dict[str, str] = {
    "zcr": "zero-crossing rate (sign changes per sample)",
    "energy": "energy (mean squared amplitude of the peak-normalised signal)",
    "energy_entropy": "entropy of energy over 10 sub-blocks of the window (abrupt changes)",
    "spectral_centroid": "spectral centroid, as a fraction of the Nyquist frequency",
    "spectral_spread": "spectral spread around the centroid, as a fraction of Nyquist",
    "spectral_entropy": "entropy of spectral energy over 10 sub-bands",
    "spectral_flux": "spectral flux (squared change of the normalised spectrum)",
    "spectral_rolloff": "frequency below which 90% of the spectral energy lies (fraction)",
    "chroma_std": "standard deviation of the 12 chroma values",
}
for _i in range(1, 14):
    _SHORT_TERM_DESCRIPTIONS[f"mfcc_{_i}"] = f"mel-frequency cepstral coefficient {_i}"
_CHROMA_CLASSES = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")
for _i, _note in enumerate(_CHROMA_CLASSES, start=1):
    _SHORT_TERM_DESCRIPTIONS[f"chroma_{_i}"] = (
        f"chroma bin {_i} (pyAudioAnalysis label {_note}): share of spectral energy"
    )

AUDIO_FEATURE_NAMES: tuple[str, ...] = (
    *(f"{n}_mean" for n in SHORT_TERM_NAMES),
    *(f"{n}_std" for n in SHORT_TERM_NAMES),
)

# --- visual ----------------------------------------------------------------------------------

HIST_BINS = 16
HIST_CHANNELS: tuple[str, ...] = ("red", "green", "blue", "gray", "gradient", "saturation")
LBP_BINS = 128
HOG_GRID = 4  # 4 x 4 cells
HOG_ORIENTATIONS = 8  # unsigned, 22.5 degrees each
HOG_BINS = HOG_GRID * HOG_GRID * HOG_ORIENTATIONS  # 128
FLOW_NAMES: tuple[str, ...] = ("flow_angle_mean", "flow_angle_std")

_HIST_DESCRIPTIONS = {
    "red": "red channel value",
    "green": "green channel value",
    "blue": "blue channel value",
    "gray": "gray level (ITU-R BT.601 luma)",
    "gradient": "Sobel gradient magnitude (intensity levels per pixel)",
    "saturation": "HSV saturation",
}
# Bin widths in the units of each histogram (values 0..255; gradient 0..128, clipped).
_HIST_BIN_WIDTH = {"gradient": 8}

VISUAL_FEATURE_NAMES: tuple[str, ...] = (
    *(f"hist_{ch}_{b:02d}" for ch in HIST_CHANNELS for b in range(HIST_BINS)),
    *(f"lbp_{b:03d}" for b in range(LBP_BINS)),
    *(f"hog_{b:03d}" for b in range(HOG_BINS)),
    *FLOW_NAMES,
)

ALL_FEATURE_NAMES: tuple[str, ...] = AUDIO_FEATURE_NAMES + VISUAL_FEATURE_NAMES

N_AUDIO = len(AUDIO_FEATURE_NAMES)  # 68
N_VISUAL = len(VISUAL_FEATURE_NAMES)  # 354
N_FEATURES = len(ALL_FEATURE_NAMES)  # 422


def _audio_description(name: str) -> str:
    base, stat = name.rsplit("_", 1)
    what = _SHORT_TERM_DESCRIPTIONS[base]
    if stat == "mean":
        return f"{what}: mean over 0.1 s windows (averaged over the segment's 0.5 s windows)"
    return f"{what}: std over 0.1 s windows (averaged over the segment's 0.5 s windows)"


def _visual_description(name: str) -> str:
    if name.startswith("hist_"):
        _, channel, b = name.split("_")
        width = _HIST_BIN_WIDTH.get(channel, 256 // HIST_BINS)
        lo = int(b) * width
        hi = "max" if (channel == "gradient" and int(b) == HIST_BINS - 1) else lo + width
        return f"share of pixels whose {_HIST_DESCRIPTIONS[channel]} is in [{lo}, {hi})"
    if name.startswith("lbp_"):
        b = int(name[4:])
        return (
            f"share of pixels with 8-neighbour LBP code {2 * b} or {2 * b + 1} "
            "(P=8, R=1 square neighbourhood, code // 2)"
        )
    if name.startswith("hog_"):
        b = int(name[4:])
        cell, orient = divmod(b, HOG_ORIENTATIONS)
        row, col = divmod(cell, HOG_GRID)
        lo = orient * 180 / HOG_ORIENTATIONS
        return (
            f"HOG cell row {row} col {col}, gradient orientation [{lo:g}, "
            f"{lo + 180 / HOG_ORIENTATIONS:g}) degrees (L2-normalised over all 128)"
        )
    if name == "flow_angle_mean":
        return "magnitude-weighted circular mean of optical-flow direction (radians, -pi..pi)"
    if name == "flow_angle_std":
        return "magnitude-weighted circular standard deviation of optical-flow direction (radians)"
    raise KeyError(name)


FEATURE_DEFINITIONS: list[tuple[int, str, Modality, str]] = [
    (i, name, "audio", _audio_description(name)) for i, name in enumerate(AUDIO_FEATURE_NAMES)
] + [
    (N_AUDIO + i, name, "visual", _visual_description(name))
    for i, name in enumerate(VISUAL_FEATURE_NAMES)
]


def feature_group(name: str) -> str:
    """The family a feature belongs to, for admin filters: 'mfcc', 'hist_red', 'lbp', ..."""
    if name.startswith("hist_"):
        return name.rsplit("_", 1)[0]
    for prefix in ("lbp", "hog", "flow", "mfcc", "spectral", "energy"):
        if name.startswith(prefix):
            return prefix
    if name.startswith("chroma"):
        return "chroma"
    return name.rsplit("_", 1)[0]


def missing_definitions(model, existing_positions: set[int]) -> list:
    """Unsaved ``model`` rows (a FeatureDefinition class, live or a migration's historical one)
    for the positions not in ``existing_positions``, weight 1."""
    return [
        model(
            position=position,
            name=name,
            modality=modality,
            group=feature_group(name),
            description=description,
            weight=1.0,
        )
        for position, name, modality, description in FEATURE_DEFINITIONS
        if position not in existing_positions
    ]


__all__ = [
    "ALL_FEATURE_NAMES",
    "AUDIO_FEATURE_NAMES",
    "FEATURE_DEFINITIONS",
    "feature_group",
    "missing_definitions",
    "N_AUDIO",
    "N_FEATURES",
    "N_VISUAL",
    "SHORT_TERM_NAMES",
    "VISUAL_FEATURE_NAMES",
]
