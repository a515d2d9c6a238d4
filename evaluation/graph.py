"""The k-NN similarity graph of the catalog: build it, export it (GraphML, JSON, PNG), draw it."""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import networkx as nx
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure  # no pyplot: no global state, Agg by default
from matplotlib.lines import Line2D

from catalog.models import Video
from evaluation.metrics import LIST_LENGTH, validate
from evaluation.neighbours import NO_GROUP, nearest_pools, ranked
from evaluation.selectors import catalog_arrays, unavailable_reason
from search.ranking import InvalidSearchParameter, RepresentationUnavailable, similarity_score


def similarity_graph(
    representation: str, metric: str, k: int = 5, *, artist_filter: bool = False
) -> nx.Graph:
    """Undirected k-NN graph of the catalog: one node per searchable catalog video (id = video
    pk; title, artist, genre, predicted_genre; '' when unknown), an edge from each video to
    each of its k nearest neighbours (the search's rules, boost off, exact) with weight =
    similarity score (0..1) and the distance.

    Mutual neighbours share one edge, so there are at most n x k edges and every node has
    degree >= min(k, n - 1). Raises RepresentationUnavailable when nothing can be drawn.
    """
    validate((representation,), (metric,), 1.0, 1, None)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= LIST_LENGTH:
        raise InvalidSearchParameter("k", f"must be an integer from 1 to {LIST_LENGTH}")
    catalog = catalog_arrays(representation)
    reason = unavailable_reason(representation, len(catalog))
    if reason:
        raise RepresentationUnavailable(reason)
    videos = {
        v.pk: v
        for v in Video.objects.filter(pk__in=catalog.ids.tolist()).select_related(
            "genre", "predicted_genre"
        )
    }
    graph = nx.Graph(representation=representation, metric=metric, k=k, boost=1.0)
    for pk in catalog.ids.tolist():
        video = videos[pk]
        graph.add_node(
            pk,
            title=video.title or str(video),
            artist=video.artist,
            genre=video.genre.name if video.genre else "",
            predicted_genre=video.predicted_genre.name if video.predicted_genre else "",
        )
    pools = nearest_pools(catalog, np.arange(len(catalog)), metric, k, exclude_artist=artist_filter)
    rows, distances = ranked(catalog, pools, k, 1.0)
    for i in range(len(catalog)):
        for row, distance in zip(rows[i], distances[i], strict=True):
            if row == NO_GROUP:
                continue
            u, v = int(catalog.ids[i]), int(catalog.ids[row])
            if not graph.has_edge(u, v):
                graph.add_edge(
                    u, v, weight=similarity_score(float(distance), metric), distance=float(distance)
                )
    return graph


def same_genre_edge_share(graph: nx.Graph) -> float | None:
    """Share of edges joining two videos of the same (known) curated genre."""
    edges = [
        (graph.nodes[u]["genre"], graph.nodes[v]["genre"])
        for u, v in graph.edges
        if graph.nodes[u]["genre"] and graph.nodes[v]["genre"]
    ]
    return sum(a == b for a, b in edges) / len(edges) if edges else None


def export_graph(graph: nx.Graph, path: str | os.PathLike) -> dict[str, Path]:
    """Write ``<path>.graphml``, ``<path>.json`` (node-link) and ``<path>.png``; ``path`` is the
    file name without extension (a trailing .graphml/.json/.png is dropped). Returns the paths.
    """
    base = Path(path)
    if base.suffix in (".graphml", ".json", ".png"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = {ext: Path(f"{base}.{ext}") for ext in ("graphml", "json", "png")}
    nx.write_graphml(graph, paths["graphml"])
    paths["json"].write_text(json.dumps(nx.node_link_data(graph, edges="edges"), indent=1))
    draw_graph(graph, paths["png"])
    return paths


def _genre_colours(genres: list[str]) -> dict[str, tuple]:
    named = sorted(g for g in set(genres) if g)
    cmap = colormaps["tab10" if len(named) <= 10 else "tab20"]
    colours = {
        g: cmap(i % cmap.N) if len(named) <= 20 else colormaps["hsv"](i / len(named))
        for i, g in enumerate(named)
    }
    colours[""] = (0.6, 0.6, 0.6, 1.0)  # no curated genre
    return colours


def draw_graph(graph: nx.Graph, path: str | os.PathLike) -> None:
    """PNG of the graph: spring layout, nodes coloured by curated genre, with a legend.

    Sizes scale with the node count so ~500 nodes stay readable: smaller nodes, fainter
    edges, titles only for small graphs.
    """
    n = graph.number_of_nodes()
    fig = Figure(figsize=(13, 10), dpi=110)
    ax = fig.add_axes((0.01, 0.01, 0.78, 0.92))
    ax.set_axis_off()
    attrs = graph.graph
    fig.suptitle(
        f"k-NN graph - {attrs.get('representation', '?')}, {attrs.get('metric', '?')}, "
        f"k={attrs.get('k', '?')}: {n} videos, {graph.number_of_edges()} edges",
        fontsize=12,
    )
    if n:
        # Spread nodes further apart than the default (1/sqrt(n)) so genre clusters separate.
        pos = nx.spring_layout(
            graph, k=2.0 / math.sqrt(n), iterations=100 if n <= 300 else 60, seed=0
        )
        genres = [graph.nodes[node].get("genre", "") for node in graph]
        colours = _genre_colours(genres)
        nx.draw_networkx_edges(
            graph, pos, ax=ax, width=0.6, alpha=max(0.08, min(0.5, 25 / n)), edge_color="#555"
        )
        nx.draw_networkx_nodes(
            graph,
            pos,
            ax=ax,
            node_size=max(12.0, min(250.0, 6000.0 / n)),
            node_color=[colours[g] for g in genres],
            linewidths=0.3,
            edgecolors="white",
        )
        if n <= 40:
            labels = {node: graph.nodes[node].get("title", str(node))[:24] for node in graph}
            nx.draw_networkx_labels(graph, pos, labels=labels, ax=ax, font_size=7)
        counts: dict[str, int] = defaultdict(int)
        for genre in genres:
            counts[genre] += 1
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markersize=8,
                color=colours[genre],
                label=f"{genre or '(no genre)'} ({counts[genre]})",
            )
            for genre in sorted(counts, key=lambda g: (g == "", g))
        ]
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.8, 0.93), fontsize=9)
    fig.savefig(path)
