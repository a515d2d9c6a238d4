"""The evaluation page, run exports and the catalog map (thin: selectors + presenters)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from catalog.models import Video
from evaluation import presenters, selectors
from evaluation.metrics import report_csv
from evaluation.models import CatalogMap, EvaluationRun, WorkStatus
from features import thumbnails
from search import presenters as search_presenters
from search.choices import Metric, Representation
from search.models import SearchSettings

HISTORY_RUNS = 30
FIND_MAX_CHARS = 100
_ID_MARK = 9_876_543_210  # stands for the video id in the poster URL pattern


def _run_or_error(value: str, errors: list[str], what: str) -> EvaluationRun | None:
    """A finished run by id from a query parameter, or None with the reason in ``errors``."""
    try:
        pk = int(value)
    except ValueError:
        errors.append(f"{what}: {value!r} is not a run number.")
        return None
    run = EvaluationRun.objects.filter(pk=pk).first()
    if run is None:
        errors.append(f"{what}: there is no evaluation run #{pk}.")
    elif run.status != WorkStatus.DONE:
        state = (
            f"still in progress ({run.progress:.0%})"
            if run.in_progress
            else f"{'interrupted' if run.is_stale else run.get_status_display().lower()}"
        )
        errors.append(f"{what}: run #{pk} is {state}; it has no figures to show.")
        return None
    return run


@require_GET
def evaluation_page(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    figure = request.GET.get("figure", "p5")
    if figure not in presenters.FIGURES:
        errors.append(f"figure: {figure!r} is not one of {', '.join(presenters.FIGURES)}.")
        figure = "p5"
    metric = request.GET.get("metric", Metric.COSINE)
    if metric not in Metric.values:
        errors.append(f"metric: {metric!r} is not one of {', '.join(Metric.values)}.")
        metric = Metric.COSINE
    run = selectors.latest_run()
    if "run" in request.GET:
        run = _run_or_error(request.GET["run"], errors, "run")
    finished = list(selectors.finished_runs()[:HISTORY_RUNS])[::-1]  # oldest first
    a = b = None
    if "a" in request.GET or "b" in request.GET:
        a = _run_or_error(request.GET.get("a", ""), errors, "a")
        b = _run_or_error(request.GET.get("b", ""), errors, "b")
    elif len(finished) >= 2:
        a, b = finished[-2], finished[-1]
    figures = run.figures if run else {}
    context = {
        "run": run,
        "errors": errors,
        "figure": figure,
        "figure_label": presenters.FIGURES[figure],
        "figure_choices": presenters.FIGURES.items(),
        "metric": metric,
        "rows": presenters.result_rows(figures),
        "agreement_fields": presenters.agreement_fields(figures),
        "figure_names": list(presenters.FIGURES.values()),
        "bars": presenters.bar_chart(figures, figure),
        "agreement": presenters.agreement_chart(figures),
        "graphs": figures.get("graphs", []),
        "classifier": figures.get("classifier"),
        "history": presenters.history_chart(finished, figure, metric),
        "runs": finished[::-1],
        "in_progress": selectors.runs_in_progress(),
        "difference": presenters.run_difference(a, b) if a and b else None,
        "a": a,
        "b": b,
    }
    return render(request, "evaluation/evaluation.html", context, status=400 if errors else 200)


def _finished_or_409(pk: int) -> EvaluationRun | HttpResponse:
    run = get_object_or_404(EvaluationRun, pk=pk)
    if run.status != WorkStatus.DONE:
        return HttpResponse(
            f"Evaluation run #{pk} is {run.get_status_display().lower()}: no figures yet.\n",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    return run


@require_GET
def run_csv(request: HttpRequest, pk: int) -> HttpResponse:
    run = _finished_or_409(pk)
    if isinstance(run, HttpResponse):
        return run
    response = HttpResponse(report_csv(run.figures), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="evaluation-run-{pk}.csv"'
    return response


@require_GET
def run_json(request: HttpRequest, pk: int) -> HttpResponse:
    run = _finished_or_409(pk)
    if isinstance(run, HttpResponse):
        return run
    return JsonResponse(
        {
            "id": run.pk,
            "finished_at": run.finished_at,
            "model": run.model_name,
            "catalog_size": run.catalog_size,
            "parameters": run.parameters,
            "settings": run.settings,
            "figures": run.figures,
        }
    )


def poster_url_pattern() -> str:
    """The URL of any video's poster with ``{id}`` for its id: the map's hover card derives a
    point's poster from it on demand, so the 3,000-point page carries one URL, not 3,000 (a
    video without a poster gets the card's genre-coloured placeholder when it fails to load)."""
    url = search_presenters.thumbnail_url(thumbnails.poster_name(_ID_MARK))
    return url.replace(str(_ID_MARK), "{id}")


def _selection_card(catalog_map: CatalogMap, video: Video, located: dict) -> dict:
    """What the card of the video picked with ``?video=`` shows besides its label: its poster
    URL ('' without one) and its curated genre's colour on the map (for the placeholder)."""
    genres = catalog_map.display.get("genres", [])
    genre_name = video.genre.name if video.genre_id else None
    colour = (
        presenters.PALETTE[genres.index(genre_name) % len(presenters.PALETTE)]
        if genre_name in genres
        else presenters.NO_GENRE_COLOUR
    )
    title = video.title or f"Video {video.pk}"
    return {
        **located,
        "poster": search_presenters.poster_url(video),
        "colour": colour,
        "title": title,
    }


@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    settings = SearchSettings.cached()
    representation = request.GET.get("representation") or settings.default_representation
    if representation not in Representation.values:
        errors.append(
            f"representation: {representation!r} is not one of {', '.join(Representation.values)}."
        )
        representation = settings.default_representation
    metric = request.GET.get("metric") or None
    if metric is not None and metric not in Metric.values:
        errors.append(f"metric: {metric!r} is not one of {', '.join(Metric.values)}.")
        metric = None
    find = request.GET.get("find", "").strip()
    if len(find) > FIND_MAX_CHARS:
        errors.append(f"find: at most {FIND_MAX_CHARS} characters, got {len(find)}.")
        find = ""
    catalog_map = selectors.latest_map(representation, metric)
    highlights: list[dict] = []
    found: list[dict] = []
    located = None
    if catalog_map is not None:
        if find:
            found = selectors.find_on_map(catalog_map, find)
            highlights += found
        if "video" in request.GET:
            try:
                video = Video.objects.get(pk=int(request.GET["video"]))
            except (ValueError, Video.DoesNotExist):
                errors.append(f"video: there is no video {request.GET['video']!r}.")
            else:
                located = selectors.locate_video(catalog_map, video)
                if located is None:
                    errors.append(
                        f"video: {video} has no '{representation}' vector, so it has no place "
                        "on this map."
                    )
                else:
                    highlights.append(located)
                    located = _selection_card(catalog_map, video, located)
    display = catalog_map.display if catalog_map else {}
    context = {
        "errors": errors,
        "representation": representation,
        "representations": Representation.choices,
        "metric": metric or (catalog_map.metric if catalog_map else ""),
        "catalog_map": catalog_map,
        "in_progress": selectors.maps_in_progress(representation),
        "svg": presenters.map_svg(display, highlights) if catalog_map else "",
        "legend": presenters.genre_legend(display),
        "find": find,
        "found": found,
        "located": located,
        "poster_pattern": poster_url_pattern(),
    }
    return render(request, "evaluation/map.html", context, status=400 if errors else 200)
