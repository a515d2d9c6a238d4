"""A fake Spotify Web API (token, search, playlist items, audio features) on 127.0.0.1.

Usage::

    with FakeSpotifyAPI() as api:
        api.add_playlist("rock", "pl1", [fake_track("t1", "Song", "Band")])
        client = SpotifyClient.from_settings(
            api.client_id, api.client_secret, api_prefix=api.api_prefix, token_url=api.token_url
        )

Switches: `audio_features_status=403` (what apps created since Nov 2024 get),
`search_status=403` (the search itself refused),
`rate_limit_once_on="/v1/search"` (one 429 with Retry-After), `hang_on="/v1/search"`
(never answers until the server stops). It enforces the Feb 2026 limits (search limit <= 10,
playlist page <= 50, audio-features <= 100 ids) so a client that asks for more fails here too.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import BackgroundHTTPServer, QuietHandler, RecordedRequest

TOKEN = "fake-access-token"


def fake_track(
    track_id: str,
    title: str,
    artist: str | list[str],
    *,
    album: str = "Album",
    popularity: int | None = 50,
    duration_ms: int = 200_000,
    is_local: bool = False,
) -> dict[str, Any]:
    """A track object shaped like Spotify's (the fields the client reads, and a few more)."""
    artists = [artist] if isinstance(artist, str) else artist
    data: dict[str, Any] = {
        "type": "track",
        "id": None if is_local else track_id,
        "uri": f"spotify:local:{track_id}" if is_local else f"spotify:track:{track_id}",
        "name": title,
        "artists": [{"name": a, "id": f"artist-{a}", "type": "artist"} for a in artists],
        "album": {"name": album, "id": f"album-{album}", "type": "album"},
        "duration_ms": duration_ms,
        "is_local": is_local,
    }
    if popularity is not None:
        data["popularity"] = popularity
    return data


def fake_episode(episode_id: str, title: str = "A podcast episode") -> dict[str, Any]:
    return {"type": "episode", "id": episode_id, "name": title, "duration_ms": 1_800_000}


def fake_features(track_id: str, **overrides: float) -> dict[str, Any]:
    values = {
        "danceability": 0.5,
        "energy": 0.6,
        "loudness": -7.0,
        "speechiness": 0.05,
        "acousticness": 0.2,
        "instrumentalness": 0.0,
        "liveness": 0.1,
        "valence": 0.4,
        "tempo": 120.0,
    }
    values.update(overrides)
    return {"id": track_id, "type": "audio_features", **values}


@dataclass
class FakePlaylist:
    playlist_id: str
    name: str
    # None entries model the gaps Spotify returns for removed/unavailable tracks.
    tracks: list[dict[str, Any] | None] = field(default_factory=list)
    status: int = 200  # e.g. 404 for an editorial playlist a new app may not read


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


