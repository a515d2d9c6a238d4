import json

import networkx as nx
import pytest

from evaluation.graph import export_graph, same_genre_edge_share, similarity_graph
from search.ranking import InvalidSearchParameter, RepresentationUnavailable
from tests.evaluation import GENRES, clustered_catalog

pytestmark = pytest.mark.django_db


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


def test_similarity_graph_of_a_missing_representation_or_bad_k_raises():
    clustered_catalog(per_genre=2, codes=False)
    with pytest.raises(RepresentationUnavailable, match="no learned codes"):
        similarity_graph("code", "euclidean")
    with pytest.raises(InvalidSearchParameter):
        similarity_graph("both", "euclidean", k=0)
