import csv
import io
import json

import numpy as np
import pytest

from catalog.models import TrackMetadata, VideoStatus
from evaluation.metrics import EmptyCatalog, evaluate
from ml.models import ModelVersion
from search.materialize import refit_and_materialize_all
from search.ranking import InvalidSearchParameter
from tests.evaluation import GENRES, add_with_metadata, clustered_catalog, line_catalog
from tests.factories import GenreFactory, ModelVersionFactory
from tests.search import ensure_definitions, raw_features

pytestmark = pytest.mark.django_db


def test_line_catalog_matches_hand_computed_values():
    line_catalog()
    # Nearest along x = 0, 1, 3, 7: 0->1, 1->0, 3->1, 7->3; genres A A B B.
    report = evaluate(("both", "audio"), ("euclidean",), agreement_k=1, boost=1.0)
    for representation in ("both", "audio"):
        r = report.result(representation, "euclidean")
        assert r.available and r.n_queries == 4 and r.n_skipped == 0
        assert r.precision[1] == pytest.approx(3 / 4)  # only 3->1 crosses genres
        assert r.chance[1] == pytest.approx(1 / 3)  # 1 same-genre video among 3 others
        # Top 3 of each (all others): 0->1,3,7  1->0,3,7  3->1,0,7  7->3,1,0.
        assert r.precision[5] == pytest.approx(1 / 3)
        # AP@10 with one relevant video: 1/rank of it: 1, 1, 1/3 (3->1,0,7), 1 (7->3).
        assert r.map == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
        assert r.map_chance == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
        assert {g.genre: g.precision for g in r.per_genre} == {
            "Line A": pytest.approx(1 / 3),
            "Line B": pytest.approx(1 / 3),
        }
        # |dtempo|: 10, 10, |150-110| = 40, |300-150| = 150; octave-tolerant 300 ~ 2 x 150.
        assert r.agreement["tempo"].neighbours == pytest.approx((10 + 10 + 40 + 150) / 4)
        assert r.agreement["tempo_octave"].neighbours == pytest.approx((10 + 10 + 40 + 0) / 4)
        assert r.agreement["energy"].neighbours == pytest.approx((0.1 + 0.1 + 0.2 + 0.4) / 4)
        assert r.agreement["tempo"].pairs == r.agreement["tempo"].random_pairs == 4
        # Only fields with values are reported.
        assert set(r.agreement) == {"tempo", "tempo_octave", "energy"}


def planted_catalog(n_per_genre: int = 10, seed: int = 1) -> dict:
    """Two genres. `music`: two tight clusters by genre; `code`: pure noise. Metadata:
    energy follows the clusters, valence is shuffled. Every video is held out (the code is
    judged on all of them)."""
    ensure_definitions()
    rng = np.random.default_rng(seed)
    videos = []
    for g, name in enumerate(("Planted A", "Planted B")):
        genre = GenreFactory(name=name)
        centre = np.zeros(200)
        centre[g * 100 : (g + 1) * 100] = 1.0
        for i in range(n_per_genre):
            video = add_with_metadata(
                raw_features(1, seed=seed * 100 + g * 10 + i)[0],
                genre,
                None,
                0.2 + 0.6 * g + rng.normal(0, 0.02),
                music=(centre + rng.normal(0, 0.05, 200)).astype(np.float32),
                code=rng.normal(0, 1, 40).astype(np.float32),
                title=f"{name} {i}",
            )
            videos.append(video)
    for video, valence in zip(videos, rng.uniform(0, 1, len(videos)), strict=True):
        TrackMetadata.objects.filter(video=video).update(valence=valence)
    ModelVersionFactory(
        name="planted", is_active=True, metrics={"val_video_ids": [v.pk for v in videos]}
    )
    refit_and_materialize_all()
    return {"videos": videos}


def test_planted_catalog_precision_one_for_clusters_and_chance_for_noise():
    planted_catalog()
    report = evaluate(("music", "code"), ("cosine", "euclidean"), boost=1.0)
    for metric in ("cosine", "euclidean"):
        music, code = report.result("music", metric), report.result("code", metric)
        assert music.n_queries == code.n_queries == 20
        assert music.precision == {1: 1.0, 5: 1.0, 10: pytest.approx(9 / 10)}
        assert music.map == pytest.approx(1.0)
        chance = 9 / 19
        assert music.chance[5] == code.chance[5] == pytest.approx(chance)
        # Noise: near chance (20 queries: a few points either way).
        assert abs(code.precision[5] - chance) < 0.2 and code.precision[5] < 0.75
        assert code.map < 0.75 and abs(code.map - code.map_chance) < 0.25
        # Energy follows the clusters; valence was shuffled.
        assert music.agreement["energy"].ratio < 0.2
        assert 0.6 < music.agreement["valence"].ratio < 1.4
        assert 0.6 < code.agreement["energy"].ratio < 1.4
    assert "tempo" not in report.result("music", "cosine").agreement  # no tempo known


