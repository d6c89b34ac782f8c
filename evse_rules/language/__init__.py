"""The rules language: rule files -> checked, compiled `Program`.

    load_program(paths, env)        parse, check and compile files into one program
    load_program_text(text, ...)    the same for a text (tests, tools)
    check_files(paths, env)         only the errors (an empty list: the files are clean)

Every problem is a `SourceError` (FILE:LINE:COL, the line, a caret); the loaders raise all
of a program's errors together as `RuleFileErrors`, and a file with any error never gives
a program.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

from evse_rules.errors import Location, RuleFileErrors, SourceError
from evse_rules.language import ast
from evse_rules.language.check import check
from evse_rules.language.checked import CheckedProgram
from evse_rules.language.compiled import CompiledProgram
from evse_rules.language.parse import parse_text
from evse_rules.language.program import (
    CHARGER_STATES,
    MODES,
    ActionKind,
    Environment,
    External,
    ExternalKind,
    Kind,
    Program,
    ProposedAction,
    RuleRef,
    TickResult,
    Value,
    ValueType,
    VariableDecl,
)

__all__ = [
    "CHARGER_STATES",
    "DEFAULT_ENVIRONMENT",
    "MODES",
    "ActionKind",
    "CompiledProgram",
    "Environment",
    "External",
    "ExternalKind",
    "Kind",
    "Program",
    "ProposedAction",
    "RuleRef",
    "TickResult",
    "Value",
    "ValueType",
    "VariableDecl",
    "check_files",
    "check_only",
    "check_texts",
    "declared_chargers",
    "load_program",
    "load_program_text",
]

StrPath = str | PathLike[str]

# No config: one charger named `evse`, no inputs (files declare what they read).
DEFAULT_ENVIRONMENT = Environment()


def _read(path: StrPath) -> tuple[str | None, SourceError | None]:
    name = str(path)
    try:
        # utf-8-sig: the byte order mark some Windows editors write is not text.
        return Path(path).read_text(encoding="utf-8-sig"), None
    except UnicodeDecodeError as error:
        reason = f"not a UTF-8 text file ({error.reason} at byte {error.start})"
    except OSError as error:
        reason = f"cannot read the file: {error.strerror or error}"
    return None, SourceError(Location(name, 1, 1, 1, 2), reason)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing, checking and compiling allocate several objects per token, nearly all of
    which live on (the tree, the checked program, the code). CPython's cyclic collector
    would scan that growing heap again and again: a 16,000-statement file took twice as
    long per statement as a 1,000-statement one. They make no garbage cycles worth
    collecting meanwhile, so the collector pauses and resumes after (if it was running)."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def _compile(sources: Iterable[tuple[str, str]], env: Environment,
             errors: list[SourceError]) -> CompiledProgram | None:
    with _collector_paused():
        checked = _check_all(sources, env, errors)
        return CompiledProgram(checked) if checked is not None else None


def check_only(sources: Sequence[tuple[str, str]], env: Environment = DEFAULT_ENVIRONMENT
               ) -> tuple[CheckedProgram | None, list[SourceError]]:
    """Parse and check (file name, text) pairs as one program, without compiling it: what
    `evse-rules check` needs (the errors, the warnings, the statement count), in about half
    the time of `check_texts`."""
    errors: list[SourceError] = []
    with _collector_paused():
        checked = _check_all(sources, env, errors)
    return checked, sorted(errors, key=lambda e: (e.location.file, e.location.line,
                                                  e.location.col))


def _check_all(sources: Iterable[tuple[str, str]], env: Environment,
               errors: list[SourceError]) -> CheckedProgram | None:
    files: list[ast.RuleFile] = []
    for name, text in sources:
        try:
            tree, syntax = parse_text(text, name)
        except RecursionError:
            line = text.splitlines()[0] if text.strip() else None
            errors.append(SourceError(Location(name, 1, 1, 1, 2), "the file nests "
                                      "expressions too deeply to be read", line))
            continue
        files.append(tree)
        errors.extend(syntax)
    if errors:
        # Names declared in a file that failed to parse are missing: checking the rest
        # would only add noise.
        return None
    checked, problems = check(files, env)
    errors.extend(problems)
    if errors:
        return None
    return checked


def check_texts(sources: Sequence[tuple[str, str]], env: Environment = DEFAULT_ENVIRONMENT
                ) -> tuple[CompiledProgram | None, list[SourceError]]:
    """Check (file name, text) pairs as one program: the program, or None and the errors."""
    errors: list[SourceError] = []
    program = _compile(sources, env, errors)
    return program, sorted(errors, key=lambda e: (e.location.file, e.location.line,
                                                  e.location.col))


def _read_all(paths: Sequence[StrPath]) -> tuple[list[tuple[str, str]], list[SourceError]]:
    """The texts of the files, and an error for each that cannot be read."""
    sources: list[tuple[str, str]] = []
    errors: list[SourceError] = []
    for path in paths:
        text, error = _read(path)
        if error is not None:
            errors.append(error)
        elif text is not None:
            sources.append((str(path), text))
    return sources, errors


def check_files(paths: Sequence[StrPath], env: Environment = DEFAULT_ENVIRONMENT
                ) -> list[SourceError]:
    """Every error of the files, checked together as one program ([] when clean)."""
    sources, errors = _read_all(paths)
    if errors:
        return errors
    return check_texts(sources, env)[1]


def declared_chargers(paths: Sequence[StrPath]) -> tuple[str, ...]:
    """The chargers the files declare (`charger garage, carport`), in order, without
    checking anything else: a replay without a config simulates these. A file that cannot
    be read or parsed declares nothing here; loading it reports why."""
    names: list[str] = []
    for name, text in _read_all(paths)[0]:
        try:
            tree, _syntax = parse_text(text, name)
        except RecursionError:
            continue
        for item in tree.items:
            if isinstance(item, ast.ChargerDecl):
                names.extend(i.name for i in item.names if i.name not in names)
    return tuple(names)


def load_program(paths: Sequence[StrPath], env: Environment = DEFAULT_ENVIRONMENT
                 ) -> CompiledProgram:
    """Parse, check and compile rule files into one program; RuleFileErrors lists every
    problem (nothing runs when there is one)."""
    sources, errors = _read_all(paths)
    if errors:
        raise RuleFileErrors(errors)
    program, errors = check_texts(sources, env)
    if program is None:
        raise RuleFileErrors(errors)
    return program


def load_program_text(text: str, filename: str = "<rules>",
                      env: Environment = DEFAULT_ENVIRONMENT) -> CompiledProgram:
    """`load_program` for one rule text."""
    program, errors = check_texts([(filename, text)], env)
    if program is None:
        raise RuleFileErrors(errors)
    return program
