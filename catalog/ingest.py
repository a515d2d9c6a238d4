"""Ingest: Spotify's genre playlists -> one YouTube video per track -> catalog rows + jobs.

Per genre we ask Spotify for its most-listed tracks, look each one up on YouTube, and create a
`Video` (+ its `TrackMetadata`) whose download and feature extraction run later, in the
pipeline: the caller's ``on_created(video)`` (``pipeline.services.start`` for RQ workers) is
called inside the transaction that creates the video. Nothing here downloads.

Idempotent and resumable: `per_genre` is a quota per genre (tracks already ingested count
towards it), known Spotify ids are skipped, and a YouTube video already in the catalog is never
added twice. Per-track problems are recorded in the result, never raised.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings
from django.db import IntegrityError
from django.utils.module_loading import import_string

from catalog import selectors
from catalog.genres import UnknownGenre, match_genre_name
from catalog.intake import DuplicateContent, add_video
from catalog.models import Genre, TrackMetadata, ValueSource, Video, VideoSource, VideoStatus
from catalog.services import youtube_client
from catalog.spotify_client import (
    AUDIO_FEATURES_BATCH,
    AudioFeatures,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyError,
    TrackRef,
)
from catalog.youtube_client import YouTubeClient, YouTubeError

logger = logging.getLogger(__name__)

OnCreated = Callable[[Video], object] | None

# Tracks handled per audio-features call: an interrupted run loses at most this much work.
TRACK_BATCH = 50
# How many more tracks than the quota we may look at, to replace ones we can't use
# (no YouTube match, video already in the catalog). The walk is lazy: we stop at the quota.
CANDIDATE_FACTOR = 4


@dataclass(frozen=True)
class PlannedVideo:
    """What a dry run would add."""

    genre: str
    artist: str
    title: str
    url: str
    youtube_id: str | None


@dataclass
class GenreResult:
    genre: str
    had: int = 0  # tracks of this genre in the catalog before the run
    found: int = 0  # tracks Spotify gave us and we looked at
    queued: int = 0  # videos created (and handed to on_created)
    skipped: int = 0  # their YouTube video is already in the catalog
    failed: Counter[str] = field(default_factory=Counter)  # reason -> count
    messages: list[str] = field(default_factory=list)  # one line per failure or warning
    planned: list[PlannedVideo] = field(default_factory=list)  # dry run only

    def fail(self, reason: str, message: str) -> None:
        self.failed[reason] += 1
        self.messages.append(f"{self.genre}: {message}")

    @property
    def added(self) -> int:
        return self.queued + len(self.planned)


@dataclass
class _Claimed:
    """What this run already took, so a dry run (which writes nothing) doesn't list twice."""

    spotify_ids: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)


# --- configuration -----------------------------------------------------------------------------


def resolve_genre_names(names: Iterable[str] | None) -> list[str]:
    """Canonical genre names for user input, matched like every genre name (by slug, see
    `catalog.genres`); default: the product genres. Raises UnknownGenre for a name that is
    neither a genre in the database nor a product genre (settings.GENRES), or for no name.

    Writes nothing (a dry run asks too): a product genre missing from the database is
    created when its first video is.
    """
    if names is None:
        return list(settings.GENRES)
    wanted = [name.strip() for name in names if name.strip()]
    if not wanted:
        raise UnknownGenre("", _valid_genre_names())
    resolved = []
    for name in wanted:
        try:
            resolved.append(selectors.genre_by_name(name).name)
        except UnknownGenre:
            product = match_genre_name(name, settings.GENRES)
            if product is None:
                raise UnknownGenre(name, _valid_genre_names()) from None
            resolved.append(product)
    return list(dict.fromkeys(resolved))


def _valid_genre_names() -> list[str]:
    return list(dict.fromkeys([*settings.GENRES, *selectors.known_genre_names()]))


