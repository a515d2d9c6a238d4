"""python manage.py evaluate [--representation all|code|audio|visual|both]
[--metric all|euclidean|cosine] [--k 10] [--boost 1.0] [--limit N] [--exact]
[--graph DIR [--graph-k 5]] [--json FILE]"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from search.evaluation import (
    ALL_METRICS,
    ALL_REPRESENTATIONS,
    EmptyCatalog,
    evaluate,
    export_graph,
    same_genre_edge_share,
    similarity_graph,
)
from search.ranking import K_MAX, InvalidSearchParameter, RepresentationUnavailable


def _choice(value: str, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    if value == "all":
        return allowed
    if value not in allowed:
        raise CommandError(
            f"--{option} must be 'all' or one of {', '.join(allowed)}, not {value!r}"
        )
    return (value,)


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
        "Evaluate similarity against metadata: for every catalog video as a query, genre "
        "precision@k vs chance and tempo/energy agreement of its neighbours vs random videos, "
        "per representation x metric (through the same HNSW search users get). With --graph, "
        "also write the k-NN similarity graph (GraphML, JSON, PNG) of each combination."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--representation", default="all", help="all|code|music|audio|visual|both"
        )
        parser.add_argument("--metric", default="all", help="all|euclidean|cosine")
        parser.add_argument("--k", type=int, default=10, help=f"neighbours per query (1-{K_MAX})")
        parser.add_argument(
            "--boost", type=float, default=1.0, help="genre boost in (0, 1]; 1 = off (default)"
        )
        parser.add_argument("--limit", type=int, default=None, help="at most N queries per combo")
        parser.add_argument("--exact", action="store_true", help="exact scan instead of HNSW")
        parser.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
        parser.add_argument("--graph", metavar="DIR", help="write knn-<repr>-<metric>.* here")
        parser.add_argument("--graph-k", type=int, default=5, help="neighbours per graph node")
        parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
        parser.add_argument("--per-genre", action="store_true", help="print precision per genre")

    def handle(self, *args, **options) -> None:
        representations = _choice(options["representation"], ALL_REPRESENTATIONS, "representation")
        metrics = _choice(options["metric"], ALL_METRICS, "metric")
        k, boost, graph_k = options["k"], options["boost"], options["graph_k"]
        if not 1 <= k <= K_MAX:
            raise CommandError(f"--k must be between 1 and {K_MAX}, got {k}")
        if not 0 < boost <= 1:
            raise CommandError(f"--boost must be in (0, 1] (1 = off), got {boost:g}")
        if not 1 <= graph_k <= K_MAX:
            raise CommandError(f"--graph-k must be between 1 and {K_MAX}, got {graph_k}")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be >= 1")
        # Fail before minutes of searching, not after.
        graph_dir = _writable_dir(options["graph"], "--graph") if options["graph"] else None
        json_file = Path(options["json"]) if options["json"] else None
        if json_file is not None:
            _writable_dir(str(json_file.parent), "--json")
            if json_file.is_dir():
                raise CommandError(f"--json {json_file}: is a directory, give a file name")

        show = options["verbosity"] >= 1
        bar = tqdm(total=0, unit="query", desc="evaluate", disable=not show)

        def progress(done: int, total: int, label: str) -> None:
            bar.total = total
            bar.set_description(label, refresh=False)
            bar.n = done
            bar.refresh()

        try:
            report = evaluate(
                representations,
                metrics,
                k=k,
                boost=boost,
                limit=options["limit"],
                progress=progress,
                exact=options["exact"],
                seed=options["seed"],
            )
        except EmptyCatalog as exc:
            raise CommandError(f"{exc} Import or generate videos first (demo_catalog).") from None
        except InvalidSearchParameter as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(report.to_table(per_genre=options["per_genre"]))

        if json_file is not None:
            json_file.write_text(report.to_json())
            self.stdout.write(f"report written to {json_file}")
        if graph_dir is not None:
            self._graphs(report, graph_dir, graph_k, boost, options["exact"], show)

    def _graphs(self, report, directory: Path, k: int, boost: float, exact: bool, show: bool):
        for result in report.results:
            name = f"knn-{result.representation}-{result.metric}"
            if not result.available:
                self.stdout.write(f"{name}: skipped ({result.reason})")
                continue
            with tqdm(unit="video", desc=name, disable=not show) as bar:

                def progress(done: int, total: int, label: str, bar=bar) -> None:
                    bar.total = total
                    bar.n = done
                    bar.refresh()

                try:
                    graph = similarity_graph(
                        result.representation,
                        result.metric,
                        k,
                        boost=boost,
                        exact=exact,
                        progress=progress,
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
