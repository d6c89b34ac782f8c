"""Syntax errors as people read them: "expected X, found Y" at the offending token.

Lark reports the terminal names the parser could accept (NAME, THEN, _NL, ...); they are
turned into words here, and groups of them into one phrase ("an expression", "an action",
"an operator").
"""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedInput, UnexpectedToken

from evse_rules.errors import Location, SourceError

DESCRIPTIONS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "TIME": "a time of day (HH:MM)",
    "STRING": 'a quoted text ("...")',
    "COMPARE": "a comparison (<, <=, >, >=, ==, !=)",
    "PERCENT": "'%'",
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of block",
    "$END": "end of file",
    "LPAR": "'('",
    "RPAR": "')'",
}
# Tokens that can start an expression: when all are expected, say "an expression".
_EXPRESSION_START = {"NAME", "NUMBER", "TIME", "STRING"}
_EXPRESSION_ALSO = {"LPAR", "MINUS", "NOT", "TRUE", "FALSE", "BETWEEN", "SMOOTH", "SHARE"}
_ACTIONS = {"LOG", "SET", "START", "STOP", "PLAN", "CANCEL"}
# Tokens that can continue an expression: when several are expected, say "an operator".
_OPERATORS = {"COMPARE", "PLUS", "MINUS", "STAR", "SLASH", "AND", "OR", "IS", "BETWEEN", "FOR",
              "DOT", "LPAR", "IF", "IN", "UNTIL"}


def describe_expected(expected: set[str], texts: dict[str, str]) -> str:
    """Words for the terminals the parser could accept; `texts` maps a keyword or
    punctuation terminal to its text (IF -> if)."""
    names = set(expected)
    parts: list[str] = []
    if names >= _EXPRESSION_START:
        names -= _EXPRESSION_START | _EXPRESSION_ALSO
        parts.append("an expression")
    if names >= _ACTIONS:
        names -= _ACTIONS
        parts.append("an action (start, stop, set, log, plan or cancel)")
    if len(names & _OPERATORS) >= 3:
        names -= _OPERATORS
        parts.append("an operator")
    for name in sorted(names, key=lambda n: (n not in DESCRIPTIONS, n)):
        if name in DESCRIPTIONS:
            parts.append(DESCRIPTIONS[name])
        elif name in texts:
            parts.append(f"'{texts[name]}'")
        else:
            parts.append(name.lower())
    if not parts:
        return "nothing more"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def describe_found(token: Token) -> str:
    if token.type in ("_NL", "_DEDENT", "$END"):
        return DESCRIPTIONS[token.type]
    if token.type == "_INDENT":
        return "an indented line"
    return f"'{token.value}'"


def translate(error: UnexpectedInput, lines: list[str], file: str, offset: int,
              texts: dict[str, str]) -> SourceError:
    """The SourceError for a parser error in `lines` (of `file`, starting `offset` lines
    into it)."""
    if not isinstance(error, UnexpectedToken):
        # The rule lexer reports bad characters itself; Lark's own lexer errors do not occur.
        line = getattr(error, "line", 1) or 1
        col = getattr(error, "column", 1) or 1
        return SourceError(Location(file, line + offset, col, line + offset, col + 1),
                           "unexpected text")
    token = error.token
    if token.type == "_INDENT":
        line = (token.end_line or token.line or 1) + offset
        return SourceError(Location(file, line, 1, line, (token.end_column or 1)),
                           "this line is indented, but the line above opens no block "
                           "(blocks open with a trigger and a colon, like `every 5 min:`)")
    if token.type == "$END" or not token.line:
        line = max(1, len(lines))
        col = len(lines[line - 1]) + 1 if lines else 1
        loc = Location(file, line + offset, col, line + offset, col + 1)
    elif token.type in ("_NL", "_INDENT", "_DEDENT"):
        # A newline token starts at the end of the line it ends: point there.
        col = token.column or 1
        loc = Location(file, token.line + offset, col, token.line + offset, col + 1)
    else:
        col = token.column or 1
        loc = Location(file, token.line + offset, col, (token.end_line or token.line) + offset,
                       token.end_column or col + 1)
    expected = error.accepts or error.expected
    return SourceError(loc, f"expected {describe_expected(set(expected), texts)}, "
                            f"found {describe_found(token)}")


_DECIMAL_COMMA = re.compile(r"\d,\d")
_FOR_BEFORE = re.compile(r"\bfor\s+[\d.]+\s*[A-Za-z%]*\s*$")


def with_hint(error: SourceError, lines: list[str], offset: int) -> SourceError:
    """The error with a hint for the mistakes people make: `=` for `is`, a decimal comma,
    `COND for D and X`, tabs in the indentation. `lines` are those of the piece parsed,
    `offset` lines into the file."""
    loc = error.location
    index = loc.line - offset - 1
    line = lines[index] if 0 <= index < len(lines) else ""
    message = error.message
    found = message.rsplit("found ", 1)[-1] if "found " in message else ""
    hint = ""
    if found == "'='" and ("an operator" in message or "'then'" in message):
        hint = "; to compare, write is for a choice (mode is auto) or == for numbers"
    elif found in ("'and'", "'or'") and _FOR_BEFORE.search(line[:loc.col - 1]):
        hint = ("; for applies to the whole condition before it: put it in parentheses, "
                f"like (pv > 1 kW for 3 min) {found.strip(chr(39))} ...")
    elif any(abs(m.start() + 2 - loc.col) <= 2 for m in _DECIMAL_COMMA.finditer(line)):
        match = next(m for m in _DECIMAL_COMMA.finditer(line) if abs(m.start() + 2 - loc.col) <= 2)
        number = match.group().replace(",", ".")
        hint = f"; write decimals with a point ({number}): a comma separates actions and arguments"
    elif "indent" in message and any("\t" in text[:len(text) - len(text.lstrip())]
                                     for text in lines):
        hint = "; a tab counts as 8 spaces: indent with spaces only"
    if not hint:
        return error
    return SourceError(loc, message + hint, error.source_line)
