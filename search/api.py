"""The REST API (Django REST framework, documented with drf-spectacular).

Errors: a bad parameter is a 400 `{"detail": "...", "errors": {"<param>": "<message>"}}`;
unknown ids are 404; other methods 405 (DRF); search submissions over the client's rate 429
with Retry-After (search/throttling.py); bodies and uploads over their limits 413.
"""

from __future__ import annotations

import io
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Video
from mvsite import uploads
from pipeline import intake
from pipeline import selectors as pipeline_selectors
from search import api_seeds, result_cache, selectors
from search.choices import POOLS, Metric, Pool, Representation
from search.forms import K_MAX, K_MIN, PARAM_NAMES, InvalidParams, SearchParams, parse_params
from search.models import Search
from search.ranking import DURATION_MAX, MAX_PER_ARTIST_MAX, InvalidSearchParameter
from search.serializers import (
    BOOST_SCHEMA,
    ErrorSerializer,
    GenreSerializer,
    JobSerializer,
    SearchCreatedSerializer,
    SearchUploadRequestSerializer,
    SearchUrlRequestSerializer,
    SimilarSerializer,
    TagSearchSerializer,
    TagsSerializer,
    VideoDetailSerializer,
    VideoSerializer,
)
from search.tags import MAX_TAGS, TAG_FILTER_MIN, UnknownTag, model_name, parse_tags
from search.throttling import SearchSubmitThrottle, SearchThrottled
from search.versions import VERSIONS_CHOICES


