"""The REST API against an in-memory face: every path, its errors, the password, the
cross-origin guard and the OpenAPI document."""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from evse_rules.api import create_app
from evse_rules.api.demo import DemoFace
from evse_rules.live.views import CommandOutcome, CommandRefused, HandCommand

API = "http://localhost/api/v1"
PASSWORD = "s3cret-dashboard-pw"


@dataclass
class ScriptedFace(DemoFace):
    """A DemoFace whose next command may be answered by a scripted outcome or refusal."""

    answer: CommandOutcome | CommandRefused | None = None

    async def command(self, command: HandCommand) -> CommandOutcome:
        if self.answer is None:
            return await super().command(command)
        self.commands.append(command)
        if isinstance(self.answer, CommandRefused):
            raise self.answer
        return self.answer


def client(face: DemoFace, **options: Any) -> httpx.AsyncClient:
    app = create_app(face, password=options.pop("password", None), **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


@pytest.fixture
def face() -> ScriptedFace:
    return ScriptedFace()


@pytest.fixture
async def api(face: ScriptedFace) -> AsyncIterator[httpx.AsyncClient]:
    async with client(face) as c:
        yield c


# --- reading -------------------------------------------------------------------------------

async def test_state_is_the_engine_view(api: httpx.AsyncClient) -> None:
    body = (await api.get(f"{API}/state")).json()
    (garage,) = body["chargers"]
    assert garage["name"] == "garage" and garage["state_text"] == "Sleeping (not charging)"
    assert garage["countdown"] == {"action": "start", "seconds": 40.0,
                                   "text": "starting in 40 s if the surplus holds"}
    assert body["now"] == "2026-06-21T13:20:00Z"
    assert [v["name"] for v in body["variables"]] == ["target", "boost", "note"]


async def test_one_charger_and_an_unknown_one(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{API}/chargers/garage")).json()["max_amps"] == 32
    response = await api.get(f"{API}/chargers/x")
    assert response.status_code == 404
    assert response.json() == {"detail": "no charger named 'x' (chargers: garage)"}


async def test_journal_newest_first_with_limit_and_charger(api: httpx.AsyncClient) -> None:
    entries = (await api.get(f"{API}/journal", params={"limit": 2})).json()["entries"]
    assert [e["text"] for e in entries] == ["vehicle full: sleeping", "amps 16 A"]
    assert entries[1]["source"] == "dashboard"
    ok = await api.get(f"{API}/journal", params={"charger": "garage"})
    assert len(ok.json()["entries"]) == 4
    unknown = await api.get(f"{API}/journal", params={"charger": "shed"})
    assert unknown.status_code == 404 and "no charger named 'shed'" in unknown.json()["detail"]
    bad = await api.get(f"{API}/journal", params={"limit": "many"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("limit: ")


async def test_series_and_why(api: httpx.AsyncClient) -> None:
    series = (await api.get(f"{API}/series", params={"hours": 2})).json()["series"]
    assert [s["name"] for s in series] == ["pv", "house", "garage.power", "garage.amps"]
    assert len(series[0]["points"]) == 25 and series[0]["unit"] == "W"
    assert (await api.get(f"{API}/series", params={"hours": 0})).status_code == 422
    text = (await api.get(f"{API}/why/garage")).json()["text"]
    assert text.startswith("garage: pv 4.1 kW > 1.4 kW")
    assert (await api.get(f"{API}/why/shed")).status_code == 404


# --- commands ------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["start", "stop", "release"])
@pytest.mark.parametrize("body", [None, {}])
async def test_start_stop_release_take_no_body_or_an_empty_one(
        api: httpx.AsyncClient, face: ScriptedFace, action: str, body: Any) -> None:
    response = await api.post(f"{API}/chargers/garage/{action}", json=body)
    assert response.status_code == 200 and response.json()["ok"] is True
    assert face.commands == [HandCommand(action, "garage", None, "api")]  # type: ignore[arg-type]


@pytest.mark.parametrize(("header", "source"), [
    ({"X-Evse-Source": "dashboard"}, "dashboard"), ({"X-Evse-Source": "cli"}, "cli"),
    ({"X-Evse-Source": "mqtt"}, "api"), ({}, "api")])
async def test_the_source_of_a_command(api: httpx.AsyncClient, face: ScriptedFace,
                                       header: dict[str, str], source: str) -> None:
    await api.post(f"{API}/chargers/garage/stop", headers=header)
    assert face.commands[-1].source == source


@pytest.mark.parametrize(("amps", "sent"), [(10, 10.0), (10.5, 10.5), ("10 A", 10.0),
                                            ("16A", 16.0), (" 8 ", 8.0)])
async def test_amps_as_a_number_or_a_text(api: httpx.AsyncClient, face: ScriptedFace,
                                          amps: Any, sent: float) -> None:
    response = await api.post(f"{API}/chargers/garage/amps", json={"amps": amps})
    assert response.status_code == 200, response.text
    assert face.commands == [HandCommand("amps", "garage", sent, "api")]
    assert response.json() == {"ok": True, "message": f"current {sent:g} A sent",
                               "sent": [f"set_current {sent:g} A"]}


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"amps": "abc"}, 422, 'amps: expected a number of amperes like 10 or "10 A", got "abc"'),
    ({"amps": "10 kW"}, 422,
     'amps: expected a number of amperes like 10 or "10 A", got "10 kW"'),
    ({"amps": True}, 422, 'amps: expected a number of amperes like 10 or "10 A", got true'),
    ({"amps": -3}, 422, 'amps: expected a number of amperes like 10 or "10 A", got -3'),
    ({}, 422, "amps: missing"),
    ({"amps": 10, "volts": 3}, 422, "volts: not expected here"),
    ([10], 400, 'body: expected a JSON object such as {"amps": 10}'),
])
async def test_amps_errors_in_words(api: httpx.AsyncClient, face: ScriptedFace, body: Any,
                                    status: int, detail: str) -> None:
    response = await api.post(f"{API}/chargers/garage/amps", json=body)
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    assert face.commands == []


