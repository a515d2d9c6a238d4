from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from catalog.models import Genre, TrackMetadata, Video
from ml.services import EncodingUnavailable
from pipeline import selectors as pipeline_selectors
from pipeline.admin_actions import job_link
from pipeline.catalog_work import queue_encoding
from pipeline.models import StageRun
from pipeline.services import restart_many
from pipeline.stages import IN_PROGRESS


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "catalog_videos"]
    search_fields = ["name"]
    readonly_fields = ["slug"]  # always derived from the name (Genre.save)

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
        "in_stage_for",
        "job_state",
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
        "pipeline_runs",
    ]
    inlines = [TrackMetadataInline]
    actions = ["reextract", "reencode"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        run = StageRun.objects.filter(job_id=OuterRef("job_id")).values("queued_at")[:1]
        return super().get_queryset(request).annotate(_stage_since=Subquery(run))

    @admin.display(ordering="_stage_since", description="in stage for")
    def in_stage_for(self, obj: Video) -> str:
        since = getattr(obj, "_stage_since", None)
        if since is None or obj.status not in IN_PROGRESS:
            return ""
        return timesince(since, timezone.now())

    @admin.display(description="job")
    def job_state(self, obj: Video) -> str:
        """The RQ state of the video's current job (read from Redis for each row)."""
        if obj.status not in IN_PROGRESS or not obj.job_id:
            return ""
        if obj.job_id.startswith("local-"):
            return "in a command"
        return pipeline_selectors.job_states([obj.job_id]).get(obj.job_id, "unknown")

    @admin.display(description="pipeline runs")
    def pipeline_runs(self, obj: Video) -> str:
        runs = pipeline_selectors.runs_of(obj)
        if not runs:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    run.stage,
                    run.attempt,
                    run.state,
                    f"{run.queued_at:%Y-%m-%d %H:%M:%S}",
                    job_link(run.job_id) if run.place == "queue" else run.worker,
                    run.detail[:200],
                )
                for run in runs
            ),
        )
        return format_html(
            "<table><tr><th>stage</th><th>attempt</th><th>state</th><th>queued</th>"
            "<th>job</th><th>detail</th></tr>{}</table>",
            rows,
        )

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

    @admin.action(description="Process the selected videos again (re-extract features)")
    def reextract(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = restart_many(list(queryset.values_list("pk", flat=True)))
        if not count:
            self.message_user(
                request, "The selected videos have no media file to analyse.", messages.WARNING
            )
            return
        self.message_user(
            request, f"Queued feature extraction for {count} video(s).", messages.SUCCESS
        )

    @admin.action(description="Re-encode the selected videos with the active model")
    def reencode(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            queue_encoding(ids)
        except EncodingUnavailable as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return
        self.message_user(request, f"Queued encoding for {len(ids)} video(s).", messages.SUCCESS)


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
