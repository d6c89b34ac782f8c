"""A loopback price server: a real HTTP server on 127.0.0.1 serving a price list as JSON,
for the tariff input's tests (the shapes of docs/tariffs.md: aWATTar, Tibber, Octopus).

    with price_server({"data": [...]}) as server:     # server.url
        server.document = {...}                        # what the next request reads
        server.mode = "500"                            # or "garbage", "ok"
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from evse_rules.testing.meter import JsonServer


class PriceServer(JsonServer):
    """Serves `document` as JSON on GET /prices (see JsonServer for `mode`, `fail_after`
    and `requests`)."""

    path = "/prices"
    error_body = b'{"error": "market closed"}'

    def __init__(self, document: Any) -> None:
        self.document = document
        super().__init__()

    def current(self) -> Any:
        return self.document


@contextmanager
def price_server(document: Any) -> Iterator[PriceServer]:
    """A started price server, stopped on leaving."""
    server = PriceServer(document).start()
    try:
        yield server
    finally:
        server.stop()
