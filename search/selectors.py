"""Read-side data for the search pages and the API (no writes here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from catalog.models import Genre, TrackMetadata, ValueSource, Video, VideoStatus
from search.forms import SearchParams
from search.models import Representation, Search, VideoVector

logger = logging.getLogger(__name__)

SEGMENT_PAIRS_SHOWN = 3
EXPLORE_PAGE_SIZE = 24


# --- small helpers ---------------------------------------------------------------------------


def media_url(video: Video) -> str:
    """URL of the video's own media file ('' when it has none)."""
    if not video.media:
        return ""
    return settings.MEDIA_URL + quote(video.media.name)


def play_url(video: Video, seconds: float = 0) -> str:
    """The video's page, with its player starting at `seconds`."""
    url = reverse("search:video", args=[video.pk])
    return f"{url}?t={int(seconds)}#player" if seconds else f"{url}#player"


def player(video: Video, start: float = 0) -> dict:
    """What the player template needs: a YouTube embed, an HTML5 source, or nothing."""
    start = max(int(start or 0), 0)
    if video.media:
        kind = "audio" if video.has_video is False else "video"
        return {"kind": kind, "src": media_url(video), "start": start}
    if video.youtube_id:
        return {
            "kind": "youtube",
            "src": f"https://www.youtube.com/embed/{quote(video.youtube_id)}",
            "start": start,
        }
    return {"kind": "none", "src": "", "start": 0}


def artifact_url(path: str) -> str:
    """MEDIA URL of a model artifact path (absolute under MEDIA_ROOT, or relative to it)."""
    if not path:
        return ""
    root = Path(settings.MEDIA_ROOT).resolve()
    p = Path(path)
    full = p if p.is_absolute() else root / p
    try:
        rel = full.resolve().relative_to(root)
    except ValueError:
        return ""
    if not full.is_file():
        return ""
    return settings.MEDIA_URL + quote(rel.as_posix())


def catalog_count() -> int:
    return Video.objects.filter(is_query=False).count()


def recent_searches(limit: int = 8) -> list[Search]:
    return list(
        Search.objects.select_related("query_video", "query_video__predicted_genre")[:limit]
    )


def genres_with_counts() -> QuerySet[Genre]:
    return Genre.objects.annotate(
        catalog_count=Count("videos", filter=Q(videos__is_query=False))
    ).order_by("name")


# --- results ---------------------------------------------------------------------------------


@dataclass
class SegmentPair:
    query_index: int
    query_start: float
    match_index: int
    match_start: float
    distance: float
    query_url: str
    match_url: str

    @property
    def query_second(self) -> int:
        return int(self.query_start)

    @property
    def match_second(self) -> int:
        return int(self.match_start)


@dataclass
class MatchRow:
    rank: int
    video: Video
    score: float
    distance: float
    boosted_distance: float
    same_genre: bool
    audio_share: float | None = None
    visual_share: float | None = None
    segments: list[SegmentPair] = field(default_factory=list)
    shared_tags: tuple[str, ...] = ()

    @property
    def score_percent(self) -> int:
        return max(0, min(100, round(self.score * 100)))

    @property
    def audio_percent(self) -> int | None:
        return None if self.audio_share is None else round(self.audio_share * 100)

    @property
    def visual_percent(self) -> int | None:
        return None if self.visual_share is None else round(self.visual_share * 100)


@dataclass
class Results:
    query: Video
    params: SearchParams  # what was actually used (after a fallback)
    requested: SearchParams
    notice: str = ""
    error: str = ""
    catalog: list[MatchRow] = field(default_factory=list)
    queries: list[MatchRow] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        return self.params.representation != self.requested.representation


def _explanations(query: Video, matches: list, params: SearchParams) -> list:
    """Explanations for a whole result list in three queries; one per match on failure.

    An explanation is a bonus: a match stands without it (None).
    """
    from search.explain import explain, explain_many

    videos = [match.video for match in matches]
    try:
        return explain_many(query, videos, params.representation, params.metric)
    except Exception:
        logger.warning("batched explanation failed for %s; explaining one by one", query.pk)
    explanations = []
    for video in videos:
        try:
            explanations.append(explain(query, video, params.representation, params.metric))
        except Exception:
            logger.warning("no explanation for %s vs %s", query.pk, video.pk, exc_info=True)
            explanations.append(None)
    return explanations


def _explained(query: Video, match, exp, *, pairs: int) -> MatchRow:
    row = MatchRow(
        rank=match.rank,
        video=match.video,
        score=float(match.score),
        distance=float(match.distance),
        boosted_distance=float(getattr(match, "boosted_distance", match.distance)),
        same_genre=bool(match.same_genre),
    )
    if exp is None:
        return row
    row.audio_share = exp.audio_share
    row.visual_share = exp.visual_share
    row.shared_tags = tuple(exp.shared_tags)
    for pair in list(exp.segment_pairs)[:pairs]:
        row.segments.append(
            SegmentPair(
                query_index=int(pair.query_index),
                query_start=float(pair.query_start),
                match_index=int(pair.match_index),
                match_start=float(pair.match_start),
                distance=float(pair.distance),
                query_url=play_url(query, pair.query_start),
                match_url=play_url(match.video, pair.match_start),
            )
        )
    return row


