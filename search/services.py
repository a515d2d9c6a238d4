"""Write-side entry points of the search app for the layers above (pipeline, pages, API).

The search app is the only writer of ``VideoVector``: feature columns (materialisation) and
the learned ``code`` (computed by ml, stored here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction

from catalog.models import Video
from catalog.services import record_predictions
from ml.models import ModelVersion
from ml.selectors import encodable_video_ids
from ml.services import Encoding, encode_batches
from search import result_cache
from search.forms import SearchParams
from search.materialize import (
    MaterializationError,
    materialize_video,
    run_materialization,
)
from search.models import Search, VideoVector

__all__ = [
    "EncodeSummary",
    "MaterializationError",
    "encode_catalog",
    "encode_videos",
    "materialize_video",
    "record_search",
    "run_materialization",
    "store_encodings",
]


@dataclass
class EncodeSummary:
    encoded: int = 0
    skipped: list[int] = field(default_factory=list)  # videos without segments


def store_encodings(encodings: Iterable[Encoding]) -> int:
    """Codes into ``VideoVector.code`` and predicted genres into the catalog, atomically."""
    encodings = list(encodings)
    if not encodings:
        return 0
    with transaction.atomic():
        VideoVector.objects.bulk_create(
            [VideoVector(video_id=e.video_id, code=e.code) for e in encodings],
            update_conflicts=True,
            unique_fields=["video"],
            update_fields=["code", "updated_at"],
        )
        record_predictions((e.video_id, e.genre, e.confidence) for e in encodings)
        result_cache.bump_on_commit()  # bulk writes send no model signals
    return len(encodings)


def encode_videos(
    video_ids: list[int],
    version: ModelVersion | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> EncodeSummary:
    """Encode these videos with the (active) model and store the results.

    Raises ml.services.EncodingUnavailable when there is no active model.
    """
    summary = EncodeSummary()
    for batch in encode_batches(video_ids, version):
        summary.encoded += store_encodings(batch.encodings)
        summary.skipped += batch.skipped
        if progress:
            progress(batch.done, batch.total)
    return summary


def encode_catalog(
    version: ModelVersion | None = None, *, progress: Callable[[int, int], None] | None = None
) -> EncodeSummary:
    """Encode every video that has segments (catalog and earlier queries)."""
    return encode_videos(encodable_video_ids(), version, progress=progress)


def record_search(video: Video, params: SearchParams) -> Search:
    """Log a search that was asked for (the results are computed when shown)."""
    return Search.objects.create(
        query_video=video,
        representation=params.representation,
        metric=params.metric,
        boost=params.boost,
        k=params.k,
    )
