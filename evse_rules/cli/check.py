"""`evse-rules check`: the rule files' errors, or a one-line summary when they are clean."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evse_rules.cli._command import add_command

if TYPE_CHECKING:
    from evse_rules.errors import SourceError


def check(args: argparse.Namespace) -> int:
    """Check rule files (names, units, types, triggers) without running anything.

    Without --config each FILE is checked on its own, as a program by itself, against one
    charger named `evse` (or the chargers the file declares with `charger NAME`) and the
    inputs it declares. With --config the config's rule files and the FILEs given are
    checked together, as the daemon would load them, against the config's inputs and
    chargers.

    Exit status: 0 when every file is clean (a summary on stdout), 1 when there are errors
    (all of them on stderr, each as FILE:LINE:COL, the line and a caret, or a bad config),
    2 when a file or the config cannot be read.

    Example: evse-rules check rules/*.evr
    """
    from evse_rules.errors import ConfigError
    from evse_rules.language import DEFAULT_ENVIRONMENT, check_only

    files: list[Path] = [Path(p) for p in args.files]
    env = DEFAULT_ENVIRONMENT
    if args.config is not None:
        from evse_rules.config import load_config

        if not Path(args.config).is_file():
            what = "not a file" if Path(args.config).exists() else "no such file"
            print(f"evse-rules check: error: {args.config}: {what}", file=sys.stderr)
            return 2
        try:
            config = load_config(args.config)
            # The files `run` writes: what would refuse it (or be destroyed) is said here.
            config.check_files()
        except ConfigError as error:
            print(str(error), file=sys.stderr)
            return 1
        env = config.environment()
        files = [*config.rule_paths, *files]
    # A file named twice (`check rules/solar.evr --config x.toml` when the config lists it
    # too, by another path) is checked once: twice, its declarations would clash.
    unique: dict[Path, Path] = {}
    for path in files:
        unique.setdefault(path.resolve(), path)
    files = list(unique.values())
    if not files:
        print("evse-rules check: error: no rule files to check (name them, or give --config)",
              file=sys.stderr)
        return 2
    sources: list[tuple[str, str]] = []
    for path in files:
        try:
            sources.append((str(path), path.read_text(encoding="utf-8-sig")))
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not a UTF-8 text file"
            print(f"evse-rules check: error: {path}: {reason or error}", file=sys.stderr)
            return 2
    groups = [sources] if args.config is not None else [[source] for source in sources]
    problems = []
    warnings: list[SourceError] = []     # dubious but legal: shown, and the exit stays 0
    statements = 0
    for group in groups:
        program, found = check_only(group, env)
        if program is not None and args.config is not None:
            found = _unfed_inputs(group, set(config.inputs))
        problems.extend(found)
        if program is not None:
            statements += program.statement_count
            warnings.extend(program.warnings)
    if problems:
        for problem in problems:
            print(problem.render(), file=sys.stderr)
        count = len(problems)
        print(f"{count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning.render(), file=sys.stderr)
    plural = "s" if len(sources) != 1 else ""
    print(f"{len(sources)} file{plural}, {statements} statement{'s' if statements != 1 else ''}"
          ": ok")
    return 0


def _unfed_inputs(sources: list[tuple[str, str]], inputs: set[str]) -> list[SourceError]:
    """An `input NAME: UNIT` of a file that the config does not feed, at its declaration.

    The checker takes such a declaration (simulate feeds it from a CSV column), but the daemon
    refuses rules that read an input it never reads: `check --config` says so first.
    """
    from evse_rules.errors import SourceError
    from evse_rules.language import ast
    from evse_rules.language.parse import parse_text

    known = ", ".join(sorted(inputs)) or "none"
    found: list[SourceError] = []
    for name, text in sources:
        tree, _ = parse_text(text, name)
        for item in tree.items:
            if isinstance(item, ast.InputDecl) and item.name.name not in inputs:
                where = item.name.loc
                found.append(SourceError(
                    where, f"input {item.name.name} is not in the config (inputs: {known}); "
                    f"add [inputs.{item.name.name}]", tree.lines[where.line - 1]))
    return found


def add_commands(subparsers: Any) -> None:
    parser = add_command(subparsers, "check", check)
    parser.add_argument("files", nargs="*", metavar="FILE", help="rule files (.evr)")
    parser.add_argument("--config", metavar="FILE", help="the TOML config: its inputs, "
                        "chargers and rule files")
