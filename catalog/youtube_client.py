"""The only place that finds and downloads videos (yt-dlp's Python API).

Downloads are bounded (height, bytes, duration, socket timeout) and every failure becomes a
`YouTubeError` subclass carrying a short `reason` code, so the ingest summary can count
failures by reason. Tests download from a local HTTP server through yt-dlp's generic
extractor; nothing here is YouTube-only except the default searches (`find_video`,
`search_videos`). `search_videos` and `playlist_videos` list candidates by flat extraction
(the search or playlist page only, nothing downloaded); `parse_artist_title` reads
"Artist - Title (Official Video)" titles.

YouTube serves most formats only to clients that solve its JavaScript challenges: yt-dlp runs
its challenge scripts (the `yt-dlp-ejs` wheel) in Deno (the `deno` wheel's binary), both
pinned in requirements.txt and configured here; nothing is downloaded at run time
(`remote_components` stays empty). `javascript_support()` says what yt-dlp found.
"""

from __future__ import annotations

import glob
import logging
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import deno
import imageio_ffmpeg
import yt_dlp
from yt_dlp.extractor import get_info_extractor
from yt_dlp.networking.exceptions import HTTPError as YdlHTTPError
from yt_dlp.networking.exceptions import TransportError
from yt_dlp.utils import DownloadError, GeoRestrictedError, sanitize_filename

logger = logging.getLogger(__name__)

# A finished download is exactly "<id>.<one of these>"; what yt-dlp leaves while working is
# "<id>.<ext>.part", "<id>.ytdl", "<id>.f<format>.<ext>" or "<id>.temp.<ext>".
FINAL_EXTENSIONS = frozenset({"mp4", "mkv", "webm", "mov", "m4v"})
_INTERMEDIATE_REST = re.compile(r"(^|\.)(part|ytdl)$|^(f[\w-]+|temp)\.\w+$")


class YouTubeError(Exception):
    """A find/download failed. `reason` is a short code for counting; str() is for humans."""

    reason: str = "failed"  # subclasses fix their own code

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class _ReasonedError(YouTubeError):
    def __init__(self, message: str):
        super().__init__(type(self).reason, message)


class VideoUnavailable(_ReasonedError):
    reason = "unavailable"


class AgeRestricted(_ReasonedError):
    reason = "age_restricted"


class GeoBlocked(_ReasonedError):
    reason = "geo_blocked"


class TooLong(_ReasonedError):
    reason = "too_long"


class TooLarge(_ReasonedError):
    reason = "too_large"


class NetworkError(_ReasonedError):
    reason = "network"


class DownloadFailed(_ReasonedError):
    reason = "failed"


# yt-dlp reports most failures only as message text (DownloadError), so we classify by text.
# Order matters: the first match wins ("Video unavailable. ... not available in your country"
# is geo, not unavailable). Keep every pattern here; tests/clients/test_youtube_client.py
# has a message for each.
ERROR_PATTERNS: tuple[tuple[re.Pattern[str], type[YouTubeError]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cls)
    for pattern, cls in (
        (r"confirm your age|age[- ]restricted|inappropriate for some users", AgeRestricted),
        (r"in your country|from your location|geo[- ]?restrict", GeoBlocked),
        (r"larger than max-filesize", TooLarge),
        (
            r"video unavailable|private video|video is private|has been removed|"
            r"no longer available|account .* terminated|members[- ]only|join this channel|"
            r"premieres in|live event will begin|video is not available|"
            r"HTTP Error (404|410)|does not exist",
            VideoUnavailable,
        ),
        (
            r"timed out|timeout|connection (refused|reset|aborted)|name resolution|"
            r"name or service not known|network is unreachable|no route to host|"
            r"failed to resolve|URLError|remote end closed|incomplete ?read|"
            r"HTTP Error (429|5\d\d)|SSL:",
            NetworkError,
        ),
    )
)


