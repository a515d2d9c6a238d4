"""Music tags as search words: the vocabulary, parsing a tag list, and the tag search.

A video's tags are ``features.VideoFeatures.music_tags``: the mean over its 10 s segments of
MusiCNN's 50 tag probabilities (written at extraction; see docs/musicnn.md). The vocabulary is
the tag list of the configured checkpoint (``settings.MUSICNN_MODEL``); only videos whose tags
came from that checkpoint take part (``music_model``), since another checkpoint orders
different tags. Words are matched case-insensitively ("hip-hop" is "Hip-Hop"); an unknown word
is refused with the closest known tags (difflib), so nothing is guessed.

- **Filter** (``tags=`` on a similarity search): every listed tag has a probability of at
  least ``TAG_FILTER_MIN`` — a WHERE clause in the k-NN statement (search.sql).
- **Tag search** (``tag_search``): the catalog ranked by the mean probability of the listed
  tags, i.e. the inner product of the stored tag vector with a weight vector holding 1/n at
  the listed tags (pgvector ``<#>``), exactly, through the indexes of search migration 0005
  (one per tag, and a covering one with the tag vectors alone); see ``tag_search``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from catalog.models import Video, VideoStatus
from features.models import MUSIC_TAG_COUNT, VideoFeatures
from features.musicnn import MODEL_TAGS
from search.sql import ROW_WIDTH, genre_joins, result_columns, video_from_row

TAG_FILTER_MIN = 0.1  # a tag "is on" a video when its mean probability reaches this
MAX_TAGS = 10


class UnknownTag(ValueError):
    """A tag list the vocabulary does not hold (message names the tag and close matches)."""


def model_name() -> str:
    return settings.MUSICNN_MODEL


def vocabulary() -> tuple[str, ...]:
    """The tag names, in the model's output order."""
    return MODEL_TAGS.get(model_name(), ())


@functools.lru_cache(maxsize=8)
def _index(model: str) -> dict[str, int]:
    return {tag.lower(): i for i, tag in enumerate(MODEL_TAGS.get(model, ()))}


