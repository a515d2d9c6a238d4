"""Seed searches in the API: "more like these" from several ready videos (search.seeds).

``POST /api/searches/`` with ``seeds`` (and ``exclude``) in its body runs one here
(``SearchCreateView`` hands it to ``seed_search_response``), synchronously: 200 with the matches.
``POST /api/searches/seeds/`` is the older spelling of the same request, kept as an alias. Both
count against the client's search-submission budget (search.throttling). Errors are 400
``{"detail": "...", "errors": {"<param>": "..."}}`` naming the parameter; nothing is stored.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from search import seeds as seed_search
from search.choices import Metric, Representation
from search.forms import InvalidParams, parse_params
from search.ranking import K_MAX, InvalidSearchParameter
from search.serializers import ErrorSerializer, VideoSerializer
from search.throttling import SearchSubmitThrottle, SearchThrottled

# The search parameters a seed search takes (no genre boost: the seeds have several genres).
SEED_PARAM_NAMES = ("representation", "metric", "k")
# Body fields that make a POST /api/searches/ a seed search.
SEED_FIELDS = ("seeds", "exclude")


class SeedsBadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, str]):
        detail = "; ".join(f"{name}: {message}" for name, message in errors.items())
        super().__init__({"detail": detail, "errors": errors})


class SeedSearchRequestSerializer(serializers.Serializer):
    # A comment, not a docstring (that would become the component's description): validation
    # is search.seeds', so each error names its field.
    """A search from several ready videos: more like `seeds`, less like `exclude`."""

    seeds = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=seed_search.MAX_SEEDS,
        help_text=f"1-{seed_search.MAX_SEEDS} distinct ids of ready videos (more like these): "
        "catalog videos and/or earlier searches' query videos (uploads, URLs). Not together "
        "with `url` or `file`.",
    )
    exclude = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=seed_search.MAX_EXCLUDE,
        help_text="Ids of videos to steer away from (less like these); never returned.",
    )
    representation = serializers.ChoiceField(choices=Representation.choices, required=False)
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    k = serializers.IntegerField(min_value=1, max_value=K_MAX, required=False)
    method = serializers.ChoiceField(
        choices=list(seed_search.METHODS),
        required=False,
        help_text=f"`{seed_search.FUSION}` (default: reciprocal rank fusion of the seeds' "
        f"k-NN lists) or `{seed_search.CENTROID}` (one search from the seeds' centroid).",
    )


class SeedMatchSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField(help_text="0-1 similarity derived from distance.")
    distance = serializers.FloatField(
        help_text="To the seeds' centroid (centroid) or to the nearest seed (fusion)."
    )
    video = VideoSerializer()


class SeedSearchResultSerializer(serializers.Serializer):
    seeds = VideoSerializer(many=True)
    exclude = VideoSerializer(many=True)
    representation = serializers.CharField()
    metric = serializers.CharField()
    k = serializers.IntegerField()
    method = serializers.CharField()
    matches = SeedMatchSerializer(many=True)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        return "\x00"  # no valid parameter looks like this: parse_params names the field
    return str(value)


def _ids_field(data, name: str):
    """A field's raw ids: a JSON list, one comma-separated string, or a form field repeated
    (``seeds=1&seeds=2``: a QueryDict's ``get`` would keep only the last)."""
    if hasattr(data, "getlist"):
        values = data.getlist(name)
        return values if len(values) > 1 else (values[0] if values else None)
    return data.get(name)


def is_seed_search(data) -> bool:
    """Whether a POST /api/searches/ body asks for a seed search (has ``seeds`` or
    ``exclude``, even empty: an empty list is then a 400 saying what is missing)."""
    return any(name in data for name in SEED_FIELDS)


def run_seed_search(data) -> seed_search.SeedResults:
    """Parse and run a seed search from a dict / QueryDict; raises InvalidSearchParameter or
    InvalidParams (both name the parameter)."""
    seed_ids = seed_search.parse_ids(_ids_field(data, "seeds"), "seeds")
    exclude = seed_search.parse_ids(_ids_field(data, "exclude"), "exclude")
    params = parse_params({key: _text(data.get(key)) for key in SEED_PARAM_NAMES})
    method = data.get("method") or seed_search.DEFAULT_METHOD
    if not isinstance(method, str):
        raise InvalidSearchParameter("method", "method must be text.")
    return seed_search.more_like_these(
        seed_ids,
        exclude,
        representation=params.representation,
        metric=params.metric,
        k=params.k,
        method=method.strip().lower(),
    )


def seed_search_response(request: Request, data) -> Response:
    """200 with the seed search's matches (SeedSearchResultSerializer), or a SeedsBadRequest
    naming the parameter; nothing is stored either way."""
    if not hasattr(data, "get"):
        raise SeedsBadRequest({"body": "the body must be a JSON object."})
    try:
        found = run_seed_search(data)
    except InvalidSearchParameter as exc:
        raise SeedsBadRequest({exc.param: exc.message}) from None
    except InvalidParams as exc:
        raise SeedsBadRequest(exc.errors) from None
    return Response(seed_results_body(found))


# One serializer per process, its fields built once: a SeedSearchResultSerializer per request
# rebuilt the fields of its five nested model serializers every time (9 of a seed search's
# 30 ms at 20k on a loaded machine). No field reads the request.
_SEED_RESULT = SeedSearchResultSerializer()


def seed_results_body(found: seed_search.SeedResults) -> dict:
    """A seed search's answer, as the documented SeedSearchResultSerializer makes it."""
    return _SEED_RESULT.to_representation(
        {
            "seeds": found.seeds,
            "exclude": found.exclude,
            "representation": found.representation,
            "metric": found.metric,
            "k": found.k,
            "method": found.method,
            "matches": found.matches,
        }
    )


SEED_SEARCH_DESCRIPTION = (
    "The k catalog videos most like 1-10 seed videos and least like the `exclude` videos, by "
    "reciprocal rank fusion of the seeds' k-NN lists (`method` `fusion`, the default) or from "
    "their centroid (`centroid`). Seeds may be catalog videos and/or the query videos of "
    "earlier searches (uploads, URLs) once they are ready. Answered at once (**200**). Seeds "
    "and excluded videos never come back; a candidate nearer to an excluded video than to "
    "every seed is dropped. Unknown, duplicate, unready or unsuitable ids, more than 10, or "
    "`seeds` together with `url`/`file` are a 400 naming `seeds` or `exclude`; nothing is "
    "stored."
)


class SeedSearchView(APIView):
    """The alias ``POST /api/searches/seeds/``: the seeds form of ``POST /api/searches/``."""

    throttle_classes = [SearchSubmitThrottle]

    def throttled(self, request: Request, wait: float | None):
        description = SearchSubmitThrottle().describe()
        raise SearchThrottled(wait, detail=f"Too many searches from your address ({description}).")

    @extend_schema(
        summary="More like these (several seeds; alias)",
        description=(
            "The same as `POST /api/searches/` with `seeds`: kept for clients of the first "
            "version of the API. " + SEED_SEARCH_DESCRIPTION + " Rate-limited with the other "
            "search submissions (429 with `Retry-After`)."
        ),
        parameters=[
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                location=OpenApiParameter.HEADER,
                response=[429],
                description="Seconds to wait before submitting again.",
            ),
        ],
        request=SeedSearchRequestSerializer,
        responses={
            200: SeedSearchResultSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad parameter (named)."),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many searches from this client: wait Retry-After seconds.",
            ),
        },
        examples=[
            OpenApiExample(
                "Three seeds, one excluded",
                value={"seeds": [12, 40, 41], "exclude": [7], "k": 10},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        return seed_search_response(request, request.data)
