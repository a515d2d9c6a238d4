"""Uploads cut off at the size limit while they stream in, never read whole.

`UploadLimitHandler` is the first of FILE_UPLOAD_HANDLERS (settings). It passes each chunk on
to Django's memory/temporary-file handlers and only counts it: once a file passes
UPLOAD_MAX_BYTES (MVSIM_UPLOAD_MAX_MB) it stops the upload (`StopUpload(connection_reset=True)`:
Django closes, and so deletes, the partial temporary file and reads nothing more of the body).
When the request's Content-Length already says the body is larger than the limit plus room
for the form's other fields, the file is refused before its first byte is read.

The handler records why on the request; `refused(request)` gives it to the views, which
answer 413 with the same message the intake uses for a file that is too large.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# Room for the other fields of a form (url, search parameters, CSRF token) and the multipart
# boundaries: a body larger than the limit plus this cannot hold a file within the limit.
FORM_ALLOWANCE = 64 * 1024

REFUSED_ATTR = "mvsim_upload_refused"


@dataclass(frozen=True)
class UploadRefused:
    field: str  # the form field of the file ("file")
    file_name: str
    message: str
    status: int = 413


def human_size(n: float) -> str:
    """1536 -> "1.5 KB" (the intake's wording)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def too_large_message(file_name: str, size: str, limit: int) -> str:
    return f"“{file_name}” is too large ({size}); the limit is {human_size(limit)}."


def refused(request) -> UploadRefused | None:
    """Why the upload of this request was stopped (after its body was parsed), or None.
    Takes a Django HttpRequest or a DRF Request."""
    request = getattr(request, "_request", request)
    return getattr(request, REFUSED_ATTR, None)


class UploadLimitHandler(FileUploadHandler):
    """Counts every file's bytes and stops the upload once one passes the limit.

    Holds no data itself: each chunk (at most `chunk_size`, 64 KB) is handed on unchanged.
    `received` and `largest_chunk` are kept for the tests.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.UPLOAD_MAX_BYTES
        self.body_length: int | None = None
        self.received = 0
        self.largest_chunk = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.body_length = content_length
        return None  # Django's parser goes on

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0
        if self.body_length is not None and self.body_length > self.limit + FORM_ALLOWANCE:
            self._refuse(human_size(self.body_length))

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        self.largest_chunk = max(self.largest_chunk, len(raw_data))
        if self.received > self.limit:
            self._refuse(f"more than {human_size(self.limit)}")
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler returns the file

    def _refuse(self, size: str) -> None:
        name = (self.file_name or "upload")[:300]
        if self.request is not None:
            setattr(
                self.request,
                REFUSED_ATTR,
                UploadRefused(
                    field=self.field_name or "file",
                    file_name=name,
                    message=too_large_message(name, size, self.limit),
                ),
            )
        raise StopUpload(connection_reset=True)