def spotify_client_from_settings(*, sleep: Callable[[float], None] = time.sleep) -> SpotifyClient:
    """Raises SpotifyCredentialsMissing (naming both variables) when credentials are unset."""
    return SpotifyClient.from_settings(
        settings.SPOTIPY_CLIENT_ID,
        settings.SPOTIPY_CLIENT_SECRET,
        api_prefix=settings.SPOTIFY_API_PREFIX,
        # None = Spotify's own accounts service; tests point it at the fake API.
        token_url=getattr(settings, "SPOTIFY_TOKEN_URL", None) or None,
        timeout=settings.SPOTIFY_TIMEOUT_SECONDS,
        sleep=sleep,
    )


def ingest_youtube_client() -> YouTubeClient:
    """The client that finds each track's video.

    `settings.YOUTUBE_RESOLVER` (a callable or its dotted path, query -> URL or None) replaces
    yt-dlp's YouTube search; tests map queries to a local media server with it.
    """
    resolver = getattr(settings, "YOUTUBE_RESOLVER", None)
    if isinstance(resolver, str):
        resolver = import_string(resolver)
    return youtube_client(resolver=resolver)


def youtube_id_of(url: str) -> str | None:
    """The id of a YouTube watch/share URL without network access; None for other hosts."""
    from yt_dlp.extractor import get_info_extractor

    extractor = get_info_extractor("Youtube")
    if not extractor.suitable(url):
        return None
    try:
        return extractor.get_temp_id(url)
    except Exception:  # an odd URL only means we don't know the id yet (the download sets it)
        return None


# --- writing ---------------------------------------------------------------------------------


def create_ingested_video(
    *,
    genre: Genre,
    track: TrackRef,
    url: str,
    youtube_id: str | None,
    features: AudioFeatures | None,
    features_refused: bool,
    on_created: OnCreated = None,
) -> Video:
    """The video, its metadata and ``on_created(video)``, all or nothing.

    Raises DuplicateContent when the YouTube video (or URL) is already there, IntegrityError
    when another run added the same Spotify track at the same moment.
    """
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    if features is not None:
        for name in TrackMetadata.AUDIO_FEATURE_FIELDS:
            values[name] = getattr(features, name)
            sources[name] = ValueSource.SPOTIFY
    # False: Spotify refuses this app its audio features (our analysis fills them later);
    # None: the endpoint works but has nothing for this track.
    available = False if features_refused else (True if features is not None else None)

    def then(video: Video) -> None:
        TrackMetadata.objects.create(
            video=video,
            spotify_id=track.spotify_id,
            spotify_popularity=track.popularity,
            album=(track.album or "")[:300],
            spotify_audio_features_available=available,
            sources=sources,
            **values,
        )
        if on_created is not None:
            on_created(video)

    return add_video(
        source=VideoSource.YOUTUBE,
        source_url=url,
        youtube_id=youtube_id,
        title=track.title[:300],
        artist=", ".join(track.artists)[:300],
        genre=genre,
        status=VideoStatus.PENDING,
        then=then,
    )


# --- the run ---------------------------------------------------------------------------------


def ingest_genre(
    genre_name: str,
    per_genre: int,
    *,
    spotify: SpotifyClient,
    youtube: YouTubeClient,
    dry_run: bool = False,
    claimed: _Claimed | None = None,
    on_track: Callable[[GenreResult], None] | None = None,
    on_created: OnCreated = None,
) -> GenreResult:
    """Fill the genre up to `per_genre` ingested tracks. Raises only SpotifyAuthError.

    Any other Spotify error ends this genre early (recorded as reason "spotify"); the next
    run resumes where this one stopped.
    """
    claimed = claimed if claimed is not None else _Claimed()
    result = GenreResult(genre_name, had=selectors.ingested_track_count(genre_name))
    if result.had >= per_genre:
        return result
    genre = None if dry_run else selectors.genre_by_name(genre_name, create=True)
    skip_ids = selectors.spotify_ids_in_catalog() | claimed.spotify_ids
    tracks = spotify.top_tracks_for_genre(
        genre_name, (per_genre - result.had) * CANDIDATE_FACTOR, skip_ids=skip_ids
    )

    def batch_size() -> int:
        return min(TRACK_BATCH, per_genre - result.had - result.added)

    try:
        for batch in _batches(tracks, batch_size):
            features = {} if dry_run else _audio_features(spotify, batch, result)
            for track in batch:
                result.found += 1
                claimed.spotify_ids.add(track.spotify_id)
                _ingest_track(
                    track,
                    genre,
                    result,
                    youtube=youtube,
                    features=features.get(track.spotify_id),
                    features_refused=not spotify.audio_features_available,
                    dry_run=dry_run,
                    claimed=claimed,
                    on_created=on_created,
                )
                if on_track is not None:
                    on_track(result)
    except SpotifyAuthError:
        raise  # every genre would fail the same way: stop the run
    except SpotifyError as exc:
        result.fail("spotify", f"Spotify error, genre stopped early: {exc}")
    return result


