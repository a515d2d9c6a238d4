"""Similarity judged against metadata: genre precision, metadata agreement, graph statistics.

Every catalog video is a query against the rest of the catalog (the learned code: only the
active model's held-out videos, so it is never judged on what it trained on), for each
representation x metric x boost off/on, through ``evaluation.neighbours`` — the search's
ranking rules on an exact scan. See docs/evaluation.md for how to read the figures.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import sparse, stats
from scipy.sparse import csgraph

from catalog.models import Genre, Video
from evaluation.neighbours import NO_GROUP, CatalogArrays, Pools, nearest_pools, ranked
from evaluation.selectors import (
    catalog_arrays,
    held_out_classifier_accuracy,
    held_out_video_ids,
    metadata_table,
    searchable_videos,
    unavailable_reason,
)
from search.choices import ALL_METRICS, ALL_REPRESENTATIONS, Metric, Representation
from search.models import SearchSettings
from search.ranking import MIN_POOL_FACTOR, InvalidSearchParameter

ProgressCallback = Callable[[int, int, str], None]

CUTOFFS = (1, 5, 10)  # precision@1 is also the 1-NN accuracy
LIST_LENGTH = max(CUTOFFS)  # results per query; mean average precision is MAP@10
PER_GENRE_CUTOFF = 5
DEFAULT_AGREEMENT_K = 5
DEFAULT_GRAPH_K = 5
DEFAULT_SEED = 0
HUBS_SHOWN = 5


class EmptyCatalog(Exception):
    """There is no ready catalog video to evaluate."""


# --------------------------------------------------------------------------- results


@dataclass
class Agreement:
    """Mean |difference| of one metadata value between query and neighbours vs random picks."""

    neighbours: float | None  # None: no pair had the value on both sides
    random: float | None
    pairs: int
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
    precision: float  # precision@PER_GENRE_CUTOFF
    chance: float


@dataclass
class ComboResult:
    representation: str
    metric: str
    boost: float  # 1 = off
    available: bool
    reason: str = ""  # why it is unavailable
    n_queries: int = 0  # queries that got results
    n_skipped: int = 0  # queries with no defined distance (a zero vector under cosine)
    precision: dict[int, float | None] = field(default_factory=dict)  # cutoff -> mean
    chance: dict[int, float | None] = field(default_factory=dict)
    map: float | None = None  # mean average precision@LIST_LENGTH
    map_chance: float | None = None
    per_genre: list[GenreScore] = field(default_factory=list)
    agreement: dict[str, Agreement] = field(default_factory=dict)
    seconds: float = 0.0
    # Which queries: "" = every searchable catalog video; for the learned code, the active
    # model's held-out (validation) videos.
    queries: str = ""

    @property
    def boosted(self) -> bool:
        return self.boost < 1


@dataclass
class GraphStats:
    """The k-NN graph of one representation x metric (every video a node, boost off)."""

    representation: str
    metric: str
    k: int
    nodes: int
    edges: int
    components: int
    largest_component: int
    same_genre_edge_share: float | None  # edges joining two videos of one curated genre
    same_genre_pair_chance: float | None  # the same share among all pairs
    hubness: float | None  # skewness of k-occurrence (how often a video is in a top-k list)
    antihub_share: float  # videos in nobody's top-k list
    max_occurrence: int
    hubs: list[dict] = field(default_factory=list)  # video_id, title, count


@dataclass
class EvaluationReport:
    boost: float
    agreement_k: int
    graph_k: int
    artist_filter: bool
    seed: int
    limit: int | None
    catalog_size: int
    results: list[ComboResult]
    graphs: list[GraphStats] = field(default_factory=list)
    classifier: dict | None = None
    seconds: float = 0.0

    def result(self, representation: str, metric: str, boosted: bool = False) -> ComboResult:
        for item in self.results:
            if (item.representation, item.metric, item.boosted) == (
                representation,
                metric,
                boosted,
            ):
                return item
        raise KeyError((representation, metric, boosted))

    def to_dict(self) -> dict:
        data = asdict(self)
        for combo, result in zip(data["results"], self.results, strict=True):
            combo["boosted"] = result.boosted
            combo["precision"] = {str(c): v for c, v in result.precision.items()}
            combo["chance"] = {str(c): v for c, v in result.chance.items()}
            for name, agreement in result.agreement.items():
                combo["agreement"][name]["ratio"] = agreement.ratio
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_table(self, per_genre: bool = False) -> str:
        return report_table(self.to_dict(), per_genre=per_genre)

    def to_csv(self) -> str:
        return report_csv(self.to_dict())


# --------------------------------------------------------------------------- text forms
# They read the dict form, so stored runs (EvaluationRun.figures) print the same way.


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def report_table(data: dict, per_genre: bool = False) -> str:
    """Plain-text table of a report's dict form, one row per representation x metric x boost."""
    header = ["repr", "metric", "boost", "P@1", "P@5", "P@10", "MAP@10", "chance@5"]
    fields = sorted({name for r in data["results"] for name in r["agreement"]})
    header += [f"{name} ratio" for name in fields] + ["n queries"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for r in data["results"]:
        boost = "off" if not r["boosted"] else f"{r['boost']:g}"
        if not r["available"]:
            rows.append([r["representation"], r["metric"], boost, "unavailable"])
            note = f"{r['representation']}/{r['metric']} unavailable: {r['reason']}"
            if note not in notes:
                notes.append(note)
            continue
        p = r["precision"]
        rows.append(
            [r["representation"], r["metric"], boost]
            + [_num(p.get(str(c)), ".3f") for c in CUTOFFS]
            + [_num(r["map"], ".3f"), _num(r["chance"].get(str(PER_GENRE_CUTOFF)), ".3f")]
            + [_num((r["agreement"].get(name) or {}).get("ratio"), ".2f") for name in fields]
            + [str(r["n_queries"]) + (f" ({r['n_skipped']} skipped)" if r["n_skipped"] else "")]
        )
    widths = [
        max(len(row[i]) for row in (header, *rows) if i < len(row)) for i in range(len(header))
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=False)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows
    ]
    lines.append(
        f"{data['catalog_size']} catalog videos; precision over the top {LIST_LENGTH} "
        f"(P@1 = 1-NN accuracy); ratio = mean |difference| to the {data['agreement_k']} nearest "
        f"/ to {data['agreement_k']} random videos (< 1: neighbours agree); seed {data['seed']}"
        + ("; results by the query's artist dropped" if data["artist_filter"] else "")
    )
    lines += notes
    described = {
        f"{r['representation']}/{r['metric']}: queries are {r['queries']}"
        for r in data["results"]
        if r["available"] and r["queries"]
    }
    lines += sorted(described)
    if data.get("classifier"):
        c = data["classifier"]
        lines.append(
            f"classifier on held-out videos: accuracy {_num(c['accuracy'], '.3f')} over "
            f"{c['judged']} videos ({c['model']})"
        )
    for g in data.get("graphs", []):
        lines.append(
            f"graph {g['representation']}/{g['metric']} k={g['k']}: {g['components']} "
            f"component(s), {_num(g['same_genre_edge_share'], '.0%')} same-genre edges "
            f"(chance {_num(g['same_genre_pair_chance'], '.0%')}), hubness "
            f"{_num(g['hubness'], '.2f')}, {g['antihub_share']:.0%} in no top-{g['k']} list"
        )
    if per_genre:
        for r in data["results"]:
            if r["available"] and r["per_genre"]:
                boost = "boost off" if not r["boosted"] else f"boost {r['boost']:g}"
                lines.append(f"\n{r['representation']}/{r['metric']} ({boost}) per genre:")
                for g in r["per_genre"]:
                    lines.append(
                        f"  {g['genre']:<24} P@{PER_GENRE_CUTOFF} {g['precision']:.3f}  "
                        f"chance {g['chance']:.3f}  n={g['n_queries']}"
                    )
    return "\n".join(lines)


