"""Curation of evaluation runs and maps: read-only rows, and pages that start new ones (an RQ
job each, with progress on the row)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from evaluation.layout import METHODS, MapParameters
from evaluation.metrics import LIST_LENGTH, EmptyCatalog
from evaluation.models import CatalogMap, EvaluationRun
from evaluation.services import WorkInProgress, enqueue_map, enqueue_run
from mvsite.queues import QueueUnavailable
from search.choices import ALL_METRICS, ALL_REPRESENTATIONS, Metric, Representation


class StartEvaluationForm(forms.Form):
    representations = forms.MultipleChoiceField(
        choices=[(r, r) for r in ALL_REPRESENTATIONS],
        initial=list(ALL_REPRESENTATIONS),
        widget=forms.CheckboxSelectMultiple,
    )
    metrics = forms.MultipleChoiceField(
        choices=[(m, m) for m in ALL_METRICS],
        initial=list(ALL_METRICS),
        widget=forms.CheckboxSelectMultiple,
    )
    boost = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=1.0,
        help_text="Genre boost of the 'on' rows; empty: the site's setting.",
    )
    artist_filter = forms.BooleanField(
        required=False, help_text="Drop results by the query's artist."
    )
    agreement_k = forms.IntegerField(initial=5, min_value=1, max_value=LIST_LENGTH)
    limit = forms.IntegerField(
        required=False, min_value=1, help_text="At most this many queries per representation."
    )

    def parameters(self) -> dict:
        data = self.cleaned_data
        return {
            "representations": data["representations"],
            "metrics": data["metrics"],
            "boost": data["boost"],
            "agreement_k": data["agreement_k"],
            "artist_filter": data["artist_filter"],
            "limit": data["limit"],
        }


class ComputeMapForm(forms.Form):
    representation = forms.ChoiceField(choices=Representation.choices)
    metric = forms.ChoiceField(choices=Metric.choices, initial=Metric.COSINE)
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS])


def _start_page(model_admin, request, form_class, title: str, start) -> HttpResponse:
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = start(form)
        except (WorkInProgress, EmptyCatalog, QueueUnavailable) as exc:
            form.add_error(None, str(exc))
        else:
            model_admin.message_user(request, message, messages.SUCCESS)
            opts = model_admin.model._meta
            return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "form": form,
    }
    return TemplateResponse(request, "admin/evaluation/start.html", context)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(EvaluationRun)
class EvaluationRunAdmin(_ReadOnly):
    list_display = ("__str__", "status", "progress", "catalog_size", "model_name", "finished_at")
    list_filter = ("status",)
    change_list_template = "admin/evaluation/change_list.html"

    def get_urls(self):
        start = path(
            "start/", self.admin_site.admin_view(self.start_view), name="evaluation_run_start"
        )
        return [start, *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        def start(form: StartEvaluationForm) -> str:
            run = enqueue_run(form.parameters())
            return f"{run} queued; its progress shows here and on /evaluation/."

        return _start_page(self, request, StartEvaluationForm, "Start an evaluation", start)


@admin.register(CatalogMap)
class CatalogMapAdmin(_ReadOnly):
    list_display = ("__str__", "status", "progress", "n_videos", "finished_at")
    list_filter = ("status", "representation")
    exclude = ("display",)
    change_list_template = "admin/evaluation/change_list.html"

    def get_urls(self):
        start = path(
            "start/", self.admin_site.admin_view(self.start_view), name="catalog_map_start"
        )
        return [start, *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        def start(form: ComputeMapForm) -> str:
            data = form.cleaned_data
            catalog_map = enqueue_map(
                MapParameters(data["representation"], data["metric"], data["method"])
            )
            return f"{catalog_map} queued; /map/ shows it when it is done."

        return _start_page(self, request, ComputeMapForm, "Compute a map", start)