def classify_error(message: str, cause: BaseException | None = None) -> YouTubeError:
    """Map a yt-dlp error (its message, and its cause when known) to one of our classes."""
    text = _clean_message(message)
    if isinstance(cause, GeoRestrictedError):
        return GeoBlocked(text)
    for pattern, cls in ERROR_PATTERNS:
        if pattern.search(text):
            return cls(text)  # type: ignore[call-arg]
    if isinstance(cause, YdlHTTPError) and cause.status in (404, 410):
        return VideoUnavailable(text)
    if isinstance(cause, (TransportError, TimeoutError, ConnectionError)):
        return NetworkError(text)
    return DownloadFailed(text)


def _clean_message(message: str) -> str:
    text = re.sub(r"^(ERROR:\s*)+", "", str(message).strip())
    text = re.split(r";\s*please report this issue", text, maxsplit=1)[0]
    return text[:500] or "yt-dlp failed without a message"


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    width: int | None
    height: int | None
    has_audio: bool
    has_video: bool


def ffmpeg_location() -> str:
    """The ffmpeg binary yt-dlp should use for merging (there is no system ffmpeg).

    We pass imageio-ffmpeg's binary itself. yt-dlp (2026.x) accepts a file path: it takes the
    program name from the file name (ours contains "ffmpeg") and falls back to "ffmpeg"
    otherwise, so no symlink named `ffmpeg` is needed. There is no ffprobe; yt-dlp's merger
    does not need it, and we probe with ffmpeg itself (probe_media).
    """
    return imageio_ffmpeg.get_ffmpeg_exe()


