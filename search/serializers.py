"""DRF serializers of the public API (read models and the documented request/response shapes)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Genre, TrackMetadata, Video
from search.choices import Metric, Representation
from search.forms import K_MAX, K_MIN
from search.presenters import media_url


class GenreRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Genre
        fields = ["id", "name", "slug"]


class GenreSerializer(serializers.ModelSerializer):
    catalog_count = serializers.IntegerField(
        read_only=True, help_text="Catalog videos with this curated genre."
    )

    class Meta:
        model = Genre
        fields = ["id", "name", "slug", "catalog_count"]


class VideoSerializer(serializers.ModelSerializer):
    genre = GenreRefSerializer(read_only=True, allow_null=True, help_text="Curated genre.")
    predicted_genre = GenreRefSerializer(
        read_only=True, allow_null=True, help_text="Genre predicted by the active model."
    )
    media_url = serializers.SerializerMethodField(help_text="The stored media file, if any.")
    page_url = serializers.SerializerMethodField(help_text="The video's page on the site.")
    api_url = serializers.SerializerMethodField()

    class Meta:
        model = Video
        fields = [
            "id",
            "title",
            "artist",
            "source",
            "source_url",
            "youtube_id",
            "is_query",
            "status",
            "duration_seconds",
            "has_audio",
            "has_video",
            "genre",
            "predicted_genre",
            "predicted_confidence",
            "media_url",
            "page_url",
            "api_url",
            "created_at",
        ]

    def get_media_url(self, obj: Video) -> str:
        return media_url(obj)

    def get_page_url(self, obj: Video) -> str:
        return reverse("search:video", args=[obj.pk])

    def get_api_url(self, obj: Video) -> str:
        return reverse("api-video-detail", args=[obj.pk])


class TrackMetadataSerializer(serializers.ModelSerializer):
    sources = serializers.DictField(
        child=serializers.CharField(),
        help_text='Where each value came from, by field: "spotify", "analysis", "demo", "import".',
    )

    class Meta:
        model = TrackMetadata
        fields = [
            "spotify_id",
            "spotify_popularity",
            "album",
            "spotify_audio_features_available",
            *TrackMetadata.AUDIO_FEATURE_FIELDS,
            "sources",
        ]


class VideoDetailSerializer(VideoSerializer):
    metadata = serializers.SerializerMethodField()
    error = serializers.CharField(read_only=True, help_text="Why processing failed, if it did.")
    segment_count = serializers.SerializerMethodField()
    similar_url = serializers.SerializerMethodField()

    class Meta(VideoSerializer.Meta):
        fields = [*VideoSerializer.Meta.fields, "error", "segment_count", "metadata", "similar_url"]

    @extend_schema_field(TrackMetadataSerializer(allow_null=True))
    def get_metadata(self, obj: Video) -> dict | None:
        try:
            return TrackMetadataSerializer(obj.metadata).data
        except TrackMetadata.DoesNotExist:
            return None

    def get_segment_count(self, obj: Video) -> int:
        return obj.segments.count()

    def get_similar_url(self, obj: Video) -> str:
        return reverse("api-video-similar", args=[obj.pk])


# --- similarity ------------------------------------------------------------------------------


# The serializers below read the attributes of what search.selectors.similar returns: a
# MatchRow per match, with its search.explain.SegmentPair list. (Comments, not docstrings:
# a docstring would become the component's description in the OpenAPI schema.)


class SegmentPairSerializer(serializers.Serializer):
    query_index = serializers.IntegerField()
    query_start = serializers.FloatField(help_text="Seconds into the query.")
    match_index = serializers.IntegerField()
    match_start = serializers.FloatField(help_text="Seconds into the match.")
    distance = serializers.FloatField()


class ContributionsSerializer(serializers.Serializer):  # source="*": the MatchRow itself
    audio = serializers.FloatField(
        source="audio_share", allow_null=True, help_text="Share of the sound, 0-1."
    )
    visual = serializers.FloatField(
        source="visual_share", allow_null=True, help_text="Share of the picture, 0-1."
    )


class VersionSerializer(serializers.Serializer):  # a search.ranking.Match folded into a row
    id = serializers.IntegerField(source="video.pk")
    title = serializers.CharField(source="video.title")
    artist = serializers.CharField(source="video.artist")
    score = serializers.FloatField(help_text="Its own similarity to the query, 0-1.")


class MatchSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField(help_text="Similarity 0-1 (1 = identical).")
    distance = serializers.FloatField(help_text="Distance in the chosen representation/metric.")
    boosted_distance = serializers.FloatField(help_text="Distance after the same-genre boost.")
    same_genre = serializers.BooleanField()
    contributions = ContributionsSerializer(source="*")
    segment_pairs = SegmentPairSerializer(
        source="segments", many=True, help_text="Best-matching 10 s segments."
    )
    shared_tags = serializers.ListField(
        child=serializers.CharField(),
        help_text="Music tags (MusiCNN) both videos have, strongest first; empty when either "
        "has no music embedding.",
    )
    video = VideoSerializer()
    versions = VersionSerializer(
        many=True,
        help_text="Other versions of this match's song (live, lyric video, re-upload…) hidden "
        "behind it, best first; empty with versions=all.",
    )


class SimilarSerializer(serializers.Serializer):
    query = VideoSerializer()
    representation = serializers.ChoiceField(
        choices=Representation.choices, help_text="Used (after a fallback from code)."
    )
    requested_representation = serializers.CharField(help_text="As asked for.")
    metric = serializers.ChoiceField(choices=Metric.choices)
    k = serializers.IntegerField()
    boost = serializers.FloatField()
    pool = serializers.CharField()
    max_per_artist = serializers.IntegerField(help_text="At most this many matches per artist.")
    min_duration = serializers.FloatField(allow_null=True, help_text="Seconds, or null.")
    max_duration = serializers.FloatField(allow_null=True, help_text="Seconds, or null.")
    tags = serializers.ListField(
        child=serializers.CharField(), help_text="Music tags every match has (canonical names)."
    )
    genre = serializers.CharField(allow_null=True, help_text="The genre filter's slug, or null.")
    notice = serializers.CharField(help_text="E.g. why the learned code was not used.")
    versions = serializers.CharField(
        help_text="collapse: the query's versions hidden, one match per song; all: every video."
    )
    matches = MatchSerializer(many=True)


# --- tags ------------------------------------------------------------------------------------


class TagsSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The MusiCNN checkpoint whose tags these are.")
    threshold = serializers.FloatField(
        help_text="The probability a tag filter asks of every listed tag."
    )
    tags = serializers.ListField(child=serializers.CharField())


class TagMatchSerializer(serializers.Serializer):  # a search.tags.TagMatch
    rank = serializers.IntegerField()
    score = serializers.FloatField(help_text="Mean probability of the asked tags, 0-1.")
    tag_scores = serializers.DictField(
        child=serializers.FloatField(), help_text="Each asked tag's probability."
    )
    video = VideoSerializer()


class TagSearchSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField(), help_text="As understood.")
    k = serializers.IntegerField()
    matches = TagMatchSerializer(many=True)


# --- searches and jobs -----------------------------------------------------------------------


# boost: in (0, 1] (OpenAPI 3.0 spells an open bound as a flag).
BOOST_SCHEMA = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1}


@extend_schema_field(BOOST_SCHEMA)
class BoostField(serializers.FloatField):
    pass


class SearchParamsSerializer(serializers.Serializer):
    representation = serializers.ChoiceField(choices=Representation.choices, required=False)
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    k = serializers.IntegerField(required=False, min_value=K_MIN, max_value=K_MAX)
    boost = BoostField(
        required=False, help_text="Same-genre distance multiplier in (0, 1]; 1 = off."
    )


# The documented shapes of POST /api/searches/ (validated by search.forms and pipeline.intake):
# a YouTube URL as JSON or a form, or a file as multipart (with `url` instead, a multipart form
# works as well). Comments, not docstrings: those would become the components' descriptions.


class SearchUrlRequestSerializer(SearchParamsSerializer):
    url = serializers.CharField(help_text="A YouTube video URL (youtube.com or youtu.be).")


# drf-spectacular documents a FileField as a URI (what a response would hold) unless request
# and response components are split; an upload is the file's bytes.
@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    pass


class SearchUploadRequestSerializer(SearchParamsSerializer):
    file = UploadField(
        help_text="A video or audio file, at most MVSIM_UPLOAD_MAX_MB (default 200 MB)."
    )


class SearchCreatedSerializer(serializers.Serializer):
    search_id = serializers.IntegerField()
    video_id = serializers.IntegerField(help_text="The query video.")
    status = serializers.CharField(help_text="The query video's processing stage.")
    reused = serializers.BooleanField(help_text="An existing video answered this query.")
    job_url = serializers.CharField(help_text="Poll this for progress.")
    results_url = serializers.CharField(help_text="Similar videos, once status is ready.")
    video_url = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(allow_null=True, help_text="Segments done in this stage.")
    total = serializers.IntegerField(allow_null=True)
    percent = serializers.IntegerField(allow_null=True)


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The search id.")
    video_id = serializers.IntegerField()
    status = serializers.CharField(
        help_text="pending, downloading, extracting, encoding, ready or failed."
    )
    stage = serializers.CharField(help_text="Human-readable stage.")
    detail = serializers.CharField(help_text="What the running job reports.")
    progress = ProgressSerializer()
    job_status = serializers.CharField(allow_null=True, help_text="The RQ job's status.")
    ready = serializers.BooleanField()
    failed = serializers.BooleanField()
    error = serializers.CharField(help_text="Why it failed (when status is failed).")
    results_url = serializers.CharField()
    page_url = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Message per bad parameter."
    )
