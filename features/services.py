"""Write-side operations of the features app (definitions, extraction requests, results)."""

from __future__ import annotations

from features.definitions import FEATURE_DEFINITIONS


class ExtractionUnavailable(RuntimeError):
    """Extraction cannot be queued (yet); the message is shown to the editor."""


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


def ensure_feature_definitions(model=None) -> int:
    """Create the 422 FeatureDefinition rows that are missing; returns how many were created.

    The data migration passes its historical model; tests call it after a flush.
    """
    if model is None:
        from features.models import FeatureDefinition as model
    existing = set(model.objects.values_list("position", flat=True))
    rows = [
        model(
            position=position,
            name=name,
            modality=modality,
            group=feature_group(name),
            description=description,
            weight=1.0,
        )
        for position, name, modality, description in FEATURE_DEFINITIONS
        if position not in existing
    ]
    model.objects.bulk_create(rows)
    return len(rows)


def request_extraction(video_ids: list[int]) -> int:
    raise ExtractionUnavailable("Feature extraction is not available yet.")