class BadRequest(APIException):
    """400 with a message per parameter: {"detail": "...", "errors": {param: message}}."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, str], status_code: int | None = None):
        if status_code is not None:
            self.status_code = status_code
        detail = "; ".join(f"{name}: {message}" for name, message in errors.items())
        super().__init__({"detail": detail, "errors": errors})


def _params(data) -> SearchParams:
    try:
        return parse_params(data)
    except InvalidParams as exc:
        raise BadRequest(exc.errors) from None


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise BadRequest({name: f"{name} must be true or false (got {raw[:40]!r})."})


def _genre_param(request: Request):
    raw = request.query_params.get("genre")
    if raw is None or raw.strip() == "":
        return None
    genre = selectors.genre_by_slug_or_id(raw)
    if genre is None:
        raise BadRequest({"genre": f"genre {raw[:60]!r} is not a known genre slug or id."})
    return genre


REPRESENTATION_PARAM = OpenApiParameter(
    "representation",
    OpenApiTypes.STR,
    enum=Representation.values,
    description="What to compare: the learned code, audio features, visual features, or both. "
    "`code` falls back to `both` (with a notice) while no model is active.",
)
METRIC_PARAM = OpenApiParameter("metric", OpenApiTypes.STR, enum=Metric.values)
K_PARAM = OpenApiParameter(
    "k",
    {"type": "integer", "minimum": K_MIN, "maximum": K_MAX},
    description=f"Number of matches, {K_MIN}-{K_MAX}.",
)
BOOST_PARAM = OpenApiParameter(
    "boost",
    BOOST_SCHEMA,
    description="Distance multiplier for matches of the query's genre, in (0, 1]; 1 turns it "
    "off. Default: the admin's search settings.",
)
MAX_PER_ARTIST_PARAM = OpenApiParameter(
    "max_per_artist",
    {"type": "integer", "minimum": 1, "maximum": MAX_PER_ARTIST_MAX},
    description="At most this many matches per artist (case-insensitive; videos without an "
    "artist are not capped), applied after the genre boost; k or more turns it off. Default: "
    "the admin's search settings (2).",
)
MIN_DURATION_PARAM = OpenApiParameter(
    "min_duration",
    {"type": "number", "minimum": 0, "maximum": DURATION_MAX},
    description="Only matches at least this many seconds long (at most max_duration).",
)
MAX_DURATION_PARAM = OpenApiParameter(
    "max_duration",
    {"type": "number", "minimum": 0, "maximum": DURATION_MAX},
    description="Only matches at most this many seconds long.",
)


def _tags_schema(min_items: int) -> dict:
    return {
        "type": "array",
        "items": {"type": "string", "enum": list(selectors.tag_vocabulary())},
        "minItems": min_items,
        "maxItems": MAX_TAGS,
    }


TAGS_FILTER_PARAM = OpenApiParameter(
    "tags",
    _tags_schema(0),
    style="form",
    explode=False,
    description="Comma-separated music tags (GET /api/tags/; case-insensitive): only matches "
    f"whose mean MusiCNN probability of every one is at least {TAG_FILTER_MIN}.",
)
VERSIONS_PARAM = OpenApiParameter(
    "versions",
    OpenApiTypes.STR,
    enum=list(VERSIONS_CHOICES),
    description="collapse (default): hide versions of the query's song (live, lyric video, "
    "remaster, re-upload: same normalised title and artist, near-identical sound) and show one "
    "match per song, the others in its `versions`; all: every video, k or fewer.",
)
GENRE_PARAM = OpenApiParameter(
    "genre", OpenApiTypes.STR, description="Curated genre, by slug (`hip-hop`) or id."
)
BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="A bad parameter (named in errors).")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such id.")
# Any path segment reaches the view, so an id that is not a number (`2.5e-24`, `abc`) is the
# API's JSON 404 too, not the site's HTML "Not Found" page (DRF's default excludes dots).
ID_IN_PATH = r"[^/]+"


class Pagination(LimitOffsetPagination):
    """limit/offset, strictly: a limit outside 1-MAX_LIMIT or an offset that is not a whole
    number is a 400 naming it (DRF's own pagination quietly used the defaults instead, and
    had no upper bound on limit)."""

    max_limit = 500
    max_offset = 2**31 - 1

    def get_limit(self, request) -> int:
        return self._param(request, self.limit_query_param, 1, self.max_limit, self.default_limit)

    def get_offset(self, request) -> int:
        return self._param(request, self.offset_query_param, 0, self.max_offset, 0)

    @staticmethod
    def _param(request, name: str, low: int, high: int, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise BadRequest({name: f"{name} must be a whole number (got {raw[:40]!r})."}) from None
        if not low <= value <= high:
            raise BadRequest({name: f"{name} must be between {low} and {high} (got {value})."})
        return value

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


@extend_schema_view(
    list=extend_schema(summary="List genres", description="The genres with their catalog size."),
    retrieve=extend_schema(summary="One genre", responses={200: GenreSerializer, 404: NOT_FOUND}),
)
class GenreViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = GenreSerializer
    pagination_class = None
    lookup_value_regex = ID_IN_PATH

    def get_queryset(self):
        return selectors.genres_with_counts()


@extend_schema_view(
    list=extend_schema(
        summary="List videos",
        description="Catalog videos and query videos, newest first, paginated (limit/offset).",
        parameters=[
            GENRE_PARAM,
            OpenApiParameter(
                "is_query",
                OpenApiTypes.BOOL,
                description="true: user queries only; false: the catalog only.",
            ),
        ],
        responses={200: VideoSerializer(many=True), 400: BAD_REQUEST},
    ),
    retrieve=extend_schema(
        summary="One video",
        description="With track metadata and where each value came from.",
        responses={200: VideoDetailSerializer, 404: NOT_FOUND},
    ),
)
class VideoViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Video.objects.select_related("genre", "predicted_genre")
    pagination_class = Pagination
    lookup_value_regex = ID_IN_PATH

    def get_serializer_class(self):
        return VideoDetailSerializer if self.action == "retrieve" else VideoSerializer

    def get_queryset(self):
        videos = super().get_queryset()
        if self.action == "list":
            genre = _genre_param(self.request)
            if genre is not None:
                videos = videos.filter(genre=genre)
            is_query = _bool_param(self.request, "is_query")
            if is_query is not None:
                videos = videos.filter(is_query=is_query)
        return videos

    @extend_schema(
        summary="Similar videos",
        description="The k most similar videos to this one, with a 0-1 score, the distance, "
        "whether the genre matches, how much sound and picture contributed, and the "
        "best-matching 10 s segment pairs. The video must be ready (else 409).",
        parameters=[
            REPRESENTATION_PARAM,
            METRIC_PARAM,
            K_PARAM,
            BOOST_PARAM,
            OpenApiParameter(
                "pool",
                OpenApiTypes.STR,
                enum=list(POOLS),
                description="catalog (default) or queries (earlier searches).",
            ),
            OpenApiParameter(
                "genre",
                OpenApiTypes.STR,
                description="Only matches of this genre (curated or predicted), by slug or id.",
            ),
            MAX_PER_ARTIST_PARAM,
            MIN_DURATION_PARAM,
            MAX_DURATION_PARAM,
            TAGS_FILTER_PARAM,
            VERSIONS_PARAM,
            OpenApiParameter(
                "X-Result-Cache",
                OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                response=[200],
                enum=["hit", "miss", "off"],
                description="hit: the stored answer (valid until the catalog, its vectors, the "
                "active model or the search settings change); miss: computed now and stored; "
                "off: not cached.",
            ),
        ],
        responses={
            200: SimilarSerializer,
            400: BAD_REQUEST,
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The video is not ready yet."),
        },
    )
    @action(detail=True, methods=["get"], url_path="similar", url_name="similar")
    def similar(self, request: Request, pk=None) -> HttpResponse:
        # A cached answer needs no database work at all (search.result_cache); a deleted or
        # changed video moves the epoch, so this cannot answer for a video that is gone.
        # Parameters are sorted: their order does not change the answer.
        asked = (str(pk), sorted(_param_items(request)))
        body, how = result_cache.fetch(
            f"similar:{result_cache.digest(asked)}",
            lambda: JSONRenderer().render(self._similar(request, pk)),
        )
        if isinstance(request.accepted_renderer, JSONRenderer):
            response = HttpResponse(body, content_type="application/json")  # as stored
        else:
            response = Response(json.loads(body))  # the browsable API
        response["X-Result-Cache"] = how
        return response

    def _similar(self, request: Request, pk) -> dict:
        video = self.get_object()
        params = _params(request.query_params)
        pool = (request.query_params.get("pool") or Pool.CATALOG).strip().lower()
        if pool not in POOLS:
            raise BadRequest({"pool": f"pool must be one of {', '.join(POOLS)} (got {pool!r})."})
        genre = _genre_param(request)
        if not video.is_ready:
            raise BadRequest(
                {"video": f"video {video.pk} is not ready yet (status {video.status})."},
                status_code=status.HTTP_409_CONFLICT,
            )

        try:
            found = selectors.similar(video, params, pools=(pool,), genre=genre, pairs=3)
        except InvalidSearchParameter as exc:
            raise BadRequest({exc.param: exc.message}) from None
        if found.error:
            raise BadRequest({"representation": found.error}, status_code=409)
        rows = found.catalog if pool == Pool.CATALOG else found.queries
        data = {
            "query": found.query,
            "representation": found.params.representation,
            "requested_representation": params.representation,
            "metric": found.params.metric,
            "k": found.params.k,
            "boost": found.params.boost,
            "pool": pool,
            "max_per_artist": found.params.max_per_artist,
            "min_duration": found.params.min_duration,
            "max_duration": found.params.max_duration,
            "tags": list(found.params.tags),
            "genre": genre.slug if genre is not None else None,
            "notice": found.notice,
            "versions": found.params.versions,
            "matches": rows,
        }
        return _SIMILAR.to_representation(data)


# One serializer per process, its fields built once: a SimilarSerializer per request rebuilt
# the fields of its nested model serializers (VideoSerializer twice, GenreRef four times) every
# time. The fields keep no per-request state (no field reads the request).
_SIMILAR = SimilarSerializer()


def _param_items(request: Request) -> list[tuple[str, str]]:
    return [(name, value) for name, values in request.query_params.lists() for value in values]


# --- tags ------------------------------------------------------------------------------------


class TagListView(APIView):
    @extend_schema(
        summary="Music tags",
        description="The words tag search and the `tags` filter understand: the 50 tags of "
        "the MusiCNN checkpoint in use, in its output order.",
        responses={200: TagsSerializer},
    )
    def get(self, request: Request) -> Response:
        body = {
            "model": model_name(),
            "threshold": TAG_FILTER_MIN,
            "tags": list(selectors.tag_vocabulary()),
        }
        return Response(TagsSerializer(body).data)


class TagSearchView(APIView):
    @extend_schema(
        summary="Search by music tags",
        description="The k ready catalog videos with the highest mean probability of the given "
        "music tags (each video's mean MusiCNN tag probabilities over its segments): search "
        "by words without a text model. An unknown tag is a 400 listing the closest tags.",
        parameters=[
            OpenApiParameter(
                "tags",
                _tags_schema(1),
                style="form",
                explode=False,
                required=True,
                description="Comma-separated music tags (GET /api/tags/; case-insensitive).",
            ),
            K_PARAM,
        ],
        responses={200: TagSearchSerializer, 400: BAD_REQUEST},
    )
    def get(self, request: Request) -> Response:
        try:
            tags = parse_tags(request.query_params.get("tags", ""))
        except UnknownTag as exc:
            raise BadRequest({"tags": f"{exc}."}) from None
        errors = {}
        if not tags:
            errors["tags"] = "give at least one music tag, e.g. tags=guitar,female vocalists."
        k = _k_param(request, errors)
        if errors:
            raise BadRequest(errors)
        matches = selectors.videos_by_tags(tags, k)
        body = {"tags": list(tags), "k": k, "matches": matches}
        return Response(TagSearchSerializer(body, context={"request": request}).data)


def _k_param(request: Request, errors: dict[str, str]) -> int:
    raw = (request.query_params.get("k") or "").strip()
    if not raw:
        return selectors.default_k()
    try:
        k = int(raw)
    except ValueError:
        errors["k"] = f"k must be a whole number (got {raw[:40]!r})."
        return 0
    if not K_MIN <= k <= K_MAX:
        errors["k"] = f"k must be between {K_MIN} and {K_MAX} (got {k})."
    return k


def _job_url(search: Search) -> str:
    return reverse("api-job", args=[search.pk])


def _results_url(video: Video, search: Search) -> str:
    params = SearchParams(search.representation, search.metric, search.k, search.boost)
    return reverse("api-video-similar", args=[video.pk]) + "?" + params.querystring()


def _body_too_large() -> BadRequest:
    limit = uploads.human_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return BadRequest(
        {"body": f"the request body is larger than {limit} (files go in a multipart upload)."},
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def _read_bounded(stream) -> bytes:
    """At most DATA_UPLOAD_MAX_MEMORY_SIZE bytes of a JSON or form body (DRF's parsers read
    the whole body into memory, however large); more is a 413."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    parts, size = [], 0
    while size <= limit:
        part = stream.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise _body_too_large()
    return b"".join(parts)


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return super().parse(io.BytesIO(_read_bounded(stream)), media_type, parser_context)


class BoundedFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return super().parse(io.BytesIO(_read_bounded(stream)), media_type, parser_context)


class SearchCreateView(APIView):
    parser_classes = [BoundedJSONParser, MultiPartParser, BoundedFormParser]
    throttle_classes = [SearchSubmitThrottle]

    def throttled(self, request: Request, wait: float | None):
        description = SearchSubmitThrottle().describe()
        raise SearchThrottled(wait, detail=f"Too many searches from your address ({description}).")

    @extend_schema(
        summary="Start a search",
        description=(
            "Submit a YouTube URL (JSON or form field `url`) or a file (multipart field `file`), "
            "with optional search parameters. A new query is analysed in the background: the "
            "answer is **202** with `Location`/`job_url` to poll. A query seen before (same "
            "YouTube id or same file content) reuses the stored video: **200** when it is "
            "already ready (results_url can be fetched at once), else 202.\n\n"
            "**Several seeds** instead (JSON `seeds`, optional `exclude`, `method`, "
            "`representation`, `metric`, `k`; not with `url`/`file`): "
            + api_seeds.SEED_SEARCH_DESCRIPTION
            + "\n\nSubmissions of either kind are limited per client (MVSIM_SEARCH_RATE, "
            "default 30 a minute): over it, **429** with `Retry-After`."
        ),
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                response=[200, 202],
                description="The job URL to poll.",
            ),
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                location=OpenApiParameter.HEADER,
                response=[429, 503],
                description="Seconds to wait before submitting again.",
            ),
        ],
        request={
            # JSON: a URL to analyse, or seeds to search from (a body with both is a 400).
            "application/json": PolymorphicProxySerializer(
                component_name="SearchRequest",
                serializers=[SearchUrlRequestSerializer, api_seeds.SeedSearchRequestSerializer],
                resource_type_field_name=None,
            ),
            "application/x-www-form-urlencoded": SearchUrlRequestSerializer,
            "multipart/form-data": SearchUploadRequestSerializer,
        },
        responses={
            # 200: a URL/file query already analysed (SearchCreated), or a seed search's
            # matches (SeedSearchResult).
            200: PolymorphicProxySerializer(
                component_name="SearchAnswer",
                serializers=[SearchCreatedSerializer, api_seeds.SeedSearchResultSerializer],
                resource_type_field_name=None,
            ),
            202: SearchCreatedSerializer,
            400: BAD_REQUEST,
            413: OpenApiResponse(
                ErrorSerializer, description="The upload (or a JSON/form body) is too large."
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many searches from this client: wait Retry-After seconds.",
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="The processing queue is unreachable; nothing stored."
            ),
        },
        examples=[
            OpenApiExample(
                "YouTube URL",
                value={"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "k": 10},
                request_only=True,
            ),
            OpenApiExample(
                "More like these three, less like that one",
                value={"seeds": [12, 40, 41], "exclude": [7], "k": 10},
                request_only=True,
                media_type="application/json",
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        try:
            data = request.data
        except RequestDataTooBig:
            raise _body_too_large() from None
        except (TooManyFieldsSent, TooManyFilesSent) as exc:
            raise BadRequest({"body": str(exc)}) from None
        refused = uploads.refused(request)
        if refused is not None:
            raise BadRequest({"file": refused.message}, status_code=refused.status)
        if not hasattr(data, "get"):
            raise BadRequest({"body": "the body must be a JSON object or a multipart form."})
        upload = request.FILES.get("file")
        if api_seeds.is_seed_search(data):
            field = "seeds" if "seeds" in data else "exclude"
            if data.get("url") not in (None, "") or upload or data.get("file") not in (None, ""):
                raise BadRequest(
                    {
                        field: f"{field} cannot be combined with url or file: give seeds (a "
                        "search from videos already here) or a url / file (a new query)."
                    }
                )
            # Synchronous: the seeds are ready videos, nothing to analyse or store.
            return api_seeds.seed_search_response(request, data)
        url = data.get("url")
        if url is not None and not isinstance(url, str):
            raise BadRequest({"url": "url must be a string."})
        url = (url or "").strip()
        if upload is None and data.get("file") not in (None, ""):
            raise BadRequest({"file": "file must be sent as a file (a named multipart part)."})
        if url and upload:
            raise BadRequest({"url": "give either url or file, not both."})
        if not url and not upload:
            raise BadRequest({"url": "give a YouTube url (JSON or form) or a file (multipart)."})
        params = _params({key: _as_text(data.get(key)) for key in PARAM_NAMES})
        try:
            if upload:
                found, search = intake.search_by_upload(upload, params)
            else:
                found, search = intake.search_by_url(url, params)
        except intake.IntakeError as exc:
            raise BadRequest({exc.field: exc.message}, status_code=exc.status) from None
        except intake.QueueUnavailable as exc:
            body = {"detail": str(exc), "errors": {"queue": str(exc)}}
            return Response(body, status=exc.status, headers={"Retry-After": "30"})
        video = found.video
        job_url = _job_url(search)
        body = {
            "search_id": search.pk,
            "video_id": video.pk,
            "status": video.status,
            "reused": found.reused,
            "job_url": job_url,
            "results_url": _results_url(video, search),
            "video_url": reverse("api-video-detail", args=[video.pk]),
        }
        code = status.HTTP_200_OK if video.is_ready else status.HTTP_202_ACCEPTED
        return Response(
            SearchCreatedSerializer(body).data, status=code, headers={"Location": job_url}
        )


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class JobView(APIView):
    @extend_schema(
        summary="Progress of a search",
        description="The stage and progress of the query video behind a search (the id is the "
        "search id from POST /api/searches/). When `ready`, fetch `results_url`.",
        responses={200: JobSerializer, 404: OpenApiResponse(description="No such search.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        search = get_object_or_404(Search.objects.select_related("query_video"), pk=pk)
        video = search.query_video
        state = pipeline_selectors.progress(video)
        body = {
            "id": search.pk,
            "video_id": video.pk,
            "status": state["status"],
            "stage": state["stage"],
            "detail": state["detail"],
            "progress": {
                "done": _int_or_none(state["done"]),
                "total": _int_or_none(state["total"]),
                "percent": state["percent"],
            },
            "job_status": state["job_status"],
            "ready": state["ready"],
            "failed": state["failed"],
            "error": state["error"],
            "results_url": _results_url(video, search),
            "page_url": reverse("search:progress", args=[video.pk]),
        }
        return Response(JobSerializer(body).data)


def _int_or_none(value):
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
