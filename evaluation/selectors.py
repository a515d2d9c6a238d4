"""Reads for evaluation: the catalog as arrays, metadata, held-out videos, stored runs/maps."""

from __future__ import annotations

import numpy as np
from django.db.models import Q, QuerySet

from catalog.models import TrackMetadata, Video, VideoStatus
from catalog.selectors import catalog_videos, in_catalog
from evaluation.models import CatalogMap, EvaluationRun, MapPoint, WorkStatus
from evaluation.neighbours import CatalogArrays, group_codes
from ml.selectors import active_model_version
from search.choices import Representation
from search.models import VideoVector
from search.ranking import RepresentationUnavailable, find_similar

LOCATE_NEIGHBOURS = 5

# Metadata fields whose agreement is measured (name -> TrackMetadata column); tempo_octave
# is tempo with octave tolerance. Fields without values in the catalog are left out.
METADATA_FIELDS = {
    "tempo": "tempo",
    "tempo_octave": "tempo",
    "energy": "energy",
    "danceability": "danceability",
    "valence": "valence",
    "loudness": "loudness",
    "acousticness": "acousticness",
    "instrumentalness": "instrumentalness",
    "speechiness": "speechiness",
    "liveness": "liveness",
}


def searchable_videos(representation: str | None = None) -> QuerySet[Video]:
    """Ready catalog videos, with a vector in ``representation`` when given."""
    videos = catalog_videos().filter(status=VideoStatus.READY)
    if representation is not None:
        videos = videos.filter(**{f"vector__{representation}__isnull": False})
    return videos.order_by("id")


def catalog_arrays(representation: str) -> CatalogArrays:
    """Every searchable catalog video's stored vector in ``representation`` and the columns
    the ranking rules need, ordered by video id."""
    rows = list(
        VideoVector.objects.filter(
            in_catalog("video"),
            video__status=VideoStatus.READY,
            **{f"{representation}__isnull": False},
        )
        .order_by("video_id")
        .values_list(
            "video_id",
            "video__genre_id",
            "video__predicted_genre_id",
            "video__youtube_id",
            "video__content_sha256",
            "video__artist",
            representation,
        )
    )
    dim = VideoVector._meta.get_field(representation).dimensions
    vectors = (
        np.stack([np.asarray(r[6], dtype=np.float32) for r in rows])
        if rows
        else np.zeros((0, dim), np.float32)
    )

    def ints(i: int) -> np.ndarray:
        return np.array([-1 if r[i] is None else r[i] for r in rows], dtype=np.int64)

    return CatalogArrays(
        ids=ints(0),
        vectors=vectors,
        genre=ints(1),
        predicted=ints(2),
        youtube=group_codes([r[3] or "" for r in rows]),
        sha256=group_codes([r[4] or "" for r in rows]),
        artist=group_codes([" ".join((r[5] or "").casefold().split()) for r in rows]),
    )


