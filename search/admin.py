from django.contrib import admin
from django.http import HttpRequest

from search.models import Search, SearchSettings, VideoVector


@admin.register(SearchSettings)
class SearchSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "k", "genre_boost", "ef_search", "audio_weight", "visual_weight"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SearchSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