def _find(query: Video, params: SearchParams, pool: str, genre: Genre | None = None):
    from search.ranking import find_similar

    return find_similar(
        query,
        representation=params.representation,
        metric=params.metric,
        k=params.k,
        boost=params.boost,
        pool=pool,
        genre=genre,
    )


_SHORT_NAMES = {
    Representation.MUSIC: "the music embedding",
    Representation.AUDIO: "the audio features",
    Representation.VISUAL: "the visual features",
    Representation.BOTH: "audio + visual features",
}


def sound_representation(video: Video) -> str:
    """How to rank a video by its sound alone: the music embedding when it has one (it finds
    the genre far more often, see docs/benchmarks.md), else the audio features."""
    has_music = VideoVector.objects.filter(video_id=video.pk, music__isnull=False).exists()
    return Representation.MUSIC if has_music else Representation.AUDIO


def _single_modality(query: Video, params: SearchParams) -> tuple[SearchParams, str]:
    """`both` for a query with no picture (an audio upload) or no sound ranks by the modality
    it has: a zero block would favour candidates whose own block is small."""
    if params.representation != Representation.BOTH:
        return params, ""
    if query.has_video is False and query.has_audio is not False:
        used = params.with_representation(sound_representation(query))
        what = _SHORT_NAMES[used.representation]
        return used, f"This query has no picture: ranked by its sound alone ({what})."
    if query.has_audio is False and query.has_video is not False:
        used = params.with_representation(Representation.VISUAL)
        return used, "This query has no sound: ranked by its picture alone (visual features)."
    return params, ""


def similar(
    query: Video,
    params: SearchParams,
    *,
    pools: tuple[str, ...] = ("catalog", "queries"),
    genre: Genre | None = None,
    pairs: int = SEGMENT_PAIRS_SHOWN,
) -> Results:
    """Top-k per pool with explanations. `code` falls back to `both` when it is unavailable;
    `both` for a query with one modality ranks by that one (with a notice).

    Raises search.ranking.InvalidSearchParameter for parameters the ranking rejects.
    """
    from search.ranking import RepresentationUnavailable

    used, notice = _single_modality(query, params)
    result = Results(query=query, params=used, requested=params, notice=notice)
    params = used
    found: dict[str, list] = {}
    try:
        for pool in pools:
            found[pool] = _find(query, params, pool, genre)
    except RepresentationUnavailable as exc:
        if params.representation != Representation.CODE:
            result.error = f"This search cannot run yet: {exc}"
            return result
        result.params, _ = _single_modality(query, params.with_representation(Representation.BOTH))
        what = _SHORT_NAMES[result.params.representation]
        result.notice = (
            f"The learned code is not available ({exc}). Showing matches by {what} instead."
        )
        found = {}
        try:
            for pool in pools:
                found[pool] = _find(query, result.params, pool, genre)
        except RepresentationUnavailable as exc2:
            result.error = f"This search cannot run yet: {exc2}"
            return result
    for pool, matches in found.items():
        explanations = _explanations(query, matches, result.params)
        rows = [
            _explained(query, match, exp, pairs=pairs)
            for match, exp in zip(matches, explanations, strict=True)
        ]
        if pool == "catalog":
            result.catalog = rows
        else:
            result.queries = rows
    return result


# --- explore ---------------------------------------------------------------------------------


def explore(genre: Genre | None, page_number) -> Page:
    videos = Video.objects.filter(is_query=False).select_related("genre", "predicted_genre")
    if genre is not None:
        videos = videos.filter(genre=genre)
    videos = videos.order_by("artist", "title", "id")
    return Paginator(videos, EXPLORE_PAGE_SIZE).get_page(page_number)


def genre_by_slug_or_id(value: str) -> Genre | None:
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return Genre.objects.filter(pk=int(value)).first()
    return Genre.objects.filter(slug=value.lower()).first()


# --- video page ------------------------------------------------------------------------------


def metadata_rows(video: Video) -> list[dict]:
    """Track metadata with where each value came from."""
    try:
        meta = video.metadata
    except TrackMetadata.DoesNotExist:
        return []
    labels = dict(ValueSource.choices)
    sources = meta.sources or {}
    rows = []
    for name in ("album", "spotify_popularity", *TrackMetadata.AUDIO_FEATURE_FIELDS):
        value = getattr(meta, name)
        if value in (None, ""):
            continue
        source = sources.get(name) or ("spotify" if name.startswith("spotify") else "")
        rows.append(
            {
                "name": name.replace("_", " "),
                "value": round(value, 3) if isinstance(value, float) else value,
                "source": labels.get(source, source or "unknown"),
            }
        )
    return rows


