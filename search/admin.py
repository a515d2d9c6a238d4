from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pipeline.admin_actions import job_link, request_rematerialization
from search.models import (
    FeatureStats,
    Materialization,
    Search,
    SearchSettings,
    VideoVector,
)

MODALITY_WEIGHT_FIELDS = ("audio_weight", "visual_weight")


class SearchSettingsForm(forms.ModelForm):
    """Blank max_per_artist means the default (2), so a form that predates it still saves."""

    class Meta:
        model = SearchSettings
        exclude: list[str] = []  # every field; the admin's fieldsets decide what shows

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_per_artist"].required = False

    def clean_max_per_artist(self) -> int:
        value = self.cleaned_data.get("max_per_artist")
        if value is None:
            return SearchSettings._meta.get_field("max_per_artist").default
        return value


@admin.register(SearchSettings)
class SearchSettingsAdmin(admin.ModelAdmin):
    form = SearchSettingsForm
    list_display = [
        "__str__",
        "k",
        "genre_boost",
        "max_per_artist",
        "ef_search",
        "audio_weight",
        "visual_weight",
    ]
    readonly_fields = ["materialization_state"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SearchSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SearchSettings, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        changed = [name for name in MODALITY_WEIGHT_FIELDS if name in form.changed_data]
        if changed:
            request_rematerialization(self, request, f"search settings: {', '.join(changed)}")

    @admin.display(description="Search vectors")
    def materialization_state(self, obj: SearchSettings) -> SafeString | str:
        stats = FeatureStats.objects.filter(pk=1).first()
        fitted = (
            f"statistics fitted {stats.fitted_at:%Y-%m-%d %H:%M} UTC on {stats.n_videos} "
            "catalog videos"
            if stats
            else "not materialised yet"
        )
        run = Materialization.objects.first()
        if run is None:
            return fitted
        when = run.finished_at or run.started_at or run.created_at
        return format_html(
            "{}; last re-materialisation: {} at {} UTC ({} vectors), job {}{}",
            fitted,
            run.get_status_display(),
            f"{when:%Y-%m-%d %H:%M}",
            "-" if run.n_vectors is None else run.n_vectors,
            job_link(run.job_id),
            f" — {run.error}" if run.error else "",
        )


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ["id", "query_video", "representation", "metric", "boost", "k", "created_at"]
    list_filter = ["representation", "metric"]
    search_fields = ["query_video__title", "query_video__artist"]
    list_select_related = ["query_video"]
    raw_id_fields = ["query_video"]


@admin.register(VideoVector)
class VideoVectorAdmin(admin.ModelAdmin):
    list_display = ["video", "has_code", "updated_at"]
    search_fields = ["video__title", "video__artist"]
    list_select_related = ["video"]
    raw_id_fields = ["video"]
    readonly_fields = ["audio", "visual", "both", "code", "updated_at"]

    @admin.display(boolean=True, description="code")
    def has_code(self, obj: VideoVector) -> bool:
        return obj.code is not None


@admin.register(FeatureStats)
class FeatureStatsAdmin(admin.ModelAdmin):
    """Read-only: written by search.materialize."""

    list_display = ["__str__", "n_with_audio", "n_with_visual", "fitted_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Materialization)
class MaterializationAdmin(admin.ModelAdmin):
    list_display = ["id", "reason", "status", "n_vectors", "created_at", "finished_at", "job"]
    list_filter = ["status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="job")
    def job(self, obj: Materialization) -> SafeString | str:
        return job_link(obj.job_id)
