"""Similarity judged against metadata, and the k-NN similarity graph (selectors: read only).

Every number here is measured through ``search.ranking.find_similar`` with ``exact=False``,
i.e. the HNSW path, the candidate pool and the genre boost exactly as users get them (one
pgvector query per catalog video; ~8 ms each on 2 cores, so 1000 videos x 8 combinations
take about a minute). A NumPy brute force would be faster but would measure a different
ranking (no HNSW approximation, no pool, no exclusions); ``exact=True`` is available to see
how much the index costs. See docs/evaluation.md for how to read the numbers.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from catalog.models import Genre, TrackMetadata, Video, VideoStatus
from ml.selectors import active_model_version
from search.models import Metric, Representation
from search.ranking import K_MAX, InvalidSearchParameter, RepresentationUnavailable, find_similar

ProgressCallback = Callable[[int, int, str], None]

ALL_REPRESENTATIONS = ("code", "music", "audio", "visual", "both")
ALL_METRICS = ("euclidean", "cosine")
DEFAULT_SEED = 0
# Agreement statistics (name -> TrackMetadata field); "tempo_octave" is derived from tempo.
AGREEMENT_FIELDS = {"tempo": "tempo", "tempo_octave": "tempo", "energy": "energy"}
# What find_similar reads from a query video (plus the title for the graph).
_VIDEO_FIELDS = (
    "id",
    "title",
    "genre",
    "predicted_genre",
    "youtube_id",
    "content_sha256",
    "has_audio",
    "has_video",
)


class EmptyCatalog(Exception):
    """There is no ready catalog video to evaluate."""


# --------------------------------------------------------------------------- results


@dataclass
class Agreement:
    """Mean |difference| of one metadata value between query and neighbours vs random picks."""

    neighbours: float | None  # None: no pair had the value on both sides
    random: float | None
    pairs: int  # (query, neighbour) pairs with both values known
    random_pairs: int

    @property
    def ratio(self) -> float | None:
        """neighbours / random: < 1 means neighbours agree better than chance."""
        if self.neighbours is None or not self.random:
            return None
        return self.neighbours / self.random


@dataclass
class GenreScore:
    genre: str
    n_queries: int
    precision: float
    chance: float


@dataclass
class ComboResult:
    representation: str
    metric: str
    available: bool
    reason: str = ""  # why it is unavailable
    n_queries: int = 0  # queries that returned neighbours
    n_skipped: int = 0  # queries find_similar refused (e.g. an all-zero vector for cosine)
    precision: float | None = None  # mean genre precision@k over queries with a curated genre
    chance: float | None = None  # expected precision of k random catalog videos
    per_genre: list[GenreScore] = field(default_factory=list)
    agreement: dict[str, Agreement] = field(default_factory=dict)
    seconds: float = 0.0
    # Which queries: "" = every searchable catalog video; for the learned code, the active
    # model's held-out (validation) videos, so it is never judged on what it trained on.
    queries: str = ""


@dataclass
class EvaluationReport:
    k: int
    boost: float
    exact: bool
    seed: int
    results: list[ComboResult]

    def result(self, representation: str, metric: str) -> ComboResult:
        for item in self.results:
            if (item.representation, item.metric) == (representation, metric):
                return item
        raise KeyError((representation, metric))

    def to_dict(self) -> dict:
        data = asdict(self)
        for combo, result in zip(data["results"], self.results, strict=True):
            for name, agreement in result.agreement.items():
                combo["agreement"][name]["ratio"] = agreement.ratio
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_table(self, per_genre: bool = False) -> str:
        """Plain-text table, one row per representation x metric."""

        def num(value: float | None, fmt: str) -> str:
            return "-" if value is None else format(value, fmt)

        def pair(agreement: Agreement | None, fmt: str) -> str:
            if agreement is None:
                return "-"
            return f"{num(agreement.neighbours, fmt)} ({num(agreement.random, fmt)})"

        header = (
            "repr",
            "metric",
            f"precision@{self.k}",
            "chance",
            "dtempo (random)",
            "dtempo x2 (random)",
            "denergy (random)",
            "n queries",
        )
        rows: list[tuple[str, ...]] = []
        notes: list[str] = []
        for r in self.results:
            if not r.available:
                rows.append((r.representation, r.metric, "unavailable", "", "", "", "", "0"))
                notes.append(f"{r.representation}/{r.metric} unavailable: {r.reason}")
                continue
            rows.append(
                (
                    r.representation,
                    r.metric,
                    num(r.precision, ".3f"),
                    num(r.chance, ".3f"),
                    pair(r.agreement.get("tempo"), ".1f"),
                    pair(r.agreement.get("tempo_octave"), ".1f"),
                    pair(r.agreement.get("energy"), ".3f"),
                    str(r.n_queries) + (f" ({r.n_skipped} skipped)" if r.n_skipped else ""),
                )
            )
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        lines = [line.rstrip() for line in lines]
        mode = "exact scan" if self.exact else "HNSW index"
        lines.append(
            f"k={self.k}, boost={self.boost:g}, {mode}; tempo in BPM, x2 = octave-tolerant; "
            f"random = {self.k} random catalog videos per query (seed {self.seed})"
        )
        lines += notes
        lines += [
            f"{r.representation}/{r.metric}: queries are {r.queries}"
            for r in self.results
            if r.available and r.queries
        ]
        if per_genre:
            for r in self.results:
                if r.available and r.per_genre:
                    lines.append(f"\n{r.representation}/{r.metric} per genre:")
                    for g in r.per_genre:
                        lines.append(
                            f"  {g.genre:<24} precision {g.precision:.3f}  chance "
                            f"{g.chance:.3f}  n={g.n_queries}"
                        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- validation


def _validate(
    representations: Iterable[str], metrics: Iterable[str], k: int, boost: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    representations, metrics = tuple(representations), tuple(metrics)
    for representation in representations:
        if representation not in Representation.values:
            raise InvalidSearchParameter(
                "representation",
                f"{representation!r} is not one of {', '.join(Representation.values)}",
            )
    for metric in metrics:
        if metric not in Metric.values:
            raise InvalidSearchParameter(
                "metric", f"{metric!r} is not one of {', '.join(Metric.values)}"
            )
    if not representations or not metrics:
        raise InvalidSearchParameter("representation", "nothing to evaluate")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise InvalidSearchParameter("k", f"must be an integer from 1 to {K_MAX}, got {k!r}")
    if isinstance(boost, bool) or not isinstance(boost, int | float) or not 0 < boost <= 1:
        raise InvalidSearchParameter("boost", f"must be in (0, 1] (1 = off), got {boost!r}")
    return representations, metrics


# --------------------------------------------------------------------------- selectors


def catalog_videos(representation: str | None = None):
    """Ready catalog videos (not queries), with a vector in ``representation`` when given."""
    videos = Video.objects.filter(is_query=False, status=VideoStatus.READY)
    if representation is not None:
        videos = videos.filter(**{f"vector__{representation}__isnull": False})
    return videos.order_by("id")


def unavailable_reason(representation: str, n_videos: int) -> str | None:
    """Why ``representation`` cannot be evaluated with ``n_videos`` searchable videos."""
    if n_videos == 0 and representation == Representation.CODE:
        return (
            "no learned codes yet: no active model has encoded the catalog "
            "(manage.py train --activate)"
        )
    if n_videos == 0:
        return (
            f"no ready catalog video has a '{representation}' vector "
            "(features not extracted or not materialised)"
        )
    if n_videos == 1:
        return f"only one catalog video has a '{representation}' vector: nothing to compare"
    return None


def held_out_video_ids() -> tuple[set[int] | None, str]:
    """The active model's validation videos (ids) and how to describe them; (None, reason)
    when there is no active model or it recorded none (trained before they were recorded)."""
    version = active_model_version()
    if version is None:
        return None, "no active model"
    ids = (version.metrics or {}).get("val_video_ids")
    if not ids:
        return None, (
            f"the active model ({version}) does not record its held-out videos: retrain it "
            "(manage.py train --activate) to evaluate the learned code honestly"
        )
    return set(ids), f"the active model's {len(ids)} held-out (validation) videos"


def _metadata() -> dict[int, dict[str, float | None]]:
    rows = TrackMetadata.objects.filter(video__is_query=False).values_list(
        "video_id", "tempo", "energy"
    )
    return {vid: {"tempo": tempo, "energy": energy} for vid, tempo, energy in rows}


def _difference(name: str, a: float, b: float) -> float:
    if name == "tempo_octave":
        # Beat trackers often report half or double the tempo: 70 and 140 BPM agree.
        return min(abs(a - b), abs(2 * a - b), abs(a - 2 * b))
    return abs(a - b)


class _Accumulator:
    """Sums of |difference| per statistic for neighbours and for random picks."""

    def __init__(self) -> None:
        self.sums: dict[tuple[str, str], float] = defaultdict(float)
        self.counts: dict[tuple[str, str], int] = defaultdict(int)

    def add(self, side: str, query: dict | None, others: Iterable[dict | None]) -> None:
        if query is None:
            return
        for other in others:
            if other is None:
                continue
            for name, column in AGREEMENT_FIELDS.items():
                a, b = query.get(column), other.get(column)
                if a is None or b is None:
                    continue
                self.sums[side, name] += _difference(name, a, b)
                self.counts[side, name] += 1

    def result(self) -> dict[str, Agreement]:
        def mean(side: str, name: str) -> float | None:
            n = self.counts[side, name]
            return self.sums[side, name] / n if n else None

        return {
            name: Agreement(
                neighbours=mean("neighbours", name),
                random=mean("random", name),
                pairs=self.counts["neighbours", name],
                random_pairs=self.counts["random", name],
            )
            for name in AGREEMENT_FIELDS
        }


def _chance(genre_ids: Sequence[int | None]) -> dict[int, float]:
    """Per genre: the share of *other* searchable videos with that genre, i.e. the expected
    precision of random neighbours for a query of that genre."""
    n = len(genre_ids)
    counts: dict[int, int] = defaultdict(int)
    for genre_id in genre_ids:
        if genre_id is not None:
            counts[genre_id] += 1
    return {genre_id: (count - 1) / (n - 1) for genre_id, count in counts.items()}


def _evaluate_combo(
    representation: str,
    metric: str,
    queries: list[Video],
    *,
    k: int,
    boost: float,
    exact: bool,
    seed: int,
    metadata: dict[int, dict],
    genre_names: dict[int, str],
    tick: Callable[[], None],
) -> ComboResult:
    started = time.perf_counter()
    # The random baseline draws from all searchable videos (not only the sampled queries).
    all_ids = list(catalog_videos(representation).values_list("id", "genre_id"))
    ids = np.array([vid for vid, _ in all_ids])
    chance_by_genre = _chance([genre for _, genre in all_ids])
    position = {int(vid): i for i, vid in enumerate(ids)}
    rng = np.random.default_rng(seed)  # same seed per combo: comparable random baselines
    acc = _Accumulator()
    precisions: dict[int, list[float]] = defaultdict(list)
    n_queries = n_skipped = 0
    for query in queries:
        tick()
        try:
            matches = find_similar(
                query,
                representation=representation,
                metric=metric,
                k=k,
                boost=boost,
                exact=exact,
            )
        except RepresentationUnavailable:
            n_skipped += 1
            continue
        if not matches:
            n_skipped += 1
            continue
        n_queries += 1
        if query.genre_id is not None:
            same = sum(m.video.genre_id == query.genre_id for m in matches)
            precisions[query.genre_id].append(same / len(matches))
        # Random baseline: as many random other catalog videos as there are neighbours.
        picks = rng.choice(len(ids) - 1, size=min(len(matches), len(ids) - 1), replace=False)
        picks[picks >= position[query.pk]] += 1  # skip the query itself
        meta = metadata.get(query.pk)
        acc.add("neighbours", meta, (metadata.get(m.video.pk) for m in matches))
        acc.add("random", meta, (metadata.get(int(ids[i])) for i in picks))

    per_genre = [
        GenreScore(
            genre=genre_names.get(genre_id, str(genre_id)),
            n_queries=len(values),
            precision=float(np.mean(values)),
            chance=chance_by_genre[genre_id],
        )
        for genre_id, values in precisions.items()
    ]
    per_genre.sort(key=lambda g: g.genre)
    scored = [(v, chance_by_genre[g]) for g, values in precisions.items() for v in values]
    return ComboResult(
        representation=representation,
        metric=metric,
        available=True,
        n_queries=n_queries,
        n_skipped=n_skipped,
        # Both means are over the same queries, so precision and chance are comparable.
        precision=float(np.mean([p for p, _ in scored])) if scored else None,
        chance=float(np.mean([c for _, c in scored])) if scored else None,
        per_genre=per_genre,
        agreement=acc.result(),
        seconds=time.perf_counter() - started,
    )


def evaluate(
    representations: Iterable[str] = ALL_REPRESENTATIONS,
    metrics: Iterable[str] = ALL_METRICS,
    k: int = 10,
    boost: float = 1.0,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    *,
    exact: bool = False,
    seed: int = DEFAULT_SEED,
) -> EvaluationReport:
    """Every searchable catalog video as a query against the rest of the catalog, for each
    representation x metric: genre precision@k vs chance, tempo/energy agreement vs random.

    - boost: the genre boost passed to find_similar (1 = off). A query's boost genre is its
      *predicted* genre, or its curated one when there is none, so boost < 1 on a catalog
      without predictions lifts precision by construction: read such numbers with care.
    - limit: at most this many queries per combination (a seeded sample), for quick looks.
    - progress(done, total, label) is called once per query.

    Raises InvalidSearchParameter for bad arguments and EmptyCatalog when no catalog video is
    ready. Representations without vectors are reported unavailable, not raised.
    """
    representations, metrics = _validate(representations, metrics, k, boost)
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise InvalidSearchParameter("limit", f"must be >= 1, got {limit!r}")
    if not catalog_videos().exists():
        raise EmptyCatalog("The catalog has no ready videos to evaluate.")

    metadata = _metadata()
    genre_names = dict(Genre.objects.values_list("id", "name"))
    plan: list[tuple[str, str, list[Video] | None, str | None]] = []
    described: dict[str, str] = {}
    for representation in representations:
        videos = list(catalog_videos(representation).only(*_VIDEO_FIELDS))
        reason = unavailable_reason(representation, len(videos))
        if reason is None and representation == Representation.CODE:
            # Every catalog video stays a candidate; only the queries are held out.
            held_out, description = held_out_video_ids()
            if held_out is None:
                reason = description
            else:
                videos = [video for video in videos if video.pk in held_out]
                described[representation] = description
                if not videos:
                    reason = f"none of {description} is searchable"
        if reason is None and limit is not None and len(videos) > limit:
            keep = np.random.default_rng(seed).choice(len(videos), size=limit, replace=False)
            videos = [videos[i] for i in sorted(keep)]
        for metric in metrics:
            plan.append((representation, metric, None if reason else videos, reason))

    total = sum(len(videos) for _, _, videos, _ in plan if videos)
    done = 0
    results = []
    for representation, metric, videos, reason in plan:
        if videos is None:
            results.append(ComboResult(representation, metric, available=False, reason=reason))
            continue
        label = f"{representation}/{metric}"

        def tick(label: str = label) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total, label)

        result = _evaluate_combo(
            representation,
            metric,
            videos,
            k=k,
            boost=boost,
            exact=exact,
            seed=seed,
            metadata=metadata,
            genre_names=genre_names,
            tick=tick,
        )
        result.queries = described.get(representation, "")
        results.append(result)
    return EvaluationReport(k=k, boost=boost, exact=exact, seed=seed, results=results)


# --------------------------------------------------------------------------- the graph


def similarity_graph(
    representation: str,
    metric: str,
    k: int = 5,
    *,
    boost: float = 1.0,
    exact: bool = False,
    progress: ProgressCallback | None = None,
) -> nx.Graph:
    """Undirected k-NN graph of the catalog: one node per searchable catalog video (id = video
    pk; title, artist, genre, predicted_genre; '' when unknown), an edge from each video to
    each of its k nearest neighbours with weight = similarity score (0..1) and the distance.

    Mutual neighbours share one edge, so there are at most n x k edges and every node has
    degree >= min(k, n - 1). Raises RepresentationUnavailable when nothing can be drawn.
    """
    _validate((representation,), (metric,), k, boost)
    videos = list(
        catalog_videos(representation)
        .select_related("genre", "predicted_genre")
        .only(*_VIDEO_FIELDS, "artist", "genre__name", "predicted_genre__name")
    )
    reason = unavailable_reason(representation, len(videos))
    if reason:
        raise RepresentationUnavailable(reason)
    graph = nx.Graph(representation=representation, metric=metric, k=k, boost=boost)
    for video in videos:
        graph.add_node(
            video.pk,
            title=video.title or str(video),
            artist=video.artist,
            genre=video.genre.name if video.genre else "",
            predicted_genre=video.predicted_genre.name if video.predicted_genre else "",
        )
    for done, video in enumerate(videos, start=1):
        try:
            matches = find_similar(
                video, representation=representation, metric=metric, k=k, boost=boost, exact=exact
            )
        except RepresentationUnavailable:
            matches = []  # e.g. an all-zero vector under cosine: an isolated node
        for match in matches:
            if match.video.pk in graph and not graph.has_edge(video.pk, match.video.pk):
                graph.add_edge(
                    video.pk, match.video.pk, weight=match.score, distance=match.distance
                )
        if progress:
            progress(done, len(videos), f"graph {representation}/{metric}")
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
    from matplotlib import colormaps

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
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg by default
    from matplotlib.lines import Line2D

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
