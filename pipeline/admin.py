from django.contrib import admin
from django.http import HttpRequest

from pipeline.admin_actions import job_link
from pipeline.models import StageRun


@admin.register(StageRun)
class StageRunAdmin(admin.ModelAdmin):
    """Read-only: written by pipeline.services."""

    list_display = [
        "id",
        "video",
        "stage",
        "attempt",
        "state",
        "place",
        "worker",
        "queued_at",
        "started_at",
        "finished_at",
        "job",
    ]
    list_filter = ["stage", "state", "place"]
    search_fields = ["job_id", "video__title", "video__artist", "detail"]
    list_select_related = ["video"]
    raw_id_fields = ["video"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="job")
    def job(self, obj: StageRun) -> str:
        return job_link(obj.job_id) if obj.place == "queue" else obj.job_id
