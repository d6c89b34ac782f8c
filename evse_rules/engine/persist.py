"""What survives a restart: each charger's mode, the user variables, and when each charger
was last started and stopped (the minimum on and off times count from them), in a JSON file.

    {"format": 1, "saved_at": "2026-06-01T12:00:00+00:00",
     "modes": {"garage": "auto"},
     "variables": {"target_energy": 36000000.0, "note": "away", "boost": false},
     "contactor": {"garage": {"last_start": "2026-06-01T11:40:00+00:00",
                              "last_stop": "2026-06-01T11:58:00+00:00"}}}

Values are canonical (J, W, A, s...), as the engine holds them; times are ISO 8601 with
their offset. A file without "contactor" (written before it existed) is read as no times.
Charge plans are kept under "plans" (engine/plan_store.py), only while one is set.

A write is atomic: a temporary file in the same folder (mode 0600), flushed and fsynced,
then renamed over the old one, so a power cut or a kill -9 leaves either the old file or the
new one, never half of one.

A corrupt file (not JSON, the wrong shape, nested too deep, numbers too large) is not fatal:
it is renamed `NAME.corrupt-TIMESTAMP` beside it, the problem is reported, and the engine
starts from the config's defaults. A file that cannot be read at all (no permission, a
folder) is another matter: its content may be perfectly good, so it is left untouched and
`StateFileError` stops the start (modes, variables and contactor times are not thrown away
over a chmod).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from evse_rules.engine.engine import ContactorTimes, Engine
from evse_rules.engine.plan_store import PlanRecord, decode_plans, encode_plans
from evse_rules.engine.store import StateStore
from evse_rules.errors import EvseRulesError
from evse_rules.language.program import MODES, Value

log = logging.getLogger(__name__)

FORMAT = 1


class StateFileError(EvseRulesError):
    """The state file exists but cannot be read (permission, a folder...): nothing is done."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: error: cannot read the state file: {reason}; it is left "
                         "as it is (the modes, variables and contactor times it holds are "
                         "kept): fix its permissions, or point `state` at another file")


def _permission(path: Path) -> str:
    """What the permission of `path` is, for a message: 'mode 0600, owner uid 0'."""
    try:
        info = path.stat()
    except OSError:
        return "its folder cannot be searched"
    return f"mode {info.st_mode & 0o7777:04o}, owner uid {info.st_uid}, we are uid {os.getuid()}"