def test_artist_filter_removes_same_artist_hits():
    """Same-artist twins (near-identical sound, same genre) among genre-blind noise: they
    make precision@1 perfect until the filter drops them."""
    ensure_definitions()
    rng = np.random.default_rng(3)
    genres = [GenreFactory(name="Twin A"), GenreFactory(name="Twin B")]
    for pair in range(10):
        base = rng.normal(0, 1, 200)
        genre = genres[pair % 2]
        for twin in range(2):
            add_with_metadata(
                raw_features(1, seed=40 + 2 * pair + twin)[0],
                genre,
                None,
                None,
                music=(base + rng.normal(0, 0.01, 200)).astype(np.float32),
                artist=f"Artist {pair}",
                title=f"pair {pair} take {twin}",
            )
    refit_and_materialize_all()
    plain = evaluate(("music",), ("cosine",), boost=1.0).result("music", "cosine")
    filtered = evaluate(("music",), ("cosine",), boost=1.0, artist_filter=True)
    without = filtered.result("music", "cosine")
    assert plain.precision[1] == 1.0
    assert without.precision[1] < 0.8
    assert without.chance[1] == pytest.approx(8 / 18)  # neither itself nor its twin
    assert filtered.artist_filter and "query's artist dropped" in filtered.to_table()


def test_clustered_catalog_every_representation_and_both_boosts():
    clustered_catalog(per_genre=8)
    report = evaluate(boost=0.8)
    assert len(report.results) == 5 * 2 * 2
    for r in report.results:
        assert r.available, r.reason
        n = 12 if r.representation == "code" else 24  # code: the held-out half only
        assert r.n_queries == n
        assert (r.queries != "") == (r.representation == "code")
        assert r.chance[5] == pytest.approx(7 / 23)
        assert r.precision[5] > 0.9 > r.chance[5] * 2, (r.representation, r.metric)
        assert [(g.genre, g.n_queries) for g in r.per_genre] == [(g, n // 3) for g in GENRES]
        tempo, energy = r.agreement["tempo"], r.agreement["energy"]
        assert tempo.neighbours < 10 < 30 < tempo.random
        assert tempo.ratio < 0.25 and energy.ratio < 0.25
        assert tempo.pairs == n * 5
    assert {r.boost for r in report.results} == {1.0, 0.8}
    assert "held-out (validation) videos" in report.to_table()
    # One graph per representation x metric, every video a node.
    assert len(report.graphs) == 10
    graph = next(g for g in report.graphs if (g.representation, g.metric) == ("both", "cosine"))
    assert graph.nodes == 24 and graph.components == 3  # three genre clusters, no link
    assert graph.same_genre_edge_share == 1.0
    assert graph.same_genre_pair_chance == pytest.approx(7 / 23)


def test_a_hub_is_found():
    """In high dimensions a point near the centre of a random cloud is closer to every point
    than they are to each other: it is in almost every top-5 list."""
    ensure_definitions()
    rng = np.random.default_rng(4)
    genres = [GenreFactory(name="Cloud A"), GenreFactory(name="Cloud B")]
    for i in range(20):
        add_with_metadata(
            raw_features(1, seed=60 + i)[0],
            genres[i % 2],
            None,
            None,
            music=rng.normal(0, 1, 200).astype(np.float32),
            title=f"cloud {i}",
        )
    hub = add_with_metadata(
        raw_features(1, seed=99)[0],
        None,
        None,
        None,
        music=np.full(200, 0.01, np.float32),
        title="The hub",
    )
    refit_and_materialize_all()
    report = evaluate(("music",), ("euclidean",), boost=1.0)
    stats = report.graphs[0]
    assert stats.hubs[0]["video_id"] == hub.pk and stats.hubs[0]["title"] == "The hub"
    assert stats.hubs[0]["count"] == 20 and stats.hubness > 1  # skewed to the right
    assert stats.components == 1 and stats.nodes == 21


def test_code_is_not_evaluated_without_held_out_videos():
    clustered_catalog(per_genre=3)
    ModelVersion.objects.update(metrics={})
    code = evaluate(("code",), ("cosine",)).result("code", "cosine")
    assert not code.available and "retrain it" in code.reason


def test_classifier_accuracy_on_held_out_videos():
    videos = clustered_catalog(per_genre=4)
    version = ModelVersion.objects.get()
    held = version.metrics["val_video_ids"]
    for name, group in videos.items():
        for video in group:
            video.predicted_genre = video.genre if name != "Metal" else videos["Techno"][0].genre
            video.save()
    classifier = evaluate(("both",), ("cosine",)).classifier
    assert classifier["held_out"] == len(held) == 6
    assert classifier["accuracy"] == pytest.approx(4 / 6)  # the two held-out Metal are wrong


def test_random_baseline_is_seeded_and_the_same_for_every_metric():
    clustered_catalog(per_genre=4)
    one = evaluate(("both",), ("euclidean", "cosine"), seed=7, boost=1.0)
    two = evaluate(("both",), ("euclidean",), seed=7, boost=1.0)
    randoms = [r.agreement["tempo"].random for r in (*one.results, *two.results)]
    assert randoms[0] == randoms[1] == randoms[2]
    other = evaluate(("both",), ("euclidean",), seed=8, boost=1.0).results[0]
    assert other.agreement["tempo"].random != randoms[0]


def test_representation_without_codes_is_reported_unavailable_and_exports():
    clustered_catalog(per_genre=3, codes=False)
    report = evaluate(("code", "both"), ("cosine",), boost=1.0)
    code, both = report.results
    assert not code.available and "no learned codes" in code.reason
    assert code.n_queries == 0 and code.precision == {}
    assert both.available and both.n_queries == 9
    table = report.to_table()
    code_row = next(line for line in table.splitlines() if line.startswith("code "))
    assert code_row.split() == ["code", "cosine", "off", "unavailable"]
    assert "code/cosine unavailable: no learned codes" in table
    data = json.loads(report.to_json())
    assert data["results"][0]["available"] is False
    assert data["results"][1]["agreement"]["tempo"]["ratio"] == pytest.approx(
        both.agreement["tempo"].ratio
    )
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    p5 = next(r for r in rows if r["representation"] == "both" and r["figure"] == "precision@5")
    assert float(p5["value"]) == pytest.approx(both.precision[5])
    assert float(p5["chance_or_random"]) == pytest.approx(both.chance[5])
    energy = next(r for r in rows if r["figure"] == "agreement_energy")
    assert float(energy["ratio"]) == pytest.approx(both.agreement["energy"].ratio)
    assert [r["available"] for r in rows if r["representation"] == "code"] == ["False"]


def test_only_ready_catalog_videos_are_queries_and_progress_counts_them():
    videos = clustered_catalog(per_genre=3)
    add_with_metadata(raw_features(1)[0], None, 100.0, 0.5, is_query=True, title="a query")
    failed = videos["Metal"][0]
    failed.status = VideoStatus.FAILED
    failed.save()
    calls = []
    report = evaluate(("both", "audio"), ("euclidean",), progress=lambda *a: calls.append(a))
    assert [r.n_queries for r in report.results if not r.boosted] == [8, 8]
    assert calls[-1] == (16, 16, "audio/euclidean")
    assert report.results[0].chance[5] == pytest.approx((3 * 2 + 2 * 1 + 3 * 2) / 8 / 7)
    limited = evaluate(("both",), ("euclidean",), limit=5, boost=1.0)
    assert limited.results[0].n_queries == 5 and limited.graphs == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"agreement_k": 0}, "agreement_k"),
        ({"agreement_k": 11}, "agreement_k"),
        ({"boost": 0.0}, "boost"),
        ({"boost": 1.5}, "boost"),
        ({"representations": ("sound",)}, "representation"),
        ({"representations": ()}, "representation"),
        ({"metrics": ("manhattan",)}, "metric"),
        ({"limit": 0}, "limit"),
        ({"graph_k": 0}, "graph_k"),
    ],
)
def test_bad_parameters_are_rejected_before_searching(kwargs, param):
    with pytest.raises(InvalidSearchParameter) as error:
        evaluate(**kwargs)
    assert error.value.param == param


def test_empty_catalog_raises():
    with pytest.raises(EmptyCatalog):
        evaluate()
