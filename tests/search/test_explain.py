import numpy as np
import pytest

from features.models import AUDIO_DIM
from search import materialize
from search.explain import explain, explain_many, pair_distances, top_pairs
from search.materialize import refit_and_materialize_all
from search.models import VideoVector
from search.ranking import InvalidSearchParameter, RepresentationUnavailable
from tests.search import (
    add_segments,
    add_video,
    ensure_definitions,
    feature_weights,
    make_catalog,
    raw_features,
    reference_vectors,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    ensure_definitions()
    videos, raw = make_catalog(10)
    query, match = videos[0], videos[1]
    seg = raw_features(19)[10:]  # fresh rows of the catalog's distribution
    query_segments, match_segments = seg[:4], seg[4:].copy()
    match_segments[2] = query_segments[1]  # one moment in common
    add_segments(query, query_segments)
    add_segments(match, match_segments)
    refit_and_materialize_all()
    return query, match, raw, query_segments, match_segments


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_modality_shares_split_the_squared_both_distance(pair, metric):
    query, match, *_ = pair
    q = np.asarray(VideoVector.objects.get(video=query).both, dtype=np.float64)
    m = np.asarray(VideoVector.objects.get(video=match).both, dtype=np.float64)
    if metric == "cosine":
        q, m = q / np.linalg.norm(q), m / np.linalg.norm(m)
    audio = ((q[:AUDIO_DIM] - m[:AUDIO_DIM]) ** 2).sum()
    visual = ((q[AUDIO_DIM:] - m[AUDIO_DIM:]) ** 2).sum()

    result = explain(query, match, "both", metric)
    assert result.audio_share == pytest.approx(audio / (audio + visual), rel=1e-5)
    assert result.audio_share + result.visual_share == pytest.approx(1.0)


def test_a_video_that_differs_only_in_sound_is_explained_by_audio():
    ensure_definitions()
    _, raw = make_catalog(8)
    base = raw_features(9)[8]
    other = base.copy()
    other[:AUDIO_DIM] = raw_features(10)[9][:AUDIO_DIM]
    a, b = add_video(base), add_video(other)
    refit_and_materialize_all()
    result = explain(a, b, "both", "euclidean")
    assert result.audio_share == pytest.approx(1.0) and result.visual_share == pytest.approx(0.0)
    assert result.segment_pairs == []  # no segments stored


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("representation", ["audio", "visual", "both"])
def test_top_segment_pairs_equal_a_brute_force_loop(pair, representation, metric):
    query, match, raw, query_segments, match_segments = pair
    space = {
        name: reference_vectors(
            np.vstack([query_segments, match_segments]), raw, feature_weights()
        )[name]
        for name in ("audio", "visual", "both")
    }[representation]
    qs, ms = space[:4], space[4:]
    expected = []
    for i, q in enumerate(qs):
        for j, m in enumerate(ms):
            if metric == "euclidean":
                d = np.linalg.norm(q - m)
            else:
                d = 1 - q @ m / (np.linalg.norm(q) * np.linalg.norm(m))
            expected.append((d, i, j))
    expected = sorted(expected)[:3]

    result = explain(query, match, representation, metric)
    got = [(p.distance, p.query_index, p.match_index) for p in result.segment_pairs]
    assert [(i, j) for _, i, j in got] == [(i, j) for _, i, j in expected]
    np.testing.assert_allclose([d for d, *_ in got], [d for d, *_ in expected], atol=1e-6)
    first = result.segment_pairs[0]
    assert (first.query_index, first.query_start, first.match_index, first.match_start) == (
        1,
        10.0,
        2,
        20.0,
    )
    assert first.distance == pytest.approx(0.0, abs=1e-6)


def test_code_explanations_compare_segments_in_both(pair):
    query, match, *_ = pair
    code = explain(query, match, "code", "cosine")
    both = explain(query, match, "both", "cosine")
    assert code.segment_pairs == both.segment_pairs
    assert code.representation == "code"


def test_top_pairs_break_ties_by_position():
    distances = np.array([[1.0, 0.5], [0.5, 0.5]])
    assert top_pairs(distances, 3) == [(0, 1, 0.5), (1, 0, 0.5), (1, 1, 0.5)]
    assert top_pairs(np.zeros((0, 3))) == []
    # Cosine treats a zero (silent) row as unrelated, not NaN.
    assert pair_distances(np.zeros((1, 3)), np.ones((1, 3)), "cosine")[0, 0] == 1.0


def test_errors():
    ensure_definitions()
    videos, _ = make_catalog(3)
    with pytest.raises(RepresentationUnavailable, match="not been materialised"):
        explain(videos[0], videos[1], "both", "cosine")
    refit_and_materialize_all()
    with pytest.raises(InvalidSearchParameter, match="representation"):
        explain(videos[0], videos[1], "colour", "cosine")
    with pytest.raises(InvalidSearchParameter, match="metric"):
        explain(videos[0], videos[1], "both", "manhattan")
    silent = add_video(raw_features(1, seed=4)[0], has_audio=False)
    refit_and_materialize_all()
    with pytest.raises(RepresentationUnavailable, match="no audio track"):
        explain(videos[0], silent, "audio", "cosine")


def test_explain_many_equals_one_by_one_in_three_queries(pair, django_assert_num_queries):
    query, match, *_ = pair
    others = list(type(query).objects.exclude(pk=query.pk).order_by("pk")[:4])
    assert match in others
    one_by_one = [explain(query, m, "both", "euclidean") for m in others]
    materialize.forget_cached_generation()
    with django_assert_num_queries(3):  # stats, 'both' vectors, segments
        many = explain_many(query, others, "both", "euclidean")
    assert many == one_by_one
    with django_assert_num_queries(2):  # the stats stay in this process for a few seconds
        assert explain_many(query, others, "both", "euclidean") == many