@dataclass
class Series:
    name: str
    description: str
    values: list[float]
    low: float
    high: float
    points: str  # SVG polyline points


@dataclass
class Timeline:
    width: int
    row_height: int
    duration: float
    segments: list[dict]
    series: list[Series]

    @property
    def height(self) -> int:
        return self.row_height * len(self.series)


def _feature_positions() -> dict[str, int]:
    from features.definitions import AUDIO_FEATURE_NAMES

    return {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}


def timeline(video: Video, *, width: int = 640, row_height: int = 56) -> Timeline | None:
    """A few per-segment features over time, as SVG polylines (None without segments)."""
    from features.definitions import VISUAL_FEATURE_NAMES
    from features.models import Segment

    rows = list(
        Segment.objects.filter(video=video)
        .order_by("index")
        .values_list("index", "start_seconds", "end_seconds", "audio", "visual")
    )
    if not rows:
        return None
    audio = np.array([np.asarray(r[3], dtype=float) for r in rows])
    visual = np.array([np.asarray(r[4], dtype=float) for r in rows])
    pos = _feature_positions()
    gray = [i for i, n in enumerate(VISUAL_FEATURE_NAMES) if n.startswith("hist_gray_")]
    colour = [
        i
        for i, n in enumerate(VISUAL_FEATURE_NAMES)
        if n.startswith(("hist_red_", "hist_green_", "hist_blue_"))
    ]
    centres = (np.arange(len(gray)) + 0.5) * (256 / len(gray)) / 255.0
    gray_hist = visual[:, gray]
    totals = gray_hist.sum(axis=1)
    brightness = np.where(
        totals > 0, (gray_hist * centres).sum(axis=1) / np.maximum(totals, 1e-9), 0
    )
    change = np.zeros(len(rows))
    if len(rows) > 1:
        change[1:] = np.abs(np.diff(visual[:, colour], axis=0)).sum(axis=1) / 2
    series_data = [
        ("Energy", "audio energy (mean over the segment)", audio[:, pos["energy_mean"]]),
        (
            "Spectral centroid",
            "brightness of the sound (fraction of Nyquist)",
            audio[:, pos["spectral_centroid_mean"]],
        ),
        ("Brightness", "mean gray level of the picture (0-1)", brightness),
        ("Picture change", "colour-histogram change from the previous segment", change),
    ]
    duration = max(float(rows[-1][2]), video.duration_seconds or 0.0, 1e-6)
    series = []
    for index, (name, description, values) in enumerate(series_data):
        values = np.nan_to_num(np.asarray(values, dtype=float))
        low, high = float(values.min()), float(values.max())
        span = high - low or 1.0
        top = index * row_height
        pts = []
        for (_, start, end, _, _), value in zip(rows, values, strict=True):
            x = (start + end) / 2 / duration * width
            y = top + row_height - 8 - (value - low) / span * (row_height - 24)
            pts.append(f"{x:.1f},{y:.1f}")
        series.append(
            Series(name, description, [float(v) for v in values], low, high, " ".join(pts))
        )
    segments = [
        {
            "index": idx,
            "start": start,
            "end": end,
            "x": start / duration * width,
            "w": max((end - start) / duration * width, 1),
            "url": play_url(video, start),
        }
        for idx, start, end, _, _ in rows
    ]
    return Timeline(width, row_height, duration, segments, series)


# --- about -----------------------------------------------------------------------------------


def about() -> dict:
    from ml.models import ModelVersion

    model = ModelVersion.objects.filter(is_active=True).first()
    data: dict = {
        "model": model,
        "catalog_count": catalog_count(),
        "ready_count": Video.objects.filter(is_query=False, status=VideoStatus.READY).count(),
        "models_count": ModelVersion.objects.count(),
    }
    if model is None:
        return data
    metrics = model.metrics or {}
    per_genre = metrics.get("per_genre") or {}
    baseline = metrics.get("baseline_per_genre") or {}
    data.update(
        metrics=metrics,
        per_genre=[
            {
                "genre": name,
                "precision": values.get("precision"),
                "recall": values.get("recall"),
                "f1": values.get("f1"),
                "support": values.get("support"),
                "baseline_f1": (baseline.get(name) or {}).get("f1"),
            }
            for name, values in per_genre.items()
        ],
        history_plot=artifact_url(model.history_plot_path),
        confusion_plot=artifact_url(model.confusion_plot_path),
        history_final=[
            {"name": key, "value": values[-1], "epochs": len(values)}
            for key, values in sorted((model.history or {}).items())
            if isinstance(values, list) and values
        ],
    )
    return data
