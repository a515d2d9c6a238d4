"""Database reads for the search pages and the API (no writes here, and no presentation:
what the pages show of these is made in search.presenters)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, QuerySet, prefetch_related_objects

from catalog.models import Genre, TrackMetadata, Video, VideoStatus
from catalog.selectors import catalog_videos, in_catalog
from features.models import Segment, VideoFeatures
from ml.models import ModelVersion
from mvsite.db_routers import search_alias, search_reads
from search import result_cache
from search.choices import POOLS, Pool, Representation
from search.explain import explain, explain_many
from search.forms import SearchParams
from search.models import Search, SearchSettings, VideoVector
from search.ranking import (
    K_MAX,
    MAX_PER_ARTIST_MAX,
    RepresentationUnavailable,
    check_k,
    find_similar,
)
from search.tags import TagMatch, tag_search, vocabulary
from search.versions import (
    POOL_FACTOR,
    VERSIONS_ALL,
    Row,
    Sound,
    cap_per_artist,
    collapse,
    renumber,
)

# Cards and matches show the poster: one query for all of them, not one each (only the path,
# not the feature vectors).
_POSTERS = Prefetch("features", queryset=VideoFeatures.objects.only("video_id", "poster"))

if TYPE_CHECKING:
    from search.explain import SegmentPair

logger = logging.getLogger(__name__)

SEGMENT_PAIRS_SHOWN = 3
EXPLORE_PAGE_SIZE = 24


@dataclass(frozen=True)
class CatalogCounts:
    total: int
    by_genre: dict[int, int]  # curated genre id -> catalog videos


def catalog_counts() -> CatalogCounts:
    """Catalog videos in all and per curated genre, from one GROUP BY that is kept until the
    catalog changes (search.result_cache): pages show them on every view, and counting 100k
    rows each time was most of the explore page's cost (docs/benchmarks.md)."""
    return result_cache.remember("catalog-counts", _count_catalog)


def _count_catalog() -> CatalogCounts:
    videos = catalog_videos().using(search_alias()).order_by()
    rows = list(videos.values_list("genre_id").annotate(n=Count("id")))
    by_genre = {genre_id: n for genre_id, n in rows if genre_id is not None}
    return CatalogCounts(total=sum(n for _, n in rows), by_genre=by_genre)


def catalog_count() -> int:
    return catalog_counts().total


def recent_searches(limit: int = 8) -> list[Search]:
    return list(
        Search.objects.select_related("query_video", "query_video__predicted_genre")[:limit]
    )


def genres_with_counts() -> QuerySet[Genre]:
    """Every genre with ``catalog_count`` annotated (the API's genre list and detail)."""
    return Genre.objects.annotate(
        catalog_count=Count("videos", filter=in_catalog("videos"))
    ).order_by("name")


def genres_counted() -> list[Genre]:
    """Every genre by name with ``catalog_count`` set from the kept catalog counts (pages)."""
    counts = catalog_counts().by_genre
    genres = list(Genre.objects.order_by("name"))
    for genre in genres:
        genre.catalog_count = counts.get(genre.pk, 0)
    return genres


# --- results ---------------------------------------------------------------------------------


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
    # Other versions of this match's song (search.ranking.Match, best first), hidden behind it.
    versions: list = field(default_factory=list)

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


def _explained(match, exp, *, pairs: int, versions: list | None = None) -> MatchRow:
    row = MatchRow(
        rank=match.rank,
        video=match.video,
        score=float(match.score),
        distance=float(match.distance),
        boosted_distance=float(getattr(match, "boosted_distance", match.distance)),
        same_genre=bool(match.same_genre),
        versions=list(versions or ()),
    )
    if exp is None:
        return row
    row.audio_share = exp.audio_share
    row.visual_share = exp.visual_share
    row.shared_tags = tuple(exp.shared_tags)
    row.segments = list(exp.segment_pairs)[:pairs]
    return row


def _ranked(query: Video, params: SearchParams, pool: str, genre, k: int, max_per_artist):
    return find_similar(
        query,
        representation=params.representation,
        metric=params.metric,
        k=k,
        boost=params.boost,
        pool=pool,
        genre=genre,
        max_per_artist=max_per_artist,
        min_duration=params.min_duration,
        max_duration=params.max_duration,
        tags=params.tags,
    )


def sounds(video_ids: list[int]) -> dict[int, Sound]:
    """The vectors that judge whether two videos sound the same (search.versions)."""
    rows = VideoVector.objects.filter(video_id__in=video_ids).values_list(
        "video_id", "music", "audio"
    )
    return {pk: Sound(music, audio) for pk, music, audio in rows}


