"""The only place that talks to the Spotify Web API (client-credentials flow, via spotipy).

Everything has a timeout, 429s are retried by us (bounded), and errors come out as
`SpotifyError` subclasses with a human message. Tests point `api_prefix`/`token_url` at
the stand-in in tests/fakes/spotify_api.py.

Spotify changes worth knowing (they shape this module):
- Nov 2024: apps created since then get HTTP 403 from /audio-features -> we return None.
- Feb 2026 (Development Mode apps): search `limit` is at most 10, /playlists/{id}/tracks became
  /playlists/{id}/items (entries carry the track under "item" instead of "track"), and
  `popularity` may be missing -> TrackRef.popularity is optional.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_API_PREFIX = "https://api.spotify.com/v1/"
SEARCH_PAGE_SIZE = 10  # the Feb 2026 maximum for Development Mode apps
PLAYLIST_PAGE_SIZE = 50
AUDIO_FEATURES_BATCH = 100  # Spotify's maximum ids per /audio-features call
# Statuses meaning "this app may not use /audio-features" (403 since Nov 2024; 404/410 in case
# Spotify removes the endpoint outright). Never a reason to fail a track.
AUDIO_FEATURES_REFUSED = frozenset({403, 404, 410})
# Playlists we may not read (Spotify-owned editorial ones answer 404 to new apps): skip them.
PLAYLIST_SKIPPABLE = frozenset({403, 404})


class SpotifyError(Exception):
    """A Spotify call failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.path = path


class SpotifyCredentialsMissing(SpotifyError):
    """SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET are not configured."""


class SpotifyAuthError(SpotifyError):
    """The token endpoint refused the client credentials."""


class SpotifyRateLimited(SpotifyError):
    """Still rate limited (429) after our bounded retries, or asked to wait too long."""


class SpotifyTimeout(SpotifyError):
    """Spotify did not answer within the timeout."""


class SpotifyUnreachable(SpotifyError):
    """The connection to Spotify failed (DNS, refused, reset)."""


@dataclass(frozen=True)
class PlaylistRef:
    spotify_id: str
    name: str
    owner: str | None
    total_tracks: int | None


@dataclass(frozen=True)
class TrackRef:
    spotify_id: str
    title: str
    artists: list[str]
    album: str | None
    popularity: int | None  # absent for Development Mode apps since Feb 2026
    duration_ms: int | None

    @property
    def primary_artist(self) -> str:
        return self.artists[0] if self.artists else ""


@dataclass(frozen=True)
class AudioFeatures:
    danceability: float
    energy: float
    loudness: float
    speechiness: float
    acousticness: float
    instrumentalness: float
    liveness: float
    valence: float
    tempo: float

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> AudioFeatures | None:
        """None when Spotify has no (or incomplete) features for the track."""
        if not data:
            return None
        try:
            return cls(**{name: float(data[name]) for name in cls.__dataclass_fields__})
        except (KeyError, TypeError, ValueError):
            return None