class FakeSpotifyAPI(BackgroundHTTPServer):
    def __init__(
        self,
        *,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",
        audio_features_status: int = 200,
        search_status: int = 200,
        rate_limit_once_on: str | None = None,
        retry_after: int = 1,
        hang_on: str | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.audio_features_status = audio_features_status
        self.search_status = search_status
        self.rate_limit_once_on = rate_limit_once_on
        self.retry_after = retry_after
        self.hang_on = hang_on
        self.playlists: dict[str, FakePlaylist] = {}
        # genre (the search q) -> playlist ids in result order; None = a null search item.
        self.search_results: dict[str, list[str | None]] = {}
        self.features: dict[str, dict[str, Any]] = {}
        self._rate_limited_once = False

    # --- configuration --------------------------------------------------------------------

    @property
    def api_prefix(self) -> str:
        return f"{self.base_url}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/api/token"

    def add_playlist(
        self,
        genre: str,
        playlist_id: str,
        tracks: list[dict[str, Any] | None],
        *,
        name: str | None = None,
        status: int = 200,
    ) -> FakePlaylist:
        playlist = FakePlaylist(playlist_id, name or f"{genre} hits {playlist_id}", tracks, status)
        self.playlists[playlist_id] = playlist
        self.search_results.setdefault(genre, []).append(playlist_id)
        for track in tracks:
            if track and track.get("type") == "track" and track.get("id"):
                self.features.setdefault(track["id"], fake_features(track["id"]))
        return playlist

    def add_null_search_result(self, genre: str) -> None:
        self.search_results.setdefault(genre, []).append(None)

    # --- request handling (called from the handler thread) ----------------------------------

    def take_rate_limit(self, path: str) -> bool:
        with self._lock:
            if (
                self.rate_limit_once_on
                and path.startswith(self.rate_limit_once_on)
                and not self._rate_limited_once
            ):
                self._rate_limited_once = True
                return True
            return False


class _Handler(QuietHandler):
    server_owner: FakeSpotifyAPI

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _record(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.server_owner.record(
            RecordedRequest(self.command, parts.path, query, dict(self.headers.items()))
        )
        return parts.path, query

    def do_POST(self) -> None:  # noqa: N802
        path, _ = self._record()
        api = self.server_owner
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if path != "/api/token":
            self._send_json(404, _error(404, "Service not found"))
            return
        expected = base64.b64encode(f"{api.client_id}:{api.client_secret}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._send_json(400, {"error": "invalid_client", "error_description": "Invalid client"})
            return
        if form.get("grant_type") != ["client_credentials"]:
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        self._send_json(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:  # noqa: N802
        path, query = self._record()
        api = self.server_owner
        if api.hang_on and path.startswith(api.hang_on):
            api.stopping.wait(30)  # never answer (until the test server stops)
            return
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send_json(401, _error(401, "No token provided"))
            return
        if api.take_rate_limit(path):
            self._send_json(
                429, _error(429, "API rate limit exceeded"), {"Retry-After": str(api.retry_after)}
            )
            return
        if path == "/v1/search":
            self._search(query)
        elif m := re.fullmatch(r"/v1/playlists/([^/]+)/(items|tracks)", path):
            self._playlist_items(m.group(1), m.group(2), query)
        elif path.rstrip("/") == "/v1/audio-features":
            self._audio_features(query)
        else:
            self._send_json(404, _error(404, "Service not found"))

    def _int(self, query: dict[str, list[str]], name: str, default: int) -> int:
        return int(query.get(name, [default])[0])

    def _page_url(self, path: str, query: dict[str, list[str]], offset: int) -> str:
        flat = {k: v[0] for k, v in query.items()}
        flat["offset"] = str(offset)
        return f"{self.server_owner.base_url}{path}?{urlencode(flat)}"

    def _search(self, query: dict[str, list[str]]) -> None:
        api = self.server_owner
        if api.search_status != 200:
            status = api.search_status
            self._send_json(status, _error(status, "Forbidden" if status == 403 else "Error"))
            return
        if query.get("type") != ["playlist"]:
            self._send_json(400, _error(400, "Only playlist search is faked"))
            return
        limit, offset = self._int(query, "limit", 5), self._int(query, "offset", 0)
        if not 1 <= limit <= 10:  # Feb 2026: Development Mode apps get at most 10
            self._send_json(400, _error(400, "Invalid limit"))
            return
        ids = api.search_results.get(query.get("q", [""])[0], [])
        items = []
        for pid in ids[offset : offset + limit]:
            if pid is None:
                items.append(None)
                continue
            pl = api.playlists[pid]
            items.append(
                {
                    "type": "playlist",
                    "id": pid,
                    "name": pl.name,
                    "owner": {"id": "someone", "display_name": "Someone"},
                    "items": {
                        "href": f"{api.api_prefix}playlists/{pid}/items",
                        "total": len(pl.tracks),
                    },
                }
            )
        has_next = offset + limit < len(ids)
        self._send_json(
            200,
            {
                "playlists": {
                    "href": self._page_url("/v1/search", query, offset),
                    "items": items,
                    "limit": limit,
                    "offset": offset,
                    "total": len(ids),
                    "next": self._page_url("/v1/search", query, offset + limit)
                    if has_next
                    else None,
                    "previous": None,
                }
            },
        )

    def _playlist_items(self, pid: str, kind: str, query: dict[str, list[str]]) -> None:
        api = self.server_owner
        playlist = api.playlists.get(pid)
        if playlist is None or playlist.status == 404:
            self._send_json(404, _error(404, "Resource not found"))
            return
        if playlist.status != 200:
            self._send_json(playlist.status, _error(playlist.status, "Forbidden"))
            return
        limit, offset = self._int(query, "limit", 20), self._int(query, "offset", 0)
        if not 1 <= limit <= 50:
            self._send_json(400, _error(400, "Invalid limit"))
            return
        # The Feb 2026 /items shape carries the track under "item"; the old /tracks under "track".
        key = "item" if kind == "items" else "track"
        items = [
            {"added_at": "2024-01-01T00:00:00Z", key: t}
            for t in playlist.tracks[offset : offset + limit]
        ]
        path = f"/v1/playlists/{pid}/{kind}"
        has_next = offset + limit < len(playlist.tracks)
        self._send_json(
            200,
            {
                "href": self._page_url(path, query, offset),
                "items": items,
                "limit": limit,
                "offset": offset,
                "total": len(playlist.tracks),
                "previous": None,
                "next": self._page_url(path, query, offset + limit) if has_next else None,
            },
        )

    def _audio_features(self, query: dict[str, list[str]]) -> None:
        api = self.server_owner
        if api.audio_features_status != 200:
            status = api.audio_features_status
            self._send_json(status, _error(status, "Forbidden" if status == 403 else "Error"))
            return
        ids = [i for i in query.get("ids", [""])[0].split(",") if i]
        if not 1 <= len(ids) <= 100:
            self._send_json(400, _error(400, "Invalid ids"))
            return
        self._send_json(200, {"audio_features": [api.features.get(i) for i in ids]})


FakeSpotifyAPI.handler_class = _Handler
