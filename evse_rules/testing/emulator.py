"""A loopback emulator of the OpenEVSE WiFi firmware's HTTP API, for tests and demos.

A real HTTP server on 127.0.0.1 (a free port) in a background thread, answering like the
firmware version you name, from real captures::

    from evse_rules.testing.emulator import OpenEvseEmulator

    with OpenEvseEmulator(version="v5.1.2", user="admin", password="secret") as emu:
        emu.url                          # "http://127.0.0.1:PORT"
        ...drive it with a charger driver...
        emu.requests                     # [RecordedRequest(method, path, query, body), ...]
        emu.vehicle = False              # unplug the car (auto-release claims go)
        emu.state = 6                    # force an EVSE state code (6 = GFCI fault); None = model
        emu.set_fault("timeout")         # never answer (until clear_fault or the server stops)
        emu.set_fault("500", path="/claims", times=1)
        emu.clear_fault()

`async with` works too. Versions: "4.0.1", "4.1.2", "4.1.6", "v5.1.2", "master_abc123" (a dev
build: everything newest), or any other. Endpoints: GET /config, GET/POST /status, GET /claims,
GET/POST/DELETE /claims/{id} (4.1.0+), GET/POST/PATCH/DELETE /override (4.0.1+), GET/POST /r
(RAPI; v5+ blocks all but $G... with HTTP 400 unless `full_rapi`). The model behind it (claims,
controller, energy) is `emu.model`; see evse_rules/testing/model.py.

Faults, one way for each thing a real charger (or its network) can do wrong::

    emu.set_fault("delay", seconds=2)    # answer late
    emu.set_fault("timeout")             # never answer (until clear_fault or the server stops)
    emu.set_fault("500")                 # HTTP 500 {"msg": "Internal error"}
    emu.set_fault("401")                 # refuse the credentials (or: a wrong `password=`)
    emu.set_fault("invalid_json")        # the reply cut in half
    emu.set_fault("drop")                # close the connection without an answer
    emu.set_fault("deep_json", depth=100_000)   # [[[[...]]]] nested `depth` deep
    emu.set_fault("huge_body", size=8 << 20)    # a valid JSON object of `size` bytes
    # each for every request, or only those whose path starts with `path`, for `times`
    # requests or until cleared:
    emu.set_fault("500", path="/claims", times=1)
    emu.clear_fault()

    emu.set_field("/config", "min_current_hard", 20)   # a field of GET /config or /status
    emu.set_field("/status", "state", 999)             # an unknown state code (or emu.state)
    emu.set_raw_field("/status", "amp", "NaN")         # a raw JSON token: NaN, Infinity,
    emu.set_raw_field("/config", "max_current_hard", "1e400")   # -Infinity, 1e400, ...
    emu.clear_fields()
    emu.set_claim(client_id, {"state": "active", "charge_current": 32})  # left by another
    emu.stop(); emu.start()              # a closed port, then the same port open again
    OpenEvseEmulator(default_state=False)   # asleep (254) until a claim says active

`set_field` on the controller's limits of /config (`min_current_hard`, `max_current_hard`,
`max_current_soft`) with a whole number also changes the emulated controller (the pilot it
keeps); any other value (a text, NaN) only changes what /config says. Either way /status's
`config_version` moves on, as the firmware's does when its config changes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from evse_rules.testing.model import (
    API_PRIORITY,
    MANUAL_CLIENT,
    MANUAL_PRIORITY,
    MAX_CLAIMS,
    EvseModel,
)

FaultKind = Literal["delay", "timeout", "500", "401", "invalid_json", "drop", "deep_json",
                    "huge_body"]
FAULT_KINDS: tuple[str, ...] = ("delay", "timeout", "500", "401", "invalid_json", "drop",
                                "deep_json", "huge_body")
# The documents whose fields `set_field` and `set_raw_field` change.
FIELD_PATHS = ("/config", "/status")
# The controller's limits in /config: a whole number there changes the emulated controller.
LIMIT_FIELDS = ("min_current_hard", "max_current_hard", "max_current_soft")
REALM = "openevse-7b2c"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator received it. `body` is the parsed JSON (or form) body."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    raw_body: bytes
    content_type: str | None
    authorization: str | None

    @property
    def rapi(self) -> str | None:
        """The RAPI command of a /r request (query or form), else None."""
        if self.path not in ("/r", "/rapi"):
            return None
        if "rapi" in self.query:
            return self.query["rapi"]
        return self.body.get("rapi") if isinstance(self.body, dict) else None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request and the answer it got (`status` 0: none, the connection was dropped/held)."""

    request: RecordedRequest
    status: int
    content_type: str
    body: bytes
    fault: str | None


