"""A media host that misbehaves on purpose: ``mode="stall"`` sends a 200 with a Content-Length
and a first block, then nothing (the connection stays open); ``mode="endless"`` sends a body
without a length, a small block every 50 ms, for ever (until the client hangs up or the
server stops)."""

from __future__ import annotations

from typing import Literal

from . import BackgroundHTTPServer, QuietHandler, RecordedRequest

Mode = Literal["stall", "endless"]


class StallingServer(BackgroundHTTPServer):
    def __init__(self, mode: Mode = "stall") -> None:
        super().__init__()
        self.mode: Mode = mode

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


class _Handler(QuietHandler):
    server_owner: StallingServer

    def do_HEAD(self) -> None:  # noqa: N802
        self._headers()

    def do_GET(self) -> None:  # noqa: N802
        owner = self.server_owner
        owner.record(RecordedRequest(self.command, self.path))
        self._headers()
        try:
            if owner.mode == "stall":
                self.wfile.write(b"\0" * 4096)
                self.wfile.flush()
                owner.stopping.wait(60)
            else:
                while not owner.stopping.wait(0.05):
                    self.wfile.write(b"\0" * 1024)
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        if self.server_owner.mode == "stall":
            self.send_header("Content-Length", str(10 * 1024 * 1024))
        self.end_headers()


StallingServer.handler_class = _Handler
