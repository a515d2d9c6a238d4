"""python manage.py evaluate [--representation all|code|music|audio|visual|both]
[--metric all|euclidean|cosine] [--boost B] [--artist-filter] [--agreement-k 5] [--limit N]
[--seed 0] [--graph DIR [--graph-k 5]] [--json FILE] [--csv FILE] [--per-genre]"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from evaluation.graph import export_graph, same_genre_edge_share, similarity_graph
from evaluation.metrics import (
    DEFAULT_AGREEMENT_K,
    DEFAULT_GRAPH_K,
    LIST_LENGTH,
    EmptyCatalog,
    validate,
)
from evaluation.services import create_run, execute_run
from search.choices import ALL_METRICS, ALL_REPRESENTATIONS
from search.ranking import InvalidSearchParameter, RepresentationUnavailable


def _choice(value: str, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    if value == "all":
        return allowed
    if value not in allowed:
        raise CommandError(
            f"--{option} must be 'all' or one of {', '.join(allowed)}, not {value!r}"
        )
    return (value,)


def _writable_file(path: str, option: str) -> Path:
    file = Path(path)
    if file.is_dir():
        raise CommandError(f"{option} {file}: is a directory, give a file name")
    _writable_dir(str(file.parent), option)
    return file


def _writable_dir(path: str, option: str) -> Path:
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot create the directory ({exc})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path}: the directory is not writable")
    return directory


class Command(BaseCommand):
    help = (
        "Evaluate similarity against metadata and store the run (shown on /evaluation/): for "
        "every catalog video as a query, genre precision@1/5/10 and MAP@10 vs chance, and "
        "metadata agreement of its neighbours vs random videos, per representation x metric "
        "x genre boost off/on; graph statistics (components, same-genre edges, hubs). With "
        "--graph, also write the k-NN graphs (GraphML, JSON, PNG)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--representation", default="all", help="all|" + "|".join(ALL_REPRESENTATIONS)
        )
        parser.add_argument("--metric", default="all", help="all|euclidean|cosine")
        parser.add_argument(
            "--boost",
            type=float,
            default=None,
            help="genre boost of the 'on' rows, in (0, 1]; default SearchSettings.genre_boost",
        )
        parser.add_argument(
            "--artist-filter", action="store_true", help="drop results by the query's artist"
        )
        parser.add_argument(
            "--agreement-k",
            type=int,
            default=DEFAULT_AGREEMENT_K,
            help=f"neighbours whose metadata is compared (1-{LIST_LENGTH})",
        )
        parser.add_argument("--limit", type=int, default=None, help="at most N queries per repr")
        parser.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
        parser.add_argument("--graph", metavar="DIR", help="write knn-<repr>-<metric>.* here")
        parser.add_argument(
            "--graph-k", type=int, default=DEFAULT_GRAPH_K, help="neighbours per graph node"
        )
        parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
        parser.add_argument("--csv", metavar="FILE", help="also write the figures as CSV")
        parser.add_argument("--per-genre", action="store_true", help="print precision per genre")

    def handle(self, *args, **options) -> None:
        representations = _choice(options["representation"], ALL_REPRESENTATIONS, "representation")
        metrics = _choice(options["metric"], ALL_METRICS, "metric")
        parameters = {
            "representations": list(representations),
            "metrics": list(metrics),
            "boost": options["boost"],
            "agreement_k": options["agreement_k"],
            "graph_k": options["graph_k"],
            "artist_filter": options["artist_filter"],
            "limit": options["limit"],
            "seed": options["seed"],
        }
        try:
            validate(
                representations,
                metrics,
                1.0 if options["boost"] is None else options["boost"],
                options["agreement_k"],
                options["limit"],
            )
        except InvalidSearchParameter as exc:
            raise CommandError(f"--{exc.param.replace('_', '-')}: {exc.message}") from None
        if not 1 <= options["graph_k"] <= LIST_LENGTH:
            raise CommandError(f"--graph-k must be between 1 and {LIST_LENGTH}")
        # Fail before minutes of work, not after.
        graph_dir = _writable_dir(options["graph"], "--graph") if options["graph"] else None
        json_file = _writable_file(options["json"], "--json") if options["json"] else None
        csv_file = _writable_file(options["csv"], "--csv") if options["csv"] else None

        show = options["verbosity"] >= 1
        try:
            # A run started here does not wait for one a worker is computing.
            run = create_run(parameters, allow_concurrent=True)
        except EmptyCatalog as exc:
            raise CommandError(f"{exc} Import or generate videos first (demo_catalog).") from None
        bar = tqdm(total=0, unit="query", desc="evaluate", disable=not show)

        def progress(done: int, total: int, label: str) -> None:
            bar.total = total
            bar.set_description(label, refresh=False)
            bar.n = done
            bar.refresh()

        try:
            report = execute_run(run, progress=progress)
        except InvalidSearchParameter as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(report.to_table(per_genre=options["per_genre"]))
        self.stdout.write(f"stored as evaluation run #{run.pk} (/evaluation/)")
        if json_file is not None:
            json_file.write_text(report.to_json())
            self.stdout.write(f"figures written to {json_file}")
        if csv_file is not None:
            csv_file.write_text(report.to_csv())
            self.stdout.write(f"figures written to {csv_file}")
        if graph_dir is not None:
            self._graphs(representations, metrics, graph_dir, options)

    def _graphs(self, representations, metrics, directory: Path, options) -> None:
        for representation in representations:
            for metric in metrics:
                name = f"knn-{representation}-{metric}"
                try:
                    graph = similarity_graph(
                        representation,
                        metric,
                        options["graph_k"],
                        artist_filter=options["artist_filter"],
                    )
                except RepresentationUnavailable as exc:
                    self.stdout.write(f"{name}: skipped ({exc})")
                    continue
                paths = export_graph(graph, directory / name)
                share = same_genre_edge_share(graph)
                self.stdout.write(
                    f"{name}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, "
                    + ("same-genre edges n/a" if share is None else f"{share:.0%} same-genre edges")
                    + f" -> {paths['graphml'].name}, .json, .png"
                )
