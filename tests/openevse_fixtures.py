"""Shared pieces of the OpenEVSE driver tests: the emulator fixture and the OpenAPI check.

Every request a driver sends to the emulator and every reply the emulator gives is validated
against the firmware's own spec (../shared/openevse/fw-api.yml) with openapi-core, allowing
only the differences between spec and firmware listed in SPEC_DIFFERENCES, each with the
API-NOTES section (or capture) that documents it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evse_rules.testing.emulator import Exchange, OpenEvseEmulator, RecordedRequest

SHARED = Path(__file__).parents[2] / "shared"
SPEC_DIR = SHARED / "openevse"
VERSIONS = ("4.0.1", "4.1.2", "4.1.6", "v5.1.2", "master_abc123")
PASSWORD = "pa55-w0rd-XYZ"


@dataclass(frozen=True)
class SpecDifference:
    """A documented way the firmware differs from fw-api.yml."""

    what: str
    source: str
    # (exchange, None) for a whole exchange the spec does not cover, or (exchange, schema error)
    # for one error inside a body; True = allowed.
    allows: Callable[[Exchange, Any], bool]


def _field_error(exchange: Exchange, error: Any, method: str, path: str) -> bool:
    return (error is not None and exchange.request.method == method
            and exchange.request.path == path)


SPEC_DIFFERENCES: tuple[SpecDifference, ...] = (
    SpecDifference(
        "the RAPI bridge /r (and /rapi) is not in the spec",
        "API-NOTES 8 (registered in web_server_setup, API-NOTES 1)",
        lambda ex, err: err is None and ex.request.path in ("/r", "/rapi"),
    ),
    SpecDifference(
        "HTTP 401 with `WWW-Authenticate: Basic` when credentials are set and wrong",
        "API-NOTES 7",
        lambda ex, err: err is None and ex.status == 401,
    ),
    SpecDifference(
        "POST /override answers 201 {\"msg\":\"Created\"}, not 200",
        "API-NOTES 1 (Spec vs code) and 4",
        lambda ex, err: err is None and ex.request.method == "POST"
        and ex.request.path == "/override" and ex.status == 201,
    ),
    SpecDifference(
        "DELETE /override with no override answers 500 \"Failed to release manual overide\"",
        "API-NOTES 4 (DELETE /override: a failure gives 500)",
        lambda ex, err: err is None and ex.request.method == "DELETE"
        and ex.request.path == "/override" and ex.status == 500,
    ),
    SpecDifference(
        "temperatures are `false` when the sensor is not fitted (spec: number)",
        "API-NOTES 2 (Temperature fields)",
        lambda ex, err: _field_error(ex, err, "GET", "/status")
        and err.instance is False and str(list(err.path)[:1][0]).startswith("temp"),
    ),
    SpecDifference(
        "POST /status echoes its body, and a voltage may have decimals (spec: integer)",
        "API-NOTES 6 (voltage: V, number)",
        lambda ex, err: _field_error(ex, err, "POST", "/status")
        and list(err.path) == ["voltage"] and isinstance(err.instance, float),
    ),
    SpecDifference(
        "unset string settings are \"\" although Config.yaml gives them minLength 1",
        "capture ohttp-v4-config-new.json (SOURCES.md); API-NOTES 1 (trust the code)",
        lambda ex, err: _field_error(ex, err, "GET", "/config")
        and err.validator == "minLength" and err.instance == "",
    ),
)


class SpecChecker:
    """Validates recorded exchanges against fw-api.yml (models put back under models/)."""

    def __init__(self, workdir: Path) -> None:
        from openapi_core import OpenAPI

        (workdir / "models").mkdir(parents=True, exist_ok=True)
        shutil.copy(SPEC_DIR / "fw-api.yml", workdir / "api.yml")
        for model in SPEC_DIR.glob("fw-models-*.yaml"):
            shutil.copy(model, workdir / "models" / model.name.removeprefix("fw-models-"))
        self.api = OpenAPI.from_file_path(str(workdir / "api.yml"))

    def problems(self, base_url: str, exchange: Exchange) -> list[str]:
        """What in this exchange the spec and SPEC_DIFFERENCES do not allow ([] = fine)."""
        from openapi_core.testing import MockRequest, MockResponse

        if exchange.fault is not None:
            return []  # injected faults are not firmware behaviour
        if any(diff.allows(exchange, None) for diff in SPEC_DIFFERENCES):
            return []
        request = exchange.request
        mock_request = MockRequest(
            base_url, request.method, request.path, args=request.query,
            data=request.raw_body or None,
            content_type=request.content_type or "application/json",
        )
        where = f"{request.method} {request.path} -> {exchange.status}"
        found = [f"request {where}: {e}" for e in self._errors(
            exchange, lambda: self.api.validate_request(mock_request))]
        response = MockResponse(exchange.body, status_code=exchange.status,
                                content_type=exchange.content_type or "application/json")
        found += [f"reply {where}: {e}" for e in self._errors(
            exchange, lambda: self.api.validate_response(mock_request, response))]
        return found

    @staticmethod
    def _errors(exchange: Exchange, validate: Callable[[], Any]) -> list[str]:
        from openapi_core.exceptions import OpenAPIError

        try:
            validate()
        except OpenAPIError as error:
            cause = error.__cause__
            schema_errors = list(getattr(cause, "schema_errors", None) or [])
            if not schema_errors:
                return [f"{type(error).__name__}: {error}"]
            return [
                f"{list(e.path)}: {e.message}" for e in schema_errors
                if not any(diff.allows(exchange, e) for diff in SPEC_DIFFERENCES)
            ]
        return []


SPEC_ABSENT = f"the firmware's OpenAPI spec is not at {SPEC_DIR} (shared/ is absent)"


def need_spec() -> None:
    """Skip without ../shared on a workstation; in CI (CI=true) its absence is a failure."""
    if SPEC_DIR.is_dir():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(SPEC_ABSENT)
    pytest.skip(SPEC_ABSENT)


@pytest.fixture(scope="session")
def maybe_spec_checker(tmp_path_factory: pytest.TempPathFactory) -> SpecChecker | None:
    if not (SPEC_DIR / "fw-api.yml").is_file():
        return None
    return SpecChecker(tmp_path_factory.mktemp("fw-api"))


@pytest.fixture
def spec_checker(maybe_spec_checker: SpecChecker | None) -> SpecChecker:
    if maybe_spec_checker is None:
        need_spec()
        pytest.skip(SPEC_ABSENT)      # the spec is there but could not be read
    return maybe_spec_checker


EmulatorFactory = Callable[..., OpenEvseEmulator]


@pytest.fixture
def make_emulator(maybe_spec_checker: SpecChecker | None) -> Iterator[EmulatorFactory]:
    """Start emulators; at teardown every exchange they saw is checked against the spec
    (when shared/ is present)."""
    started: list[tuple[OpenEvseEmulator, str]] = []

    def make(version: str = "v5.1.2", **kwargs: Any) -> OpenEvseEmulator:
        emulator = OpenEvseEmulator(version, **kwargs).start()
        started.append((emulator, emulator.url))
        return emulator

    yield make
    checker = maybe_spec_checker
    problems: list[str] = []
    for emulator, base_url in started:
        exchanges = emulator.exchanges
        emulator.stop()
        if checker is not None:
            for exchange in exchanges:
                problems += checker.problems(base_url, exchange)
    assert not problems, "exchanges the firmware spec does not allow:\n" + "\n".join(problems)


def claims_posted(requests: list[RecordedRequest]) -> list[dict[str, Any]]:
    """The bodies of the claims a client posted, in order."""
    return [r.body for r in requests if r.method == "POST" and r.path.startswith("/claims/")]
