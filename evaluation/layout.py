"""A 2-D layout of the catalog (PCA) and the sample of it the map page draws.

PCA is fitted on at most ``FIT_SAMPLE`` videos (seeded) and applied to all: 100k x 422 takes
seconds, and the axes of a 20k sample are those of the whole catalog to within noise. The page
draws at most ``MAX_DISPLAY`` points (a seeded sample, so it stays legible and small) with the
k-NN edges among them; every video's position is stored (MapPoint) for search and highlight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from catalog.models import Genre, Video
from evaluation.neighbours import NO_GROUP, nearest_pools, ranked
from evaluation.selectors import catalog_arrays, unavailable_reason
from search.choices import Metric, Representation
from search.ranking import InvalidSearchParameter, RepresentationUnavailable

METHODS = ("pca",)
FIT_SAMPLE = 20_000
MAX_DISPLAY = 3_000
EDGES_K = 5
SEED = 0


@dataclass(frozen=True)
class MapParameters:
    representation: str
    metric: str = Metric.COSINE
    method: str = "pca"

    def __post_init__(self) -> None:
        if self.representation not in Representation.values:
            raise InvalidSearchParameter(
                "representation",
                f"{self.representation!r} is not one of {', '.join(Representation.values)}",
            )
        if self.metric not in Metric.values:
            raise InvalidSearchParameter(
                "metric", f"{self.metric!r} is not one of {', '.join(Metric.values)}"
            )
        if self.method not in METHODS:
            raise InvalidSearchParameter(
                "method", f"{self.method!r} is not one of {', '.join(METHODS)}"
            )


@dataclass
class Layout:
    ids: np.ndarray  # every laid-out video
    xy: np.ndarray  # (n, 2) float64, scaled to [0, 1]
    display: dict  # what the page draws (see sample_for_display)


def _unit_square(xy: np.ndarray) -> np.ndarray:
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    return (xy - low) / span


def compute_layout(
    parameters: MapParameters, progress: Callable[[int, int, str], None] | None = None
) -> Layout:
    """PCA of the representation's stored vectors (unit-normalised for cosine, as the search
    compares them). Raises RepresentationUnavailable when fewer than two videos have one."""
    steps = 4

    def step(i: int, label: str) -> None:
        if progress:
            progress(i, steps, label)

    step(0, "loading vectors")
    catalog = catalog_arrays(parameters.representation)
    reason = unavailable_reason(parameters.representation, len(catalog))
    if reason:
        raise RepresentationUnavailable(reason)
    vectors = catalog.vectors.astype(np.float64)
    if parameters.metric == Metric.COSINE:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
    step(1, "fitting PCA")
    rng = np.random.default_rng(SEED)
    fit_rows = (
        np.sort(rng.choice(len(catalog), FIT_SAMPLE, replace=False))
        if len(catalog) > FIT_SAMPLE
        else np.arange(len(catalog))
    )
    components = min(2, vectors.shape[1], len(fit_rows))
    pca = PCA(
        n_components=components,
        svd_solver="full" if len(fit_rows) < 500 else "randomized",
        random_state=SEED,
    )
    pca.fit(vectors[fit_rows])
    xy = pca.transform(vectors)
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros(len(xy))])
    xy = _unit_square(xy)
    step(2, "sampling and linking")
    display = sample_for_display(catalog, xy, parameters.metric, rng)
    display["explained_variance"] = [float(v) for v in pca.explained_variance_ratio_]
    step(4, "done")
    return Layout(ids=catalog.ids, xy=xy, display=display)


def sample_for_display(catalog, xy: np.ndarray, metric: str, rng: np.random.Generator) -> dict:
    """At most MAX_DISPLAY points (seeded sample) with title, genre, predicted-vs-curated
    agreement and the top-EDGES_K neighbour edges among the points shown."""
    n = len(catalog)
    rows = np.sort(rng.choice(n, MAX_DISPLAY, replace=False)) if n > MAX_DISPLAY else np.arange(n)
    shown = catalog.subset(rows)
    pools = nearest_pools(shown, np.arange(len(shown)), metric, EDGES_K)
    neighbours, _ = ranked(shown, pools, EDGES_K, 1.0)
    edges = sorted(
        {
            (min(i, int(j)), max(i, int(j)))
            for i in range(len(shown))
            for j in neighbours[i]
            if j != NO_GROUP
        }
    )
    genre_ids = sorted({int(g) for g in shown.genre if g != NO_GROUP})
    names = dict(Genre.objects.filter(pk__in=genre_ids).values_list("pk", "name"))
    titles = dict(Video.objects.filter(pk__in=shown.ids.tolist()).values_list("pk", "title"))
    index = {g: i for i, g in enumerate(genre_ids)}
    points = []
    for row, vid, genre, predicted in zip(
        rows, shown.ids, shown.genre, shown.predicted, strict=True
    ):
        agree = -1 if genre == NO_GROUP or predicted == NO_GROUP else int(genre == predicted)
        points.append(
            [
                int(vid),
                round(float(xy[row, 0]), 5),
                round(float(xy[row, 1]), 5),
                index.get(int(genre), -1),
                agree,
                titles.get(int(vid)) or f"Video {vid}",
            ]
        )
    return {
        "points": points,
        "genres": [names.get(g, str(g)) for g in genre_ids],
        "edges": [list(e) for e in edges],
        "n_videos": n,
        "sampled": n > MAX_DISPLAY,
    }
