"""Every error evse-rules raises, in one place.

    EvseRulesError                  base of everything below
    ├── SourceError                 one problem at a place in a rule file (FILE:LINE:COL)
    ├── RuleFileErrors              all the SourceErrors found in one check, raised together
    ├── ConfigError                 a bad config file: names the file and the key
    ├── DataError                   a bad replay CSV row: names the file and the line
    ├── LimitError                  a command outside the configured limits (nothing was sent)
    └── ChargerError                a charger could not do what was asked
        ├── ChargerAuthError        the charger refused the credentials (HTTP 401)
        ├── ChargerTimeout          no answer in time (or the connection dropped)
        ├── ChargerProtocolError    an answer that is not what the firmware documents
        └── ChargerUnsupported      this firmware cannot do it (e.g. RAPI blocked on v5)

Messages never contain a password: drivers pass URLs without credentials.
"""

from __future__ import annotations

from dataclasses import dataclass


class EvseRulesError(Exception):
    """Base class of every error raised by evse-rules."""


@dataclass(frozen=True, slots=True)
class Location:
    """A span in a source file. Lines and columns count from 1; `end_col` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class SourceError(EvseRulesError):
    """One problem at one place of a rule file, rendered like a compiler diagnostic:

        rules/x.evr:3:8: error: cannot compare power (W) with current (A)
            if pv > 16A then stop
                    ^^^
    """

    def __init__(self, location: Location, message: str, source_line: str | None = None) -> None:
        super().__init__(message)
        self.location = location
        self.message = message
        self.source_line = source_line

    def render(self) -> str:
        head = f"{self.location}: error: {self.message}"
        if self.source_line is None:
            return head
        line = self.source_line.rstrip("\n").expandtabs(1)
        loc = self.location
        width = (loc.end_col - loc.col) if loc.end_line == loc.line else len(line) - loc.col + 1
        caret = " " * (loc.col - 1) + "^" * max(1, width)
        return f"{head}\n    {line}\n    {caret}"

    def __str__(self) -> str:
        return self.render()


class RuleFileErrors(EvseRulesError):
    """Several SourceErrors, found in one pass; nothing of the checked files may run."""

    def __init__(self, errors: list[SourceError]) -> None:
        self.errors = sorted(
            errors, key=lambda e: (e.location.file, e.location.line, e.location.col)
        )
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)

    def __str__(self) -> str:
        return self.render()


class ConfigError(EvseRulesError):
    """A config file that cannot be used; `key` is the dotted key path (or None for the file)."""

    def __init__(self, file: str, message: str, key: str | None = None) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: error: {message}")


class DataError(EvseRulesError):
    """A replay data file that cannot be used, at `FILE:LINE` (line None: the file as a whole)."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: error: {message}")


class LimitError(EvseRulesError):
    """A command refused before sending because it lies outside the configured limits."""


class ChargerError(EvseRulesError):
    """A charger did not do what was asked. `charger` names it (config name or URL)."""

    def __init__(self, charger: str, message: str) -> None:
        self.charger = charger
        self.message = message
        super().__init__(f"{charger}: {message}")


class ChargerAuthError(ChargerError):
    """HTTP 401: the user name or password was refused."""


class ChargerTimeout(ChargerError):
    """No answer within the timeout, or the connection dropped."""


class ChargerProtocolError(ChargerError):
    """An answer the firmware's API does not document (bad status, invalid JSON, bad checksum)."""


class ChargerUnsupported(ChargerError):
    """The charger's firmware cannot do this (too old, or RAPI blocked)."""
