"""The API and the dashboard as a service of `evse-rules run`: uvicorn in the daemon's loop.

The socket is bound in `start`, so that a port in use is one clear error at start (the
engine then runs without its face, see `Daemon.run`), not a traceback in a task. uvicorn
does not take over the signals: SIGTERM and SIGHUP stay the daemon's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator

import uvicorn

from evse_rules.api.app import create_app
from evse_rules.live.views import EngineFace

log = logging.getLogger("evse_rules.api")


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the signals to the daemon."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpService:
    """Serves `create_app(face, ...)` on `host:port` while the engine runs."""

    name = "http"

    def __init__(self, face: EngineFace, host: str, port: int, *, password: str | None,
                 allowed_origins: tuple[str, ...] = ()) -> None:
        self.host, self.port = host, port
        self._app = create_app(face, password=password, allowed_origins=allowed_origins)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def started(self) -> bool:
        """Whether the server takes requests."""
        return self._server is not None and self._server.started

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            why = ("the address is in use (another evse-rules run, or another program?)"
                   if error.errno == errno.EADDRINUSE else error.strerror or str(error))
            raise RuntimeError(f"cannot listen on {self.host}:{self.port} ([http] listen): "
                               f"{why}") from None
        # Accepted connections inherit it: without it a response's headers and body wait
        # for the client's delayed ACK (40 ms a request on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.listen(64)
        sock.setblocking(False)
        if self.port == 0:
            self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(self._app, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(200):       # up to 2 s for the server to take requests
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            problem = self._task.exception()
            raise RuntimeError(f"the API on {self.url} did not start: {problem}")
        log.info("dashboard and API on %s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            # Open event streams would hold the graceful shutdown: end them at once.
            self._server.force_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=3.0)
        if self._socket is not None:
            self._socket.close()