CSV_COLUMNS = (
    "representation",
    "metric",
    "boost",
    "available",
    "n_queries",
    "figure",
    "value",
    "chance_or_random",
    "ratio",
)


def report_csv(data: dict) -> str:
    """One row per representation x metric x boost x figure (long format: easy to plot)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in data["results"]:
        base = [r["representation"], r["metric"], r["boost"], r["available"], r["n_queries"]]
        if not r["available"]:
            writer.writerow([*base, "", "", "", ""])
            continue
        for c in CUTOFFS:
            value, chance = r["precision"].get(str(c)), r["chance"].get(str(c))
            writer.writerow([*base, f"precision@{c}", value, chance, ""])
        writer.writerow([*base, f"map@{LIST_LENGTH}", r["map"], r["map_chance"], ""])
        for name, a in sorted(r["agreement"].items()):
            writer.writerow([*base, f"agreement_{name}", a["neighbours"], a["random"], a["ratio"]])
    return out.getvalue()


# --------------------------------------------------------------------------- validation


def validate(
    representations: Iterable[str],
    metrics: Iterable[str],
    boost: float,
    agreement_k: int,
    limit: int | None,
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
    if not representations:
        raise InvalidSearchParameter("representation", "nothing to evaluate")
    if not metrics:
        raise InvalidSearchParameter("metric", "nothing to evaluate")
    if isinstance(boost, bool) or not isinstance(boost, int | float) or not 0 < boost <= 1:
        raise InvalidSearchParameter("boost", f"must be in (0, 1] (1 = off), got {boost!r}")
    if (
        isinstance(agreement_k, bool)
        or not isinstance(agreement_k, int)
        or not (1 <= agreement_k <= LIST_LENGTH)
    ):
        raise InvalidSearchParameter(
            "agreement_k", f"must be an integer from 1 to {LIST_LENGTH}, got {agreement_k!r}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidSearchParameter("limit", f"must be an integer >= 1, got {limit!r}")
    return representations, metrics


# --------------------------------------------------------------------------- figures


def _genre_figures(
    catalog: CatalogArrays, pools: Pools, rows: np.ndarray, queries: np.ndarray
) -> tuple[dict, dict, float | None, float | None, dict[int, list[float]], dict[int, float]]:
    """Precision@cutoffs, their chance, MAP@LIST_LENGTH and its chance, over ``queries`` (a
    mask over the pool's queries: those judged) that have a curated genre and got results."""
    genre = catalog.genre[pools.queries]
    present = rows != NO_GROUP
    returned = present.sum(axis=1)
    judged = queries & (genre != NO_GROUP) & (returned > 0)
    relevant = (catalog.genre[np.where(present, rows, 0)] == genre[:, None]) & present
    precision, chance = {}, {}
    n_cand = np.maximum(pools.n_candidates, 1)
    base_rate = pools.n_same_genre / n_cand
    for c in CUTOFFS:
        shown = np.minimum(returned, c)
        values = relevant[:, :c].sum(axis=1) / np.maximum(shown, 1)
        precision[c] = float(values[judged].mean()) if judged.any() else None
        # Random videos share the genre at the base rate whatever the cutoff.
        chance[c] = float(base_rate[judged].mean()) if judged.any() else None
    ranks = np.arange(1, LIST_LENGTH + 1)
    hits = np.cumsum(relevant, axis=1)
    denominator = np.minimum(pools.n_same_genre, LIST_LENGTH)
    ap = np.where(
        denominator > 0, (relevant * hits / ranks).sum(axis=1) / np.maximum(denominator, 1), 0.0
    )
    # Expected AP@K of a random order of N candidates with R relevant (exact): each rank i is
    # relevant with probability R/N, and then the i-1 above hold (i-1)(R-1)/(N-1) relevant.
    n, r = pools.n_candidates.astype(float), pools.n_same_genre.astype(float)
    kk = np.minimum(LIST_LENGTH, n)
    expected = np.zeros(len(n))
    for i in ranks:
        inside = i <= kk
        term = (r / n_cand) * (1 + (i - 1) * (r - 1) / np.maximum(n - 1, 1)) / i
        expected += np.where(inside, term, 0.0)
    ap_chance = np.where(denominator > 0, expected / np.maximum(np.minimum(r, kk), 1), 0.0)
    mean_ap = float(ap[judged].mean()) if judged.any() else None
    mean_ap_chance = float(ap_chance[judged].mean()) if judged.any() else None
    cut = PER_GENRE_CUTOFF
    per_query = relevant[:, :cut].sum(axis=1) / np.maximum(np.minimum(returned, cut), 1)
    per_genre: dict[int, list[float]] = {}
    per_genre_chance: dict[int, list[float]] = {}
    for i in np.flatnonzero(judged):
        per_genre.setdefault(int(genre[i]), []).append(float(per_query[i]))
        per_genre_chance.setdefault(int(genre[i]), []).append(float(base_rate[i]))
    chance_by_genre = {g: float(np.mean(v)) for g, v in per_genre_chance.items()}
    return precision, chance, mean_ap, mean_ap_chance, per_genre, chance_by_genre


def _difference(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if name == "tempo_octave":
        # Beat trackers often report half or double the tempo: 70 and 140 BPM agree.
        return np.minimum(np.abs(a - b), np.minimum(np.abs(2 * a - b), np.abs(a - 2 * b)))
    return np.abs(a - b)


def _agreement(
    metadata: dict[str, np.ndarray],
    pool_queries: np.ndarray,
    judged: np.ndarray,
    neighbour_rows: np.ndarray,
    random_rows: np.ndarray,
) -> dict[str, Agreement]:
    result = {}
    q = pool_queries[judged]
    for name, values in metadata.items():
        sides = []
        for others in (neighbour_rows[judged], random_rows[judged]):
            a = values[q][:, None].repeat(others.shape[1], axis=1)
            b = np.where(
                others == NO_GROUP, np.nan, values[np.where(others == NO_GROUP, 0, others)]
            )
            d = _difference(name, a, b)
            known = np.isfinite(d)
            sides.append((float(d[known].mean()) if known.any() else None, int(known.sum())))
        (mean_n, pairs_n), (mean_r, pairs_r) = sides
        result[name] = Agreement(mean_n, mean_r, pairs_n, pairs_r)
    return result


def random_picks(
    catalog: CatalogArrays, queries: np.ndarray, size: int, *, seed: int, exclude_artist: bool
) -> np.ndarray:
    """``size`` random candidates per query row (under the search's exclusions; NO_GROUP where
    fewer exist), seeded: the same for every metric and boost of a representation."""
    rng = np.random.default_rng(seed)
    n = len(catalog)
    picks = np.full((len(queries), size), NO_GROUP, dtype=np.int64)
    columns = ["youtube", "sha256"] + (["artist"] if exclude_artist else [])

    def allowed(q: np.ndarray, c: np.ndarray) -> np.ndarray:
        ok = c != q[:, None]
        for column in columns:
            codes = getattr(catalog, column)
            ok &= ~((codes[c] == codes[q][:, None]) & (codes[q][:, None] != NO_GROUP))
        return ok

    draws = rng.integers(0, n, size=(len(queries), 4 * size)) if n else np.zeros((0, 0), int)
    ok = allowed(queries, draws) if n else draws.astype(bool)
    short = []
    for i in range(len(queries)):
        good = draws[i][ok[i]]
        good = good[np.sort(np.unique(good, return_index=True)[1])][:size]
        if len(good) == size:
            picks[i] = good
        else:
            short.append(i)
    for i in short:  # small catalogs or big artists: choose from the exact candidate list
        everyone = np.arange(n)
        candidates = everyone[allowed(queries[i : i + 1], everyone[None, :])[0]]
        chosen = rng.choice(candidates, size=min(size, len(candidates)), replace=False)
        picks[i, : len(chosen)] = chosen
    return picks


def graph_stats(
    catalog: CatalogArrays,
    pools: Pools,
    representation: str,
    metric: str,
    k: int,
    titles: Callable[[list[int]], dict[int, str]],
) -> GraphStats:
    """Components, same-genre edge share and hubness of the top-k graph (boost off)."""
    n = len(catalog)
    rows = pools.rows[:, :k]
    source = np.repeat(pools.queries, k)
    target = rows.ravel()
    keep = target != NO_GROUP
    source, target = source[keep], target[keep]
    adjacency = sparse.coo_matrix((np.ones(len(source)), (source, target)), shape=(n, n)).tocsr()
    undirected = ((adjacency + adjacency.T) > 0).astype(np.int8)
    upper = sparse.triu(undirected, k=1).tocoo()
    n_components, labels = csgraph.connected_components(undirected, directed=False)
    genre_a, genre_b = catalog.genre[upper.row], catalog.genre[upper.col]
    known = (genre_a != NO_GROUP) & (genre_b != NO_GROUP)
    share = float((genre_a[known] == genre_b[known]).mean()) if known.any() else None
    counts = np.bincount(catalog.genre[catalog.genre != NO_GROUP])
    labelled = counts.sum()
    pair_chance = (
        float((counts * (counts - 1)).sum() / (labelled * (labelled - 1))) if labelled > 1 else None
    )
    occurrence = np.bincount(target, minlength=n)
    hubness = float(stats.skew(occurrence)) if n > 2 and occurrence.std() > 0 else None
    top = np.argsort(-occurrence, kind="stable")[:HUBS_SHOWN]
    names = titles([int(catalog.ids[i]) for i in top])
    return GraphStats(
        representation=representation,
        metric=metric,
        k=k,
        nodes=n,
        edges=int(upper.nnz),
        components=int(n_components),
        largest_component=int(np.bincount(labels).max()) if n else 0,
        same_genre_edge_share=share,
        same_genre_pair_chance=pair_chance,
        hubness=hubness,
        antihub_share=float((occurrence == 0).mean()) if n else 0.0,
        max_occurrence=int(occurrence.max()) if n else 0,
        hubs=[
            {
                "video_id": int(catalog.ids[i]),
                "title": names.get(int(catalog.ids[i]), ""),
                "count": int(occurrence[i]),
            }
            for i in top
            if occurrence[i] > 0
        ],
    )


def _titles(ids: list[int]) -> dict[int, str]:
    return {
        pk: title or f"Video {pk}"
        for pk, title in Video.objects.filter(pk__in=ids).values_list("pk", "title")
    }


def pool_size() -> int:
    """The pool find_similar re-ranks for a boosted search of LIST_LENGTH results."""
    return LIST_LENGTH * max(SearchSettings.cached().candidate_pool_factor, MIN_POOL_FACTOR)


def evaluate(
    representations: Iterable[str] = ALL_REPRESENTATIONS,
    metrics: Iterable[str] = ALL_METRICS,
    *,
    boost: float | None = None,
    agreement_k: int = DEFAULT_AGREEMENT_K,
    graph_k: int = DEFAULT_GRAPH_K,
    artist_filter: bool = False,
    limit: int | None = None,
    seed: int = DEFAULT_SEED,
    progress: ProgressCallback | None = None,
) -> EvaluationReport:
    """Evaluate every representation x metric, with the genre boost off and on (``boost``,
    default SearchSettings.genre_boost; when that is 1 only "off" is reported).

    - precision@1/5/10 and MAP@10 of the curated genre, each with its chance level;
    - agreement: mean |difference| of every metadata field with values between a query and
      its ``agreement_k`` nearest vs as many random catalog videos (seeded);
    - artist_filter: results (and random picks) by the query's artist are dropped;
    - limit: at most this many queries per representation (a seeded sample; the graph
      statistics then are not computed, they need every video);
    - graph statistics of the top-``graph_k`` graph, boost off.

    Raises InvalidSearchParameter for bad arguments and EmptyCatalog when no catalog video is
    ready. Representations without vectors are reported unavailable, not raised.
    """
    started = time.perf_counter()
    settings = SearchSettings.cached()
    boost = settings.genre_boost if boost is None else boost
    representations, metrics = validate(representations, metrics, boost, agreement_k, limit)
    if isinstance(graph_k, bool) or not isinstance(graph_k, int) or not 1 <= graph_k <= LIST_LENGTH:
        raise InvalidSearchParameter("graph_k", f"must be an integer from 1 to {LIST_LENGTH}")
    catalog_size = searchable_videos().count()
    if catalog_size == 0:
        raise EmptyCatalog("The catalog has no ready videos to evaluate.")
    boosts = (1.0,) if boost >= 1 else (1.0, float(boost))
    genre_names = dict(Genre.objects.values_list("id", "name"))
    size = pool_size()

    plan = []
    for representation in representations:
        catalog = catalog_arrays(representation)
        reason = unavailable_reason(representation, len(catalog))
        judged = np.ones(len(catalog), dtype=bool)
        description = ""
        if reason is None and representation == Representation.CODE:
            # Every catalog video stays a candidate; only the queries are held out.
            held_out, description = held_out_video_ids()
            if held_out is None:
                reason = description
            else:
                judged = np.isin(catalog.ids, list(held_out))
                if not judged.any():
                    reason = f"none of {description} is searchable"
        pool_queries = np.arange(len(catalog))
        if reason is None and limit is not None and judged.sum() > limit:
            candidates = np.flatnonzero(judged)
            keep = np.sort(np.random.default_rng(seed).choice(candidates, limit, replace=False))
            pool_queries, judged = keep, np.ones(len(keep), dtype=bool)
        plan.append((representation, catalog, reason, pool_queries, judged, description))

    total = sum(len(p[3]) * len(metrics) for p in plan if p[2] is None)
    done = 0
    results: list[ComboResult] = []
    graphs: list[GraphStats] = []
    for representation, catalog, reason, pool_queries, judged, description in plan:
        if reason is not None:
            results += [
                ComboResult(representation, metric, b, available=False, reason=reason)
                for metric in metrics
                for b in boosts
            ]
            continue
        metadata = metadata_table(catalog.ids)
        randoms = random_picks(
            catalog, pool_queries, agreement_k, seed=seed, exclude_artist=artist_filter
        )
        for metric in metrics:
            combo_started = time.perf_counter()
            label = f"{representation}/{metric}"

            def tick(n: int, label: str = label) -> None:
                nonlocal done
                done += n
                if progress:
                    progress(done, total, label)

            pools = nearest_pools(
                catalog, pool_queries, metric, size, exclude_artist=artist_filter, progress=tick
            )
            search_seconds = time.perf_counter() - combo_started
            for b in boosts:
                figures_started = time.perf_counter()
                rows, _ = ranked(catalog, pools, LIST_LENGTH, b)
                got = (rows != NO_GROUP).any(axis=1)
                mask = judged & got
                precision, chance, mean_ap, ap_chance, per_genre, chance_by_genre = _genre_figures(
                    catalog, pools, rows, mask
                )
                results.append(
                    ComboResult(
                        representation=representation,
                        metric=metric,
                        boost=b,
                        available=True,
                        n_queries=int(mask.sum()),
                        n_skipped=int((judged & ~got).sum()),
                        precision=precision,
                        chance=chance,
                        map=mean_ap,
                        map_chance=ap_chance,
                        per_genre=sorted(
                            (
                                GenreScore(
                                    genre_names.get(g, str(g)),
                                    len(v),
                                    float(np.mean(v)),
                                    chance_by_genre[g],
                                )
                                for g, v in per_genre.items()
                            ),
                            key=lambda s: s.genre,
                        ),
                        agreement=_agreement(
                            metadata, pool_queries, mask, rows[:, :agreement_k], randoms
                        ),
                        seconds=search_seconds / len(boosts)
                        + time.perf_counter()
                        - figures_started,
                        queries=description,
                    )
                )
            if limit is None or len(pool_queries) == len(catalog):
                graphs.append(graph_stats(catalog, pools, representation, metric, graph_k, _titles))
    return EvaluationReport(
        boost=float(boost),
        agreement_k=agreement_k,
        graph_k=graph_k,
        artist_filter=artist_filter,
        seed=seed,
        limit=limit,
        catalog_size=catalog_size,
        results=results,
        graphs=graphs,
        classifier=held_out_classifier_accuracy(),
        seconds=time.perf_counter() - started,
    )