@dataclass
class _Fault:
    kind: str
    seconds: float
    path: str | None
    times: int | None
    depth: int = 100_000
    size: int = 8 << 20


class OpenEvseEmulator:
    """An emulated OpenEVSE WiFi module on 127.0.0.1. See the module docstring."""

    def __init__(
        self,
        version: str = "v5.1.2",
        *,
        user: str | None = None,
        password: str | None = None,
        vehicle: bool = True,
        ev_wants_charge: bool = True,
        state: int | None = None,
        min_current_hard: int = 6,
        max_current_hard: int = 32,
        max_current_soft: int | None = None,
        voltage: float = 240.0,
        pause_uses_disabled: bool = False,
        three_phase: bool = False,
        voltmeter: bool = False,
        full_rapi: bool = False,
        temp: float | None = 44.0,
        default_state: bool = True,
    ) -> None:
        """`default_state` is /config's: False, the charger sleeps until a claim asks it to
        charge (as one whose schedule or divert holds it off)."""
        self.model = EvseModel(
            version, vehicle=vehicle, ev_wants_charge=ev_wants_charge,
            min_current_hard=min_current_hard, max_current_hard=max_current_hard,
            max_current_soft=max_current_soft, voltage=voltage,
            pause_uses_disabled=pause_uses_disabled, three_phase=three_phase,
            voltmeter=voltmeter, full_rapi=full_rapi, temp=temp,
        )
        self.model.forced_state = state
        if not default_state:
            self.model.default_state_active = False
            self.model.evaluate_claims()
        self.user = user
        self._password = password
        self._exchanges: list[Exchange] = []
        self._fault: _Fault | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._last_port = 0     # a restart binds the same port: the charger's URL stays
        self._fields: dict[str, dict[str, Any]] = {p: {} for p in FIELD_PATHS}
        self._raw_fields: dict[str, dict[str, str]] = {p: {} for p in FIELD_PATHS}

    def __repr__(self) -> str:
        where = self.url if self._server else "stopped"
        return f"OpenEvseEmulator(version={self.model.version.raw!r}, {where})"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> OpenEvseEmulator:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self._last_port), _Handler)
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        self._last_port = self.port
        self._stopping.clear()
        self._thread = threading.Thread(
            # A short poll interval: stop() returns in milliseconds, not half a second.
            target=server.serve_forever, args=(0.02,), name=f"openevse-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes requests held by a "timeout" or "delay" fault
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> OpenEvseEmulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> OpenEvseEmulator:
        return self.start()

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running: use `with OpenEvseEmulator() as emu`")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ what tests look at

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [exchange.request for exchange in self._exchanges]

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def clear_requests(self) -> None:
        with self._lock:
            self._exchanges.clear()

    def set_fault(self, kind: FaultKind, *, seconds: float = 0.0, path: str | None = None,
                  times: int | None = None, depth: int = 100_000, size: int = 8 << 20) -> None:
        """Answer requests (under `path`, `times` of them or until cleared) with a fault.
        `depth` is the nesting of "deep_json", `size` the bytes of "huge_body"."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        if depth < 1 or size < 2:
            raise ValueError(f"a fault needs depth >= 1 and size >= 2, not {depth} and {size}")
        with self._lock:
            self._fault = _Fault(kind, seconds, path, times, depth, size)

    def clear_fault(self) -> None:
        with self._lock:
            self._fault = None

    def set_field(self, path: str, key: str, value: Any) -> None:
        """GET `path` ("/config" or "/status") answers `key` with `value` (any JSON value;
        a float NaN or inf is written as Python's json writes it: NaN, Infinity)."""
        fields = self._fields_of(path)
        with self.model.lock:
            with self._lock:
                self._raw_fields[path].pop(key, None)
                fields[key] = value
            if path == "/config":
                if (key in LIMIT_FIELDS and isinstance(value, int)
                        and not isinstance(value, bool)):
                    setattr(self.model, key, value)
                    self.model.evaluate_claims()
                self.model.config_version += 1

    def set_raw_field(self, path: str, key: str, raw: str) -> None:
        """GET `path` answers `key` with `raw`, written as is into the JSON text: "NaN",
        "Infinity", "1e400", or anything else, valid JSON or not."""
        raws = self._raw_fields_of(path)
        with self.model.lock:
            with self._lock:
                self._fields[path].pop(key, None)
                raws[key] = raw
            if path == "/config":
                self.model.config_version += 1

    def clear_fields(self) -> None:
        """/config and /status say what the model says again."""
        with self.model.lock:
            with self._lock:
                changed_config = bool(self._fields["/config"] or self._raw_fields["/config"])
                for path in FIELD_PATHS:
                    self._fields[path].clear()
                    self._raw_fields[path].clear()
            if changed_config:
                self.model.config_version += 1

    def _fields_of(self, path: str) -> dict[str, Any]:
        if path not in FIELD_PATHS:
            raise ValueError(f"no fields to set on {path!r}: expected one of "
                             f"{', '.join(FIELD_PATHS)}")
        return self._fields[path]

    def _raw_fields_of(self, path: str) -> dict[str, str]:
        self._fields_of(path)
        return self._raw_fields[path]

    def set_claim(self, client: int, props: dict[str, Any], *,
                  priority: int = API_PRIORITY) -> None:
        """A claim someone else made (or an earlier run left): `props` as a claim's body,
        e.g. {"state": "active", "charge_current": 32}."""
        with self.model.lock:
            parsed = self.model.claim_props(props, auto_release_default=False)
            if parsed is None:
                raise ValueError(f"not a claim body the firmware takes: {props!r}")
            if not self.model.claim(client, priority, parsed):
                raise ValueError(f"no room for another claim (at most {MAX_CLAIMS})")

    @property
    def vehicle(self) -> bool:
        return self.model.vehicle

    @vehicle.setter
    def vehicle(self, connected: bool) -> None:
        with self.model.lock:
            self.model.set_vehicle(connected)

    @property
    def state(self) -> int:
        """The EVSE state code the charger reports now."""
        with self.model.lock:
            return self.model.evse_state()

    @state.setter
    def state(self, code: int | None) -> None:
        with self.model.lock:
            self.model.forced_state = code

    @property
    def voltage(self) -> float:
        return self.model.voltage

    @property
    def pilot(self) -> int:
        return self.model.capacity

    @property
    def claims(self) -> dict[int, dict[str, Any]]:
        """Every claim by client id: its properties (the override is client 65537)."""
        with self.model.lock:
            return {c.client: dict(c.props) for c in self.model.claims.values()}

    @property
    def eeprom_writes(self) -> list[str]:
        """RAPI $SC commands that would have written the controller's EEPROM."""
        with self.model.lock:
            return list(self.model.eeprom_writes)

    # ------------------------------------------------------------ serving

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or (fault.path is not None and not path.startswith(fault.path)):
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._fault = None
            return fault

    def _authorized(self, header: str | None) -> bool:
        if not self.user:
            return True  # no www_username: no authentication (API-NOTES 7)
        token = base64.b64encode(f"{self.user}:{self._password or ''}".encode()).decode()
        return header == f"Basic {token}"

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def handle(self, handler: _Handler) -> None:
        """Answer one request (called from the server's threads)."""
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = RecordedRequest(
            method=handler.command, path=path, query=query, body=_parse_body(handler, raw),
            raw_body=raw, content_type=handler.headers.get("Content-Type"),
            authorization=handler.headers.get("Authorization"),
        )
        fault = self._take_fault(path)
        if fault is not None and fault.kind in ("timeout", "drop"):
            self._record(Exchange(request, 0, "", b"", fault.kind))
            if fault.kind == "timeout":
                self._stopping.wait(fault.seconds or None)
            handler.close_connection = True
            return
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if not self._authorized(request.authorization) or (fault and fault.kind == "401"):
            self._send(handler, request, 401, b"", "text/plain", fault,
                       {"WWW-Authenticate": f'Basic realm="{REALM}"'})
            return
        if fault is not None and fault.kind == "500":
            self._send(handler, request, 500, b'{"msg":"Internal error"}', "application/json",
                       fault)
            return
        if fault is not None and fault.kind in ("deep_json", "huge_body"):
            self._send(handler, request, 200, _fault_body(fault), "application/json", fault)
            return
        with self.model.lock:
            status, body = self._route(request)
        if body is None:
            self._send(handler, request, status, b"Not found", "text/plain", fault)
            return
        data = self._serialize(request, status, body)
        if fault is not None and fault.kind == "invalid_json":
            data = data[: max(1, len(data) // 2)]
        self._send(handler, request, status, data, "application/json", fault)

    def _serialize(self, request: RecordedRequest, status: int, body: Any) -> bytes:
        """The reply's JSON text, with the fields tests set on GET /config and /status."""
        if request.method != "GET" or status != 200 or request.path not in FIELD_PATHS \
                or not isinstance(body, dict):
            return json.dumps(body).encode()
        with self._lock:
            fields = dict(self._fields[request.path])
            raws = dict(self._raw_fields[request.path])
        body = {k: v for k, v in {**body, **fields}.items() if k not in raws}
        text = json.dumps(body)  # allow_nan: NaN and Infinity, as the tests asked
        if raws:
            extra = ", ".join(f"{json.dumps(k)}: {raw}" for k, raw in raws.items())
            text = text[:-1] + (", " if body else "") + extra + "}"
        return text.encode()

    def _send(self, handler: _Handler, request: RecordedRequest, status: int, data: bytes,
              content_type: str, fault: _Fault | None,
              headers: dict[str, str] | None = None) -> None:
        self._record(Exchange(request, status, content_type, data, fault.kind if fault else None))
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Cache-Control", "no-cache, private, no-store, must-revalidate")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, request: RecordedRequest) -> tuple[int, Any]:
        """(status, JSON body) like the firmware; body None = the firmware's plain 404."""
        model = self.model
        method, path, body = request.method, request.path, request.body
        if path == "/config" and method == "GET":
            return 200, model.config_doc(self.user, self._password)
        if path == "/status" and method == "GET":
            return 200, model.status_doc()
        if path == "/status" and method == "POST":
            if not model.has_status_post():
                return 405, {"msg": "Method not allowed"}
            if not isinstance(body, dict):
                return 400, {"msg": "Could not parse JSON"}
            return model.post_status(body)
        if path in ("/r", "/rapi") and request.rapi is not None:
            return model.rapi(request.rapi)
        if path == "/override" and model.has_override_api():
            return self._override(method, body)
        if path.startswith("/claims") and model.has_claims_api():
            return self._claims(method, path, body)
        return 404, None

    def _override(self, method: str, body: Any) -> tuple[int, Any]:
        model = self.model
        if method == "GET":
            return model.get_override()
        if method == "POST":
            props = model.claim_props(body, auto_release_default=True)
            if props is None:  # bad JSON: 400 on v5, 500 on 4.x (API-NOTES 4)
                return (400 if model.version.at_least((5, 0, 0)) else 500), {
                    "msg": "Failed to parse JSON"}
            if not model.claim(MANUAL_CLIENT, MANUAL_PRIORITY, props):
                return 500, {"msg": "Failed to claim manual overide"}
            return 201, {"msg": "Created"}
        if method == "PATCH":
            return model.toggle_override()
        if method == "DELETE":
            if model.release(MANUAL_CLIENT):
                return 200, {"msg": "Deleted"}
            return 500, {"msg": "Failed to release manual overide"}
        return 405, {"msg": "Method not allowed"}

    def _claims(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        model = self.model
        if path == "/claims" and method == "GET":
            return 200, [{"client": c.client, "priority": c.priority, **c.props}
                         for c in model.claims.values()]
        tail = path.removeprefix("/claims/")
        if not tail.isdigit():
            return 404, None
        client = int(tail)
        if method == "GET":
            claim = model.claims.get(client)
            if claim is None:
                return 404, {"msg": "Not found"}
            return 200, {"priority": claim.priority, **claim.props}
        if method == "POST":
            props = model.claim_props(body, auto_release_default=False)
            if props is None:
                return 400, {"msg": "Could not parse JSON"}
            if not model.claim(client, API_PRIORITY, props):
                return 400, {"msg": "Could not make claim"}
            return 200, {"msg": "done"}
        if method == "DELETE":
            if model.release(client):
                return 200, {"msg": "done"}
            return 404, {"msg": "Not found"}
        return 405, {"msg": "Method not allowed"}


def _fault_body(fault: _Fault) -> bytes:
    """The body of a "deep_json" or "huge_body" fault."""
    if fault.kind == "deep_json":
        return b"[" * fault.depth + b"]" * fault.depth
    # A JSON object, valid and whole, of exactly `size` bytes: {"pad":"xxx..."}.
    head, tail = b'{"pad":"', b'"}'
    filler = max(0, fault.size - len(head) - len(tail))
    return (head + b"x" * filler + tail) if fault.size >= len(head) + len(tail) else b"{}"


def _parse_body(handler: BaseHTTPRequestHandler, raw: bytes) -> Any:
    if not raw:
        return None
    if "form-urlencoded" in (handler.headers.get("Content-Type") or ""):
        return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self.connections_lock:
            self.connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut the kept-alive connections too: a stopped charger answers nothing at all."""
        with self.connections_lock:
            connections = list(self.connections)
            self.connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout test) closed the socket: not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the firmware's server
    timeout = 10  # an idle keep-alive connection does not hold a thread forever
    server_version = "OpenEVSE-emulator"
    # One send per answer (flushed after each request) and no Nagle delay: an answer costs
    # well under a millisecond instead of a delayed-ACK round.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        emulator: OpenEvseEmulator = self.server.emulator  # type: ignore[attr-defined]
        emulator.handle(self)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `emu.requests` instead."""