def parse_tags(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"guitar, Female vocalists"`` (or a list of words) → the canonical tag names, in the
    given order without repeats; ``()`` for nothing. Raises UnknownTag naming the first word
    that is not a tag, with the closest tags, or when more than MAX_TAGS are given."""
    if raw is None:
        return ()
    words = raw.split(",") if isinstance(raw, str) else list(raw)
    index = _index(model_name())
    names = vocabulary()
    found: list[str] = []
    for word in words:
        key = str(word).strip().lower()
        if not key:
            continue
        if key not in index:
            close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.6)
            hint = (
                f"; did you mean {', '.join(repr(names[index[c]]) for c in close)}?"
                if close
                else "; GET /api/tags/ lists them"
            )
            raise UnknownTag(f"{str(word).strip()[:40]!r} is not a music tag{hint}")
        name = names[index[key]]
        if name not in found:
            found.append(name)
    if len(found) > MAX_TAGS:
        raise UnknownTag(f"at most {MAX_TAGS} tags, got {len(found)}")
    return tuple(found)


def positions(tags: Iterable[str]) -> list[int]:
    """0-based positions of canonical tag names in the tag vector."""
    index = _index(model_name())
    return [index[tag.lower()] for tag in tags]


def weights(tags: Iterable[str]) -> list[float]:
    """The weight vector whose inner product with a tag vector is the tags' mean probability."""
    at = positions(tags)
    vector = [0.0] * MUSIC_TAG_COUNT
    for i in at:
        vector[i] = 1.0 / len(at)
    return vector


# --------------------------------------------------------------------------- tag search


@dataclass(frozen=True)
class TagMatch:
    video: Video
    score: float  # mean probability of the asked tags, 0..1
    tag_scores: dict[str, float]  # each asked tag's probability
    rank: int


CANDIDATE_FACTOR = 10  # per asked tag, its k x 10 most probable videos are scored first
# Scores are float32 sums in pgvector: bounds are compared with this much slack, so rounding
# can never leave out a video that belongs in the top k (at worst it costs the second pass).
SLACK = 1e-5


COVERING_INDEX = "search_vf_tags_covering"  # (music_model) INCLUDE (video_id, music_tags)


def index_name(position: int) -> str:
    """The btree index on one tag's probability (0-based position; search migration 0005)."""
    return f"search_vf_tag_{position:02d}"


def _value(position: int) -> str:
    # A literal position: the expression must read exactly like the index's for the planner
    # to use it (a bound parameter would not match). Positions come from the vocabulary.
    return f"(vf.music_tags::real[])[{int(position) + 1}]"


def _ranked(positions: tuple[int, ...], k: int, source: str, where: str, extra: str) -> str:
    """Ready catalog videos with tags of the model, from ``source`` (aliases ``vf`` and
    ``v``), best mean of the tags first, ties by id: result_columns(), the score, each tag's
    probability, then ``extra``."""
    each = ", ".join(_value(p) for p in positions)
    return (
        f"SELECT {result_columns()}, -(vf.music_tags <#> %(weights)s::vector), {each}, {extra} "
        f"FROM {source} {genre_joins()}"
        f"WHERE v.status = %(status)s AND v.is_query = false AND vf.music_model = %(model)s "
        f"AND vf.music_tags IS NOT NULL{where} "
        f"ORDER BY vf.music_tags <#> %(weights)s::vector, v.id LIMIT {int(k)}"
    )


@functools.lru_cache(maxsize=256)
def candidates_statement(positions: tuple[int, ...], per_list: int, k: int) -> str:
    """First pass: the union of each tag's ``per_list`` most probable videos (a scan of that
    tag's index), the best k of them ranked exactly. The last column bounds the score of
    every video outside the union: the mean of each list's lowest probability (NULL when a
    list came back short, i.e. the union holds every tagged video)."""
    videos, features = Video._meta.db_table, VideoFeatures._meta.db_table
    per_list = int(per_list)
    lists = " UNION ALL ".join(
        f"(SELECT vf.video_id, {i} AS list, {_value(p)} AS value FROM {features} vf "
        f"WHERE vf.music_model = %(model)s AND vf.music_tags IS NOT NULL "
        f"ORDER BY {_value(p)} DESC NULLS LAST LIMIT {per_list})"
        for i, p in enumerate(positions)
    )
    n = len(positions)
    bound = (
        f"(SELECT CASE WHEN count(*) = {n} THEN sum(low) / {n} END FROM (SELECT min(value) "
        f"AS low FROM lists GROUP BY list HAVING count(*) = {per_list}) AS full_lists)"
    )
    source = (
        f"(SELECT DISTINCT video_id FROM lists) AS c "
        f"JOIN {features} vf ON vf.video_id = c.video_id JOIN {videos} v ON v.id = c.video_id"
    )
    return f"WITH lists AS MATERIALIZED ({lists}) " + _ranked(positions, k, source, "", bound)


@functools.lru_cache(maxsize=256)
def floor_statement(positions: tuple[int, ...], k: int, floored: bool) -> str:
    """Second pass: a video whose mean of the tags reaches ``%(floor)s`` has one of them at
    ``floor`` or above, so only those rows are ranked: a bitmap OR of the tags' indexes when
    the range is narrow, else (the planner's choice, from the indexes' statistics) an
    index-only scan of COVERING_INDEX, the tag vectors without the rest of the features row.
    ``floored=False`` ranks every tagged video: the exact scan."""
    videos, features = Video._meta.db_table, VideoFeatures._meta.db_table
    # Every video of the top k meets both conditions. The OR is what the indexes serve; the
    # score condition cuts more and costs one inner product instead of an array per tag, and
    # PostgreSQL evaluates the cheaper qual first: that matters when it scans the table.
    where = (
        " AND vf.music_tags <#> %(weights)s::vector <= -(%(floor)s)"
        " AND (" + " OR ".join(f"{_value(p)} >= %(floor)s" for p in positions) + ")"
        if floored
        else ""
    )
    source = f"{features} vf JOIN {videos} v ON v.id = vf.video_id"
    return _ranked(positions, k, source, where, "NULL")


def tag_search(tags: tuple[str, ...], k: int, *, exact_scan: bool = False) -> list[TagMatch]:
    """The k ready catalog videos with the highest mean probability of ``tags`` (canonical
    names from parse_tags, at least one), best first; ties by id.

    Exact, through the tags' indexes (Fagin's threshold algorithm, cut to two statements):
    the union of each tag's top k x CANDIDATE_FACTOR is ranked; every video outside it scores
    at most the mean of the lists' lowest probabilities, so when the k-th score beats that
    bound the answer is final. Otherwise the k-th score so far is a floor the true k-th
    reaches, and a video that reaches it has one of the tags at least that high: the second
    statement ranks only those. ``exact_scan`` ranks every tagged video instead (the
    reference the tests and bench/tags.py compare with)."""
    if not tags:
        raise UnknownTag("give at least one tag")
    at = tuple(positions(tags))
    params: dict[str, object] = {
        "weights": "[" + ",".join(repr(w) for w in weights(tags)) + "]",
        "model": model_name(),
        "status": VideoStatus.READY.value,
    }
    with connection.cursor() as cursor:
        if exact_scan:
            cursor.execute(floor_statement(at, k, False), params)
            rows = cursor.fetchall()
        else:
            cursor.execute(candidates_statement(at, k * CANDIDATE_FACTOR, k), params)
            rows = cursor.fetchall()
            bound = rows[0][-1] if rows else 0.0  # no row, no bound known: rank them all
            final = len(rows) == k and (bound is None or rows[-1][ROW_WIDTH] > bound + SLACK)
            if len(rows) < k and bound is None:
                final = True  # every tagged video was a candidate: there are no more
            if not final:
                floored = len(rows) == k
                if floored:
                    params["floor"] = rows[-1][ROW_WIDTH] - SLACK
                cursor.execute(floor_statement(at, k, floored), params)
                rows = cursor.fetchall()
    return [
        TagMatch(
            video=video_from_row(row),
            score=float(row[ROW_WIDTH]),
            # Then each tag's probability, then the bound.
            tag_scores=dict(zip(tags, map(float, row[ROW_WIDTH + 1 : -1]), strict=True)),
            rank=rank,
        )
        for rank, row in enumerate(rows, start=1)
    ]
