"""A stand-in for YouTube's search and playlists: listings served as RSS feeds by a MediaServer.

yt-dlp's generic extractor lists an RSS feed as a playlist (title, link and
`itunes:duration` of each item), so the client's real flat-extraction code path reads it,
exactly as it reads a `ytsearchN:` search or a playlist URL in production. Live streams have
no duration in a listing; an item without `duration` stands for one.

    with MediaServer() as media:
        search = FakeYouTubeSearch(media)
        search.add("Blues official music video", [listed("Artist - Song (Official Video)")])
        client.search_resolver = search      # (query, limit) -> the feed's URL
        url = search.playlist("blues-hits", [...])   # a playlist URL for --playlists
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .media_server import MediaServer

_ids = itertools.count()


@dataclass(frozen=True)
class Listed:
    """One listed video: `link` is a YouTube watch URL (never fetched: flat extraction)."""

    title: str
    link: str
    duration: float | None = 200.0


def youtube_id(n: int) -> str:
    """A valid-looking, unique 11-character YouTube id."""
    return f"fake{n:07d}"[:11]


def listed(title: str, *, duration: float | None = 200.0, video_id: str | None = None) -> Listed:
    video_id = video_id or youtube_id(next(_ids))
    return Listed(title, f"https://www.youtube.com/watch?v={video_id}", duration)


def rss(entries: list[Listed], title: str = "results") -> str:
    items = []
    for entry in entries:
        duration = (
            f"<itunes:duration>{entry.duration:.0f}</itunes:duration>"
            if entry.duration is not None
            else ""
        )
        items.append(
            f"<item><title>{escape(entry.title)}</title><link>{escape(entry.link)}</link>"
            f"{duration}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>{escape(title)}</title>{''.join(items)}</channel></rss>"
    )


class FakeYouTubeSearch:
    """query -> listed videos; called as the client's `search_resolver(query, limit)`."""

    def __init__(self, media: MediaServer) -> None:
        self.media = media
        self.queries: list[tuple[str, int]] = []  # every search asked for, with its limit
        self._paths: dict[str, str] = {}

    def add(self, query: str, entries: list[Listed]) -> str:
        path = f"/search/{len(self._paths)}.rss"
        self._paths[query] = path
        return self.media.add_file(path, rss(entries, query).encode(), "application/rss+xml")

    def playlist(self, name: str, entries: list[Listed]) -> str:
        return self.media.add_file(
            f"/playlist/{name}.rss", rss(entries, name).encode(), "application/rss+xml"
        )

    def __call__(self, query: str, limit: int) -> str | None:
        self.queries.append((query, limit))
        path = self._paths.get(query)
        # An unknown query: an empty result page, as YouTube answers.
        return (
            self.media.url(path)
            if path
            else self.media.add_file("/search/empty.rss", rss([]).encode(), "application/rss+xml")
        )