class _TokenUrlCredentials(SpotifyClientCredentials):
    """Client credentials whose token endpoint can be pointed elsewhere.

    spotipy 2.26 reads the endpoint from `self.OAUTH_TOKEN_URL` (a class attribute), so an
    instance attribute overrides it without touching the class other code may use.
    """

    def __init__(self, *args: Any, token_url: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if token_url:
            self.OAUTH_TOKEN_URL = token_url


def normalise_key(artists: Iterable[str], title: str) -> str:
    """A key that makes "Song (Remastered 2011)" by "Artist" equal "song" by "ARTIST".

    Uses the first artist only: featured-artist lists vary between releases of one song.
    """
    first = next(iter(artists), "")

    def clean(text: str) -> str:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
        text = re.sub(r"[(\[].*?[)\]]", " ", text)  # (feat. X), [Live], (Official Video)
        text = re.sub(r"\s+-\s+.*$", " ", text)  # "Song - Remastered 2011"
        text = re.sub(r"\b(feat|ft|featuring)\b.*$", " ", text)
        text = re.sub(r"[^\w]+", " ", text)
        return " ".join(text.split())

    return f"{clean(first)}|{clean(title)}"


class SpotifyClient:
    """Thin, defensive wrapper around spotipy for what the ingest needs."""

    def __init__(
        self,
        sp: spotipy.Spotify,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 3,
        max_retry_after: float = 30.0,
    ):
        self._sp = sp
        self._sleep = sleep  # injectable so tests don't actually wait on Retry-After
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        # Flips to False on the first refusal; we don't ask again during this run.
        self.audio_features_available = True

    @classmethod
    def from_settings(
        cls,
        client_id: str | None,
        client_secret: str | None,
        *,
        api_prefix: str = DEFAULT_API_PREFIX,
        token_url: str | None = None,
        timeout: float = 10,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 3,
        max_retry_after: float = 30.0,
    ) -> SpotifyClient:
        """Build a client; raises SpotifyCredentialsMissing when either credential is empty."""
        missing = [
            name
            for name, value in (
                ("SPOTIPY_CLIENT_ID", client_id),
                ("SPOTIPY_CLIENT_SECRET", client_secret),
            )
            if not (value or "").strip()
        ]
        if missing:
            raise SpotifyCredentialsMissing(
                f"Spotify credentials are not configured (missing: {', '.join(missing)}). "
                "Set SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET to the values of an app "
                "from https://developer.spotify.com/dashboard."
            )
        auth = _TokenUrlCredentials(
            client_id=client_id,
            client_secret=client_secret,
            token_url=token_url,
            requests_timeout=timeout,
            # In memory: spotipy's default writes a .cache file into the working directory.
            cache_handler=MemoryCacheHandler(),
        )
        sp = spotipy.Spotify(
            auth_manager=auth,
            # A plain Session: spotipy's own session mounts a urllib3 Retry that turns a 429
            # into "Max Retries" and drops Retry-After. We own the retry policy instead.
            requests_session=requests.Session(),
            requests_timeout=timeout,
            retries=0,
            status_retries=0,
        )
        sp.prefix = api_prefix if api_prefix.endswith("/") else api_prefix + "/"
        return cls(sp, sleep=sleep, max_retries=max_retries, max_retry_after=max_retry_after)

    # --- plumbing -----------------------------------------------------------------------

    def _call(self, path: str, fn: Callable[[], T]) -> T:
        """Run one API call with bounded 429 handling and errors mapped to SpotifyError."""
        attempt = 0
        while True:
            try:
                return fn()
            except SpotifyException as exc:
                if exc.http_status != 429:
                    raise SpotifyError(
                        f"Spotify API returned HTTP {exc.http_status} for {path}: "
                        f"{_short_message(exc)}{_refusal_hint(exc.http_status, path)}",
                        status=exc.http_status,
                        path=path,
                    ) from exc
                wait = _retry_after_seconds(exc)
                if wait > self.max_retry_after:
                    raise SpotifyRateLimited(
                        f"Spotify rate limit on {path}: asked to wait {wait:.0f} s, more than "
                        f"the {self.max_retry_after:.0f} s we wait; try again later.",
                        status=429,
                        path=path,
                    ) from exc
                if attempt >= self.max_retries:
                    raise SpotifyRateLimited(
                        f"Spotify rate limit on {path}: still HTTP 429 after "
                        f"{self.max_retries} retries; try again later.",
                        status=429,
                        path=path,
                    ) from exc
                attempt += 1
                logger.info("Spotify 429 on %s: waiting %.1f s (retry %d)", path, wait, attempt)
                self._sleep(wait)
            except SpotifyOauthError as exc:
                raise SpotifyAuthError(
                    f"Spotify refused the client credentials ({exc}). Check "
                    "SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET.",
                    path=path,
                ) from exc
            except requests.Timeout as exc:
                raise SpotifyTimeout(
                    f"Spotify did not answer {path} in time ({exc.__class__.__name__}).",
                    path=path,
                ) from exc
            except requests.RequestException as exc:
                raise SpotifyUnreachable(
                    f"Could not reach Spotify for {path}: {exc}", path=path
                ) from exc

    # --- public API -----------------------------------------------------------------------

    def search_playlists(self, genre: str, limit: int = 20) -> list[PlaylistRef]:
        """Up to `limit` playlists matching `genre`, in Spotify's relevance order."""
        found: list[PlaylistRef] = []
        offset = 0
        while len(found) < limit and offset < 1000:  # Spotify caps search offsets at 1000
            page_size = min(SEARCH_PAGE_SIZE, limit - len(found))
            result = self._call(
                "search",
                lambda o=offset, n=page_size: self._sp.search(
                    q=genre, type="playlist", limit=n, offset=o
                ),
            )
            page = (result or {}).get("playlists") or {}
            items = page.get("items") or []
            for item in items:
                # Spotify returns null entries in playlist search results: skip them.
                if not item or not item.get("id"):
                    continue
                tracks_info = item.get("items") or item.get("tracks") or {}
                found.append(
                    PlaylistRef(
                        spotify_id=item["id"],
                        name=item.get("name") or "",
                        owner=(
                            (item.get("owner") or {}).get("display_name")
                            or (item.get("owner") or {}).get("id")
                        ),
                        total_tracks=tracks_info.get("total"),
                    )
                )
                if len(found) >= limit:
                    break
            if not items or not page.get("next"):
                break
            offset += len(items)
        return found

    def playlist_tracks(self, playlist_id: str, limit: int = 100) -> Iterator[TrackRef]:
        """Yield up to `limit` tracks of a playlist (local files, gaps and episodes skipped)."""
        path = f"playlists/{playlist_id}/items"
        yielded = 0
        page = self._call(
            path,
            lambda: self._sp.playlist_items(
                playlist_id,
                limit=min(PLAYLIST_PAGE_SIZE, max(limit, 1)),
                additional_types=("track",),
            ),
        )
        while page and yielded < limit:
            for entry in page.get("items") or []:
                track = _parse_track((entry or {}).get("item") or (entry or {}).get("track"))
                if track is None:
                    continue
                yield track
                yielded += 1
                if yielded >= limit:
                    return
            if not page.get("next"):
                return
            page = self._call(path, lambda p=page: self._sp.next(p))

    def audio_features(self, track_ids: Iterable[str]) -> dict[str, AudioFeatures | None]:
        """Features per id; None where Spotify has none or refuses the endpoint (HTTP 403)."""
        ids = list(dict.fromkeys(track_ids))
        result: dict[str, AudioFeatures | None] = dict.fromkeys(ids)
        for start in range(0, len(ids), AUDIO_FEATURES_BATCH):
            if not self.audio_features_available:
                break
            batch = ids[start : start + AUDIO_FEATURES_BATCH]
            try:
                with warnings.catch_warnings():
                    # spotipy warns that the endpoint is deprecated; we handle that ourselves.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    rows = self._call("audio-features", lambda b=batch: self._sp.audio_features(b))
            except SpotifyError as exc:
                if exc.status in AUDIO_FEATURES_REFUSED:
                    logger.warning(
                        "Spotify refuses audio-features to this app (HTTP %s); continuing "
                        "without Spotify audio features (our own audio analysis fills tempo, "
                        "energy and danceability after extraction).",
                        exc.status,
                    )
                    self.audio_features_available = False
                    break
                raise
            for row in rows or []:
                if row and row.get("id") in result:
                    result[row["id"]] = AudioFeatures.from_api(row)
        return result

    def top_tracks_for_genre(
        self,
        genre: str,
        per_genre: int,
        *,
        skip_ids: set[str] | frozenset[str] = frozenset(),
        max_playlists: int = 20,
        per_playlist: int = 100,
    ) -> Iterator[TrackRef]:
        """Walk the genre's playlists and yield up to `per_genre` new, distinct tracks.

        Skips ids in `skip_ids` (already in the catalog) and duplicates by id or by
        normalised first-artist + title (the same song on a single and an album).
        Playlists we may not read (403/404) are skipped, not fatal.
        """
        if per_genre <= 0:
            return
        seen_ids: set[str] = set()
        seen_keys: set[str] = set()
        yielded = 0
        for playlist in self.search_playlists(genre, limit=max_playlists):
            try:
                for track in self.playlist_tracks(playlist.spotify_id, limit=per_playlist):
                    key = normalise_key(track.artists, track.title)
                    if track.spotify_id in skip_ids or track.spotify_id in seen_ids:
                        continue
                    if key in seen_keys:
                        continue
                    seen_ids.add(track.spotify_id)
                    seen_keys.add(key)
                    yield track
                    yielded += 1
                    if yielded >= per_genre:
                        return
            except SpotifyError as exc:
                if exc.status not in PLAYLIST_SKIPPABLE:
                    raise
                logger.warning("Skipping playlist %s: %s", playlist.spotify_id, exc)


def _parse_track(data: dict[str, Any] | None) -> TrackRef | None:
    if not data or data.get("type", "track") != "track" or data.get("is_local"):
        return None
    track_id = data.get("id")
    if not track_id:
        return None
    artists = [a.get("name", "") for a in data.get("artists") or [] if a and a.get("name")]
    return TrackRef(
        spotify_id=track_id,
        title=data.get("name") or "",
        artists=artists,
        album=(data.get("album") or {}).get("name"),
        popularity=data.get("popularity"),
        duration_ms=data.get("duration_ms"),
    )


def _retry_after_seconds(exc: SpotifyException) -> float:
    raw = (exc.headers or {}).get("Retry-After")
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _refusal_hint(status: int | None, path: str) -> str:
    """Why a 403/404 happens to new apps, where that is the likely reason."""
    if status not in (403, 404):
        return ""
    if path.startswith("playlists/"):
        return (
            " (apps created since Nov 2024 may not read Spotify-owned playlists; this one is "
            "skipped)"
        )
    if path == "audio-features":
        return " (apps created since Nov 2024 may not use audio features)"
    if status == 403:
        return " (this app is not allowed to use this endpoint)"
    return ""


def _short_message(exc: SpotifyException) -> str:
    # spotipy's msg is "<full url>:\n <message>"; keep only the message part.
    msg = str(exc.msg or "").split("\n", 1)[-1].strip()
    return msg or "no details"