async def test_a_body_that_is_not_json(api: httpx.AsyncClient, face: ScriptedFace) -> None:
    response = await api.post(f"{API}/chargers/garage/amps", content=b"{amps: 10",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body: not valid JSON (")
    assert face.commands == []


async def test_mode(api: httpx.AsyncClient, face: ScriptedFace) -> None:
    assert (await api.post(f"{API}/chargers/garage/mode", json={"mode": "manual"})).json()["ok"]
    await api.post(f"{API}/chargers/garage/mode", json={"mode": "Auto"})
    assert [c.value for c in face.commands] == ["manual", "auto"]
    bad = await api.post(f"{API}/chargers/garage/mode", json={"mode": "eco"})
    assert (bad.status_code, bad.json()) == (
        422, {"detail": 'mode: expected "auto" or "manual", got "eco"'})


async def test_commands_on_an_unknown_charger_are_404(api: httpx.AsyncClient,
                                                      face: ScriptedFace) -> None:
    for path, body in [("start", None), ("amps", {"amps": 10}), ("mode", {"mode": "auto"})]:
        response = await api.post(f"{API}/chargers/shed/{path}", json=body)
        assert response.status_code == 404
        assert response.json() == {"detail": "no charger named 'shed' (chargers: garage)"}
    assert face.commands == []


@pytest.mark.parametrize(("value", "sent"), [(20, 20.0), ("20 kWh", "20 kWh"), (True, True),
                                             ("solar only", "solar only")])
async def test_variables(api: httpx.AsyncClient, face: ScriptedFace, value: Any,
                         sent: Any) -> None:
    name = {bool: "boost", float: "target"}.get(type(sent), "note")
    if sent == "20 kWh":
        name = "target"
    response = await api.post(f"{API}/variables/{name}", json={"value": value},
                              headers={"X-Evse-Source": "dashboard"})
    assert response.status_code == 200, response.text
    assert face.commands == [HandCommand("set", name, sent, "dashboard")]
    assert type(face.commands[0].value) is type(sent)


async def test_variable_errors(api: httpx.AsyncClient, face: ScriptedFace) -> None:
    null = await api.post(f"{API}/variables/boost", json={"value": None})
    assert null.status_code == 422
    assert null.json()["detail"] == (
        'value: expected a number, a text such as "20 kWh", or true/false, got null')
    # The face refuses what it cannot take: its status and words come through.
    wrong = await api.post(f"{API}/variables/boost", json={"value": 3})
    assert (wrong.status_code, wrong.json()) == (
        400, {"detail": "boost is a boolean: true or false, got 3.0"})
    unknown = await api.post(f"{API}/variables/nope", json={"value": 3})
    assert unknown.status_code == 404 and "no variable named 'nope'" in unknown.json()["detail"]


async def test_the_outcome_status_and_a_refusal(api: httpx.AsyncClient,
                                                face: ScriptedFace) -> None:
    face.answer = CommandOutcome(False, "refused: 40 A is above max_amps 32 A", 409)
    response = await api.post(f"{API}/chargers/garage/amps", json={"amps": 40})
    assert (response.status_code, response.json()) == (
        409, {"ok": False, "message": "refused: 40 A is above max_amps 32 A", "sent": []})
    face.answer = CommandRefused("garage is offline: no command can be sent", 503)
    response = await api.post(f"{API}/chargers/garage/start")
    assert (response.status_code, response.json()) == (
        503, {"detail": "garage is offline: no command can be sent"})


async def test_unknown_paths_and_methods_answer_json(api: httpx.AsyncClient) -> None:
    for path in ("/api/v1/nope", "/api/v2/state", "/api/v1/docs", "/api/v1/chargers/garage/x"):
        response = await api.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": f"no such path: {path}"}
    wrong = await api.get(f"{API}/chargers/garage/start")
    assert wrong.status_code == 405
    assert wrong.json() == {"detail": "GET is not allowed on /api/v1/chargers/garage/start"}


# --- the page ------------------------------------------------------------------------------

async def test_the_page_and_its_files_are_served(api: httpx.AsyncClient) -> None:
    page = await api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-testid="tiles"' in page.text
    for name in ("app.js", "app.css", "chart.js", "favicon.svg"):
        assert (await api.get(f"/{name}")).status_code == 200, name


def test_the_page_uses_relative_urls_and_no_cdn() -> None:
    static = Path(__file__).resolve().parent.parent / "evse_rules" / "api" / "static"
    for path in static.iterdir():
        text = path.read_text()
        assert "//cdn" not in text and "https://" not in text, path.name
        assert '"/api' not in text and "'/api" not in text and "`/api" not in text, path.name


# --- the password --------------------------------------------------------------------------

def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("path", ["/", "/app.js", "/api/v1/state", "/api/v1/openapi.json",
                                  "/api/v1/nope", "/api/v1/stream"])
async def test_every_path_needs_the_password(face: ScriptedFace, path: str) -> None:
    async with client(face, password=PASSWORD) as c:
        response = await c.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="evse-rules"'
    assert PASSWORD not in response.text and PASSWORD not in str(response.headers)


@pytest.mark.parametrize(("headers", "status"), [
    (_basic("anyone", PASSWORD), 200), (_basic("", PASSWORD), 200),
    ({"Authorization": f"Bearer {PASSWORD}"}, 200),
    (_basic("admin", PASSWORD + "x"), 401), (_basic("admin", ""), 401),
    ({"Authorization": "Bearer nope"}, 401), ({"Authorization": "Basic !!!"}, 401),
    ({"Authorization": f"Digest {PASSWORD}"}, 401), ({}, 401)])
async def test_basic_or_bearer(face: ScriptedFace, headers: dict[str, str], status: int) -> None:
    async with client(face, password=PASSWORD) as c:
        assert (await c.get(f"{API}/state", headers=headers)).status_code == status
        command = await c.post(f"{API}/chargers/garage/stop", headers=headers)
    assert command.status_code == status
    assert len(face.commands) == (1 if status == 200 else 0)


# --- cross-site requests -------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "status"), [
    ({}, 200),                                                    # curl, the CLI
    ({"Origin": "http://localhost"}, 200),
    ({"Origin": "http://localhost:80"}, 200),
    ({"Referer": "http://localhost/dashboard/"}, 200),
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "http://localhost:8081"}, 403),
    ({"Origin": "https://localhost"}, 403),
    ({"Origin": "null"}, 403),
    ({"Referer": "http://evil.example/page"}, 403),
    ({"Origin": "https://ha.example:8123"}, 200),                 # allowed_origins
    ({"Origin": "http://evil.example", "Referer": "http://localhost/"}, 403),
])
async def test_state_changes_from_other_origins_are_refused(
        face: ScriptedFace, headers: dict[str, str], status: int) -> None:
    async with client(face, allowed_origins=("https://ha.example:8123",)) as c:
        response = await c.post(f"{API}/chargers/garage/stop", headers=headers)
        # Reading is not a state change: allowed from anywhere the password lets in.
        assert (await c.get(f"{API}/state", headers=headers)).status_code == 200
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"].startswith("refused: the request comes from another")
        assert face.commands == []