def ingest(
    genre_names: list[str],
    per_genre: int,
    *,
    spotify: SpotifyClient,
    youtube: YouTubeClient,
    dry_run: bool = False,
    on_genre_start: Callable[[str, int], None] | None = None,
    on_track: Callable[[GenreResult], None] | None = None,
    on_created: OnCreated = None,
) -> list[GenreResult]:
    """Ingest every genre in turn; returns one result per genre (see `ingest_genre`)."""
    if per_genre < 1:
        raise ValueError(f"per_genre must be at least 1, not {per_genre}")
    claimed = _Claimed()
    results = []
    for name in genre_names:
        if on_genre_start is not None:
            on_genre_start(name, selectors.ingested_track_count(name))
        results.append(
            ingest_genre(
                name,
                per_genre,
                spotify=spotify,
                youtube=youtube,
                dry_run=dry_run,
                claimed=claimed,
                on_track=on_track,
                on_created=on_created,
            )
        )
    return results


def _ingest_track(
    track: TrackRef,
    genre: Genre | None,
    result: GenreResult,
    *,
    youtube: YouTubeClient,
    features: AudioFeatures | None,
    features_refused: bool,
    dry_run: bool,
    claimed: _Claimed,
    on_created: OnCreated = None,
) -> None:
    label = f"{track.primary_artist} - {track.title}"
    try:
        url = youtube.find_video(track.primary_artist, track.title)
    except YouTubeError as exc:
        result.fail(f"search_{exc.reason}", f"{label}: YouTube search failed: {exc}")
        return
    if not url:
        result.fail("no_match", f"{label}: no YouTube match")
        return
    youtube_id = youtube_id_of(url)
    source_key = youtube_id or url
    if source_key in claimed.sources or selectors.existing_video(
        source_url=url, youtube_id=youtube_id
    ):
        result.skipped += 1
        return
    claimed.sources.add(source_key)
    if dry_run:
        result.planned.append(
            PlannedVideo(result.genre, ", ".join(track.artists), track.title, url, youtube_id)
        )
        return
    assert genre is not None
    try:
        create_ingested_video(
            genre=genre,
            track=track,
            url=url,
            youtube_id=youtube_id,
            features=features,
            features_refused=features_refused,
            on_created=on_created,
        )
    except (DuplicateContent, IntegrityError):
        # Another ingest running at the same time added this track or video first.
        result.skipped += 1
        return
    result.queued += 1


def _audio_features(
    spotify: SpotifyClient, batch: list[TrackRef], result: GenreResult
) -> dict[str, AudioFeatures | None]:
    """Features for the batch; a refusal (403) is the client's business, other errors a note."""
    try:
        return spotify.audio_features(track.spotify_id for track in batch)
    except SpotifyAuthError:
        raise
    except SpotifyError as exc:
        # Not a reason to fail the tracks: our own audio analysis fills these values later.
        result.messages.append(f"{result.genre}: audio features not fetched: {exc}")
        return {}


def _batches(items: Iterator[TrackRef], size: Callable[[], int]) -> Iterator[list[TrackRef]]:
    """Lazy batches whose size is asked for each time (the quota shrinks as we add videos)."""
    assert AUDIO_FEATURES_BATCH >= TRACK_BATCH  # one audio-features call per batch
    while (n := size()) > 0:
        batch = list(islice(items, n))
        if not batch:
            return
        yield batch
