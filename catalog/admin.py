from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.models import Genre, TrackMetadata, Video


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "catalog_videos"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_videos=Count("videos"))

    @admin.display(ordering="_videos", description="videos")
    def catalog_videos(self, obj: Genre) -> int:
        return obj._videos


class TrackMetadataInline(admin.StackedInline):
    model = TrackMetadata
    extra = 0
    readonly_fields = ["sources", "updated_at"]


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "artist",
        "genre",
        "predicted_genre",
        "confidence",
        "status",
        "is_query",
        "source",
        "duration",
        "has_audio",
        "has_video",
        "created_at",
    ]
    list_filter = [
        "status",
        "is_query",
        "source",
        "genre",
        "predicted_genre",
        "has_audio",
        "has_video",
    ]
    search_fields = ["title", "artist", "youtube_id", "content_sha256", "original_filename"]
    list_select_related = ["genre", "predicted_genre"]
    readonly_fields = [
        "content_sha256",
        "predicted_genre",
        "predicted_confidence",
        "job_id",
        "created_at",
        "updated_at",
        "segment_count",
        "player",
    ]
    inlines = [TrackMetadataInline]
    actions = ["reextract", "reencode"]
    date_hierarchy = "created_at"

    @admin.display(ordering="predicted_confidence", description="confidence")
    def confidence(self, obj: Video) -> str:
        return "" if obj.predicted_confidence is None else f"{obj.predicted_confidence:.0%}"

    @admin.display(ordering="duration_seconds", description="duration")
    def duration(self, obj: Video) -> str:
        if obj.duration_seconds is None:
            return ""
        minutes, seconds = divmod(int(round(obj.duration_seconds)), 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="segments")
    def segment_count(self, obj: Video) -> int:
        return obj.segments.count()

    @admin.display(description="media")
    def player(self, obj: Video) -> str:
        if not obj.media:
            return "-"
        return format_html(
            '<video src="{}" controls preload="metadata" width="320"></video>', obj.media.url
        )

    @admin.action(description="Re-extract features of the selected videos")
    def reextract(self, request: HttpRequest, queryset: QuerySet) -> None:
        from features.services import ExtractionUnavailable, request_extraction

        try:
            count = request_extraction(list(queryset.values_list("pk", flat=True)))
        except ExtractionUnavailable as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return
        self.message_user(
            request, f"Queued feature extraction for {count} video(s).", messages.SUCCESS
        )

    @admin.action(description="Re-encode the selected videos with the active model")
    def reencode(self, request: HttpRequest, queryset: QuerySet) -> None:
        from ml.services import EncodingUnavailable, request_encoding

        try:
            count = request_encoding(list(queryset.values_list("pk", flat=True)))
        except EncodingUnavailable as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return
        self.message_user(request, f"Queued encoding for {count} video(s).", messages.SUCCESS)


@admin.register(TrackMetadata)
class TrackMetadataAdmin(admin.ModelAdmin):
    list_display = [
        "video",
        "spotify_id",
        "tempo",
        "energy",
        "danceability",
        "valence",
        "features_from",
    ]
    list_filter = ["spotify_audio_features_available"]
    search_fields = ["video__title", "video__artist", "spotify_id"]
    list_select_related = ["video"]
    readonly_fields = ["updated_at"]

    @admin.display(description="values from")
    def features_from(self, obj: TrackMetadata) -> str:
        return ", ".join(sorted(set(obj.sources.values()))) or "-"