@pytest.mark.parametrize(("host", "password", "allowed", "status"), [
    ("127.0.0.1:8080", None, (), 200), ("localhost:8080", None, (), 200),
    ("[::1]:8080", None, (), 200), ("192.168.1.20:8080", None, (), 200),
    ("evil.example:8080", None, (), 403),                       # a rebound name
    ("evse.example.org", None, ("https://evse.example.org",), 200),
    ("evil.example:8080", PASSWORD, (), 200),                   # the password guards it
])
async def test_without_a_password_only_this_machines_names_are_served(
        face: ScriptedFace, host: str, password: str | None, allowed: tuple[str, ...],
        status: int) -> None:
    headers = {"Host": host, **({"Authorization": f"Bearer {password}"} if password else {})}
    async with client(face, password=password, allowed_origins=allowed) as c:
        for path in ("/", f"{API}/state"):
            response = await c.get(path, headers=headers)
            assert response.status_code == status, (path, response.text)
        command = await c.post(f"{API}/chargers/garage/stop", headers=headers)
    assert command.status_code == status
    if status == 403:
        assert "DNS rebinding" in response.json()["detail"] and face.commands == []


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "text/plain", "multipart/form-data; boundary=x", None])
async def test_a_body_must_be_json(face: ScriptedFace, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with client(face) as c:
        response = await c.post(f"{API}/chargers/garage/amps", headers=headers,
                                content=json.dumps({"amps": 10}).encode())
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    assert face.commands == []


async def test_json_with_a_charset_is_json(face: ScriptedFace) -> None:
    async with client(face) as c:
        response = await c.post(f"{API}/chargers/garage/amps", content=b'{"amps": 9}',
                                headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200 and face.commands[0].value == 9.0


# --- the OpenAPI document ------------------------------------------------------------------

async def test_openapi_document_is_valid_and_describes_the_answers(
        api: httpx.AsyncClient) -> None:
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest, MockResponse

    document = (await api.get(f"{API}/openapi.json")).json()
    spec = OpenAPI.from_dict(document)     # validates the document itself
    paths = set(document["paths"])
    assert paths == {f"/api/v1/{p}" for p in (
        "state", "chargers/{name}", "chargers/{name}/start", "chargers/{name}/stop",
        "chargers/{name}/release", "chargers/{name}/amps", "chargers/{name}/mode",
        "chargers/{name}/plan", "variables/{name}", "journal", "series", "why/{name}",
        "stream")}
    exchanges = [("GET", "/api/v1/state", None), ("GET", "/api/v1/chargers/garage", None),
                 ("GET", "/api/v1/journal", None), ("GET", "/api/v1/series", None),
                 ("GET", "/api/v1/why/garage", None), ("GET", "/api/v1/chargers/nope", None),
                 ("POST", "/api/v1/chargers/garage/amps", {"amps": 10}),
                 ("POST", "/api/v1/chargers/garage/mode", {"mode": "auto"}),
                 ("POST", "/api/v1/variables/target", {"value": 21})]
    for method, path, body in exchanges:
        response = await api.request(method, path, json=body)
        request = MockRequest("http://localhost", method.lower(), path,
                              data=json.dumps(body).encode() if body else None,
                              content_type="application/json")
        spec.validate_request(request)
        spec.validate_response(request, MockResponse(
            response.content, status_code=response.status_code,
            content_type="application/json"))


# --- the room ------------------------------------------------------------------------------

def test_the_api_room_imports_only_the_views_contract() -> None:
    room = Path(__file__).resolve().parent.parent / "evse_rules" / "api"
    offences = []
    for path in room.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offences += [f"{path.name} imports {n}" for n in names
                         if n.startswith("evse_rules") and n != "evse_rules.live.views"
                         and not n.startswith("evse_rules.api")]
    assert offences == []
