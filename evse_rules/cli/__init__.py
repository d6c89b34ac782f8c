"""The `evse-rules` command line: one function per command, its docstring is its help.

Each command lives in a module of this package that defines `add_commands(subparsers)`.
Command modules import their heavy dependencies (httpx, the engine) inside the command
function, so that `evse-rules check` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from evse_rules import __version__
from evse_rules.cli import charger, check, demo, hand, live, simulate
from evse_rules.cli.live import DEFAULT_CONFIG
from evse_rules.errors import EvseRulesError

COMMAND_MODULES = (check, simulate, charger, live, hand, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evse-rules",
        description="A checked rules language and engine for OpenEVSE / EmonEVSE chargers.",
    )
    parser.add_argument("--version", action="version", version=f"evse-rules {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more output: -v for tick traces, -vv for HTTP requests")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def _unreadable(args: argparse.Namespace) -> str | None:
    """The first file named on the command line that is not there, as a usage error.

    Every command says the same about a missing file (exit 2, as `check` always did):
    a typo in `--config` is the caller's mistake, not a bad config."""
    named: list[str] = []
    for key in ("files", "rules", "config", "data"):     # in the order people write them
        value = getattr(args, key, None)
        values = value if isinstance(value, list) else [value]
        named.extend(v for v in values if isinstance(v, str))
    for name in named:
        path = Path(name)
        if not path.is_file():
            what = "not a file" if path.exists() else "no such file"
            hint = ""
            if name == getattr(args, "config", None) and name == DEFAULT_CONFIG:
                hint = (f" (no ./{DEFAULT_CONFIG} here: give --config FILE, or copy "
                        "evse-rules.example.toml to start one)")
            return f"evse-rules {args.command}: error: {name}: {what}{hint}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = _unreadable(args)
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    # -v: our own debug lines (a trace per tick), the libraries' at INFO; -vv: everything,
    # the HTTP requests of httpx and httpcore too.
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose == 1:
        logging.getLogger("evse_rules").setLevel(logging.DEBUG)
    if args.verbose < 2:
        # httpx logs every request at INFO; keep that for -vv.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result: int = args.func(args)
        return result
    except EvseRulesError as error:
        print(str(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`evse-rules history | head`): stop quietly, as `cat` does.
        # stdout is pointed at /dev/null so that Python's flush at exit cannot fail again.
        import os

        with contextlib.suppress(OSError, ValueError):      # no real stdout: nothing to do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:
        # A file the command writes or reads that the system refuses (permissions, a full
        # disk): said in words, with the file, not as a traceback.
        where = f"{error.filename}: " if error.filename else ""
        print(f"evse-rules {args.command}: error: {where}{error.strerror or error}",
              file=sys.stderr)
        return 1
    except Exception as error:
        # A bug: one line for the user; the traceback with -v, for the report.
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"evse-rules {args.command}: internal error: {type(error).__name__}: {error} "
              "(a bug: run it again with -v for the traceback, and report it)",
              file=sys.stderr)
        return 1
