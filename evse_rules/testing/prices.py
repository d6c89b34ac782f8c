"""A loopback price server: a real HTTP server on 127.0.0.1 serving a price list as JSON,
for the tariff input's tests (the shapes of docs/tariffs.md: aWATTar, Tibber, Octopus).

    with price_server({"data": [...]}) as server:     # server.url
        server.document = {...}                        # what the next request reads
        server.mode = "500"                            # or "garbage", "ok"
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


class PriceServer:
    """Serves `document` as JSON on GET /prices; `mode` "500" answers an error, "garbage"
    a body that is not JSON; past `fail_after` requests, every answer is an error (a feed
    that breaks while a daemon runs). `requests` counts the GETs."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.mode = "ok"
        self.fail_after: int | None = None
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                broken = server.fail_after is not None and server.requests > server.fail_after
                if server.mode == "500" or broken:
                    self._send(500, b'{"error": "market closed"}')
                elif server.mode == "garbage":
                    self._send(200, b"<html>maintenance</html>")
                else:
                    self._send(200, json.dumps(server.document).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/prices"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> PriceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def price_server(document: Any) -> Iterator[PriceServer]:
    """A started price server, stopped on leaving."""
    server = PriceServer(document).start()
    try:
        yield server
    finally:
        server.stop()
