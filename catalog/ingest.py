"""Ingest: candidate videos per genre -> catalog rows + pipeline jobs, from one of three sources.

- ``spotify`` (`ingest`): Spotify's genre playlists, each track looked up on YouTube, with a
  `TrackMetadata` carrying the Spotify id (and audio features where Spotify still serves them).
- ``youtube`` (`ingest_youtube`): YouTube's search (``<genre> official music video``) or a
  playlist per genre, listed by yt-dlp's flat extraction, filtered (duration, live, known
  videos), artist and title read from the video title.
- ``csv`` (`read_track_csv` + `ingest_csv`): rows of artist,title,genre, each looked up on
  YouTube.

Every video is created through `catalog.intake.add_video`, and the caller's
``on_created(video)`` (``pipeline.services.start`` for RQ workers) is called inside the
transaction that creates it. Nothing here downloads. Without Spotify, tempo, energy and
danceability come from our own audio analysis after extraction (`catalog.metadata`).

Idempotent and resumable: `per_genre` is a quota per genre (tracks already ingested count
towards it), known Spotify ids are skipped, and a YouTube video already in the catalog is never
added twice. Per-track problems are recorded in the result, never raised.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings
from django.db import IntegrityError
from django.utils.module_loading import import_string
from yt_dlp.extractor import get_info_extractor

from catalog import selectors
from catalog.genres import UnknownGenre, genre_slug, match_genre_name
from catalog.intake import DuplicateContent, add_video
from catalog.models import Genre, TrackMetadata, ValueSource, Video, VideoSource, VideoStatus
from catalog.services import genre_named, youtube_client
from catalog.spotify_client import (
    AUDIO_FEATURES_BATCH,
    AudioFeatures,
    SpotifyAuthError,
    SpotifyClient,
    SpotifyError,
    TrackRef,
    normalise_key,
)
from catalog.youtube_client import SearchHit, YouTubeClient, YouTubeError, parse_artist_title

logger = logging.getLogger(__name__)

OnCreated = Callable[[Video], object] | None

# Tracks handled per audio-features call: an interrupted run loses at most this much work.
TRACK_BATCH = 50
# How many more tracks than the quota we may look at, to replace ones we can't use
# (no YouTube match, video already in the catalog). The walk is lazy: we stop at the quota.
CANDIDATE_FACTOR = 4

# Spotify statuses that mean "this app may not read that" (apps created since Nov 2024:
# Spotify-owned playlists, audio features).
SPOTIFY_REFUSED = frozenset({403, 404})
USE_OTHER_SOURCE = (
    "Spotify no longer lets new apps read its own playlists or audio features: build the "
    "catalog with `ingest --source youtube` or `ingest --source csv FILE` instead."
)

# --source youtube: what a genre's search asks for, and how many results it lists.
YOUTUBE_QUERY = "{genre} official music video"
SEARCH_FACTOR = 2  # list per_genre * 2 + SEARCH_EXTRA results: room for known and refused ones
SEARCH_EXTRA = 10
MAX_SEARCH_RESULTS = 500
MIN_VIDEO_SECONDS = 60.0  # shorter: a teaser, a Short or a snippet, not a music video

# --source csv
CSV_COLUMNS = ("artist", "title", "genre")
CSV_MAX_ROWS = 10_000
FIELD_LIMITS = {"artist": 300, "title": 300, "genre": 60}  # Video.artist/title, Genre.name


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
    songs: set[str] = field(default_factory=set)  # normalise_key(artist, title)


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
    """The client that finds each track's video and lists a genre's candidates.

    `settings.YOUTUBE_RESOLVER` (a callable or its dotted path, query -> URL or None) replaces
    yt-dlp's single-result YouTube search, `settings.YOUTUBE_SEARCH_RESOLVER` ((query, limit)
    -> the URL of a page yt-dlp lists, or None) its multi-result search; tests point both at
    local stand-ins. Unset (production), yt-dlp searches YouTube itself.
    """
    client = youtube_client(resolver=_setting_callable("YOUTUBE_RESOLVER"))
    client.search_resolver = _setting_callable("YOUTUBE_SEARCH_RESOLVER")
    return client


def _setting_callable(name: str) -> Callable | None:
    value = getattr(settings, name, None)
    return import_string(value) if isinstance(value, str) else value


def youtube_id_of(url: str) -> str | None:
    """The id of a YouTube watch/share URL without network access; None for other hosts."""

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
    genre = None if dry_run else genre_named(genre_name)
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
        hint = f" {USE_OTHER_SOURCE}" if exc.status in SPOTIFY_REFUSED else ""
        result.fail("spotify", f"Spotify error, genre stopped early: {exc}{hint}")
        return result
    if result.found == 0 and result.had < per_genre:
        # Spotify-owned playlists answer 403/404 to new apps; the client skips those quietly.
        result.messages.append(
            f"{genre_name}: Spotify gave no new tracks for this genre (none of its playlists "
            f"has one we lack, or this app may not read them: HTTP 403/404). {USE_OTHER_SOURCE}"
        )
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
    if not spotify.audio_features_available and results:
        results[-1].messages.append(
            "Spotify refused its audio features (HTTP 403): tempo, energy and danceability "
            f"come from our own audio analysis after extraction. {USE_OTHER_SOURCE}"
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
    url = _find_on_youtube(youtube, track.primary_artist, track.title, label, result)
    if not url:
        return
    youtube_id = youtube_id_of(url)
    if _already_have(url, youtube_id, claimed):
        result.skipped += 1
        return
    claimed.sources.add(youtube_id or url)
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


# --- --source youtube: search results or playlists per genre --------------------------------


def youtube_track_count(genre_name: str) -> int:
    """Catalog videos of this genre from YouTube (the quota of ``--source youtube``)."""
    return (
        selectors.catalog_videos()
        .filter(genre__slug=genre_slug(genre_name), source=VideoSource.YOUTUBE)
        .count()
    )


def search_size(per_genre: int) -> int:
    return min(per_genre * SEARCH_FACTOR + SEARCH_EXTRA, MAX_SEARCH_RESULTS)


def refusal(hit: SearchHit, *, min_seconds: float, max_seconds: float) -> tuple[str, str] | None:
    """(reason, why) when a listed video is not one to add, else None."""
    if hit.is_live:
        return "live", f"a live stream or premiere ({hit.live_status})"
    if hit.duration is None:
        return "no_duration", "no duration listed (a live stream or premiere?)"
    if hit.duration > max_seconds:
        return "too_long", f"{hit.duration:.0f} s, longer than the {max_seconds:.0f} s limit"
    if hit.duration < min_seconds:
        return "too_short", f"{hit.duration:.0f} s, shorter than {min_seconds:.0f} s"
    return None


def catalog_song_keys() -> set[str]:
    """normalise_key(artist, title) of every stored video with an artist (one query)."""
    rows = Video.objects.exclude(artist="").values_list("artist", "title")
    return {normalise_key([artist], title) for artist, title in rows}


def ingest_youtube_genre(
    genre_name: str,
    per_genre: int,
    *,
    youtube: YouTubeClient,
    playlist_url: str | None = None,
    query_template: str = YOUTUBE_QUERY,
    dry_run: bool = False,
    claimed: _Claimed | None = None,
    known_songs: set[str] | None = None,
    on_track: Callable[[GenreResult], None] | None = None,
    on_created: OnCreated = None,
) -> GenreResult:
    """Fill the genre up to `per_genre` YouTube videos from its search (or playlist).

    Listed videos are refused when live, of unknown duration, longer than
    MAX_VIDEO_SECONDS or shorter than MIN_VIDEO_SECONDS (counted as failed, by reason);
    videos already stored (by YouTube id or URL) or songs already stored (same artist and
    title, `normalise_key`) are skipped. Never raises for one genre: a failed listing is
    recorded as reason ``search_<reason>``.
    """
    claimed = claimed if claimed is not None else _Claimed()
    known_songs = known_songs if known_songs is not None else catalog_song_keys()
    result = GenreResult(genre_name, had=youtube_track_count(genre_name))
    if result.had >= per_genre:
        return result
    try:
        if playlist_url:
            hits = youtube.playlist_videos(playlist_url, search_size(per_genre))
        else:
            query = query_template.format(genre=genre_name)
            hits = youtube.search_videos(query, search_size(per_genre))
    except YouTubeError as exc:
        result.fail(f"search_{exc.reason}", f"YouTube listing failed: {exc}")
        return result
    genre = None
    max_seconds = float(settings.MAX_VIDEO_SECONDS)
    for hit in hits:
        if result.had + result.added >= per_genre:
            break
        result.found += 1
        artist, title = parse_artist_title(hit.title, hit.uploader)
        label = hit.title or hit.url
        if refused := refusal(hit, min_seconds=MIN_VIDEO_SECONDS, max_seconds=max_seconds):
            result.fail(refused[0], f"{label}: {refused[1]}")
        elif _already_have(hit.url, hit.youtube_id, claimed) or _known_song(
            artist, title, known_songs, claimed
        ):
            result.skipped += 1
        elif dry_run:
            _claim(hit.url, hit.youtube_id, artist, title, claimed)
            result.planned.append(
                PlannedVideo(result.genre, artist, title, hit.url, hit.youtube_id)
            )
        else:
            _claim(hit.url, hit.youtube_id, artist, title, claimed)
            genre = genre or genre_named(genre_name)
            try:
                create_found_video(
                    genre=genre,
                    artist=artist,
                    title=title or hit.title,
                    url=hit.url,
                    youtube_id=hit.youtube_id,
                    on_created=on_created,
                )
            except DuplicateContent:
                result.skipped += 1  # another ingest added it a moment ago
            else:
                result.queued += 1
        if on_track is not None:
            on_track(result)
    return result


def ingest_youtube(
    genre_names: list[str],
    per_genre: int,
    *,
    youtube: YouTubeClient,
    playlists: dict[str, str] | None = None,
    query_template: str = YOUTUBE_QUERY,
    dry_run: bool = False,
    on_genre_start: Callable[[str, int], None] | None = None,
    on_track: Callable[[GenreResult], None] | None = None,
    on_created: OnCreated = None,
) -> list[GenreResult]:
    """`ingest_youtube_genre` for every genre; `playlists` maps a genre name to a playlist
    URL listed instead of the search."""
    if per_genre < 1:
        raise ValueError(f"per_genre must be at least 1, not {per_genre}")
    claimed = _Claimed()
    known_songs = catalog_song_keys()
    playlists = playlists or {}
    results = []
    for name in genre_names:
        if on_genre_start is not None:
            on_genre_start(name, youtube_track_count(name))
        results.append(
            ingest_youtube_genre(
                name,
                per_genre,
                youtube=youtube,
                playlist_url=playlists.get(name),
                query_template=query_template,
                dry_run=dry_run,
                claimed=claimed,
                known_songs=known_songs,
                on_track=on_track,
                on_created=on_created,
            )
        )
    return results


def create_found_video(
    *,
    genre: Genre,
    artist: str,
    title: str,
    url: str,
    youtube_id: str | None,
    on_created: OnCreated = None,
) -> Video:
    """A YouTube video found without Spotify: no TrackMetadata yet (our analysis creates it,
    every value marked "analysis"). Raises DuplicateContent when it is there already."""
    return add_video(
        source=VideoSource.YOUTUBE,
        source_url=url,
        youtube_id=youtube_id,
        title=title[:300],
        artist=artist[:300],
        genre=genre,
        status=VideoStatus.PENDING,
        then=on_created,
    )


def _find_on_youtube(
    youtube: YouTubeClient, artist: str, title: str, label: str, result: GenreResult
) -> str | None:
    """The song's YouTube URL, or None with the failure recorded in ``result``."""
    try:
        url = youtube.find_video(artist, title)
    except YouTubeError as exc:
        result.fail(f"search_{exc.reason}", f"{label}: YouTube search failed: {exc}")
        return None
    if not url:
        result.fail("no_match", f"{label}: no YouTube match")
    return url or None


