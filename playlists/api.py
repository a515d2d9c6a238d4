"""The playlists API: create, read, update/reorder, delete, export.

Editing (PATCH, DELETE) needs the secret that creating the playlist returned, in the
``X-Playlist-Secret`` header (or ``secret`` in the body), or a staff session: otherwise 403.
Unknown ids are 404; bad input is a 400 naming the field, with nothing stored.
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from playlists import presenters, selectors, services
from playlists.models import MAX_ENTRIES, NAME_MAX, Playlist
from search import seeds as seed_search
from search.api_seeds import run_seed_search
from search.choices import Metric, Representation
from search.forms import InvalidParams
from search.ranking import InvalidSearchParameter
from search.serializers import ErrorSerializer


class PlaylistBadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, str]):
        detail = "; ".join(f"{name}: {message}" for name, message in errors.items())
        super().__init__({"detail": detail, "errors": errors})


SECRET_HEADER = OpenApiParameter(
    "X-Playlist-Secret",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="The secret returned when the playlist was created (or be staff).",
)


class OrderSerializer(serializers.Serializer):
    representation = serializers.ChoiceField(choices=Representation.choices, required=False)
    metric = serializers.ChoiceField(choices=Metric.choices, required=False)
    start = serializers.IntegerField(required=False, help_text="Video id to start the walk at.")
    end = serializers.IntegerField(required=False, help_text="Video id the walk must end at.")


class PlaylistWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True)
    video_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        max_length=MAX_ENTRIES,
        help_text="Catalog video ids in order (distinct; at most 1,000; may be empty).",
    )
    seeds = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Instead of video_ids: save the results of a seeds search (with its "
        "exclude/representation/metric/k/method, as POST /api/searches/seeds/), seeds first.",
    )
    exclude = serializers.ListField(child=serializers.IntegerField(), required=False)
    k = serializers.IntegerField(required=False)
    method = serializers.ChoiceField(choices=list(seed_search.METHODS), required=False)
    order = OrderSerializer(
        required=False, help_text="Order the entries as a smooth path (greedy walk)."
    )


class EntrySerializer(serializers.Serializer):
    position = serializers.IntegerField()
    video_id = serializers.IntegerField()
    title = serializers.CharField()
    artist = serializers.CharField()
    duration_seconds = serializers.FloatField(allow_null=True)
    youtube_id = serializers.CharField(allow_null=True)
    url = serializers.CharField(help_text="YouTube URL, else the media file's absolute URL.")
    page_url = serializers.CharField()


class PlaylistSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    ordering = serializers.CharField()
    representation = serializers.CharField()
    metric = serializers.CharField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    entries = EntrySerializer(many=True)
    page_url = serializers.CharField()
    m3u8_url = serializers.CharField()
    json_url = serializers.CharField()


class PlaylistCreatedSerializer(PlaylistSerializer):
    secret = serializers.CharField(help_text="Shown once: keep it to edit the playlist.")
    edit_url = serializers.CharField(help_text="The playlist page with the secret (edit link).")


def playlist_body(request, playlist: Playlist) -> dict:
    body = presenters.as_json(playlist, selectors.videos(playlist), request.build_absolute_uri)
    body["page_url"] = request.build_absolute_uri(reverse("playlists:detail", args=[playlist.pk]))
    body["m3u8_url"] = request.build_absolute_uri(reverse("playlists:m3u8", args=[playlist.pk]))
    body["json_url"] = request.build_absolute_uri(reverse("playlists:json", args=[playlist.pk]))
    return body


def _secret(request: Request) -> str | None:
    secret = request.headers.get("X-Playlist-Secret")
    if not secret and hasattr(request.data, "get"):
        secret = request.data.get("secret")
    return secret if isinstance(secret, str) else None


def _object(pk) -> Playlist:
    playlist = selectors.playlist_or_none(pk)
    if playlist is None:
        raise Http404("No such playlist.")
    return playlist


def _ids_from(data) -> list[int]:
    """video_ids, or the results of a seeds search (seeds first)."""
    if data.get("seeds") not in (None, "", []):
        if data.get("video_ids") not in (None, []):
            raise services.InvalidPlaylist("video_ids", "give either video_ids or seeds.")
        found = run_seed_search(data)
        return [v.pk for v in found.seeds] + [m.video.pk for m in found.matches]
    return data.get("video_ids") or []


def _order(playlist: Playlist, order) -> None:
    if order is None:
        return
    if not isinstance(order, dict):
        raise services.InvalidPlaylist("order", "order must be an object.")
    services.order_smooth(
        playlist,
        representation=order.get("representation") or Representation.BOTH,
        metric=order.get("metric") or Metric.COSINE,
        start=order.get("start"),
        end=order.get("end"),
    )


def _bad_request(exc) -> PlaylistBadRequest:
    if isinstance(exc, InvalidParams):
        return PlaylistBadRequest(exc.errors)
    return PlaylistBadRequest({exc.param: exc.message})


class PlaylistCreateView(APIView):
    @extend_schema(
        summary="Create a playlist",
        description="A named playlist of catalog videos (`video_ids`, or the results of a "
        "seeds search), optionally ordered as a smooth path (`order`). The answer carries the "
        "`secret` needed to edit it, once: only its hash is stored.",
        request=PlaylistWriteSerializer,
        responses={201: PlaylistCreatedSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not hasattr(data, "get"):
            raise PlaylistBadRequest({"body": "the body must be a JSON object."})
        try:
            # Everything is checked before the playlist is written; the smooth order runs in
            # the same transaction, so a bad `order` leaves nothing behind.

            with transaction.atomic():
                ids = _ids_from(data)
                playlist, secret = services.create_playlist(
                    data.get("name"), ids, description=data.get("description") or ""
                )
                _order(playlist, data.get("order"))
        except (services.InvalidPlaylist, InvalidSearchParameter, InvalidParams) as exc:
            raise _bad_request(exc) from None
        body = playlist_body(request, playlist)
        body["secret"] = secret
        body["edit_url"] = body["page_url"] + f"?key={secret}"
        return Response(
            PlaylistCreatedSerializer(body).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("playlists:api-detail", args=[playlist.pk])},
        )


class PlaylistView(APIView):
    @extend_schema(
        summary="One playlist",
        responses={200: PlaylistSerializer, 404: OpenApiResponse(description="No such playlist.")},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(PlaylistSerializer(playlist_body(request, _object(pk))).data)

    @extend_schema(
        summary="Update or reorder a playlist",
        description="Rename (`name`, `description`), replace or reorder the entries "
        "(`video_ids`: the new list), or order them as a smooth path (`order`). Needs the "
        "secret or staff (403).",
        parameters=[SECRET_HEADER],
        request=PlaylistWriteSerializer(partial=True),
        responses={
            200: PlaylistSerializer,
            400: OpenApiResponse(ErrorSerializer),
            403: OpenApiResponse(description="Wrong or missing secret."),
            404: OpenApiResponse(description="No such playlist."),
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        playlist = self._editable(request, pk)
        data = request.data
        try:
            with transaction.atomic():
                services.update_playlist(
                    playlist,
                    name=data.get("name"),
                    description=data.get("description"),
                    video_ids=data.get("video_ids"),
                )
                _order(playlist, data.get("order"))
        except services.InvalidPlaylist as exc:
            raise _bad_request(exc) from None
        playlist.refresh_from_db()
        return Response(PlaylistSerializer(playlist_body(request, playlist)).data)

    @extend_schema(
        summary="Delete a playlist",
        parameters=[SECRET_HEADER],
        responses={
            204: None,
            403: OpenApiResponse(description="Wrong or missing secret."),
            404: OpenApiResponse(description="No such playlist."),
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.delete_playlist(self._editable(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _editable(self, request: Request, pk) -> Playlist:
        playlist = _object(pk)
        if not hasattr(request.data, "get"):
            raise PlaylistBadRequest({"body": "the body must be a JSON object."})
        if not services.can_edit(playlist, _secret(request), request.user):
            raise PermissionDenied("Only the playlist's secret (or staff) can edit it.")
        return playlist
