"""python manage.py build_map [--representation R] [--metric cosine|euclidean]: compute the
2-D map of the catalog shown on /map/ and store it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from evaluation.layout import METHODS, MapParameters
from evaluation.services import WorkInProgress, create_map, execute_map
from search.choices import Metric, Representation
from search.models import SearchSettings
from search.ranking import InvalidSearchParameter, RepresentationUnavailable


class Command(BaseCommand):
    help = "Compute and store the 2-D map of the catalog for one representation (PCA)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--representation",
            default=None,
            help=f"{'|'.join(Representation.values)}; default: the site's default",
        )
        parser.add_argument(
            "--metric", default=None, help="cosine|euclidean; default: the site's default"
        )
        parser.add_argument("--method", default="pca", help="|".join(METHODS))

    def handle(self, *args, **options) -> None:
        settings = SearchSettings.load()
        try:
            parameters = MapParameters(
                options["representation"] or settings.default_representation,
                options["metric"] or settings.default_metric or Metric.COSINE,
                options["method"],
            )
            catalog_map = create_map(parameters)
        except InvalidSearchParameter as exc:
            raise CommandError(f"--{exc.param}: {exc.message}") from None
        except WorkInProgress as exc:
            raise CommandError(str(exc)) from None
        with tqdm(total=4, desc="map", disable=options["verbosity"] < 1) as bar:

            def progress(done: int, total: int, label: str) -> None:
                bar.set_description(label, refresh=False)
                bar.n = done
                bar.refresh()

            try:
                catalog_map = execute_map(catalog_map, progress=progress)
            except RepresentationUnavailable as exc:
                raise CommandError(f"cannot map {parameters.representation}: {exc}") from None
        shown = len(catalog_map.display["points"])
        self.stdout.write(
            f"map #{catalog_map.pk} of {catalog_map.n_videos} videos "
            f"({parameters.representation}/{parameters.metric}, {shown} drawn) -> /map/"
        )