def _already_have(url: str, youtube_id: str | None, claimed: _Claimed) -> bool:
    return (youtube_id or url) in claimed.sources or selectors.existing_video(
        source_url=url, youtube_id=youtube_id
    ) is not None


def _known_song(artist: str, title: str, known: set[str], claimed: _Claimed) -> bool:
    if not artist or not title:
        return False  # without an artist two songs of one name are not the same song
    key = normalise_key([artist], title)
    return key in known or key in claimed.songs


def _claim(url: str, youtube_id: str | None, artist: str, title: str, claimed: _Claimed) -> None:
    claimed.sources.add(youtube_id or url)
    if artist and title:
        claimed.songs.add(normalise_key([artist], title))


# --- --source csv: artist,title,genre rows --------------------------------------------------


class TrackCsvError(ValueError):
    """The file as a whole can't be read (missing, not UTF-8, no header); nothing was added."""


@dataclass(frozen=True)
class TrackRow:
    line: int
    artist: str
    title: str
    genre: str  # the canonical genre name


@dataclass
class CsvResult:
    rows: list[TrackRow] = field(default_factory=list)  # valid rows
    errors: list[str] = field(default_factory=list)  # "Line N: ..." per bad row
    warnings: list[str] = field(default_factory=list)


def read_track_csv(path: str) -> CsvResult:
    """Read and check a CSV of artist,title,genre (a header line naming the three columns,
    in any order; other columns are ignored with a warning). Raises TrackCsvError for a
    file that can't be read at all; a bad row is a "Line N: ..." error and is left out.
    Writes nothing and asks nothing outside the database.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise TrackCsvError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise TrackCsvError(f"{path}: a directory, not a CSV file.") from None
    except OSError as exc:
        raise TrackCsvError(f"{path}: can't be read ({exc.strerror or exc}).") from None
    try:
        text = codecs.decode(raw, "utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise TrackCsvError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
            f"{column}); save the file as UTF-8. Nothing was added."
        ) from None
    if "\x00" in text:
        raise TrackCsvError(f"{path}: holds NUL bytes; not a text CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise TrackCsvError(f"{path}: line 1: {exc}") from None
    names = [cell.strip().lower() for cell in header or []]
    missing = [column for column in CSV_COLUMNS if column not in names]
    if header is None or missing:
        raise TrackCsvError(
            f"{path}: the first line must be a header naming the columns "
            f"{','.join(CSV_COLUMNS)} (missing: {', '.join(missing)}), e.g. "
            '"artist,title,genre".'
        )
    result = CsvResult()
    extra = [name for name in names if name not in CSV_COLUMNS]
    if extra:
        result.warnings.append(f"Ignored column(s): {', '.join(extra)}")
    index = {column: names.index(column) for column in CSV_COLUMNS}
    genres: dict[str, str] = {}  # what the file says -> canonical name
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append(f"Line {reader.line_num}: {exc}")
            break
        line = reader.line_num - text_lines(cells) + 1
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if len(result.rows) + len(result.errors) >= CSV_MAX_ROWS:
            raise TrackCsvError(f"{path}: more than {CSV_MAX_ROWS} rows; split the file.")
        if len(cells) > len(names):
            result.errors.append(
                f"Line {line}: {len(cells)} cells but the header has {len(names)} columns."
            )
            continue
        values = {
            column: (cells[i].strip() if i < len(cells) else "") for column, i in index.items()
        }
        problems = [f"empty {column}" for column, value in values.items() if not value]
        problems += [
            f"{column} longer than {limit} characters ({len(values[column])})"
            for column, limit in FIELD_LIMITS.items()
            if len(values[column]) > limit
        ]
        problems += [
            f"{column} holds a control character"
            for column, value in values.items()
            if any(ord(ch) < 32 for ch in value)
        ]
        if not problems:
            try:
                if values["genre"] not in genres:
                    genres[values["genre"]] = resolve_genre_names([values["genre"]])[0]
            except UnknownGenre as exc:
                problems.append(str(exc))
        if problems:
            result.errors.append(f"Line {line}: {'; '.join(problems).rstrip('.')}.")
            continue
        result.rows.append(
            TrackRow(line, values["artist"], values["title"], genres[values["genre"]])
        )
    return result


def read_playlist_csv(path: str) -> dict[str, str]:
    """A CSV of genre,url rows (header required) -> {canonical genre name: playlist URL}.
    Raises TrackCsvError naming the line of the first bad row."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TrackCsvError(f"{path}: can't be read as a UTF-8 CSV file ({exc}).") from None
    names = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "genre" not in names or "url" not in names:
        raise TrackCsvError(f'{path}: the first line must be the header "genre,url".')
    genre_at, url_at = names.index("genre"), names.index("url")
    playlists: dict[str, str] = {}
    for line, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        genre = cells[genre_at].strip() if genre_at < len(cells) else ""
        url = cells[url_at].strip() if url_at < len(cells) else ""
        if not url.startswith(("https://", "http://")) or len(url) > 500:
            raise TrackCsvError(f"{path}: line {line}: {url!r} is not an http(s) URL.")
        try:
            playlists[resolve_genre_names([genre])[0]] = url
        except UnknownGenre as exc:
            raise TrackCsvError(f"{path}: line {line}: {exc}") from None
    return playlists


