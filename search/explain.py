"""Why two videos match: audio vs visual share of the distance, the closest 10 s moments, and
the music tags both videos share.

Everything is computed in the space the search uses: the stored standardised + weighted
vectors (search.materialize), and the segments put in that space with the same generation
(stats + weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from catalog.models import Video
from features.models import AUDIO_DIM, BOTH_DIM, MUSIC_DIM, Segment
from features.musicnn import MODEL_TAGS
from search.choices import Metric, Representation
from search.materialize import cached_generation, decode_vector, vector_bytes
from search.models import VideoVector
from search.ranking import InvalidSearchParameter, RepresentationUnavailable

TOP_PAIRS = 3
TOP_TAGS = 3
# A tag is "shared" when the geometric mean of the two videos' probabilities reaches this:
# MusiCNN's MSD tags are multi-label sigmoids whose typical top values are 0.2-0.6.
SHARED_TAG_MIN = 0.1


@dataclass(frozen=True)
class SegmentPair:
    """One of a match's closest (query segment, match segment) pairs; the pages show it and
    the API serialises it as it is (search.serializers.SegmentPairSerializer)."""

    query_index: int
    query_start: float  # seconds into the query
    match_index: int
    match_start: float  # seconds into the match
    distance: float  # in the search's space and metric

    @property
    def query_second(self) -> int:
        """Whole seconds into the query, where its player starts."""
        return int(self.query_start)

    @property
    def match_second(self) -> int:
        """Whole seconds into the match, where its player starts."""
        return int(self.match_start)


@dataclass(frozen=True)
class Explanation:
    representation: str
    metric: str
    audio_share: float  # share of the squared 'both' distance due to audio; + visual = 1
    visual_share: float
    segment_pairs: list[SegmentPair]  # the TOP_PAIRS closest (query segment, match segment)
    shared_tags: tuple[str, ...] = ()  # music tags both videos have, strongest first


def shared_tags(
    query_tags: np.ndarray | None,
    match_tags: np.ndarray | None,
    names: Sequence[str],
    n: int = TOP_TAGS,
) -> tuple[str, ...]:
    """The ``n`` tags with the highest sqrt(p_query * p_match) of at least SHARED_TAG_MIN.

    The geometric mean is high only when *both* videos have the tag, unlike a sum, which a
    single confident video dominates. Ties keep the tag order of the model.
    """
    if query_tags is None or match_tags is None:
        return ()
    q, m = np.asarray(query_tags, np.float64), np.asarray(match_tags, np.float64)
    if q.shape != m.shape or q.shape != (len(names),):
        return ()
    scores = np.sqrt(np.clip(q, 0, 1) * np.clip(m, 0, 1))
    order = np.argsort(-scores, kind="stable")[:n]
    return tuple(names[i] for i in order if scores[i] >= SHARED_TAG_MIN)


def modality_shares(query: np.ndarray, match: np.ndarray, metric: str) -> tuple[float, float]:
    """Audio and visual shares of the squared distance between two 'both' vectors.

    Euclidean: d^2 = |qa - ma|^2 + |qv - mv|^2, so each block's term / d^2. Cosine: the cosine
    distance is |q/|q| - m/|m||^2 / 2, so the same split on unit vectors. Identical vectors
    (d = 0) have nothing to split: 0.5 / 0.5.
    """
    q, m = np.asarray(query, dtype=np.float64), np.asarray(match, dtype=np.float64)
    if metric == Metric.COSINE:
        q, m = _unit(q[None, :])[0], _unit(m[None, :])[0]
    diff2 = (q - m) ** 2
    audio, visual = float(diff2[:AUDIO_DIM].sum()), float(diff2[AUDIO_DIM:].sum())
    total = audio + visual
    if total <= 0:
        return 0.5, 0.5
    return audio / total, visual / total


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _dots(q: np.ndarray, m: np.ndarray) -> np.ndarray:
    # einsum, not `q @ m.T`: a multi-threaded BLAS spins its threads on such small products,
    # which cost 10x more CPU than the product itself on a busy web server.
    return np.einsum("id,jd->ij", q, m)


def pair_distances(query_rows: np.ndarray, match_rows: np.ndarray, metric: str) -> np.ndarray:
    """(n_query, n_match) distances in one matrix product.

    Euclidean: |q - m|^2 = |q|^2 + |m|^2 - 2 q.m after centring both sets on the query mean
    (distances don't change; small norms keep the expansion from cancelling). Cosine:
    1 - q.m / (|q| |m|); a zero row (a silent segment in 'audio') is "unrelated": distance 1.
    The pairs we report are recomputed exactly (exact_distance).
    """
    q, m = np.asarray(query_rows, np.float64), np.asarray(match_rows, np.float64)
    if metric == Metric.COSINE:
        return np.clip(1.0 - _dots(_unit(q), _unit(m)), 0.0, 2.0)
    if len(q):
        centre = q.mean(axis=0)
        q, m = q - centre, m - centre
    squared = (q**2).sum(1)[:, None] + (m**2).sum(1)[None, :] - 2.0 * _dots(q, m)
    return np.sqrt(np.maximum(squared, 0.0))


def exact_distance(query_row: np.ndarray, match_row: np.ndarray, metric: str) -> float:
    if metric == Metric.COSINE:
        q, m = _unit(query_row[None, :])[0], _unit(match_row[None, :])[0]
        if not q.any() or not m.any():
            return 1.0
        return float(np.clip(((q - m) ** 2).sum() / 2.0, 0.0, 2.0))  # = 1 - cos, no cancelling
    return float(np.sqrt(((query_row - match_row) ** 2).sum()))


def top_pairs(distances: np.ndarray, n: int = TOP_PAIRS) -> list[tuple[int, int, float]]:
    """The n smallest cells as (row, column, distance); ties by row then column."""
    if distances.size == 0:
        return []
    flat = distances.ravel()
    n = min(n, flat.size)
    # Candidates: everything up to the n-th smallest value (incl. ties), then a stable sort.
    kth = np.partition(flat, n - 1)[n - 1]
    cells = np.flatnonzero(flat <= kth)
    cells = cells[np.lexsort((cells, flat[cells]))][:n]
    cols = distances.shape[1]
    return [(int(c // cols), int(c % cols), float(flat[c])) for c in cells]


def _segments(
    video_ids: list[int], columns: tuple[str, ...] = ("audio", "visual")
) -> dict[int, tuple[list[tuple[int, float]], np.ndarray]]:
    """Per video: [(index, start)] and its segments' ``columns`` side by side, raw, in one
    query; segments with a NULL column (no music embedding) are left out."""
    width = {"audio": AUDIO_DIM, "visual": BOTH_DIM - AUDIO_DIM, "music": MUSIC_DIM}
    segments = Segment.objects.filter(video_id__in=video_ids)
    for column in columns:
        segments = segments.filter(**{f"{column}__isnull": False})
    rows = segments.order_by("video_id", "index").values_list(
        "video_id", "index", "start_seconds", *(vector_bytes(c) for c in columns)
    )
    grouped: dict[int, tuple[list[tuple[int, float]], list[np.ndarray]]] = {
        pk: ([], []) for pk in video_ids
    }
    for video_id, index, start, *vectors in rows:
        meta, features = grouped[video_id]
        meta.append((index, start))
        features.append(np.concatenate([decode_vector(v) for v in vectors]))
    n_columns = sum(width[c] for c in columns)
    return {
        pk: (meta, np.vstack(features) if features else np.zeros((0, n_columns)))
        for pk, (meta, features) in grouped.items()
    }


def explain(query: Video, match: Video, representation: str, metric: str) -> Explanation:
    """Explain one match (see the module doc). For ``code`` the segments are compared in 'both'.

    Raises InvalidSearchParameter for a bad representation/metric and RepresentationUnavailable
    when either video has no materialised vectors (or lacks the modality asked for).
    """
    return explain_many(query, [match], representation, metric)[0]


def explain_many(
    query: Video, matches: Sequence[Video], representation: str, metric: str
) -> list[Explanation]:
    """``explain`` for a whole result list in three queries (stats, unless this process read
    them in the last few seconds; vectors + tags; segments).

    Segments are compared in the representation's own space ('music': the MusiCNN segment
    embeddings; 'code': 'both').

    Same errors as ``explain``; raised if *any* match cannot be explained.
    """
    if representation not in Representation.values:
        raise InvalidSearchParameter("representation", f"{representation!r} is not valid")
    if metric not in Metric.values:
        raise InvalidSearchParameter("metric", f"{metric!r} is not valid")
    if not matches:
        return []
    generation = cached_generation()
    if generation is None:
        raise RepresentationUnavailable("The search vectors have not been materialised yet.")
    column = Representation.BOTH if representation == Representation.CODE else representation
    videos = [query, *matches]
    for video in videos:
        if column in (Representation.AUDIO, Representation.MUSIC) and video.has_audio is False:
            raise RepresentationUnavailable(f"Video {video.pk} has no audio track.")
        if column == Representation.VISUAL and video.has_video is False:
            raise RepresentationUnavailable(f"Video {video.pk} has no picture.")
    ids = [video.pk for video in videos]
    both: dict[int, np.ndarray | None] = {}
    tags: dict[int, tuple[np.ndarray | None, str]] = {}
    # The videos' music tags come with their vectors: one query for both.
    for pk, vector, music_tags, music_model in VideoVector.objects.filter(
        video_id__in=ids
    ).values_list(
        "video_id",
        vector_bytes("both"),
        vector_bytes("video__features__music_tags"),
        "video__features__music_model",
    ):
        both[pk] = decode_vector(vector)
        tags[pk] = (decode_vector(music_tags), music_model or "")
    missing = [pk for pk in ids if both.get(pk) is None]
    if missing:
        raise RepresentationUnavailable(
            f"Video {missing[0]} has no extracted, materialised features to compare."
        )
    if column == Representation.MUSIC:
        segments = _segments(ids, ("music",))
        meta = {pk: segments[pk][0] for pk in ids}
        rows = np.vstack([segments[pk][1] for pk in ids])
    else:
        segments = _segments(ids)
        # Every segment of every video into the search space in one go.
        meta = {pk: segments[pk][0] for pk in ids}
        raw = np.vstack([segments[pk][1] for pk in ids])
        rows = generation.transform(raw[:, :AUDIO_DIM], raw[:, AUDIO_DIM:], column)
    if column == Representation.BOTH:
        # Same rule as the stored vectors: a missing modality is a zero block.
        owner = np.repeat(np.arange(len(videos)), [len(meta[pk]) for pk in ids])
        no_audio = np.array([v.has_audio is False for v in videos])[owner]
        no_video = np.array([v.has_video is False for v in videos])[owner]
        rows[no_audio, :AUDIO_DIM] = 0.0
        rows[no_video, AUDIO_DIM:] = 0.0
    bounds = np.cumsum([0] + [len(meta[pk]) for pk in ids])
    query_rows, match_rows = rows[: bounds[1]], rows[bounds[1] :]
    distances = pair_distances(query_rows, match_rows, metric)  # query x all match segments

    query_tags, query_model = tags.get(query.pk, (None, ""))
    explanations = []
    for n, match in enumerate(matches, start=1):
        first, last = bounds[n] - bounds[1], bounds[n + 1] - bounds[1]
        audio_share, visual_share = modality_shares(both[query.pk], both[match.pk], metric)
        pairs = []
        for i, j, _ in top_pairs(distances[:, first:last]):
            q_index, q_start = meta[query.pk][i]
            m_index, m_start = meta[match.pk][j]
            d = exact_distance(query_rows[i], match_rows[first + j], metric)
            pairs.append(SegmentPair(q_index, q_start, m_index, m_start, d))
        match_tags, match_model = tags.get(match.pk, (None, ""))
        names = MODEL_TAGS.get(query_model) if query_model == match_model else None
        common = shared_tags(query_tags, match_tags, names) if names else ()
        explanations.append(
            Explanation(representation, metric, audio_share, visual_share, pairs, common)
        )
    return explanations
