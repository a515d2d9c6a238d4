import numpy as np
import pytest
from django.db import connection

from catalog.models import VideoStatus
from features.models import AUDIO_DIM, FeatureDefinition
from search.materialize import refit_and_materialize_all
from search.models import VideoVector
from search.ranking import (
    InvalidSearchParameter,
    RepresentationUnavailable,
    find_similar,
    similarity_score,
)
from tests.factories import GenreFactory, VideoFactory, VideoVectorFactory
from tests.search import (
    add_video,
    brute_force,
    ensure_definitions,
    feature_weights,
    make_catalog,
    raw_features,
    reference_vectors,
    statements_sent,
)

pytestmark = pytest.mark.django_db

REPRESENTATIONS = ("code", "audio", "visual", "both")
METRICS = ("euclidean", "cosine")


@pytest.fixture
def catalog():
    ensure_definitions()
    FeatureDefinition.objects.filter(position__in=[3, 80, 200]).update(weight=2.5)
    videos, raw = make_catalog(30)
    refit_and_materialize_all()
    codes = np.array(
        [VideoVector.objects.get(video=v).code for v in videos], dtype=np.float64
    )  # written as given (no standardisation): compare with the generated codes
    reference = reference_vectors(raw, raw, feature_weights())
    reference["code"] = codes
    return videos, reference


def _force_index_scans(index: str | None = None) -> None:
    with connection.cursor() as cursor:
        if index:
            # Rows of earlier tests (rolled back, same seeds: exact duplicates) stay in the
            # HNSW graph of a reused test database until autovacuum, and duplicates make
            # its neighbour lists useless; rebuild it from this test's rows.
            cursor.execute(f"REINDEX INDEX {index}")
        # A few hundred rows favour a scan + sort; make the planner take the HNSW path.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_exact_search_equals_numpy_brute_force(catalog, representation, metric):
    videos, reference = catalog
    query = videos[4]
    ids = [v.pk for v in videos]
    others = [i for i, pk in enumerate(ids) if pk != query.pk]
    expected = brute_force(
        reference[representation][others],
        reference[representation][4],
        metric,
        [ids[i] for i in others],
        k=10,
    )

    matches = find_similar(
        query, representation=representation, metric=metric, k=10, boost=1.0, exact=True
    )
    assert [m.video.pk for m in matches] == [pk for pk, _ in expected]
    np.testing.assert_allclose(
        [m.distance for m in matches], [d for _, d in expected], rtol=1e-4, atol=1e-5
    )
    assert [m.rank for m in matches] == list(range(1, 11))
    assert all(m.score == similarity_score(m.distance, metric) for m in matches)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_hnsw_path_uses_the_index_and_finds_the_same_top_k(catalog, representation, metric):
    videos, _ = catalog
    exact = find_similar(
        videos[7], representation=representation, metric=metric, k=5, boost=1.0, exact=True
    )
    suffix = "l2" if metric == "euclidean" else "cos"
    _force_index_scans(f"vv_{representation}_{suffix}_hnsw")
    with statements_sent() as sent:
        approx = find_similar(
            videos[7], representation=representation, metric=metric, k=5, boost=1.0
        )
    assert [m.video.pk for m in approx] == [m.video.pk for m in exact]

    operator = "<->" if metric == "euclidean" else "<=>"
    knn_sql, params = next((sql, params) for sql, params in sent if operator in sql)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + knn_sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using vv_{representation}_{suffix}_hnsw" in plan, plan


def test_score_mapping():
    assert similarity_score(0.0, "cosine") == 1.0
    assert similarity_score(1.0, "cosine") == 0.5
    assert similarity_score(2.0, "cosine") == 0.0
    assert similarity_score(0.0, "euclidean") == 1.0
    assert similarity_score(3.0, "euclidean") == 0.25