def _find(query: Video, params: SearchParams, pool: str, genre: Genre | None = None) -> list[Row]:
    """The k result rows: with ``versions`` "all" the ranking's k matches; else (collapse,
    search.versions) the ranked list without the query's versions, one row per song, then the
    artist cap (a row counts once), cut to k. The ranking caps artists at POOL_FACTOR x the
    cap, so a song's versions reach the collapse without one artist filling the list.

    The list is ranked k long first — most answers have no versions among their top k, and a
    longer list makes the k-NN pool (and, with selective filters, the index walk) 3x as large
    (docs/benchmarks.md) — and only when fewer than k rows are left again with k x POOL_FACTOR,
    then K_MAX. So a row's "+N versions" are the versions within the list that was ranked.
    """
    cap = params.max_per_artist
    if params.versions == VERSIONS_ALL:
        return [Row(m) for m in _ranked(query, params, pool, genre, params.k, cap)]
    check_k(params.k)
    loose_cap = cap
    if isinstance(cap, int) and not isinstance(cap, bool) and 1 <= cap <= MAX_PER_ARTIST_MAX:
        loose_cap = min(MAX_PER_ARTIST_MAX, cap * POOL_FACTOR)
    for wanted in (params.k, min(K_MAX, params.k * POOL_FACTOR), K_MAX):
        matches = _ranked(query, params, pool, genre, wanted, loose_cap)
        rows = cap_per_artist(collapse(matches, query, sounds), cap)
        if len(rows) >= params.k or len(matches) < wanted or wanted >= K_MAX:
            break
    return renumber(rows[: params.k])


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
    pools: tuple[str, ...] = POOLS,
    genre: Genre | None = None,
    pairs: int = SEGMENT_PAIRS_SHOWN,
) -> Results:
    """Top-k per pool with explanations. `code` falls back to `both` when it is unavailable;
    `both` for a query with one modality ranks by that one (with a notice).

    ``params.max_per_artist`` None: SearchSettings.max_per_artist (what was used is in the
    result's params). Raises search.ranking.InvalidSearchParameter for parameters the
    ranking rejects.

    Reads a database replica when one is configured, unless the query changed (became ready)
    moments ago (mvsite/db_routers.py).
    """
    with search_reads(changed_at=query.updated_at):
        return _similar(query, params, pools=pools, genre=genre, pairs=pairs)


def _similar(
    query: Video, params: SearchParams, *, pools: tuple[str, ...], genre: Genre | None, pairs: int
) -> Results:
    if params.max_per_artist is None:
        params = params.with_max_per_artist(SearchSettings.cached().max_per_artist)
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
    prefetch_related_objects([r.match.video for rs in found.values() for r in rs], _POSTERS)
    for pool, found_rows in found.items():
        matches = [r.match for r in found_rows]
        explanations = _explanations(query, matches, result.params)
        rows = [
            _explained(r.match, exp, pairs=pairs, versions=r.versions)
            for r, exp in zip(found_rows, explanations, strict=True)
        ]
        if pool == Pool.CATALOG:
            result.catalog = rows
        else:
            result.queries = rows
    return result


def similar_kept(query: Video, params: SearchParams, *, genre: Genre | None = None) -> Results:
    """``similar`` for the results page (both pools), kept until the catalog changes
    (search.result_cache): a page someone shares is computed once, not on every view."""
    asked = (query.pk, params, genre.pk if genre is not None else None)
    return result_cache.remember(
        f"results:{result_cache.digest(asked)}", lambda: similar(query, params, genre=genre)
    )


# --- tags ----------------------------------------------------------------------------------


def tag_vocabulary() -> tuple[str, ...]:
    """The music tags a search can name (search.tags)."""
    return vocabulary()


def default_k() -> int:
    return int(SearchSettings.cached().k)


def videos_by_tags(tags: tuple[str, ...], k: int) -> list[TagMatch]:
    """The k ready catalog videos with the highest mean probability of ``tags``."""
    return tag_search(tags, k)


# --- explore ---------------------------------------------------------------------------------


def explore(genre: Genre | None, page_number) -> Page:
    """A page of the catalog, read from the replica when one is configured (the page's rows
    are read lazily, by the template: the queryset names its database)."""
    videos = (
        catalog_videos()
        .using(search_alias())
        .select_related("genre", "predicted_genre")
        .prefetch_related(_POSTERS)
    )
    counts = catalog_counts()
    if genre is not None:
        videos = videos.filter(genre=genre)
    # The catalog_video_order index serves this order (and its OFFSET) without a sort.
    videos = videos.order_by("artist", "title", "id")
    paginator = Paginator(videos, EXPLORE_PAGE_SIZE)
    # Known from the kept counts: no COUNT(*) over the catalog per page view.
    paginator.count = counts.by_genre.get(genre.pk, 0) if genre is not None else counts.total
    return paginator.get_page(page_number)


def genre_by_slug_or_id(value: str) -> Genre | None:
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return Genre.objects.filter(pk=int(value)).first()
    return Genre.objects.filter(slug=value.lower()).first()


# --- video page ------------------------------------------------------------------------------


def track_metadata(video: Video) -> TrackMetadata | None:
    """The video's track metadata, or None."""
    try:
        return video.metadata
    except TrackMetadata.DoesNotExist:
        return None


def segment_rows(video: Video) -> list[tuple]:
    """The video's segments in order as (index, start, end, audio, visual)."""

    return list(
        Segment.objects.filter(video=video)
        .order_by("index")
        .values_list("index", "start_seconds", "end_seconds", "audio", "visual")
    )


# --- about -----------------------------------------------------------------------------------


def about_summary() -> dict:
    """The active model (or None) and the catalog and model counts (search.presenters.about
    turns them into the about page)."""

    return {
        "model": ModelVersion.objects.filter(is_active=True).first(),
        "catalog_count": catalog_count(),
        "ready_count": catalog_videos().filter(status=VideoStatus.READY).count(),
        "models_count": ModelVersion.objects.count(),
    }
