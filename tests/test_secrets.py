"""Secrets are never shown: every error path that can carry a password or a token is swept
with a known one, and it must appear in no output, no log line and no journal."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from evse_rules.chargers.http import HttpLink, split_credentials
from evse_rules.chargers.openevse import OpenEvseCharger
from evse_rules.cli import main
from evse_rules.config import parse_config
from evse_rules.errors import ChargerError, ConfigError
from evse_rules.inputs.base import InputError
from evse_rules.inputs.http import HttpInput
from evse_rules.live import Daemon, FakeTime
from evse_rules.redact import RedactingFilter, redact, redact_url

PW = "hunter2-S3cret!"
SECRET_KEYS = ["token", "apikey", "api_key", "key", "password", "pass", "pwd", "secret",
               "access_token", "auth", "TOKEN", "ApiKey", "Access_Token"]


# -- the redaction itself -------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"http://admin:{PW}@host/api",
    f"HTTP://admin:{PW}@host/api",
    f"htp://admin:{PW}@host",
    f" http://admin:{PW}@host",
    f"//admin:{PW}@host/x",
    f"admin:{PW}@host/path",
    f"http://{PW}@host",
    f"http://admin:{PW}@with@at@host:80/",
    f"http://admin:pass word {PW}@host",
    *[f"http://host/api?{key}={PW}&site=1" for key in SECRET_KEYS],
    f"http://host/api?site=1;token={PW}",
    f"http://host/cb#access_token={PW}",
    f"http://host/api?x-api-key={PW}",
])
def test_redact_url_hides_user_info_and_secret_parameters(url: str) -> None:
    shown = redact_url(url)
    assert PW not in shown and "***" in shown


def test_redact_url_keeps_what_is_not_secret() -> None:
    assert redact_url("http://meter.local:8080/api?site=1&unit=W") == \
        "http://meter.local:8080/api?site=1&unit=W"
    assert redact_url(f"HTTP://u:{PW}@meter/api?Token={PW}&site=1") == \
        "HTTP://***@meter/api?Token=***&site=1"


def test_redact_finds_urls_inside_a_text() -> None:
    text = (f"GET http://meter/api?apikey={PW} -> HTTP 500; got 'htp://u:{PW}@h'; "
            f"and u:{PW}@host/x; rules/solar.evr:3:4 stays, so does bob@example.com")
    shown = redact(text)
    assert PW not in shown
    assert "rules/solar.evr:3:4 stays" in shown and "bob@example.com" in shown


def test_the_log_filter_redacts_arguments_too() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"',
                               ("GET", httpx.URL(f"http://m/api?token={PW}"), "200 OK"), None)
    assert RedactingFilter().filter(record)
    assert PW not in record.getMessage() and "token=***" in record.getMessage()


# -- config errors ---------------------------------------------------------------------------

CONFIG = """
rules = ["r.evr"]
[chargers.garage]
driver = "openevse"
url = "http://192.168.1.50"
{charger}
[inputs.pv]
kind = "http"
url = "http://meter.local/api"
path = "pv"
{pv}
{more}
"""

CONFIG_CASES = [
    ("", "", ""),
    *[(f'url = "{url}"', "", "") for url in [
        f"HTTP://u:{PW}@host", f"htp://u:{PW}@host", f" http://u:{PW}@host", f"//u:{PW}@host",
        f"u:{PW}@host/path", f"http://u:{PW}@host:99999", f"htp://host/?token={PW}",
        f"http://host:99999/?apikey={PW}", f"http://u:{PW} x@host"]],
    *[("", f'url = "http://meter:0/api?{key}={PW}"', "") for key in SECRET_KEYS],
    (f'url = ["http://u:{PW}@host"]', "", ""),
    (f'password_env = "{PW}"', "", ""),
    ('password_env = "hunter2"', "", ""),
    (f'password_file = "{PW}"', "", ""),
    ("", f'password_env = "{PW}"', ""),
    ("", "", f'[http]\nlisten = "0.0.0.0:8080"\npassword_env = "{PW}"'),
    ("", "", f'[http]\npassword_file = "{PW}"'),
]


@pytest.mark.parametrize(("charger", "pv", "more"), CONFIG_CASES)
def test_config_errors_never_show_the_password(
    tmp_path: Path, charger: str, pv: str, more: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.evr").write_text("if mode is auto then start\n")
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(charger=charger, pv=pv, more=more))
    status = main(["check", "--config", str(config)])
    out, err = capsys.readouterr()
    assert PW not in out + err and "hunter2" not in out + err
    if charger or pv or more:
        assert status == 1 and "error:" in err
    if "password_" in charger + pv + more:
        assert "the value is not shown" in err


def test_a_password_is_refused_in_password_env_without_echo() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG.format(charger='password_env = "hunter2-S3cret!"', pv="", more=""))
    assert str(info.value).endswith(
        "chargers.garage.password_env: error: password_env must name an environment variable "
        "(letters, digits, _; written like EVSE_PASSWORD), not a password: the value is not "
        "shown")


@pytest.mark.parametrize("name", ["EVSE_PASSWORD", "evse_password", "_X1", "METER_PW_2"])
def test_real_variable_names_are_taken(name: str) -> None:
    config = parse_config(CONFIG.format(charger=f'password_env = "{name}"', pv="", more=""))
    assert config.chargers["garage"].password_env == name


@pytest.mark.parametrize("path", ["pw", "secrets/evse.pw", "/etc/evse-rules/garage.password",
                                  "~/evse pw.txt"])
def test_real_paths_are_taken(path: str) -> None:
    config = parse_config(CONFIG.format(charger=f'password_file = "{path}"', pv="", more=""))
    assert config.chargers["garage"].password_file is not None


# -- driver and input errors, -vv lines, the journal ---------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """401 for the charger (/status, /config), 500 for anything else, or bad JSON."""

    def do_GET(self) -> None:
        if self.path.startswith(("/status", "/config")):
            self.send_response(401)
            body = b""
        elif "json" in self.path:
            self.send_response(200)
            body = b"{not json " + PW.encode()
        else:
            self.send_response(500)
            body = b"{}"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_input_errors_and_request_lines_never_show_the_secret(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)     # -vv: httpx's request lines too
    caplog.set_level(logging.DEBUG, "httpx")
    messages = []
    for url in [f"{server}/api?token={PW}", f"{server}/json?apikey={PW}",
                f"http://127.0.0.1:9/api?access_token={PW}",
                f"http://admin:{PW}@127.0.0.1:9/api"]:
        source = HttpInput("pv", url, "pv", timeout=2.0)
        with pytest.raises(InputError) as info:
            await source.read()
        await source.close()
        messages.append(str(info.value))
        messages.append(repr(source))
    assert any("HTTP 500" in m for m in messages) and any("invalid JSON" in m for m in messages)
    assert "HTTP Request" in caplog.text
    assert PW not in "\n".join(messages) + caplog.text


async def test_driver_errors_and_request_lines_never_show_the_secret(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, "httpx")    # as -vv does
    messages = []
    for url in [f"{server}/?token={PW}", f"http://admin:{PW}@127.0.0.1:9",
                f"http://admin:{PW}@{server.removeprefix('http://')}"]:
        driver = OpenEvseCharger("garage", url, user=None, password=None, timeout=2.0)
        with pytest.raises(ChargerError) as info:
            await driver.read_status()
        await driver.close()
        messages.append(str(info.value))
    link = HttpLink("garage", f"{server}/x?key={PW}", user="admin", password=PW, timeout=2.0)
    with pytest.raises(ChargerError) as info:
        await link.request("GET", "/status")
    await link.close()
    messages += [str(info.value), repr(link)]
    for url in [f"htp://u:{PW}@host", f"http://u:{PW}@host:99999", f"ftp://host/?token={PW}"]:
        with pytest.raises(ValueError) as bad:
            split_credentials(url)
        messages.append(str(bad.value))
    assert any("authentication failed" in m for m in messages)
    assert any("HTTP 500" in m for m in messages)
    assert PW not in "\n".join(messages) + caplog.text


@pytest.mark.parametrize("url", [f"htp://u:{PW}@127.0.0.1:9", f" http://u:{PW}@127.0.0.1:9",
                                 f"http://u:{PW}@127.0.0.1:99999"])
def test_the_charger_command_never_shows_the_password(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["charger", url, "status", "--timeout", "1"]) != 0
    out, err = capsys.readouterr()
    assert PW not in out + err and "Traceback" not in err


async def test_a_running_daemon_never_journals_nor_logs_the_secret(
    tmp_path: Path, server: str, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EVSE_SWEEP_PASSWORD", PW)
    (tmp_path / "r.evr").write_text("input pv: W\nif mode is auto and pv > 1 W then start\n")
    text = f"""
tick = "1 min"
rules = ["r.evr"]
[chargers.garage]
driver = "openevse"
url = "{server}"
user = "admin"
password_env = "EVSE_SWEEP_PASSWORD"
mode = "auto"
timeout = "2 s"
[inputs.pv]
kind = "http"
url = "{server}/api?token={PW}&site=1"
path = "pv"
unit = "W"
timeout = "2 s"
[inputs.meter]
kind = "http"
url = "{server}/json?apikey={PW}"
path = "x"
user = "admin"
password_env = "EVSE_SWEEP_PASSWORD"
timeout = "2 s"
"""
    config = parse_config(text, "evse-rules.toml", tmp_path)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, "httpx")    # as -vv does
    time = FakeTime(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    daemon = Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=2)
    await asyncio.wait_for(daemon.run(), timeout=60)
    out, err = capfd.readouterr()
    assert "HTTP Request" in caplog.text and "HTTP 500" in caplog.text
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"token=***" in written     # the journal holds the failures, redacted
    assert PW.encode() not in written
    assert PW not in caplog.text + out + err