@dataclass(frozen=True, slots=True)
class SavedState:
    modes: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Value] = field(default_factory=dict)
    contactor: dict[str, ContactorTimes] = field(default_factory=dict)
    plans: dict[str, PlanRecord] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What `StateFile.load` found; `problem` says why the file was not used (None: fine)."""

    state: SavedState
    problem: str | None = None
    kept_as: Path | None = None


class StateFile:
    """The state file of one daemon."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: SavedState | None = None

    def load(self) -> LoadResult:
        """Read the file; a missing file is an empty state, a corrupt one is set aside."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return LoadResult(SavedState())
        except PermissionError:
            raise StateFileError(self.path, f"permission denied ({_permission(self.path)})"
                                 ) from None
        except IsADirectoryError:
            raise StateFileError(self.path, "it is a folder") from None
        except OSError as error:
            raise StateFileError(self.path, error.strerror or str(error)) from None
        try:
            state = _decode(json.loads(data.decode("utf-8")))
        except UnicodeDecodeError:
            return self._set_aside("not UTF-8 text")
        except RecursionError:
            return self._set_aside("nested too deep")
        except (ValueError, TypeError, OverflowError) as error:
            # ValueError includes an integer beyond Python's 4300-digit limit.
            return self._set_aside(str(error)[:200])
        self._last = state
        return LoadResult(state)

    def _set_aside(self, problem: str) -> LoadResult:
        message = f"{self.path}: error: corrupt state file ({problem}); starting from defaults"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, kept)
        except OSError as error:
            log.error("%s (and it cannot be set aside: %s)", message, error)
            return LoadResult(SavedState(), message, None)
        message += f"; the bad file is kept as {kept.name}"
        log.error("%s", message)
        return LoadResult(SavedState(), message, kept)

    def save(self, state: SavedState, now: datetime | None = None) -> bool:
        """Write `state` atomically, unless it is what the file already holds. True if written."""
        if state == self._last:
            return False
        document = {
            "format": FORMAT,
            "saved_at": (now or datetime.now(UTC)).isoformat(),
            "modes": dict(sorted(state.modes.items())),
            "variables": dict(sorted(state.variables.items())),
            "contactor": {name: _encode_times(times)
                          for name, times in sorted(state.contactor.items())},
        }
        if state.plans:
            document["plans"] = encode_plans(state.plans)
        write_atomic(self.path, json.dumps(document, indent=2) + "\n")
        self._last = state
        return True


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk too.
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _decode(document: object) -> SavedState:
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if document.get("format") != FORMAT:
        raise ValueError(f"unknown format {document.get('format')!r} (expected {FORMAT})")
    modes = document.get("modes", {})
    variables = document.get("variables", {})
    if not isinstance(modes, dict) or not all(
        isinstance(k, str) and v in MODES for k, v in modes.items()
    ):
        raise ValueError("'modes' must map charger names to auto or manual")
    if not isinstance(variables, dict):
        raise ValueError("'variables' must be an object")
    for name, value in variables.items():
        if value is not None and not isinstance(value, bool | int | float | str):
            raise ValueError(f"variable {name!r} holds {type(value).__name__}, not a value")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e300:
            raise ValueError(f"variable {name!r} is a number too large")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"variable {name!r} is not a finite number")
    return SavedState(
        {str(k): str(v) for k, v in modes.items()},
        {str(k): (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
         for k, v in variables.items()},
        _decode_contactor(document.get("contactor", {})),
        decode_plans(document.get("plans", {})),
    )


def _encode_times(times: ContactorTimes) -> dict[str, str | None]:
    return {"last_start": times.last_start.isoformat() if times.last_start else None,
            "last_stop": times.last_stop.isoformat() if times.last_stop else None}


def _decode_contactor(section: object) -> dict[str, ContactorTimes]:
    if not isinstance(section, dict):
        raise ValueError("'contactor' must map charger names to their last start and stop")
    decoded: dict[str, ContactorTimes] = {}
    for name, entry in section.items():
        if not isinstance(entry, dict) or not set(entry) <= {"last_start", "last_stop"}:
            raise ValueError(f"'contactor' of charger {name!r} must hold last_start and "
                             "last_stop")
        decoded[str(name)] = ContactorTimes(_time(name, entry.get("last_start")),
                                            _time(name, entry.get("last_stop")))
    return decoded


def _time(charger: str, text: object) -> datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"'contactor' of charger {charger!r}: {text!r} is not a time")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'contactor' of charger {charger!r}: {text!r} is not an ISO time"
                         ) from None
    if when.tzinfo is None:
        # A time without its offset could be hours off: refused rather than guessed.
        raise ValueError(f"'contactor' of charger {charger!r}: {text!r} has no UTC offset")
    return when


def snapshot(store: StateStore, contactor: dict[str, ContactorTimes] | None = None
             ) -> SavedState:
    """The part of the store that persists, with the engine's contactor times if given.
    A charger never started nor stopped is left out."""
    kept = {name: times for name, times in (contactor or {}).items()
            if times.last_start is not None or times.last_stop is not None}
    return SavedState(store.modes(), store.variables(), kept, dict(store.plans))


def restore(store: StateStore, state: SavedState) -> list[str]:
    """Put saved modes and variables back into `store`; returns what could not be restored.

    A saved charger that is no longer configured, or a value that no longer fits its
    variable's declared type, is skipped with a message (the config's default stays).
    """
    problems: list[str] = []
    chargers = set(store.chargers)
    for charger, mode in state.modes.items():
        if charger not in chargers:
            problems.append(f"saved mode of charger {charger!r} ignored: no such charger")
            continue
        store.set_mode(charger, mode)
    for name, value in state.variables.items():
        try:
            store.set_variable(name, value)
        except ValueError as error:
            problems.append(f"saved value of variable {name!r} ignored: {error}")
    for charger, plan in state.plans.items():
        if charger not in chargers:
            problems.append(f"saved charge plan of charger {charger!r} ignored: no such "
                            "charger")
            continue
        store.plans[charger] = plan
    store.dirty = False
    return problems


def restore_contactor(engine: Engine, state: SavedState, now: datetime) -> list[str]:
    """Give the engine's guards their saved last start and stop (a time after `now` counts
    as `now`); returns what could not be restored."""
    unknown = engine.restore_contactor_times(state.contactor, now)
    return [f"saved start and stop times of charger {name!r} ignored: no such charger"
            for name in unknown]
