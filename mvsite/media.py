"""Media files for development and tests (MVSIM_SERVE_MEDIA): production serves MEDIA_ROOT from
the web server. Single byte ranges are supported (``django.views.static.serve`` has none), so
players can seek (``<video src=...#t=N>``)."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils._os import safe_join
from django.views.decorators.http import require_http_methods

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _file_chunks(handle, length: int, chunk: int = 64 * 1024):
    try:
        while length > 0:
            data = handle.read(min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()


@require_http_methods(["GET", "HEAD"])
def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """MEDIA files with single-range support, so players can seek (`<video src=...#t=N>`).

    For development and tests (MVSIM_SERVE_MEDIA); production serves media from the web
    server. Reads MEDIA_ROOT per request.
    """
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, path))
    except SuspiciousFileOperation:
        raise Http404("No such file.") from None
    if not full.is_file():
        raise Http404("No such file.")
    size = full.stat().st_size
    content_type = mimetypes.guess_type(full.name)[0] or "application/octet-stream"
    match = _RANGE.fullmatch((request.headers.get("Range") or "").strip())
    if match and (match[1] or match[2]):
        if match[1]:
            start = int(match[1])
            end = min(int(match[2]), size - 1) if match[2] else size - 1
        else:  # the last N bytes
            start, end = max(size - int(match[2]), 0), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle = open(full, "rb")  # noqa: SIM115 - closed by _file_chunks
        handle.seek(start)
        response = StreamingHttpResponse(
            _file_chunks(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(open(full, "rb"), content_type=content_type)  # noqa: SIM115
    response["Accept-Ranges"] = "bytes"
    return response
