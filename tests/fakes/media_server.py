"""A local HTTP file server standing in for a media host (what yt-dlp downloads from).

Serves registered files and pages with Range support (yt-dlp and browsers use it), and has
failure modes: `mode="hang"` (accepts, never answers), `mode="404"` (everything is missing),
and `delay` (seconds before every answer). Requests are recorded for asserts.

    with MediaServer() as media:
        url = media.add_file("/clip.mp4", path_to_mp4)
"""

from __future__ import annotations

import mimetypes
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from . import BackgroundHTTPServer, QuietHandler, RecordedRequest

Mode = Literal["normal", "hang", "404"]


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str


class MediaServer(BackgroundHTTPServer):
    def __init__(self, *, mode: Mode = "normal", delay: float = 0.0) -> None:
        super().__init__()
        self.mode: Mode = mode
        self.delay = delay
        self._resources: dict[str, _Resource] = {}

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def add_file(self, path: str, source: Path | bytes, content_type: str | None = None) -> str:
        """Serve `source` (a file, read now, or bytes) at `path`; returns its full URL."""
        body = source if isinstance(source, bytes) else Path(source).read_bytes()
        content_type = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
        self._resources[path] = _Resource(body, content_type)
        return self.url(path)

    def add_page(self, path: str, html: str) -> str:
        return self.add_file(path, html.encode(), "text/html; charset=utf-8")

    def resource(self, path: str) -> _Resource | None:
        return self._resources.get(path)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(QuietHandler):
    server_owner: MediaServer

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(send_body=True)

    def do_CONNECT(self) -> None:  # noqa: N802
        # Used as a proxy in tests: record the attempt to go out, and refuse it.
        self.server_owner.record(RecordedRequest(self.command, self.path))
        self._plain(403, "No outside access from tests", send_body=True)
        self.close_connection = True

    def _plain(self, status: int, text: str, send_body: bool, extra: dict[str, str] | None = None):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _serve(self, send_body: bool) -> None:
        owner = self.server_owner
        parts = urlsplit(self.path)
        owner.record(
            RecordedRequest(
                self.command, parts.path, parse_qs(parts.query), dict(self.headers.items())
            )
        )
        if owner.mode == "hang":
            owner.stopping.wait(30)  # accept the connection, never answer
            self.close_connection = True
            return
        if owner.delay:
            time.sleep(owner.delay)
        resource = owner.resource(parts.path)
        if owner.mode == "404" or resource is None:
            self._plain(404, "Not Found", send_body)
            return
        body, start, end = resource.body, 0, len(resource.body) - 1
        status = 200
        range_header = self.headers.get("Range")
        if range_header:
            m = _RANGE.match(range_header.strip())
            if not m or (not m.group(1) and not m.group(2)):
                self._plain(416, "Bad range", send_body, {"Content-Range": f"bytes */{len(body)}"})
                return
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), len(body) - 1) if m.group(2) else len(body) - 1
            else:  # suffix range: the last N bytes
                start = max(len(body) - int(m.group(2)), 0)
            if start >= len(body) or start > end:
                self._plain(416, "Bad range", send_body, {"Content-Range": f"bytes */{len(body)}"})
                return
            status = 206
        chunk = body[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", resource.content_type)
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        self.end_headers()
        if send_body:
            try:
                self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. max_filesize): not our problem


MediaServer.handler_class = _Handler
