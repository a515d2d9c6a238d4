"""``POST /api/searches/seeds/``: "more like these" from several catalog videos (search.seeds).

A separate endpoint for now (docs/api.md): it will become the ``seeds`` / ``exclude`` fields of
``POST /api/searches/``. Errors are 400 ``{"detail": "...", "errors": {"<param>": "..."}}``
naming the parameter; nothing is stored.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from search import seeds as seed_search
from search.choices import Metric, Representation
from search.forms import PARAM_NAMES, InvalidParams, parse_params
from search.ranking import K_MAX, InvalidSearchParameter
from search.serializers import ErrorSerializer, VideoSerializer


class SeedsBadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, str]):
        detail = "; ".join(f"{name}: {message}" for name, message in errors.items())
        super().__init__({"detail": detail, "errors": errors})


class SeedSearchRequestSerializer(serializers.Serializer):
    """The documented request (validation is search.seeds', so each error names its field)."""

    seeds = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=seed_search.MAX_SEEDS,
        help_text=f"1-{seed_search.MAX_SEEDS} distinct ids of ready videos (more like these).",
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


def run_seed_search(data) -> seed_search.SeedResults:
    """Parse and run a seed search from a dict / QueryDict; raises InvalidSearchParameter or
    InvalidParams (both name the parameter)."""
    getter = data.get
    raw_seeds, raw_exclude = getter("seeds"), getter("exclude")
    seed_ids = seed_search.parse_ids(raw_seeds, "seeds")
    exclude = seed_search.parse_ids(raw_exclude, "exclude")
    params = parse_params({key: _text(getter(key)) for key in PARAM_NAMES})
    method = getter("method") or seed_search.DEFAULT_METHOD
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


class SeedSearchView(APIView):
    @extend_schema(
        summary="More like these (several seeds)",
        description=(
            "The k catalog videos most like 1-10 seed videos and least like the `exclude` "
            "videos, by reciprocal rank fusion of the seeds' k-NN lists (default) or from their "
            "centroid. Seeds and excluded videos never come back; a candidate nearer to an "
            "excluded video than to every seed is dropped. Unknown, duplicate, unready or "
            "unsuitable ids are a 400 naming `seeds` or `exclude`; nothing is stored. "
            "(Will become the `seeds`/`exclude` fields of POST /api/searches/.)"
        ),
        request=SeedSearchRequestSerializer,
        responses={
            200: SeedSearchResultSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad parameter (named)."),
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
        data = request.data
        if not hasattr(data, "get"):
            raise SeedsBadRequest({"body": "the body must be a JSON object."})
        try:
            found = run_seed_search(data)
        except InvalidSearchParameter as exc:
            raise SeedsBadRequest({exc.param: exc.message}) from None
        except InvalidParams as exc:
            raise SeedsBadRequest(exc.errors) from None
        body = {
            "seeds": found.seeds,
            "exclude": found.exclude,
            "representation": found.representation,
            "metric": found.metric,
            "k": found.k,
            "method": found.method,
            "matches": found.matches,
        }
        return Response(SeedSearchResultSerializer(body, context={"request": request}).data)
