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
  the listed tags (pgvector ``<#>``), one statement, ``ORDER BY … LIMIT k``.
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


CANDIDATE_FACTOR = 10  # tag vectors ranked before the catalog join, per result


@functools.lru_cache(maxsize=64)
def _statement(n_tags: int, k: int, joined: bool) -> str:
    """The tag search. ``joined=False`` ranks the tag vectors alone, k x CANDIDATE_FACTOR of
    them, and only then keeps ready catalog videos (joining 100k catalog rows before the top-k
    cost 30 of 80 ms); ``joined=True`` joins first, for when too few of those candidates were
    ready catalog videos. The last column is the candidates' count."""
    videos, features = Video._meta.db_table, VideoFeatures._meta.db_table
    each = ", ".join(f"(t.tags::real[])[%(tag_{i})s::int]" for i in range(n_tags))
    ready = "v.status = %(status)s AND v.is_query = false"
    # <#> is the negative inner product; the LIMITs are literals (see search.sql).
    if joined:
        candidates = (
            f"SELECT vf.video_id, vf.music_tags AS tags, "
            f"-(vf.music_tags <#> %(weights)s::vector) AS score "
            f"FROM {features} vf JOIN {videos} v ON v.id = vf.video_id "
            f"WHERE vf.music_model = %(model)s AND vf.music_tags IS NOT NULL AND {ready} "
            f"ORDER BY vf.music_tags <#> %(weights)s::vector, vf.video_id LIMIT {int(k)}"
        )
    else:
        candidates = (
            f"SELECT vf.video_id, vf.music_tags AS tags, "
            f"-(vf.music_tags <#> %(weights)s::vector) AS score FROM {features} vf "
            f"WHERE vf.music_model = %(model)s AND vf.music_tags IS NOT NULL "
            f"ORDER BY vf.music_tags <#> %(weights)s::vector, vf.video_id "
            f"LIMIT {int(k) * CANDIDATE_FACTOR}"
        )
    return (
        f"WITH t AS MATERIALIZED ({candidates}) "
        f"SELECT {result_columns()}, t.score, {each}, (SELECT count(*) FROM t) "
        f"FROM t JOIN {videos} v ON v.id = t.video_id {genre_joins()}"
        f"WHERE {ready} ORDER BY t.score DESC, v.id LIMIT {int(k)}"
    )


def tag_search(tags: tuple[str, ...], k: int) -> list[TagMatch]:
    """The k ready catalog videos with the highest mean probability of ``tags`` (canonical
    names from parse_tags, at least one), best first; ties by id."""
    if not tags:
        raise UnknownTag("give at least one tag")
    at = positions(tags)
    params = {
        "weights": "[" + ",".join(repr(w) for w in weights(tags)) + "]",
        "model": model_name(),
        "status": VideoStatus.READY.value,
    }
    params.update({f"tag_{i}": p + 1 for i, p in enumerate(at)})  # SQL arrays start at 1
    with connection.cursor() as cursor:
        cursor.execute(_statement(len(tags), k, False), params)
        rows = cursor.fetchall()
        # (No row at all says nothing about the candidates: look again then too.)
        if len(rows) < k and (not rows or rows[0][-1] >= k * CANDIDATE_FACTOR):
            # Most top candidates were queries or unready: rank the ready catalog itself.
            cursor.execute(_statement(len(tags), k, True), params)
            rows = cursor.fetchall()
    return [
        TagMatch(
            video=video_from_row(row),
            score=float(row[ROW_WIDTH]),
            # Then each tag's probability, then the candidates' count.
            tag_scores=dict(zip(tags, map(float, row[ROW_WIDTH + 1 : -1]), strict=True)),
            rank=rank,
        )
        for rank, row in enumerate(rows, start=1)
    ]