_DURATION = re.compile(r"Duration:\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO_STREAM = re.compile(r"Stream #[^\n]*?Video:[^\n]*?\b(\d{2,5})x(\d{2,5})\b")


def probe_media(path: Path | str, *, timeout: float = 30) -> MediaInfo:
    """Duration and frame size of a media file, read from `ffmpeg -i` (no ffprobe here)."""
    proc = subprocess.run(
        [ffmpeg_location(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # exits 1 ("no output file"): expected, the header is on stderr
    err = proc.stderr
    duration = None
    if m := _DURATION.search(err):
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    width = height = None
    if m := _VIDEO_STREAM.search(err):
        width, height = int(m.group(1)), int(m.group(2))
    return MediaInfo(
        duration=duration,
        width=width,
        height=height,
        has_audio=bool(re.search(r"Stream #[^\n]*Audio:", err)),
        has_video=bool(re.search(r"Stream #[^\n]*Video:", err)),
    )


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    video_id: str  # YouTube id, or yt-dlp's id for other extractors
    title: str
    duration: float | None  # seconds
    width: int | None
    height: int | None
    filesize: int
    extractor: str = ""
    already_present: bool = False  # True when the file was there and nothing was fetched


def js_runtimes() -> dict[str, dict[str, str]]:
    """yt-dlp's `js_runtimes` option: the Deno binary the `deno` wheel ships."""
    return {"deno": {"path": deno.find_deno_bin()}}


@dataclass(frozen=True)
class JavaScriptSupport:
    runtime: str  # e.g. "deno-2.9.8", as yt-dlp reports it; "" when it found none
    challenge_scripts: str  # e.g. "yt_dlp_ejs-0.8.0"; "" when missing

    @property
    def ok(self) -> bool:
        return bool(self.runtime and self.challenge_scripts)


def javascript_support() -> JavaScriptSupport:
    """What yt-dlp itself reports, with our options, about its JavaScript runtime and its
    challenge scripts (its verbose header; offline)."""
    log = _YdlLog()
    options = {"js_runtimes": js_runtimes(), "remote_components": [], "logger": log}
    with yt_dlp.YoutubeDL({**options, "verbose": True, "quiet": True}):
        pass
    runtimes = (log.find("JS runtimes:") or "").split("JS runtimes:", 1)[-1].strip()
    libraries = log.find("Optional libraries:") or ""
    ejs = next((part.strip() for part in libraries.split(",") if "yt_dlp_ejs" in part), "")
    return JavaScriptSupport(
        runtime="" if runtimes in ("", "none") else runtimes,
        challenge_scripts=ejs.split(":")[-1].strip() if ejs else "",
    )


class _YdlLog:
    """yt-dlp's logger: keeps the lines (some limits are only reported as text) and forwards."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, msg: str) -> None:
        self.lines.append(msg)
        logger.debug("yt-dlp: %s", msg)

    info = debug

    def warning(self, msg: str) -> None:
        self.lines.append(msg)
        logger.info("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        self.lines.append(msg)
        logger.info("yt-dlp error: %s", msg)

    def find(self, needle: str) -> str | None:
        return next((line.strip() for line in self.lines if needle in line), None)


# --- listing candidates (search results, playlists) ------------------------------------------

# yt-dlp's `live_status` values that mean "not a finished video we can download".
LIVE_STATUSES = frozenset({"is_live", "is_upcoming", "post_live"})


@dataclass(frozen=True)
class SearchHit:
    """One entry of a search result or playlist, as flat extraction reports it."""

    url: str
    youtube_id: str | None  # None for other hosts (then the URL identifies the video)
    title: str
    uploader: str  # the channel; "" when the listing doesn't say
    duration: float | None  # seconds; None when the listing doesn't say (live, premiere)
    live_status: str | None

    @property
    def is_live(self) -> bool:
        return self.live_status in LIVE_STATUSES


def hit_from_entry(entry: Mapping[str, Any] | None) -> SearchHit | None:
    """A SearchHit for a flat entry, or None for what is not one video (a channel or playlist
    in the search results, an entry without a URL)."""
    if not entry:
        return None
    ie_key = entry.get("ie_key")
    if ie_key and ie_key != "Youtube":  # YoutubeTab: a channel or playlist result
        return None
    video_id = entry.get("id")
    url = entry.get("url") or entry.get("webpage_url") or ""
    if not url and video_id and ie_key == "Youtube":
        url = f"https://www.youtube.com/watch?v={video_id}"
    if not url or not isinstance(url, str):
        return None
    youtube_id = _youtube_id(url) or (str(video_id) if ie_key == "Youtube" and video_id else None)
    if youtube_id:
        url = f"https://www.youtube.com/watch?v={youtube_id}"  # one URL per video
    duration = entry.get("duration")
    live_status = entry.get("live_status") or ("is_live" if entry.get("is_live") else None)
    return SearchHit(
        url=url,
        youtube_id=youtube_id,
        title=str(entry.get("title") or "").strip(),
        uploader=str(entry.get("uploader") or entry.get("channel") or "").strip(),
        duration=float(duration) if isinstance(duration, int | float) else None,
        live_status=live_status,
    )


# Bracketed parts of a video title that describe the video, not the song.
_DECORATION_WORDS = (
    r"official|video|audio|lyrics?|visuali[sz]er|clip|m/?v|hd|hq|4k|1080p|720p|remaster(ed)?|"
    r"explicit|color coded|full album|vevo"
)
_DECORATION = re.compile(
    rf"\s*[(\[【](?=[^)\]】]*\b(?:{_DECORATION_WORDS})\b)[^)\]】]*[)\]】]", re.IGNORECASE
)
_TRAILING_DECORATION = re.compile(
    rf"\s*[|/]\s*[^|/]*\b(?:{_DECORATION_WORDS})\b[^|/]*$", re.IGNORECASE
)
_SEPARATOR = re.compile(r"\s+[-–—~|]\s+|\s*[–—]\s*")
_QUOTED = re.compile(r'^(?P<artist>[^"“”]+?)\s*["“](?P<title>[^"“”]+)["”]')
_UPLOADER_SUFFIX = re.compile(r"\s*(?:-\s*topic|vevo|official|tv|music)$", re.IGNORECASE)


def clean_video_title(title: str) -> str:
    """The title without "(Official Video)", "[HD]", "| Official Audio" and the like."""
    text = " ".join(title.split())
    previous = None
    while previous != text:
        previous = text
        text = _DECORATION.sub("", text)
        text = _TRAILING_DECORATION.sub("", text)
    return text.strip(" -–—|")


def parse_artist_title(video_title: str, uploader: str = "") -> tuple[str, str]:
    """(artist, title) read from a music video's title, else from its uploader.

    "Artist - Title (Official Video)" -> ("Artist", "Title"); 'Artist "Title"' the same;
    a title without a separator takes the uploader as artist ("Adele - Topic" and
    "AdeleVEVO" become "Adele"). Either part may be "" when nothing says.
    """
    text = clean_video_title(video_title)
    parts = _SEPARATOR.split(text, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        artist, title = parts[0].strip(), parts[1].strip()
    elif m := _QUOTED.match(text):
        artist, title = m.group("artist").strip(), m.group("title").strip()
    else:
        artist, title = _UPLOADER_SUFFIX.sub("", uploader.strip()).strip(), text
    return artist.strip(" \"'“”"), title.strip(" \"'“”")


class YouTubeClient:
    def __init__(
        self,
        media_dir: Path,
        *,
        max_height: int = 480,
        max_bytes: int = 200 * 1024 * 1024,
        max_duration_seconds: float = 15 * 60,
        socket_timeout: float = 30,
        resolver: Callable[[str], str | None] | None = None,
        search_resolver: Callable[[str, int], str | None] | None = None,
        retries: int = 3,
        extra_options: Mapping[str, Any] | None = None,
    ):
        self.media_dir = Path(media_dir)
        self.max_height = max_height
        self.max_bytes = max_bytes
        self.max_duration_seconds = max_duration_seconds
        self.socket_timeout = socket_timeout
        self.resolver = resolver  # tests map a search query to a local URL with this
        # Tests map a multi-result search (query, limit) to a local listing page with this.
        self.search_resolver = search_resolver
        self.retries = retries
        self.extra_options = dict(extra_options or {})

    # --- options -------------------------------------------------------------------------

    @property
    def format_selector(self) -> str:
        h = self.max_height
        return f"bv*[height<={h}][ext=mp4]+ba[ext=m4a]/b[height<={h}][ext=mp4]/b[height<={h}]/b"

    def _options(self, log: _YdlLog, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "format": self.format_selector,
            "merge_output_format": "mp4",
            "ffmpeg_location": ffmpeg_location(),
            "outtmpl": str(self.media_dir / "%(id)s.%(ext)s"),
            "restrictfilenames": True,
            "max_filesize": self.max_bytes,
            "match_filter": self._match_filter,
            "socket_timeout": self.socket_timeout,
            "retries": self.retries,
            "fragment_retries": self.retries,
            "extractor_retries": min(self.retries, 1),
            "noplaylist": True,
            "js_runtimes": js_runtimes(),
            "remote_components": [],  # no challenge scripts fetched at run time: the wheel's
            "quiet": True,
            "no_warnings": False,  # warnings go to our logger, not stderr
            "noprogress": True,
            "logger": log,
            "overwrites": False,
        }
        options.update(self.extra_options)
        options.update(overrides)
        return options

    def _match_filter(self, info: Mapping[str, Any], *, incomplete: bool = False) -> str | None:
        # Second line of defence (download() checks first): yt-dlp skips, with this message.
        if info.get("is_live"):
            return "live streams are not downloaded"
        duration = info.get("duration")
        if duration and duration > self.max_duration_seconds:
            return f"duration {duration:.0f} s exceeds the {self.max_duration_seconds:.0f} s limit"
        return None

    # --- public API -------------------------------------------------------------------------

    def find_video(self, artist: str, title: str) -> str | None:
        """URL of the best match for "<artist> - <title> official video", or None."""
        query = f"{artist} - {title} official video"
        if self.resolver is not None:
            return self.resolver(query)
        log = _YdlLog()
        # extract_flat: the search page alone has the ids; don't resolve each result.
        with yt_dlp.YoutubeDL(self._options(log, extract_flat="in_playlist")) as ydl:
            try:
                result = ydl.extract_info(f"ytsearch1:{query}", download=False)
            except DownloadError as exc:
                raise classify_error(str(exc), _cause(exc)) from exc
        for entry in (result or {}).get("entries") or []:
            if entry and entry.get("id"):
                return f"https://www.youtube.com/watch?v={entry['id']}"
        return None

    def search_videos(self, query: str, limit: int) -> list[SearchHit]:
        """Up to `limit` videos YouTube's search finds for `query`, by flat extraction (the
        result pages alone: nothing is resolved or downloaded)."""
        target = f"ytsearch{limit}:{query}"
        if self.search_resolver is not None:
            # Tests: a local page (e.g. an RSS feed) that yt-dlp's generic extractor lists.
            target = self.search_resolver(query, limit)
            if target is None:
                return []
        return self._list(target, limit)

    def playlist_videos(self, url: str, limit: int) -> list[SearchHit]:
        """The first `limit` videos of a playlist (or anything yt-dlp lists), flat."""
        return self._list(url, limit)

    def _list(self, target: str, limit: int) -> list[SearchHit]:
        log = _YdlLog()
        options = self._options(
            log,
            extract_flat="in_playlist",
            noplaylist=False,
            playlistend=max(limit, 1),
            match_filter=None,  # the caller filters, and counts why
        )
        with yt_dlp.YoutubeDL(options) as ydl:
            try:
                result = ydl.extract_info(target, download=False)
            except DownloadError as exc:
                raise classify_error(str(exc), _cause(exc)) from exc
        result = result or {}
        if result.get("_type", "video") == "video":  # a single video, not a list
            entries: list[Any] = [result]
        else:
            entries = list(result.get("entries") or [])
        hits = [hit for entry in entries[:limit] if (hit := hit_from_entry(entry)) is not None]
        return hits

    def download(self, url: str) -> DownloadResult:
        """Download `url` into media_dir as <id>.<ext>; raises a YouTubeError subclass."""
        self.media_dir.mkdir(parents=True, exist_ok=True)
        known_id = _youtube_id(url)
        if known_id and (existing := self._existing_file(known_id)):
            return self._result(existing, {"id": known_id}, already_present=True)

        log = _YdlLog()
        with yt_dlp.YoutubeDL(self._options(log)) as ydl:
            try:
                # Metadata first: refuse too long / too large before fetching any media.
                info = ydl.extract_info(url, download=False)
            except DownloadError as exc:
                raise classify_error(str(exc), _cause(exc)) from exc
            if not info:
                raise DownloadFailed(f"yt-dlp found no video at {url}")
            video_id = str(info.get("id") or "")
            if existing := self._existing_file(video_id):
                return self._result(existing, info, already_present=True)
            self._check_limits(info)
            try:
                info = ydl.process_ie_result(info, download=True)
            except DownloadError as exc:
                self._remove_partials(video_id)
                raise classify_error(str(exc), _cause(exc)) from exc
            except BaseException:  # the job's timeout, a disk error: no partial file stays
                self._remove_partials(video_id)
                raise

        path = self._downloaded_path(info, video_id)
        if path is None:
            self._remove_partials(video_id)
            if line := log.find("larger than max-filesize"):
                raise TooLarge(f"{url}: {line.lstrip(chr(13)).removeprefix('[download] ')}")
            if line := log.find("exceeds the"):
                raise TooLong(f"{url}: {line}")
            tail = " | ".join(line.strip() for line in log.lines[-3:])
            raise DownloadFailed(f"yt-dlp finished without a file for {url} ({tail})")

        result = self._result(path, info)
        # Limits again on the real file: sizes/durations are often unknown beforehand.
        if result.duration and result.duration > self.max_duration_seconds:
            path.unlink(missing_ok=True)
            raise TooLong(
                f"{url}: {result.duration:.0f} s is longer than the "
                f"{self.max_duration_seconds:.0f} s limit"
            )
        if result.filesize > self.max_bytes:
            path.unlink(missing_ok=True)
            raise TooLarge(
                f"{url}: {result.filesize} bytes is more than the {self.max_bytes} byte limit"
            )
        return result

    # --- helpers ----------------------------------------------------------------------------

    def _check_limits(self, info: Mapping[str, Any]) -> None:
        if info.get("_type", "video") != "video":
            # noplaylist only helps for watch?v=..&list=..; a bare playlist/channel URL still
            # resolves to many videos, and we download exactly one.
            raise DownloadFailed(f"{info.get('id')}: this link is a playlist, not one video")
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            raise TooLong(f"{info.get('id')}: live streams and premieres are not downloaded")
        duration = info.get("duration")
        if duration and duration > self.max_duration_seconds:
            raise TooLong(
                f"{info.get('id')}: {duration:.0f} s is longer than the "
                f"{self.max_duration_seconds:.0f} s limit"
            )
        formats = info.get("requested_formats") or [info]
        sizes = [f.get("filesize") or f.get("filesize_approx") for f in formats]
        if all(sizes) and sum(sizes) > self.max_bytes:
            raise TooLarge(
                f"{info.get('id')}: about {sum(sizes)} bytes, more than the "
                f"{self.max_bytes} byte limit"
            )

    def _files_of(self, video_id: str) -> list[tuple[Path, str]]:
        """(path, the name after "<id>.") for every file of this id in media_dir."""
        if not video_id:
            return []
        stem = sanitize_filename(video_id, restricted=True)
        return [
            (path, path.name[len(stem) + 1 :])
            for path in sorted(self.media_dir.glob(f"{glob.escape(stem)}.*"))
            if path.is_file()
        ]

    def _existing_file(self, video_id: str) -> Path | None:
        for path, rest in self._files_of(video_id):
            if rest.lower() in FINAL_EXTENSIONS and path.stat().st_size > 0:
                return path
        return None

    def _remove_partials(self, video_id: str) -> None:
        for path, rest in self._files_of(video_id):
            if _INTERMEDIATE_REST.search(rest):
                path.unlink(missing_ok=True)

    def _downloaded_path(self, info: Mapping[str, Any], video_id: str) -> Path | None:
        for download in info.get("requested_downloads") or []:
            filepath = download.get("filepath")
            if filepath and Path(filepath).is_file():
                return Path(filepath)
        return self._existing_file(video_id)

    def _result(
        self, path: Path, info: Mapping[str, Any], *, already_present: bool = False
    ) -> DownloadResult:
        # The file is the truth: extractors often leave duration/size unknown.
        probed = probe_media(path)
        return DownloadResult(
            path=path,
            video_id=str(info.get("id") or path.stem),
            title=str(info.get("title") or ""),
            duration=probed.duration if probed.duration is not None else info.get("duration"),
            width=probed.width or info.get("width"),
            height=probed.height or info.get("height"),
            filesize=path.stat().st_size,
            extractor=str(info.get("extractor_key") or info.get("extractor") or ""),
            already_present=already_present,
        )


def _cause(exc: DownloadError) -> BaseException | None:
    exc_info = getattr(exc, "exc_info", None)
    return exc_info[1] if exc_info else None


def _youtube_id(url: str) -> str | None:
    """The id of a YouTube URL without any network access (None for other sites)."""
    youtube = get_info_extractor("Youtube")
    if not youtube.suitable(url):
        return None
    try:
        return youtube.get_temp_id(url)
    except Exception:  # an odd URL just means "we don't know the id yet"
        return None