def test_feature_weight_moves_a_video_that_differs_only_in_that_feature():
    ensure_definitions()
    background, raw = make_catalog(20)
    base = raw.mean(axis=0)
    spread = raw.std(axis=0)
    query = add_video(base, title="query")
    only_f5 = base.copy()
    only_f5[5] += 3 * spread[5]  # far in feature 5 only
    everywhere = base + 0.5 * spread  # a little off in every feature
    a = add_video(only_f5, title="differs in f5")
    b = add_video(everywhere, title="differs everywhere")

    def order(weight: float) -> tuple[list[int], list]:
        FeatureDefinition.objects.filter(position=5).update(weight=weight)
        refit_and_materialize_all()
        matches = find_similar(
            query, representation="audio", metric="euclidean", k=3, boost=1.0, exact=True
        )
        return [m.video.pk for m in matches], matches

    ids, _ = order(1.0)
    assert ids.index(a.pk) < ids.index(b.pk)
    ids, matches = order(0.0)
    assert ids[0] == a.pk and matches[0].distance == pytest.approx(0.0, abs=1e-4)
    ids, _ = order(10.0)
    assert b.pk in ids and (a.pk not in ids or ids.index(b.pk) < ids.index(a.pk))


def test_genre_boost_lifts_a_slightly_farther_same_genre_video():
    ensure_definitions()
    rock, jazz = GenreFactory(name="Rock"), GenreFactory(name="Jazz")
    make_catalog(10, seed=3)
    base = raw_features(11, seed=3)[10]  # a fresh row of the catalog's distribution
    spread = raw_features(50, seed=3).std(axis=0)
    query = add_video(base, predicted_genre=rock, genre=jazz, is_query=True)
    nearer = add_video(base + 0.20 * spread, genre=jazz, title="other genre, nearer")
    # Curated genre only: the match counts predicted OR curated genre.
    farther = add_video(base + 0.25 * spread, genre=rock, title="same genre, farther")
    refit_and_materialize_all()

    off = find_similar(query, representation="both", metric="euclidean", k=2, boost=1.0)
    assert [m.video.pk for m in off] == [nearer.pk, farther.pk]
    on = find_similar(query, representation="both", metric="euclidean", k=2, boost=0.5)
    assert [m.video.pk for m in on] == [farther.pk, nearer.pk]
    assert (on[0].same_genre, on[1].same_genre) == (True, False)
    assert on[0].boosted_distance == pytest.approx(on[0].distance * 0.5)
    assert on[1].boosted_distance == on[1].distance
    assert on[0].distance > on[1].distance  # boosted, not closer


def test_query_and_its_duplicates_are_never_results():
    ensure_definitions()
    make_catalog(6)
    raw = raw_features(1, seed=21)[0]
    query = add_video(raw, youtube_id="abcdefghijk", content_sha256="1" * 64)
    same_content = add_video(raw, content_sha256="2" * 64)
    same_youtube = add_video(raw, youtube_id="zyxwvutsrqp")
    refit_and_materialize_all()

    hits = find_similar(query, representation="both", metric="cosine", k=3, exact=True)
    assert query.pk not in {m.video.pk for m in hits}
    assert {same_content.pk, same_youtube.pk} <= {m.video.pk for m in hits}
    # The unique constraints keep a second row from sharing these values, so a duplicate is a
    # query whose hash/id equals a catalog video's (e.g. a re-upload not saved yet).
    query.content_sha256, query.youtube_id = "2" * 64, "zyxwvutsrqp"
    hits = find_similar(query, representation="both", metric="cosine", k=3, exact=True)
    assert not {query.pk, same_content.pk, same_youtube.pk} & {m.video.pk for m in hits}


@pytest.mark.parametrize("exact", [True, False])
def test_exact_ties_are_broken_by_video_id(exact):
    ensure_definitions()
    make_catalog(8)
    raw = raw_features(1, seed=31)[0]
    twins = [add_video(raw, title=f"twin {i}") for i in range(4)]
    query = add_video(raw_features(1, seed=32)[0], title="query")
    refit_and_materialize_all()
    if not exact:
        _force_index_scans()
    for _ in range(3):
        hits = find_similar(
            query, representation="both", metric="cosine", k=12, boost=1.0, exact=exact
        )
        twin_hits = [m.video.pk for m in hits if m.video.pk in {t.pk for t in twins}]
        assert twin_hits == sorted(t.pk for t in twins)


def test_only_ready_videos_of_the_pool_are_candidates():
    ensure_definitions()
    videos, _ = make_catalog(6)
    pending = add_video(raw_features(1, seed=40)[0], status=VideoStatus.PENDING)
    past_query = add_video(raw_features(1, seed=41)[0], is_query=True)
    refit_and_materialize_all()

    catalog_ids = {
        m.video.pk for m in find_similar(videos[0], representation="both", metric="cosine", k=20)
    }
    assert catalog_ids == {v.pk for v in videos[1:]}
    query_ids = [
        m.video.pk
        for m in find_similar(
            videos[0], representation="both", metric="cosine", k=20, pool="queries"
        )
    ]
    assert query_ids == [past_query.pk]
    assert pending.pk not in catalog_ids


