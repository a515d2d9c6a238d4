"""The search pages. Thin: validation in search.forms, intake in pipeline.intake, data in
search.selectors, what the pages show of it in search.presenters."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Video, VideoStatus
from mvsite import uploads
from pipeline import intake
from pipeline import selectors as pipeline_selectors
from search import presenters, selectors, throttling
from search.choices import Metric, Representation
from search.forms import (
    K_MAX,
    K_MIN,
    InvalidParams,
    ParamsForm,
    SearchForm,
    SearchParams,
    defaults,
    parse_params,
)
from search.ranking import InvalidSearchParameter
from search.tags import TAG_FILTER_MIN, UnknownTag, parse_tags


def _params_or_defaults(request: HttpRequest) -> tuple[SearchParams | None, dict[str, str]]:
    try:
        return parse_params(request.GET), {}
    except InvalidParams as exc:
        return None, exc.errors


def _home(request: HttpRequest, form: SearchForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "catalog_count": selectors.catalog_count(),
        "recent": selectors.recent_searches(),
        "representations": Representation.choices,
        "metrics": Metric.choices,
        "defaults": _current(form),
    }
    return render(request, "search/home.html", context, status=status)


def _current(form) -> dict:
    """The parameter values to show: what was submitted, else the defaults."""
    base = _defaults().as_dict()
    if form.is_bound:
        for name in base:
            if form.data.get(name):
                base[name] = form.data.get(name)
    return base


def _defaults() -> SearchParams:

    return defaults()


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _home(request, SearchForm())


def search_rate_limited(view):
    """Count a POST against the client's search budget (search/throttling.py, shared with
    POST /api/searches/) before anything of its body is read: over the rate, a 429 page with
    Retry-After. The CSRF check runs after this one (csrf_protect inside, the middleware told
    to skip), so a refused upload is not parsed either."""
    protected = csrf_protect(view)

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            limited = throttling.check(request)
            if limited is not None:
                response = render(request, "429.html", {"message": limited.message}, status=429)
                response["Retry-After"] = str(limited.wait)
                return response
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapped)


def _upload_refused(request: HttpRequest, refused: uploads.UploadRefused) -> HttpResponse:
    """The upload was stopped at the size limit (mvsite/uploads.py): the form with a 413."""
    form = SearchForm(request.POST)
    form.is_valid()
    form.errors.clear()  # "choose a file" would be wrong: one was chosen and was too large
    form.add_error("file", refused.message)
    return _home(request, form, status=refused.status)


@search_rate_limited
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    """POST the search form: URL or upload -> query video -> progress page."""
    if request.method == "GET":
        return redirect("search:home")
    form = SearchForm(request.POST, request.FILES)  # parses the body: an upload may stop
    refused = uploads.refused(request)
    if refused is not None:
        return _upload_refused(request, refused)
    if not form.is_valid():
        return _home(request, form, status=400)
    params = form.params()
    try:
        if form.cleaned_data.get("file"):
            found, _ = intake.search_by_upload(form.cleaned_data["file"], params)
        else:
            found, _ = intake.search_by_url(form.cleaned_data["url"], params)
    except intake.IntakeError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _home(request, form, status=exc.status)
    except intake.QueueUnavailable as exc:
        form.add_error(None, str(exc))
        return _home(request, form, status=exc.status)
    if found.reused:
        messages.info(request, "This video was searched before: using the stored analysis.")
    return _to_progress_or_results(found.video, params)


def _to_progress_or_results(video: Video, params: SearchParams) -> HttpResponse:
    name = "search:results" if video.is_ready else "search:progress"
    return redirect(reverse(name, args=[video.pk]) + "?" + params.querystring())


@require_GET
def progress(request: HttpRequest, video_id: int) -> HttpResponse:
    video = get_object_or_404(Video, pk=video_id)
    params, errors = _params_or_defaults(request)
    if video.is_ready and params is not None:
        return redirect(reverse("search:results", args=[video.pk]) + "?" + params.querystring())
    state = _progress(video, params)
    return render(
        request,
        "search/progress.html",
        {
            "video": video,
            "state": state,
            "param_errors": errors,
            "stages": pipeline_selectors.STEPS,
        },
    )


@require_GET
def progress_json(request: HttpRequest, video_id: int) -> JsonResponse:
    video = get_object_or_404(Video, pk=video_id)
    params, _ = _params_or_defaults(request)
    return JsonResponse(_progress(video, params))


def _progress(video: Video, params: SearchParams | None) -> dict:
    results_url = reverse("search:results", args=[video.pk])
    if params is not None:
        results_url += "?" + params.querystring()
    return {**pipeline_selectors.progress(video), "results_url": results_url}


@require_GET
def results(request: HttpRequest, video_id: int) -> HttpResponse:
    video = get_object_or_404(Video.objects.select_related("predicted_genre", "genre"), pk=video_id)
    form = ParamsForm(request.GET)
    params, errors = _params_or_defaults(request)
    genre_value = request.GET.get("genre", "").strip()
    genre = selectors.genre_by_slug_or_id(genre_value) if genre_value else None
    if genre_value and genre is None:
        errors = {**errors, "genre": f"genre {genre_value[:60]!r} is not a known genre."}
    context = {
        "video": video,
        "form": form,
        "param_errors": errors,
        "representations": Representation.choices,
        "metrics": Metric.choices,
        "player": presenters.player(video),
        "genres": selectors.genres_counted(),
        "genre": genre,
        "tag_vocabulary": selectors.tag_vocabulary(),
        "tag_min": TAG_FILTER_MIN,
    }
    if errors:
        context["params"] = _defaults()
        return render(request, "search/results.html", context, status=400)
    if not video.is_ready:
        return redirect(reverse("search:progress", args=[video.pk]) + "?" + params.querystring())

    try:
        context["results"] = selectors.similar_kept(video, params, genre=genre)
    except InvalidSearchParameter as exc:
        context["param_errors"] = {exc.param: exc.message}
        context["params"] = params
        return render(request, "search/results.html", context, status=400)
    context["params"] = context["results"].params
    return render(request, "search/results.html", context)


@require_GET
def tags(request: HttpRequest) -> HttpResponse:
    """Tag search: the catalog ranked by the mean probability of the given music tags."""
    raw = request.GET.get("tags", "")
    context = {
        "vocabulary": selectors.tag_vocabulary(),
        "raw": raw[:300],
        "k": request.GET.get("k", "")[:10],
        "k_min": K_MIN,
        "k_max": K_MAX,
    }
    errors = {}
    try:
        chosen = parse_tags(raw)
    except UnknownTag as exc:
        errors["tags"] = f"tags: {exc}."
        chosen = ()
    k = selectors.default_k()
    if context["k"].strip():
        try:
            k = int(context["k"])
        except ValueError:
            errors["k"] = f"k must be a whole number (got {context['k']!r})."
        else:
            if not K_MIN <= k <= K_MAX:
                errors["k"] = f"k must be between {K_MIN} and {K_MAX} (got {k})."
    context.update(errors=errors, tags=chosen, k=k)
    if errors:
        return render(request, "search/tags.html", context, status=400)
    if chosen:
        context["matches"] = selectors.videos_by_tags(chosen, k)
    return render(request, "search/tags.html", context)


@search_rate_limited
@require_POST
def more_like_this(request: HttpRequest, video_id: int) -> HttpResponse:
    video = get_object_or_404(Video, pk=video_id)
    try:
        params = parse_params(request.POST)
    except InvalidParams as exc:
        for message in exc.errors.values():
            messages.error(request, message)
        return redirect("search:video", video_id=video.pk)
    try:
        found, _ = intake.search_existing(video, params)
    except intake.IntakeError as exc:
        messages.error(request, exc.message)
        return redirect("search:video", video_id=video.pk)
    return _to_progress_or_results(found.video, params)


@require_GET
def explore(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("genre", "").strip()
    genre = selectors.genre_by_slug_or_id(slug) if slug else None
    status = 200
    error = ""
    if slug and genre is None:
        error = f"There is no genre “{slug[:60]}”; showing every genre."
        status = 400
    page = selectors.explore(genre, request.GET.get("page"))
    return render(
        request,
        "search/explore.html",
        {
            "genres": selectors.genres_counted(),
            "genre": genre,
            "page": page,
            "error": error,
            "catalog_count": selectors.catalog_count(),
        },
        status=status,
    )


@require_GET
def video_detail(request: HttpRequest, video_id: int) -> HttpResponse:
    video = get_object_or_404(Video.objects.select_related("genre", "predicted_genre"), pk=video_id)
    try:
        start = max(0, int(float(request.GET.get("t", "0") or 0)))
    except ValueError:
        start = 0
    return render(
        request,
        "search/video.html",
        {
            "video": video,
            "player": presenters.player(video, start),
            "metadata": presenters.metadata_rows(selectors.track_metadata(video)),
            "timeline": presenters.timeline(video, selectors.segment_rows(video)),
            "searches": video.searches.all()[:5],
            "representations": Representation.choices,
            "metrics": Metric.choices,
            "defaults": _defaults(),
            "stages": VideoStatus,
        },
    )


@require_GET
def about(request: HttpRequest) -> HttpResponse:
    return render(request, "search/about.html", presenters.about(selectors.about_summary()))