def text_lines(cells: list[str]) -> int:
    """How many lines of the file a parsed row took (quoted cells may hold line breaks)."""
    return 1 + sum(cell.count("\n") for cell in cells)


def ingest_csv(
    rows: list[TrackRow],
    *,
    youtube: YouTubeClient,
    dry_run: bool = False,
    on_track: Callable[[GenreResult], None] | None = None,
    on_created: OnCreated = None,
) -> list[GenreResult]:
    """Look each row up on YouTube (`find_video`) and add its video; one result per genre,
    in the order the genres first appear. A row whose video (or song) is stored already is
    skipped; no match or a failed search is a failure naming the line."""
    claimed = _Claimed()
    known_songs = catalog_song_keys()
    results: dict[str, GenreResult] = {}
    genres: dict[str, Genre] = {}
    for row in rows:
        result = results.get(row.genre)
        if result is None:
            result = results[row.genre] = GenreResult(row.genre)
            result.had = youtube_track_count(row.genre)
        result.found += 1
        label = f"line {row.line}: {row.artist} - {row.title}"
        if _known_song(row.artist, row.title, known_songs, claimed):
            result.skipped += 1
        else:
            _ingest_row(row, result, label, youtube, claimed, genres, dry_run, on_created)
        if on_track is not None:
            on_track(result)
    return list(results.values())


def _ingest_row(
    row: TrackRow,
    result: GenreResult,
    label: str,
    youtube: YouTubeClient,
    claimed: _Claimed,
    genres: dict[str, Genre],
    dry_run: bool,
    on_created: OnCreated,
) -> None:
    url = _find_on_youtube(youtube, row.artist, row.title, label, result)
    if not url:
        return
    youtube_id = youtube_id_of(url)
    if _already_have(url, youtube_id, claimed):
        result.skipped += 1
        return
    _claim(url, youtube_id, row.artist, row.title, claimed)
    if dry_run:
        result.planned.append(PlannedVideo(row.genre, row.artist, row.title, url, youtube_id))
        return
    if row.genre not in genres:
        genres[row.genre] = genre_named(row.genre)
    try:
        create_found_video(
            genre=genres[row.genre],
            artist=row.artist,
            title=row.title,
            url=url,
            youtube_id=youtube_id,
            on_created=on_created,
        )
    except DuplicateContent:
        result.skipped += 1
        return
    result.queued += 1
