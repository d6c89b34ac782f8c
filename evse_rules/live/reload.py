"""Rule files reloaded while running: on change (mtime poll each tick) and on SIGHUP.

A new version is checked whole before it replaces anything. A file with errors is reported
with FILE:LINE:COL (the checker's rendering) and the previous program keeps running; the
same broken version is reported once, not every tick. Fixed again, it is loaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evse_rules.errors import EvseRulesError
from evse_rules.language.program import Environment, ExternalKind, Program

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


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    program: Program | None      # the new program, or None when it was refused
    error: str | None            # why it was refused (FILE:LINE:COL rendering)


class RuleWatcher:
    """Loads the rule files and notices when they change."""

    def __init__(self, paths: Sequence[Path], env: Environment, inputs: Sequence[str],
                 loader: ProgramLoader = default_loader) -> None:
        self.paths = list(paths)
        self.env = env
        self.inputs = set(inputs)
        self.loader = loader
        self._seen: Signature = ()

    def load(self) -> Program:
        """Load now; raises the checker's error (the daemon refuses to start without rules)."""
        self._seen = signature(self.paths)
        return self._checked(self.loader(self.paths, self.env))

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
            log.error("rule files not reloaded, the previous rules keep running:\n%s", text)
            return ReloadOutcome(None, text)
        log.info("rule files reloaded: %s", ", ".join(str(p) for p in self.paths))
        return ReloadOutcome(program, None)
