"""Validate URLs that users paste into the search-by-URL form before anything fetches them.

Only YouTube video links pass, rewritten to `https://www.youtube.com/watch?v=<id>`, so the
downloader never sees the user's host, port, path or tricks. Everything else raises
`UnsafeUrl` with a message fit to show the user.

Tests of the whole flow need a local stand-in server: callers may pass `allowed_hosts`
containing an exact "host:port" (and `allow_direct_media=True` for plain media files). That
is deliberately a function argument, not a setting or environment variable: production code
that calls `parse_youtube_url(url)` cannot be opened up by configuration.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

YOUTUBE_HOSTS: frozenset[str] = frozenset(
    {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "youtu.be",
        "youtube-nocookie.com",
        "www.youtube-nocookie.com",
    }
)
MAX_URL_LENGTH = 2048
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
CANONICAL = "https://www.youtube.com/watch?v={}"
# Path forms that carry the id in the path: /shorts/ID, /embed/ID, /live/ID, /v/ID.
_PATH_ID_FORMS = ("shorts", "embed", "live", "v")
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+))*\.?", re.IGNORECASE)


class UnsafeUrl(ValueError):
    """The URL is not an acceptable YouTube video link; str() is a user-facing reason."""


@dataclass(frozen=True)
class YouTubeUrl:
    url: str  # canonical: what may be fetched
    video_id: str | None  # None only for direct media on an explicitly allowed stand-in host

    @property
    def is_youtube(self) -> bool:
        return self.url.startswith("https://www.youtube.com/")


def parse_youtube_url(
    url: str,
    *,
    allowed_hosts: Collection[str] = YOUTUBE_HOSTS,
    allow_direct_media: bool = False,
) -> YouTubeUrl:
    """Return the canonical URL and video id of a YouTube link, or raise UnsafeUrl.

    `allowed_hosts` entries are host names ("youtube.com") or exact "host:port" pairs. A
    non-YouTube entry (a test stand-in) keeps its URL as given; with `allow_direct_media`
    a URL on it needs no video id.
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("Please paste a YouTube link.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"That link is too long (over {MAX_URL_LENGTH} characters).")
    if re.search(r"[\x00-\x20\x7f\\]", url):
        # Whitespace, control characters and backslashes are parsed differently by different
        # URL parsers: a classic way to smuggle another host past a check.
        raise UnsafeUrl("That link contains spaces, control characters or backslashes.")
    if not url.isascii():
        raise UnsafeUrl("That link contains non-ASCII characters; paste the link as copied.")

    try:
        parts = urlsplit(url)
        if not parts.scheme and not url.startswith("/"):
            # "youtube.com/watch?v=..." as people paste it: the host checks below still apply.
            parts = urlsplit("https://" + url)
    except ValueError as exc:  # e.g. an unbalanced "[" or "]" ("Invalid IPv6 URL")
        raise UnsafeUrl("That is not a valid link.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme:
            raise UnsafeUrl("Paste the full link, starting with https://.")
        raise UnsafeUrl(f"Only http(s) YouTube links are accepted, not {scheme}: links.")
    if "@" in parts.netloc:
        raise UnsafeUrl(
            "Links with a user name or password (an '@' before the host) are not accepted."
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("That link has no host name.")
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("That link has an invalid port.") from exc

    allowed = {entry.lower() for entry in allowed_hosts}
    host_key = host.rstrip(".")
    netloc_key = (
        f"[{host_key}]:{port}"
        if ":" in host_key and port
        else (f"{host_key}:{port}" if port else host_key)
    )
    exactly_allowed = netloc_key in allowed or (port is None and host_key in allowed)

    if not exactly_allowed:
        _reject_addresses(host_key)
    if host_key in YOUTUBE_HOSTS and host_key in allowed:
        if port not in (None, 80, 443):
            raise UnsafeUrl("YouTube links don't use a custom port.")
        video_id = _youtube_video_id(host_key, parts.path, parts.query)
        if video_id is None:
            raise UnsafeUrl(
                "No video id found in that link. Paste a video link such as "
                "https://www.youtube.com/watch?v=..., https://youtu.be/..., or .../shorts/..."
            )
        return YouTubeUrl(CANONICAL.format(video_id), video_id)
    if exactly_allowed and host_key not in YOUTUBE_HOSTS:
        # An explicitly allowed stand-in (tests): keep its URL, minus any fragment.
        try:
            video_id = _youtube_video_id("www.youtube.com", parts.path, parts.query)
        except UnsafeUrl:
            if not allow_direct_media:
                raise
            video_id = None
        if video_id is None and not allow_direct_media:
            raise UnsafeUrl("No video id found in that link.")
        return YouTubeUrl(parts._replace(fragment="").geturl(), video_id)
    raise UnsafeUrl(f"Only YouTube links are accepted (this one points to {host_key}).")


def _reject_addresses(host: str) -> None:
    """Refuse IP literals in any spelling, and local names; YouTube is reached by name."""
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if _NUMERIC_HOST.fullmatch(host):
            # 2130706433, 0x7f.1, 0177.0.0.1: forms inet_aton (and so curl, browsers) accept.
            try:
                address = ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
            except OSError:
                raise UnsafeUrl("That link's host looks like a malformed IP address.") from None
    if address is not None:
        kind = _address_kind(address)
        raise UnsafeUrl(
            f"Links to IP addresses are not accepted ({address}{kind}); use a YouTube link."
        )
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise UnsafeUrl(f"Links to local machines are not accepted ({host}).")


def _address_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    mapped = getattr(address, "ipv4_mapped", None)
    target = mapped or address
    # Most specific first: link-local and unspecified addresses also count as "private".
    for attr, label in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(target, attr):
            article = "an" if label[0] in "aeiou" else "a"
            return f", {article} {label} address"
    return ""


def _youtube_video_id(host: str, path: str, query: str) -> str | None:
    segments = [s for s in path.split("/") if s]
    candidate: str | None = None
    if host == "youtu.be":
        candidate = segments[0] if len(segments) == 1 else None
    elif host.endswith("youtube-nocookie.com"):
        candidate = segments[1] if len(segments) == 2 and segments[0] == "embed" else None
    elif segments == ["watch"]:
        values = parse_qs(query).get("v") or [None]
        candidate = values[0]
    elif len(segments) == 2 and segments[0] in _PATH_ID_FORMS:
        candidate = segments[1]
    if candidate is None:
        return None
    if not VIDEO_ID.fullmatch(candidate):
        raise UnsafeUrl(
            "That link's video id is not valid (YouTube ids are 11 characters: "
            "letters, digits, '-' and '_')."
        )
    return candidate