def test_vector_query():
    ensure_definitions()
    videos, _ = make_catalog(6)
    refit_and_materialize_all()
    target = np.asarray(VideoVector.objects.get(video=videos[2]).both)
    hits = find_similar(target, representation="both", metric="euclidean", k=2, exact=True)
    assert hits[0].video.pk == videos[2].pk and hits[0].distance == pytest.approx(0, abs=1e-5)
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InvalidSearchParameter, match="query: a 'both' query vector has 422"):
        find_similar(target[:40], representation="both", metric="euclidean", k=2)


def test_genre_filter_returns_k_rows_even_when_the_genre_is_rare():
    """Iterative index scans keep reading the HNSW graph until enough rows pass the filter."""
    rare, common = GenreFactory(name="Rare"), GenreFactory(name="Common")
    rng = np.random.default_rng(7)
    videos = [
        VideoFactory(title=f"c{i}", genre=rare if i % 60 == 0 else common) for i in range(300)
    ]
    for video in videos:  # codes only
        VideoVectorFactory(
            video=video, audio=None, visual=None, code=rng.standard_normal(40).astype(np.float32)
        )
    query = rng.standard_normal(40).astype(np.float32)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_videovector")
    exact = find_similar(query, representation="code", metric="cosine", k=5, genre=rare, exact=True)
    _force_index_scans("vv_code_cos_hnsw")
    approx = find_similar(
        query, representation="code", metric="cosine", k=5, genre=rare, ef_search=10
    )
    assert len(exact) == len(approx) == 5
    assert [m.video.pk for m in approx] == [m.video.pk for m in exact]
    assert all(m.video.genre_id == rare.pk for m in approx)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"k": True}, "k"),
        ({"k": 2.5}, "k"),
        ({"representation": "colour"}, "representation"),
        ({"metric": "manhattan"}, "metric"),
        ({"boost": 0.0}, "boost"),
        ({"boost": 1.5}, "boost"),
        ({"pool": "everything"}, "pool"),
        ({"ef_search": 0}, "ef_search"),
    ],
)
def test_bad_parameters_are_clear_errors(kwargs, param):
    args = {"representation": "both", "metric": "cosine", "k": 10, **kwargs}
    with pytest.raises(InvalidSearchParameter) as excinfo:
        find_similar(np.zeros(422), **args)
    assert excinfo.value.param == param
    assert str(excinfo.value).startswith(f"{param}: ")
    assert isinstance(excinfo.value, ValueError)


def test_code_without_any_codes_is_a_clear_error():
    ensure_definitions()
    raw = raw_features(2)
    video, other = add_video(raw[0]), add_video(raw[1])
    refit_and_materialize_all()
    with pytest.raises(RepresentationUnavailable, match="No learned codes yet"):
        find_similar(video, representation="code", metric="cosine", k=5)
    with pytest.raises(RepresentationUnavailable, match="No learned codes yet"):
        find_similar(np.ones(40), representation="code", metric="cosine", k=5)
    # Features still work.
    hits = find_similar(video, representation="both", metric="cosine", k=5)
    assert [m.video.pk for m in hits] == [other.pk]


def test_video_without_extracted_features_is_a_clear_error():
    ensure_definitions()
    make_catalog(3)
    refit_and_materialize_all()
    bare = VideoFactory(title="not extracted", status=VideoStatus.EXTRACTING)
    with pytest.raises(RepresentationUnavailable, match="features are not extracted"):
        find_similar(bare, representation="audio", metric="cosine", k=5)


def test_all_zero_weights_make_cosine_unavailable_not_nan():
    ensure_definitions()
    videos, _ = make_catalog(4)
    FeatureDefinition.objects.filter(position__lt=AUDIO_DIM).update(weight=0.0)
    refit_and_materialize_all()
    with pytest.raises(RepresentationUnavailable, match="all zeros"):
        find_similar(videos[0], representation="audio", metric="cosine", k=3)
    # Euclidean: every distance is 0, so ties by id.
    hits = find_similar(videos[0], representation="audio", metric="euclidean", k=3, boost=1.0)
    assert [m.video.pk for m in hits] == [v.pk for v in videos[1:]]
