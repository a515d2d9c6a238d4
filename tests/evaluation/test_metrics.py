import json

import networkx as nx
import pytest

from catalog.models import VideoStatus
from ml.models import ModelVersion
from search.evaluation import (
    EmptyCatalog,
    evaluate,
    export_graph,
    same_genre_edge_share,
    similarity_graph,
)
from search.ranking import InvalidSearchParameter, RepresentationUnavailable
from tests.evaluation import GENRES, add_with_metadata, clustered_catalog, line_catalog
from tests.search import raw_features

pytestmark = pytest.mark.django_db


def test_line_catalog_matches_hand_computed_values():
    line_catalog()
    # k=1 neighbours along x = 0, 1, 3, 7: 0->1, 1->0, 3->1, 7->3; genres A A B B.
    report = evaluate(("both", "audio"), ("euclidean",), k=1)
    for representation in ("both", "audio"):
        r = report.result(representation, "euclidean")
        assert r.available and r.n_queries == 4 and r.n_skipped == 0
        assert r.precision == pytest.approx(3 / 4)  # only 3->1 crosses genres
        assert r.chance == pytest.approx(1 / 3)  # 1 same-genre video among 3 others
        assert {g.genre: g.precision for g in r.per_genre} == {"Line A": 1.0, "Line B": 0.5}
        # |dtempo|: 10, 10, |150-110| = 40, |300-150| = 150; octave-tolerant 300 ~ 2 x 150.
        assert r.agreement["tempo"].neighbours == pytest.approx((10 + 10 + 40 + 150) / 4)
        assert r.agreement["tempo_octave"].neighbours == pytest.approx((10 + 10 + 40 + 0) / 4)
        assert r.agreement["energy"].neighbours == pytest.approx((0.1 + 0.1 + 0.2 + 0.4) / 4)
        assert r.agreement["tempo"].pairs == r.agreement["tempo"].random_pairs == 4

    # k=2: 0->{1,3}: 1/2, 1->{0,3}: 1/2, 3->{1,0}: 0, 7->{3,1}: 1/2.
    r = evaluate(("both",), ("euclidean",), k=2).result("both", "euclidean")
    assert r.precision == pytest.approx((0.5 + 0.5 + 0 + 0.5) / 4)
    assert r.agreement["tempo"].pairs == 8


