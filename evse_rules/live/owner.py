"""Which engine owns which charger: one writer per charger.

A running `evse-rules run` holds an exclusive lock next to its journal (see `Daemon._lock`)
and leaves a note per charger URL in a shared folder of the system's temporary directory,
so that other commands can tell:

- `evse-rules start|stop|amps|mode|set|status|release --config F` whether an engine runs
  with that config (the lock), before they wait for an answer that cannot come;
- `evse-rules charger URL ...` whether a running engine drives that charger (the note), so
  that it says so instead of fighting the engine with the same claim.

A note whose process is gone (kill -9) is ignored and replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evse_rules.config import Config

NOTES = Path(tempfile.gettempdir()) / "evse-rules-owners"


def lock_path(config: Config) -> Path:
    """The lock of the engine that runs with `config` (on the journal's resolved path, so
    that two configs naming one journal through a symlink share it)."""
    # realpath, not Path.resolve: a symlink loop is an error of open, not a crash here.
    return Path(os.path.realpath(config.journal_path) + ".lock")


def engine_running(config: Config) -> bool:
    """Whether an engine holds the lock of `config` now."""
    try:
        import fcntl
    except ImportError:         # not on Windows; the service runs on Linux
        return False
    path = lock_path(config)
    if not path.exists():
        return False
    try:
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class Owner:
    """The engine that drives a charger."""

    pid: int
    config: str
    charger: str
    api: str | None          # the API's address, when it serves one


def _note(url: str) -> Path:
    digest = hashlib.sha256(_normal(url).encode()).hexdigest()[:24]
    return NOTES / f"{digest}.json"


def _normal(url: str) -> str:
    """A charger URL without credentials, case or a trailing slash."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{host}:{port}{parts.path.rstrip('/')}"


def register(config: Config, api: str | None) -> list[Path]:
    """Leave a note for every charger of `config` that has a URL; returns the notes."""
    written: list[Path] = []
    try:
        NOTES.mkdir(mode=0o1777, exist_ok=True)
    except OSError:
        return written
    for name, charger in config.chargers.items():
        if not charger.url:
            continue
        path = _note(charger.url)
        note = {"pid": os.getpid(), "config": str(config.name), "charger": name, "api": api}
        with contextlib.suppress(OSError):
            path.write_text(json.dumps(note))
            written.append(path)
    return written


def unregister(notes: list[Path]) -> None:
    for path in notes:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()


def owner_of(url: str) -> Owner | None:
    """The running engine that drives the charger at `url`, or None."""
    path = _note(url)
    try:
        note = json.loads(path.read_text())
        pid = int(note["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None
    return Owner(pid, str(note.get("config")), str(note.get("charger")),
                 note.get("api") if isinstance(note.get("api"), str) else None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True        # another user's engine
    return True


def _announcement(config: Config) -> Path:
    return lock_path(config).with_suffix(".api.json")


def announce(config: Config, api: str | None) -> Path | None:
    """Say where the API of the engine running with `config` is (next to its lock)."""
    path = _announcement(config)
    try:
        path.write_text(json.dumps({"pid": os.getpid(), "api": api}))
    except OSError:
        return None
    return path


def announced_api(config: Config) -> str | None:
    """The API of the engine running with `config`: only while that engine holds the lock,
    so that an old announcement (kill -9) or another program on the port is never asked."""
    if not engine_running(config):
        return None
    try:
        note = json.loads(_announcement(config).read_text())
    except (OSError, ValueError):
        return None
    api = note.get("api") if isinstance(note, dict) else None
    return api if isinstance(api, str) else None
