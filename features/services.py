"""Write-side operations of the features app (extraction requests, storing results)."""

from __future__ import annotations


class ExtractionUnavailable(RuntimeError):
    """Extraction cannot be queued (yet); the message is shown to the editor."""


def request_extraction(video_ids: list[int]) -> int:
    raise ExtractionUnavailable("Feature extraction is not available yet.")
