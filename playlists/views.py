"""Playlist pages: the public page by id (with edit forms for the secret's holder or staff),
saving a result list as a playlist, and the M3U8 / JSON exports."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from playlists import presenters, selectors, services
from playlists.models import Playlist
from search.choices import Metric, Representation


def _playlist(playlist_id: int) -> Playlist:
    playlist = selectors.playlist_or_none(playlist_id)
    if playlist is None:
        raise Http404("No such playlist.")
    return playlist


def _ids(raw: str) -> list:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "playlists/index.html", {"playlists": selectors.recent()})


@require_GET
def detail(request: HttpRequest, playlist_id: int) -> HttpResponse:
    playlist = _playlist(playlist_id)
    key = request.GET.get("key", "")
    context = {
        "playlist": playlist,
        "entries": list(selectors.entries(playlist)),
        "editable": services.can_edit(playlist, key, request.user),
        "key": key if services.secret_matches(playlist, key) else "",
        "representations": Representation.choices,
        "metrics": Metric.choices,
    }
    return render(request, "playlists/detail.html", context)


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    """Save a result list (comma-separated ``video_ids``) as a playlist; the page it redirects
    to carries the secret (the edit link), shown once."""
    try:
        playlist, secret = services.create_playlist(
            request.POST.get("name"), _ids(request.POST.get("video_ids", ""))
        )
    except services.InvalidPlaylist as exc:
        return render(
            request,
            "playlists/index.html",
            {"playlists": selectors.recent(), "error": exc.message, "param": exc.param},
            status=400,
        )
    messages.success(
        request,
        "Playlist saved. Keep this page's address: its key is the only way to edit the playlist.",
    )
    return redirect(reverse("playlists:detail", args=[playlist.pk]) + f"?key={secret}")


@require_POST
def edit(request: HttpRequest, playlist_id: int) -> HttpResponse:
    playlist = _playlist(playlist_id)
    key = request.POST.get("key", "")
    if not services.can_edit(playlist, key, request.user):
        return HttpResponse("This playlist can only be edited with its key.", status=403)
    back = reverse("playlists:detail", args=[playlist.pk]) + (f"?key={key}" if key else "")
    action = request.POST.get("action")
    try:
        if action == "delete":
            services.delete_playlist(playlist)
            messages.success(request, "Playlist deleted.")
            return redirect("playlists:index")
        if action == "rename":
            services.update_playlist(playlist, name=request.POST.get("name"))
        elif action == "smooth":
            services.order_smooth(
                playlist,
                representation=request.POST.get("representation") or Representation.BOTH,
                metric=request.POST.get("metric") or Metric.COSINE,
                start=_int_or_none(request.POST.get("start")),
                end=_int_or_none(request.POST.get("end")),
            )
        else:
            return HttpResponse("Unknown action.", status=400)
    except services.InvalidPlaylist as exc:
        messages.error(request, f"{exc.param}: {exc.message}")
        return redirect(back)
    messages.success(request, "Playlist updated.")
    return redirect(back)


def _int_or_none(value):
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


@require_GET
def export_m3u8(request: HttpRequest, playlist_id: int) -> HttpResponse:
    playlist = _playlist(playlist_id)
    body = presenters.m3u8(playlist, selectors.videos(playlist), request.build_absolute_uri)
    response = HttpResponse(body, content_type="application/vnd.apple.mpegurl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="playlist-{playlist.pk}.m3u8"'
    return response


@require_GET
def export_json(request: HttpRequest, playlist_id: int) -> JsonResponse:
    playlist = _playlist(playlist_id)
    body = presenters.as_json(playlist, selectors.videos(playlist), request.build_absolute_uri)
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'inline; filename="playlist-{playlist.pk}.json"'
    return response
