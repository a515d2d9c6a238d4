"""The "more like these" page: ``/seeds/?seeds=1,2,3&exclude=4`` (the tray's results)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from search.api_seeds import run_seed_search
from search.choices import Metric, Representation
from search.forms import InvalidParams
from search.ranking import InvalidSearchParameter


@require_GET
def seeds_results(request: HttpRequest) -> HttpResponse:
    context = {
        "seeds_param": request.GET.get("seeds", ""),
        "exclude_param": request.GET.get("exclude", ""),
        "representations": Representation.choices,
        "metrics": Metric.choices,
        "errors": {},
        "found": None,
    }
    if not context["seeds_param"].strip():
        return render(request, "search/seeds.html", context)
    try:
        found = run_seed_search(request.GET)
    except InvalidSearchParameter as exc:
        context["errors"] = {exc.param: exc.message}
    except InvalidParams as exc:
        context["errors"] = exc.errors
    else:
        context["found"] = found
        context["match_ids"] = ",".join(str(m.video.pk) for m in found.matches)
        context["seed_ids"] = ",".join(str(v.pk) for v in found.seeds)
    return render(request, "search/seeds.html", context, status=400 if context["errors"] else 200)
