"""A loopback PV meter: a real HTTP server on 127.0.0.1 serving JSON, for the input, live and
end-to-end tests and the daemon's memory benchmark.

    with pv_meter() as meter:       # meter.url, path "site.pv_power" or "site.meters.0.power"
        meter.power = 3000.0
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
        # A client that gave up (a timeout under test) breaks the pipe: nothing to report.
        return None


class PvMeter:
    """Serves `{"site": {"meters": [{"power": W}], "pv_power": W}}` on GET /api/flow.

    `power` is what the next request reads; `mode` is "ok", "dead" (connection refused: the
    server answers nothing, it closes at once), "500", "garbage" (not JSON) or "slow" (no
    answer within `slow_seconds`).
    """

    def __init__(self) -> None:
        self.power = 0.0
        self.mode = "ok"
        self.slow_seconds = 3.0
        self.requests = 0
        meter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                meter.requests += 1
                if meter.mode == "dead":
                    self.close_connection = True
                    self.connection.close()
                    return
                if meter.mode == "slow":
                    threading.Event().wait(meter.slow_seconds)
                if meter.mode == "500":
                    self._send(500, b'{"error": "inverter asleep"}')
                elif meter.mode == "garbage":
                    self._send(200, b"<html>not json</html>")
                else:
                    body = {"site": {"pv_power": meter.power,
                                     "meters": [{"power": meter.power}]}}
                    self._send(200, json.dumps(body).encode())

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
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/flow"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> PvMeter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def pv_meter() -> Iterator[PvMeter]:
    """A started meter, stopped on leaving."""
    meter = PvMeter().start()
    try:
        yield meter
    finally:
        meter.stop()
