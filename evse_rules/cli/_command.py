"""How a command function becomes a subcommand: its docstring is its help text."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

from evse_rules import __version__

CommandFunction = Callable[[argparse.Namespace], int]


def add_command(
    subparsers: Any, name: str, function: CommandFunction
) -> argparse.ArgumentParser:
    """Add `function` as command `name`; the docstring's first line is the short help, the
    whole docstring the description shown by `evse-rules NAME --help`."""
    doc = inspect.getdoc(function) or ""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=doc.splitlines()[0] if doc else None,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=function)
    # -v is a global option; taken after the command too (`evse-rules run --config x -v`),
    # where people type it. SUPPRESS: without it here, the global count is kept.
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more output (as before the command)")
    # --version is global too: `evse-rules check x.evr --version` prints it, as the docs say.
    parser.add_argument("--version", action="version", version=f"evse-rules {__version__}",
                        help="print the version and exit (as before the command)")
    return parser
