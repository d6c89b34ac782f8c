"""A loopback PV meter: a real HTTP server on 127.0.0.1 serving JSON, for the input, live and
end-to-end tests and the daemon's memory benchmark.

    with pv_meter() as meter:       # meter.url, path "site.pv_power" or "site.meters.0.power"
        meter.power = 3000.0

`JsonServer` is the server behind it, for any JSON document (testing/prices.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout under test) breaks the pipe: nothing to report.
        return None


class JsonServer:
    """Serves `current()` as JSON on GET `path`, on 127.0.0.1 at a free port.

    `mode` is "ok", "dead" (connection refused: the server answers nothing, it closes at
    once), "500", "garbage" (not JSON) or "slow" (no answer within `slow_seconds`); past
    `fail_after` requests every answer is a 500 (a feed that breaks while a daemon runs).
    `requests` counts the GETs.
    """

    path = "/"
    error_body = b'{"error": "unavailable"}'

    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 3.0
        self.fail_after: int | None = None
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.mode == "dead":
                    self.close_connection = True
                    self.connection.close()
                    return
                if server.mode == "slow":
                    threading.Event().wait(server.slow_seconds)
                broken = server.fail_after is not None and server.requests > server.fail_after
                if server.mode == "500" or broken:
                    self._send(500, server.error_body)
                elif server.mode == "garbage":
                    self._send(200, b"<html>not json</html>")
                else:
                    self._send(200, json.dumps(server.current()).encode())

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
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def current(self) -> Any:
        """The document the next request reads."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class PvMeter(JsonServer):
    """Serves `{"site": {"meters": [{"power": W}], "pv_power": W}}` on GET /api/flow;
    `power` is what the next request reads."""

    path = "/api/flow"
    error_body = b'{"error": "inverter asleep"}'

    def __init__(self) -> None:
        self.power = 0.0
        super().__init__()

    def current(self) -> Any:
        return {"site": {"pv_power": self.power, "meters": [{"power": self.power}]}}


@contextmanager
def pv_meter() -> Iterator[PvMeter]:
    """A started meter, stopped on leaving."""
    meter = PvMeter().start()
    try:
        yield meter
    finally:
        meter.stop()
