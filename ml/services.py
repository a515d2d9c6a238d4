"""Write-side operations of the ml app (training, encoding, activation)."""

from __future__ import annotations


class EncodingUnavailable(RuntimeError):
    """Encoding cannot be queued; the message is shown to the editor."""


def request_encoding(video_ids: list[int]) -> int:
    raise EncodingUnavailable("Encoding is not available yet: no trained model.")
