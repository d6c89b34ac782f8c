"""A password never shows: not in logs (even httpx/httpcore debug), errors, reprs or -vv output."""

from __future__ import annotations

import base64
import logging

import pytest

from evse_rules.chargers import OpenEvseCharger, RapiCharger
from evse_rules.cli import main
from evse_rules.errors import ChargerAuthError, ChargerTimeout
from tests import openevse_fixtures
from tests.openevse_fixtures import (
    PASSWORD,
    EmulatorFactory,
)

# The shared pytest fixtures, bound here so that pytest finds them in this module.
make_emulator = openevse_fixtures.make_emulator
maybe_spec_checker = openevse_fixtures.maybe_spec_checker


USER = "admin"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()  # the Basic header value


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and TOKEN not in text, text


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "evse_rules"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


async def test_wrong_password(make_emulator: EmulatorFactory,
                              debug_logs: pytest.LogCaptureFixture) -> None:
    emu = make_emulator("v5.1.2", user=USER, password="the-real-one")
    charger = OpenEvseCharger("garage", emu.url, user=USER, password=PASSWORD, timeout=0.5)
    with pytest.raises(ChargerAuthError, match="authentication failed") as raised:
        await charger.start()
    status = await charger.refresh()
    assert not status.online and "authentication failed" in str(status.error)
    assert emu.requests[0].authorization == f"Basic {TOKEN}"  # it was sent, to the charger only
    assert_clean(str(raised.value), repr(raised.value), repr(charger), str(status),
                 debug_logs.text)


async def test_credentials_in_the_url_and_timeouts(make_emulator: EmulatorFactory,
                                                   debug_logs: pytest.LogCaptureFixture) -> None:
    emu = make_emulator("v5.1.2", user=USER, password=PASSWORD)
    url = emu.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    charger = OpenEvseCharger("garage", url, timeout=0.2)
    assert (await charger.refresh()).online  # the URL's credentials are used...
    assert charger.url == emu.url  # ...and moved out of it
    emu.set_fault("timeout")
    with pytest.raises(ChargerTimeout) as raised:
        await charger.set_current(10)
    status = await charger.refresh()
    rapi = RapiCharger("old", url, timeout=0.2)
    rapi_status = await rapi.refresh()
    assert not rapi_status.online
    assert_clean(str(raised.value), repr(charger), repr(rapi), str(status), str(rapi_status),
                 debug_logs.text)


@pytest.mark.parametrize("fault", [None, "401", "timeout"])
def test_cli_verbose_output(make_emulator: EmulatorFactory, fault: str | None,
                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                            debug_logs: pytest.LogCaptureFixture) -> None:
    emu = make_emulator("v5.1.2", user=USER, password=PASSWORD)
    if fault is not None:
        emu.set_fault(fault)  # type: ignore[arg-type]
    monkeypatch.setenv("EVSE_TEST_PASSWORD", PASSWORD)
    code = main(["-vv", "charger", emu.url, "amps", "10", "--user", USER,
                 "--password-env", "EVSE_TEST_PASSWORD", "--timeout", "0.2"])
    out, err = capsys.readouterr()
    assert code == (0 if fault is None else 1)
    assert "send_request_headers" in debug_logs.text  # -vv did log the requests
    assert_clean(out, err, debug_logs.text)
