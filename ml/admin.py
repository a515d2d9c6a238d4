from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ml.models import ModelVersion
from pipeline.catalog_work import queue_activation


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_at", "is_active", "accuracy", "baseline_accuracy"]
    list_filter = ["is_active"]
    search_fields = ["name", "notes"]
    readonly_fields = [
        "created_at",
        "is_active",
        "artifact_dir",
        "model_path",
        "scaler_path",
        "labels_path",
        "genres",
        "metrics",
        "history",
        "config",
        "history_plot",
        "confusion_plot",
    ]
    exclude = ["history_plot_path", "confusion_plot_path"]
    actions = ["activate"]

    @admin.display(description="val. accuracy")
    def accuracy(self, obj: ModelVersion) -> str:
        return "" if obj.val_accuracy is None else f"{obj.val_accuracy:.1%}"

    @admin.display(description="baseline")
    def baseline_accuracy(self, obj: ModelVersion) -> str:
        value = obj.baseline_val_accuracy
        return "" if value is None else f"{value:.1%}"

    def _image(self, path: str) -> str:
        if not path:
            return "-"
        return format_html('<img src="{}{}" style="max-width:640px">', settings.MEDIA_URL, path)

    @admin.display(description="training history")
    def history_plot(self, obj: ModelVersion) -> str:
        return self._image(obj.history_plot_path)

    @admin.display(description="confusion matrix")
    def confusion_plot(self, obj: ModelVersion) -> str:
        return self._image(obj.confusion_plot_path)

    @admin.action(description="Activate the selected version (exactly one)")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        job_id = queue_activation(version)
        self.message_user(
            request,
            f"{version} is now the active model; re-encoding every video (job {job_id}).",
            messages.SUCCESS,
        )
