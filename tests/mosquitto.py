"""A real Mosquitto for the MQTT tests: Debian's /usr/sbin/mosquitto on a free loopback port,
with a generated config file (and a password file made by `mosquitto_passwd -b`).

    with Mosquitto(tmp_path) as broker:          # broker.port
        broker.stop(); broker.start()             # a restart, on the same port

Without the binary the tests are skipped, except on CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import pytest

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


def require(binary: str = MOSQUITTO) -> None:
    """Skip without `binary`; on CI (CI=true) fail instead: the MQTT tests must run there."""
    if Path(binary).exists():
        return
    message = f"{binary} is not installed (Debian: apt install mosquitto)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mosquitto:
    """One broker process; `users` ({"name": "password"}) makes it refuse anonymous clients."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None, *,
                 tls: bool = False) -> None:
        require()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.users = users
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "mosquitto.log"
        self.config = folder / "mosquitto.conf"
        self.ca_file: Path | None = None
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 f"log_dest file {self.log}", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            # As root, mosquitto would switch to the user `mosquitto`, who cannot read the
            # test's own folder (0700): the password file would be refused.
            lines.append("user root")
        if tls:
            self.ca_file, cert, key = _certificates(folder)
            lines += [f"cafile {self.ca_file}", f"certfile {cert}", f"keyfile {key}"]
        if users:
            require(MOSQUITTO_PASSWD)
            passwords = folder / "passwords"
            passwords.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b",
                                str(passwords), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> Mosquitto:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto ended at once: {error}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto does not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a certificate for 127.0.0.1 signed by it (openssl)."""
    require("/usr/bin/openssl")

    def openssl(*args: str) -> None:
        subprocess.run(["/usr/bin/openssl", *args], check=True, capture_output=True,
                       cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=evse-rules test CA", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
            "server.key", "-out", "server.csr")
    (folder / "san.cnf").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem")
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


class Recorder:
    """A test's own client: every message on `#` (and `$`-less retained ones), in order.

        async with Recorder(broker.port) as seen:
            await seen.publish("x/set", "on")
            await seen.wait_for(lambda: seen.last.get("evse-rules/status") == "online")
    """

    def __init__(self, port: int, topics: str = "#", *, user: str | None = None,
                 password: str | None = None, ca_file: Path | None = None) -> None:
        import aiomqtt

        tls = aiomqtt.TLSParameters(ca_certs=str(ca_file)) if ca_file is not None else None
        self.client = aiomqtt.Client("127.0.0.1", port, username=user, password=password,
                                     identifier=f"test-recorder-{free_port()}",
                                     tls_params=tls)
        self.topics = topics
        self.messages: list[tuple[str, str, bool]] = []     # (topic, payload, retain)
        self.last: dict[str, str] = {}
        self._task: object = None

    async def __aenter__(self) -> Recorder:
        import asyncio

        await self.client.__aenter__()
        await self.client.subscribe(self.topics, qos=1)
        self._task = asyncio.create_task(self._listen())
        return self

    async def __aexit__(self, *exc: object) -> None:
        import asyncio
        import contextlib

        assert isinstance(self._task, asyncio.Task)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        with contextlib.suppress(Exception):
            await self.client.__aexit__(None, None, None)

    async def _listen(self) -> None:
        async for message in self.client.messages:
            payload = bytes(message.payload).decode("utf-8", errors="replace")
            self.messages.append((message.topic.value, payload, bool(message.retain)))
            self.last[message.topic.value] = payload

    async def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        await self.client.publish(topic, payload, qos=1, retain=retain)

    async def wait_for(self, check: object, timeout: float = 5.0) -> None:
        import asyncio

        assert callable(check)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            if loop.time() > deadline:
                raise AssertionError(f"not within {timeout} s; last messages: "
                                     f"{self.messages[-10:]}")
            await asyncio.sleep(0.02)