def metadata_table(video_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per metadata field with at least two known values: float64 array aligned with
    ``video_ids`` (NaN where unknown)."""
    columns = sorted(set(METADATA_FIELDS.values()))
    values = dict(
        (row[0], row[1:])
        for row in TrackMetadata.objects.filter(video_id__in=video_ids.tolist()).values_list(
            "video_id", *columns
        )
    )
    table: dict[str, np.ndarray] = {}
    for name, column in METADATA_FIELDS.items():
        i = columns.index(column)
        array = np.array(
            [
                np.nan
                if values.get(int(v)) is None or values[int(v)][i] is None
                else values[int(v)][i]
                for v in video_ids
            ],
            dtype=np.float64,
        )
        if np.isfinite(array).sum() >= 2:
            table[name] = array
    return table


def held_out_video_ids() -> tuple[set[int] | None, str]:
    """The active model's validation videos (ids) and how to describe them; (None, reason)
    when there is no active model or it recorded none (trained before they were recorded)."""
    version = active_model_version()
    if version is None:
        return None, "no active model"
    ids = (version.metrics or {}).get("val_video_ids")
    if not ids:
        return None, (
            f"the active model ({version}) does not record its held-out videos: retrain it "
            "(manage.py train --activate) to evaluate the learned code honestly"
        )
    return set(ids), f"the active model's {len(ids)} held-out (validation) videos"


def held_out_classifier_accuracy() -> dict | None:
    """The active model's genre predictions on its held-out videos vs their curated genres."""
    version = active_model_version()
    held_out, _ = held_out_video_ids()
    if version is None or held_out is None:
        return None
    pairs = list(
        Video.objects.filter(
            pk__in=held_out, genre__isnull=False, predicted_genre__isnull=False
        ).values_list("genre_id", "predicted_genre_id")
    )
    return {
        "model": str(version),
        "held_out": len(held_out),
        "judged": len(pairs),
        "accuracy": (sum(a == b for a, b in pairs) / len(pairs)) if pairs else None,
        "recorded_val_accuracy": (version.metrics or {}).get("val_accuracy"),
    }


def unavailable_reason(representation: str, n_videos: int) -> str | None:
    """Why ``representation`` cannot be evaluated with ``n_videos`` searchable videos."""
    if n_videos == 0 and representation == Representation.CODE:
        return (
            "no learned codes yet: no active model has encoded the catalog "
            "(manage.py train --activate)"
        )
    if n_videos == 0:
        return (
            f"no ready catalog video has a '{representation}' vector "
            "(features not extracted or not materialised)"
        )
    if n_videos == 1:
        return f"only one catalog video has a '{representation}' vector: nothing to compare"
    return None


# --------------------------------------------------------------------------- stored work


def finished_runs() -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.filter(status=WorkStatus.DONE).order_by("-finished_at", "-id")


def latest_run() -> EvaluationRun | None:
    return finished_runs().first()


def runs_in_progress() -> list[EvaluationRun]:
    running = EvaluationRun.objects.filter(status__in=(WorkStatus.QUEUED, WorkStatus.RUNNING))
    return [run for run in running if run.in_progress]


def latest_map(representation: str, metric: str | None = None) -> CatalogMap | None:
    maps = CatalogMap.objects.filter(representation=representation, status=WorkStatus.DONE)
    if metric:
        maps = maps.filter(metric=metric)
    return maps.order_by("-finished_at", "-id").first()


def maps_in_progress(representation: str) -> list[CatalogMap]:
    running = CatalogMap.objects.filter(
        representation=representation, status__in=(WorkStatus.QUEUED, WorkStatus.RUNNING)
    )
    return [m for m in running if m.in_progress]


def map_positions(catalog_map: CatalogMap, video_ids: list[int]) -> dict[int, tuple[float, float]]:
    rows = MapPoint.objects.filter(catalog_map=catalog_map, video_id__in=video_ids)
    return {vid: (x, y) for vid, x, y in rows.values_list("video_id", "x", "y")}


def find_on_map(catalog_map: CatalogMap, text: str, limit: int = 20) -> list[dict]:
    """Catalog videos of the map whose title or artist contains ``text``, with positions."""
    matches = list(
        catalog_videos()
        .filter(Q(title__icontains=text) | Q(artist__icontains=text))
        .order_by("title", "id")
        .values_list("pk", "title", "artist")[: limit * 5]
    )
    positions = map_positions(catalog_map, [pk for pk, _, _ in matches])
    found = []
    for pk, title, artist in matches:
        if pk in positions:
            x, y = positions[pk]
            label = title or f"Video {pk}"
            found.append({"video_id": pk, "x": x, "y": y, "label": label, "artist": artist})
    return found[:limit]


def locate_video(catalog_map: CatalogMap, video: Video) -> dict | None:
    """Where ``video`` lies on the map: its own point, or — a query, or a video laid out after
    the map was computed — the mean position of its nearest laid-out catalog videos (None when
    it has no vector in the map's representation)."""
    own = map_positions(catalog_map, [video.pk])
    label = video.title or f"Video {video.pk}"
    if video.pk in own:
        x, y = own[video.pk]
        return {"video_id": video.pk, "x": x, "y": y, "label": label, "placed": False}
    try:
        matches = find_similar(
            video,
            representation=catalog_map.representation,
            metric=catalog_map.metric,
            k=LOCATE_NEIGHBOURS,
            boost=1.0,
        )
    except RepresentationUnavailable:
        return None
    positions = map_positions(catalog_map, [m.video.pk for m in matches])
    if not positions:
        return None
    xs, ys = zip(*positions.values(), strict=True)
    return {
        "video_id": video.pk,
        "x": float(np.mean(xs)),
        "y": float(np.mean(ys)),
        "label": f"{label} (placed among its {len(positions)} nearest videos)",
        "placed": True,
    }