def test_clustered_catalog_beats_chance_and_random_for_every_representation():
    clustered_catalog(per_genre=8)
    report = evaluate(k=5)
    assert len(report.results) == 10
    for r in report.results:
        assert r.available, r.reason
        # The learned code is judged on the model's held-out videos only (every other one).
        n = 12 if r.representation == "code" else 24
        assert r.n_queries == n
        assert (r.queries != "") == (r.representation == "code")
        assert r.chance == pytest.approx(7 / 23)  # 7 same-genre videos among 23 others
        assert r.precision > 0.9 > r.chance * 2, (r.representation, r.metric)
        assert [(g.genre, g.n_queries) for g in r.per_genre] == [(g, n // 3) for g in GENRES]
        tempo, energy = r.agreement["tempo"], r.agreement["energy"]
        # Neighbours share the genre's tempo (+-3 BPM noise); random picks are ~53 BPM off.
        assert tempo.neighbours < 10 < 30 < tempo.random
        assert tempo.ratio < 0.25 and energy.ratio < 0.25
        assert tempo.pairs == n * 5
    assert "held-out (validation) videos" in report.to_table()


def test_code_is_not_evaluated_without_held_out_videos():
    clustered_catalog(per_genre=3)
    ModelVersion.objects.update(metrics={})
    code = evaluate(("code",), ("cosine",), k=2).result("code", "cosine")
    assert not code.available and "retrain it" in code.reason


def test_random_baseline_is_seeded_and_the_same_for_every_metric():
    clustered_catalog(per_genre=4)
    one = evaluate(("both",), ("euclidean", "cosine"), k=3, seed=7)
    two = evaluate(("both",), ("euclidean",), k=3, seed=7)
    randoms = [r.agreement["tempo"].random for r in (*one.results, *two.results)]
    assert randoms[0] == randoms[1] == randoms[2]
    other = evaluate(("both",), ("euclidean",), k=3, seed=8).results[0]
    assert other.agreement["tempo"].random != randoms[0]


def test_representation_without_codes_is_reported_unavailable():
    clustered_catalog(per_genre=3, codes=False)
    report = evaluate(("code", "both"), ("cosine",), k=2)
    code, both = report.results
    assert not code.available and "no learned codes" in code.reason
    assert code.n_queries == 0 and code.precision is None
    assert both.available and both.n_queries == 9
    table = report.to_table()
    code_row = next(line for line in table.splitlines() if line.startswith("code "))
    assert code_row.split() == ["code", "cosine", "unavailable", "0"]
    assert "code/cosine unavailable: no learned codes" in table
    data = json.loads(report.to_json())
    assert data["results"][0]["available"] is False
    assert data["results"][1]["agreement"]["tempo"]["ratio"] == pytest.approx(
        both.agreement["tempo"].ratio
    )


def test_only_ready_catalog_videos_are_queries_and_progress_counts_them():
    videos = clustered_catalog(per_genre=3)
    raw = raw_features(1)[0]
    add_with_metadata(raw, None, 100.0, 0.5, is_query=True, title="a user's query")
    failed = videos["Metal"][0]
    failed.status = VideoStatus.FAILED
    failed.save()
    calls = []
    report = evaluate(("both", "audio"), ("euclidean",), k=2, progress=lambda *a: calls.append(a))
    assert [r.n_queries for r in report.results] == [8, 8]
    assert len(calls) == 16 and calls[-1] == (16, 16, "audio/euclidean")
    assert report.results[0].chance == pytest.approx((3 * 2 + 2 * 1 + 3 * 2) / 8 / 7)

    limited = evaluate(("both",), ("euclidean",), k=2, limit=5)
    assert limited.results[0].n_queries == 5


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"boost": 0.0}, "boost"),
        ({"boost": 1.5}, "boost"),
        ({"representations": ("sound",)}, "representation"),
        ({"metrics": ("manhattan",)}, "metric"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_rejected_before_searching(kwargs, param):
    with pytest.raises(InvalidSearchParameter) as error:
        evaluate(**kwargs)
    assert error.value.param == param


def test_empty_catalog_raises():
    with pytest.raises(EmptyCatalog):
        evaluate()


def test_similarity_graph_exports_graphml_json_and_png(tmp_path):
    clustered_catalog(per_genre=8)
    graph = similarity_graph("both", "cosine", k=3)
    n = graph.number_of_nodes()
    assert n == 24
    assert all(degree >= 3 for _, degree in graph.degree())
    assert 24 * 3 / 2 <= graph.number_of_edges() <= 24 * 3
    node = graph.nodes[next(iter(graph))]
    assert node["genre"] in GENRES and node["predicted_genre"] == ""
    assert all(0 < w <= 1 for *_, w in graph.edges(data="weight"))
    assert same_genre_edge_share(graph) > 0.9

    paths = export_graph(graph, tmp_path / "knn-both-cosine")
    back = nx.read_graphml(paths["graphml"], node_type=int)
    assert set(back.nodes) == set(graph.nodes)
    assert {frozenset(e) for e in back.edges} == {frozenset(e) for e in graph.edges}
    u, v = next(iter(graph.edges))
    assert back.edges[u, v]["weight"] == pytest.approx(graph.edges[u, v]["weight"])
    assert back.nodes[u]["title"] == graph.nodes[u]["title"]
    linked = nx.node_link_graph(json.loads(paths["json"].read_text()), edges="edges")
    assert linked.number_of_edges() == graph.number_of_edges()
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["png"].stat().st_size > 10_000


def test_similarity_graph_of_a_missing_representation_raises():
    clustered_catalog(per_genre=2, codes=False)
    with pytest.raises(RepresentationUnavailable, match="no learned codes"):
        similarity_graph("code", "euclidean")
