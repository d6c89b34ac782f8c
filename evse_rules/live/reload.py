"""Rule files loaded at start and reloaded while running: on change (mtime poll each tick)
and on SIGHUP. A changed config file is noticed here and applied by live/reconfigure.py.

A new version is checked whole before it replaces anything. A file with errors is reported
with FILE:LINE:COL (the checker's rendering) and the previous program keeps running; the
same broken version is reported once, not every tick. Fixed again, it is loaded.

Files with errors at start do not stop the daemon: it runs `NoRules` (it polls, journals
and takes requests, and proposes nothing) until a version that checks is loaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evse_rules.config import Config, load_config
from evse_rules.engine.journal import Event
from evse_rules.errors import ConfigError, EvseRulesError, RuleFileErrors
from evse_rules.language.program import (
    Environment,
    External,
    ExternalKind,
    Program,
    RuleRef,
    TickResult,
    Value,
    VariableDecl,
)

log = logging.getLogger("evse_rules.live")

ProgramLoader = Callable[[Sequence[Path], Environment], Program]


def default_loader(paths: Sequence[Path], env: Environment) -> Program:
    from evse_rules.language import load_program

    program: Program = load_program(list(paths), env)
    return program


Signature = tuple[tuple[int, int] | None, ...]


def signature(paths: Sequence[Path]) -> Signature:
    """What tells a change: each file's modification time and size (None: missing)."""
    found: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            found.append(None)
        else:
            found.append((stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class NoRules:
    """The program of a daemon whose rule files have errors: reads nothing, proposes nothing."""

    externals: tuple[External, ...] = ()
    variables: tuple[VariableDecl, ...] = ()
    rules: tuple[RuleRef, ...] = ()
    files: tuple[str, ...] = ()

    def tick(self, now: datetime, values: list[Value]) -> TickResult:
        return TickResult([], [], {})

    def reset(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    program: Program | None      # the new program, or None when it was refused
    error: str | None            # why it was refused (FILE:LINE:COL rendering)
    first: str | None = None     # the first error alone, with a count of the others


def first_error(error: Exception) -> str:
    """The first problem of a refused version (what `evse-rules why` shows)."""
    if isinstance(error, RuleFileErrors) and error.errors:
        more = len(error.errors) - 1
        tail = f"\n(and {more} more error{'s' if more > 1 else ''})" if more else ""
        return error.errors[0].render() + tail
    return str(error)


class RuleWatcher:
    """Loads the rule files and notices when they change."""

    def __init__(self, paths: Sequence[Path], env: Environment, inputs: Sequence[str],
                 loader: ProgramLoader = default_loader) -> None:
        self.paths = list(paths)
        self.env = env
        self.inputs = set(inputs)
        self.loader = loader
        self._seen: Signature = ()
        self.running = False     # whether a version that checks has been loaded
        self.problem: str | None = None     # while none has: the first error (for `why`)

    def load(self) -> ReloadOutcome:
        """Load at start. A version with errors is reported (every error, FILE:LINE:COL)
        and refused, and the daemon runs without rules until a fixed version loads."""
        self._seen = signature(self.paths)
        try:
            program = self._checked(self.loader(self.paths, self.env))
        except (EvseRulesError, OSError) as error:
            text = str(error)
            self.problem = first_error(error)
            log.error("rule files have errors; running without rules until they are "
                      "fixed:\n%s", text)
            return ReloadOutcome(None, text, self.problem)
        self.running, self.problem = True, None
        return ReloadOutcome(program, None)

    def _checked(self, program: Program) -> Program:
        # An input a rule file declares but the config does not feed would be unknown forever:
        # say so instead of running rules that can never fire.
        missing = sorted({e.name for e in program.externals
                          if e.kind is ExternalKind.INPUT and e.name not in self.inputs})
        if missing:
            raise EvseRulesError(
                "the rules read " + ", ".join(missing) + " but the config has no "
                + ", ".join(f"[inputs.{name}]" for name in missing))
        return program

    def changed(self) -> bool:
        return signature(self.paths) != self._seen

    def reload(self) -> ReloadOutcome:
        """Load the files as they are now; refused on error (reported once per version)."""
        self._seen = signature(self.paths)
        try:
            program = self._checked(self.loader(self.paths, self.env))
        except (EvseRulesError, OSError) as error:
            text = str(error)
            if self.running:
                log.error("rule files not reloaded, the previous rules keep running:\n%s", text)
            else:
                self.problem = first_error(error)
                log.error("rule files still have errors; running without rules:\n%s", text)
            return ReloadOutcome(None, text, first_error(error))
        log.info("rule files %s: %s", "reloaded" if self.running else "loaded, the rules run",
                 ", ".join(str(p) for p in self.paths))
        self.running, self.problem = True, None
        return ReloadOutcome(program, None)


class ConfigWatcher:
    """Notices that the config file changed, once per version: a version that loads is
    handed to the daemon to apply (live/reconfigure.py), one with errors is reported (and
    a restart would refuse it). `config` is the version in force."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = config.source
        self._seen = signature([self.path]) if self.path is not None else ()

    def check(self) -> Event | Config | None:
        """The new version when the file changed and loads (to apply, see reconfigure.py),
        an event when it changed and has errors, None when nothing changed."""
        if self.path is None:
            return None
        seen = signature([self.path])
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            new = load_config(self.path)
        except ConfigError as error:
            message = (f"{self.path} changed and has errors; the daemon keeps running on the "
                       f"config it has, and a restart would refuse this version:\n"
                       f"{error}")
            log.error("%s", message)
            return Event("error", "config", message)
        if not differences(self.config.model_dump(), new.model_dump()):
            return None      # the same settings (a comment, spacing)
        return new


def differences(old: dict[str, object], new: dict[str, object], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two config dumps (`chargers.garage.max_amps`)."""
    found: list[str] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if key in old and key in new and before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            found += differences(before, after, f"{prefix}{key}.")
        else:
            found.append(f"{prefix}{key}")
    return found
