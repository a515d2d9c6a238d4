"""RQ jobs of the ml app. The model is loaded once per worker process and reused."""

from __future__ import annotations

from catalog import pipeline
from catalog.models import VideoStatus
from ml.selectors import active_model_version
from ml.services import encode_catalog, encode_videos, train_model
from mvsite.queues import set_progress


def encode_video(video_id: int) -> str:
    """Pipeline stage: code + predicted genre with the active model, then ready.

    Without an active model the video is still ready: searchable by its features.
    """
    outcome = "no active model"
    if active_model_version() is not None:
        summary = encode_videos([video_id])
        outcome = "encoded" if summary.encoded else "no segments"
    pipeline.advance(video_id, VideoStatus.ENCODING)
    return outcome


def encode_many(video_ids: list[int]) -> int:
    summary = encode_videos(video_ids, progress=lambda d, t: set_progress(d, t, "encoding"))
    return summary.encoded


def train(epochs: int = 100, activate: bool = True, **overrides) -> int:
    """Train on the catalog (queue `train`), activate, and encode the whole catalog."""
    version = train_model(
        epochs=epochs,
        activate=False,
        verbose=0,
        on_epoch_end=lambda epoch, logs: set_progress(epoch + 1, epochs, "training"),
        **overrides,
    )
    if activate:
        version.activate()
        encode_catalog(version, progress=lambda d, t: set_progress(d, t, "encoding"))
    return version.pk
