from django.contrib import admin
from django.http import HttpRequest

from features.models import FeatureDefinition, Segment, VideoFeatures
from pipeline.admin_actions import request_rematerialization


@admin.register(FeatureDefinition)
class FeatureDefinitionAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "modality", "group", "weight"]
    list_editable = ["weight"]
    list_filter = ["modality", "group"]
    search_fields = ["name", "description"]
    readonly_fields = ["position", "name", "modality", "group", "description"]
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the 422 features are fixed by the extractor

    def save_model(self, request: HttpRequest, obj: FeatureDefinition, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "weight" in form.changed_data:
            # Stored search vectors include the weights: rewrite them (once per request).
            request_rematerialization(self, request, f"feature weights ({obj.name}, ...)")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["video", "index", "start_seconds", "end_seconds"]
    search_fields = ["video__title", "video__artist"]
    list_select_related = ["video"]
    raw_id_fields = ["video"]
    readonly_fields = ["audio", "visual"]


@admin.register(VideoFeatures)
class VideoFeaturesAdmin(admin.ModelAdmin):
    list_display = ["video", "segment_count", "extraction_seconds", "extracted_at"]
    search_fields = ["video__title", "video__artist"]
    list_select_related = ["video"]
    raw_id_fields = ["video"]
    readonly_fields = ["audio_mean", "visual_mean", "extracted_at"]
