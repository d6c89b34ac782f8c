"""`evse-rules charger URL ACTION` against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from evse_rules.chargers import DEFAULT_CLIENT_ID
from evse_rules.cli import main
from tests import openevse_fixtures
from tests.openevse_fixtures import (
    PASSWORD,
    VERSIONS,
    EmulatorFactory,
)

# The shared pytest fixtures, bound here so that pytest finds them in this module.
make_emulator = openevse_fixtures.make_emulator
maybe_spec_checker = openevse_fixtures.maybe_spec_checker


STATUS_KEYS = {"state", "vehicle", "charging", "current", "amps", "voltage", "power",
               "session_energy", "total_energy", "temp", "min_amps", "max_amps", "online",
               "firmware"}  # DESIGN.md section 5


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["charger", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_text(make_emulator: EmulatorFactory, capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator("v5.1.2", voltage=230)
    emu.state = 254
    code, out, _ = run(capsys, emu.url, "status")
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["state"] == "sleeping" and lines["vehicle"] == "connected"
    assert lines["voltage"] == "230 V" and lines["temperature"] == "44.0 °C"
    assert lines["firmware"] == "v5.1.2" and lines["amps"].startswith("32 A")
    assert set(lines) == {"state", "vehicle", "amps", "current", "voltage", "power", "energy",
                          "temperature", "firmware"}


@pytest.mark.parametrize("version", VERSIONS)
def test_status_json(make_emulator: EmulatorFactory, capsys: pytest.CaptureFixture[str],
                     version: str) -> None:
    emu = make_emulator(version, max_current_hard=40)
    emu.state = 255
    code, out, _ = run(capsys, emu.url, "status", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == STATUS_KEYS
    assert (data["state"], data["charging"], data["online"]) == ("disabled", False, True)
    assert (data["min_amps"], data["max_amps"], data["firmware"]) == (6, 40, version)


@pytest.mark.parametrize("version", ["4.0.1", "v5.1.2"])
def test_commands(make_emulator: EmulatorFactory, capsys: pytest.CaptureFixture[str],
                  version: str) -> None:
    emu = make_emulator(version)
    path = "/override" if version == "4.0.1" else f"/claims/{DEFAULT_CLIENT_ID}"
    assert run(capsys, emu.url, "start")[0] == 0
    assert run(capsys, emu.url, "amps", "16")[0] == 0  # a new process: adopts `active`
    posts = [r.body for r in emu.requests if r.method == "POST"]
    assert posts == [{"state": "active", "charge_current": 32, "auto_release": False},
                     {"state": "active", "charge_current": 16, "auto_release": False}]
    assert run(capsys, emu.url, "stop")[0] == 0
    assert emu.state == 254
    assert run(capsys, emu.url, "release")[0] == 0
    assert emu.requests[-1].method == "DELETE" and emu.requests[-1].path == path
    assert emu.claims == {}


def test_amps_outside_the_limits_is_refused(make_emulator: EmulatorFactory,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator("v5.1.2", max_current_hard=24)
    code, _, err = run(capsys, emu.url, "amps", "25")
    assert code == 1 and "maximum of 24 A (max_current_hard)" in err and "nothing" in err
    code, _, err = run(capsys, emu.url, "amps", "5")
    assert code == 1 and "minimum of 6 A (min_current_hard)" in err
    assert {(r.method, r.path) for r in emu.requests} == {("GET", "/config"), ("GET", "/status")}


def test_voltage_and_rapi(make_emulator: EmulatorFactory,
                          capsys: pytest.CaptureFixture[str]) -> None:
    emu = make_emulator("4.1.6")
    assert run(capsys, emu.url, "voltage", "231")[0] == 0
    assert emu.voltage == 231
    code, _, err = run(capsys, emu.url, "voltage", "400")
    assert code == 1 and "60..300 V" in err
    old = make_emulator("4.0.1")
    code, out, _ = run(capsys, old.url, "status", "--api", "rapi", "--json")
    assert code == 0 and json.loads(out)["firmware"] == "7.1.3"  # the controller's, from $GV
    assert run(capsys, old.url, "amps", "12", "--api", "rapi")[0] == 0
    assert old.requests[-1].rapi == "$SC 12 V"
    # RAPI reads one phase's current: --phases 3 gives a three-phase charger's power.
    old.state = 3
    single = json.loads(run(capsys, old.url, "status", "--api", "rapi", "--json")[1])
    three = json.loads(run(capsys, old.url, "status", "--api", "rapi", "--json",
                           "--phases", "3")[1])
    assert single["power"] > 0 and three["power"] == pytest.approx(3 * single["power"])


def test_errors_are_clear(make_emulator: EmulatorFactory, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    emu = make_emulator("v5.1.2", user="admin", password=PASSWORD)
    code, _, err = run(capsys, emu.url, "status")
    assert code == 1 and "authentication failed" in err
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    code, _, err = run(capsys, emu.url, "status", "--user", "admin", "--password-env",
                       "NO_SUCH_VAR")
    assert code == 1 and "NO_SUCH_VAR is not set" in err
    code, _, err = run(capsys, emu.url, "amps", "lots")
    assert code == 2 and "whole amperes" in err
    code, _, err = run(capsys, "ftp://evse", "status")
    assert code == 2 and "not an http(s) URL" in err
    # A port out of range or not a number: a usage error, never a traceback, never the password.
    for url, words in (("http://127.0.0.1:99999", "port 99999 is outside 1..65535"),
                       ("http://admin:hunter2@127.0.0.1:abc", "Invalid port: 'abc'")):
        code, _, err = run(capsys, url, "status")
        assert code == 2 and words in err and "hunter2" not in err
    code, _, err = run(capsys, emu.url, "start", "--client-id", "20")
    assert code == 2 and "python-openevse-http" in err
    for timeout in ("0", "nan", "inf"):
        code, _, err = run(capsys, emu.url, "status", "--timeout", timeout)
        assert code == 2 and "timeout must be positive and finite" in err
    emu.set_fault("timeout")
    code, _, err = run(capsys, emu.url, "status", "--timeout", "0.2", "--user", "admin")
    assert code == 1 and "no answer within 0.2 s" in err


def test_help_lists_the_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["charger", "--help"])
    out = capsys.readouterr().out
    for word in ("status", "start", "stop", "amps N", "voltage V", "release", "--password-env",
                 "--api", "--json", "--timeout"):
        assert word in out


def test_verbose_process_output_hides_the_password(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2", user="admin", password=PASSWORD)
    env = {**os.environ, "EVSE_TEST_PASSWORD": PASSWORD}
    result = subprocess.run(
        [sys.executable, "-m", "evse_rules", "-vv", "charger", emu.url, "start", "--user",
         "admin", "--password-env", "EVSE_TEST_PASSWORD"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "HTTP Request: POST" in result.stderr  # -vv shows the requests...
    assert PASSWORD not in result.stdout + result.stderr  # ...never the password


def test_one_v_shows_our_lines_not_the_http_libraries(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")

    def stderr(flag: str) -> str:
        return subprocess.run([sys.executable, "-m", "evse_rules", flag, "charger", emu.url,
                               "start"], capture_output=True, text=True, timeout=30,
                              check=True).stderr

    quiet, loud = stderr("-v"), stderr("-vv")
    assert "httpcore" not in quiet and "HTTP Request" not in quiet
    assert "HTTP Request: POST" in loud and "httpcore" in loud


def test_a_token_in_the_url_and_a_pasted_password_are_never_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evse_rules.cli import main

    assert main(["charger", "http://127.0.0.1:9/?token=tok-S3cret", "status",
                 "--timeout", "0.3"]) == 1
    out = capsys.readouterr()
    assert "tok-S3cret" not in out.out + out.err and "token=***" in out.err
    assert main(["charger", "http://127.0.0.1:9", "stop", "--user", "admin",
                 "--password-env", "hunter2-S3cret!"]) == 1
    out = capsys.readouterr()
    assert "hunter2" not in out.out + out.err and "the value is not shown" in out.err
