"""Rule file text -> AST (`evse_rules.language.ast`), with syntax errors as SourceErrors.

The Lark parser (LALR, contextual lexer) is built once per process; a transformer turns its
tree (with positions) into AST nodes. A syntax error
is translated into "expected X, found Y" at the offending token; to report every syntax
error of a file, not only the first, a file that fails is parsed again piece by piece (each
unindented line with its indented continuation), collecting one error per piece.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput
from lark.indenter import Indenter

from evse_rules.errors import Location, SourceError
from evse_rules.language import ast
from evse_rules.language.lexer import TAB_LENGTH, BadCharacter, BadIndent, RuleLexer
from evse_rules.language.syntax import translate, with_hint
from evse_rules.language.units import ALIASES, NUMBER, UNITS

# The file being parsed and the line offset of the piece being parsed: set around each parse
# (context variables, so that parsing from several threads stays correct).
_FILE: ContextVar[str] = ContextVar("_FILE", default="<rules>")
_LINE_OFFSET: ContextVar[int] = ContextVar("_LINE_OFFSET", default=0)
# The column offset of the text being parsed: nonzero for the `{...}` of a log text, whose
# tokens are one line long and placed in the file as they are built.
_COL_OFFSET: ContextVar[int] = ContextVar("_COL_OFFSET", default=0)

# A log text shows at most this many values: each `{...}` is an expression compiled into the
# rule, and a text is one statement (several logs can show more).
MAX_INTERPOLATIONS = 1000

KEYWORDS = frozenset({
    "input", "let", "var", "charger", "if", "then", "else", "start", "stop", "set", "to", "of",
    "log", "every", "at", "on", "cron", "change", "for", "or", "and", "not", "is", "between",
    "true", "false", "smooth", "rise", "fall", "while", "when", "until", "in", "share",
    "among", "plan", "by", "cancel",
})


def grammar_text() -> str:
    """The grammar, from the installed package or, in a source checkout, from grammar/."""
    packaged = resources.files("evse_rules").joinpath("grammar", "evse_rules.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "evse_rules.lark"
    return checkout.read_text(encoding="utf-8")


class RuleIndenter(Indenter):
    """Indentation for Lark's own contextual lexer, used by the reference parser (tests
    compare it with the fast lexer of `lexer.py`, which does the same work itself)."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR"]  # noqa: RUF012 (Lark reads these class attributes)
    CLOSE_PAREN_types = ["RPAR"]  # noqa: RUF012
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = TAB_LENGTH

    def __init__(self, keyword_types: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keyword_types = keyword_types or {}

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        # Keywords are reserved, as in the fast lexer: a NAME that spells one is the keyword.
        keywords = self.keyword_types

        def reserved(tokens: Iterator[Token]) -> Iterator[Token]:
            for token in tokens:
                if token.type == "NAME" and token.value in keywords:
                    yield Token.new_borrow_pos(keywords[token.value], token.value, token)
                else:
                    yield token

        yield from super().process(reserved(stream))  # type: ignore[no-untyped-call]


def _tloc(token: Token) -> Location:
    offset = _LINE_OFFSET.get()
    shift = _COL_OFFSET.get()
    line = token.line or 1
    col = token.column or 1
    return Location(_FILE.get(), line + offset, col + shift, (token.end_line or line) + offset,
                    (token.end_column or col + 1) + shift)


_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t"}


def unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _ident(token: Token) -> ast.Ident:
    return ast.Ident(_tloc(token), str(token))


def _number(number: Token, unit: Token | None) -> ast.NumberLit:
    value = float(number)
    loc = _span(number, unit) if unit is not None else _tloc(number)
    if unit is None:
        return ast.NumberLit(loc, value, NUMBER, None, str(number))
    symbol = str(unit)
    text = f"{number} {unit}"
    known = UNITS.get(symbol) or UNITS.get(ALIASES.get(symbol, ""))
    if known is None:
        return ast.NumberLit(loc, value, None, symbol, text)
    return ast.NumberLit(loc, known.to_canonical(value), known.dimension, symbol, text)


def _tariff_is(c: list[Any], negated: bool) -> ast.Expr | None:
    """`price is offpeak` / `price is peak` (and `is not`): `offpeak(price)` said as people
    say it of a tariff (docs/tariffs.md); None for any other name."""
    word = str(c[-1])
    if word not in ("offpeak", "peak"):
        return None
    loc = _span(c[0], c[-1])
    call = ast.Call(loc, "offpeak", _tloc(c[-1]), (c[0],))
    return call if (word == "offpeak") != negated else ast.Unary(loc, "not", call)


def _span(first: Any, last: Any) -> Location:
    """From the start of `first` to the end of `last` (tokens or nodes)."""
    if type(first) is Token:
        offset = _LINE_OFFSET.get()
        file, line = _FILE.get(), (first.line or 1) + offset
        col = (first.column or 1) + _COL_OFFSET.get()
    else:
        a = first.loc
        file, line, col = a.file, a.line, a.col
    if type(last) is Token:
        return Location(file, line, col, (last.end_line or 1) + _LINE_OFFSET.get(),
                        (last.end_column or 1) + _COL_OFFSET.get())
    b = last.loc
    return Location(file, line, col, b.end_line, b.end_col)


def _binary(op: str) -> Any:
    def build(self: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(_span(c[0], c[-1]), op, c[0], c[-1])
    return build


class _Builder(Transformer[Token, Any]):
    """Builds AST nodes while the LALR parser reduces (an inline transformer: no parse tree
    is built). Named keyword tokens (IF, START, ...) give constructs their start."""

    def start(self, c: list[Any]) -> tuple[ast.Item, ...]:
        return tuple(c)

    # declarations
    def input_decl(self, c: list[Any]) -> ast.InputDecl:
        return ast.InputDecl(_span(c[0], c[2]), _ident(c[1]), c[2])

    def type_spec(self, c: list[Token]) -> ast.TypeSpec:
        return ast.TypeSpec(_tloc(c[0]), str(c[0]))

    def let_decl(self, c: list[Any]) -> ast.LetDecl:
        return ast.LetDecl(_span(c[0], c[2]), _ident(c[1]), c[2])

    def var_decl(self, c: list[Any]) -> ast.VarDecl:
        return ast.VarDecl(_span(c[0], c[3]), _ident(c[1]), c[2], c[3])

    def charger_decl(self, c: list[Token]) -> ast.ChargerDecl:
        return ast.ChargerDecl(_span(c[0], c[-1]), tuple(_ident(t) for t in c[1:]))

    def share_decl(self, c: list[Any]) -> ast.ShareDecl:
        return ast.ShareDecl(_span(c[0], c[-1]), c[1], tuple(_ident(t) for t in c[2:]))

    # statements and actions
    def if_stmt(self, c: list[Any]) -> ast.IfStmt:
        otherwise = c[3] if len(c) > 3 else ()
        return ast.IfStmt(_span(c[0], (otherwise or c[2])[-1]), c[1], c[2], otherwise)

    def do_stmt(self, c: list[Any]) -> ast.DoStmt:
        return ast.DoStmt(_span(c[0][0], c[0][-1]), c[0])

    def actions(self, c: list[ast.Action]) -> tuple[ast.Action, ...]:
        return tuple(c)

    def start_action(self, c: list[Token]) -> ast.RunAction:
        return ast.RunAction(_span(c[0], c[-1]), True, _ident(c[1]) if len(c) > 1 else None)

    def stop_action(self, c: list[Token]) -> ast.RunAction:
        # `stop now`, `stop garage now`: the safety stop. The word is not reserved (`now`
        # is also a built-in), so it is told here.
        names = c[1:]
        safety = bool(names) and str(names[-1]) == "now"
        if safety:
            names = names[:-1]
        charger = _ident(names[0]) if names else None
        if len(names) > 1:
            raise _LogSyntaxError(SourceError(_tloc(names[1]), f"expected 'now' or end of "
                                              f"line after stop {names[0]}, found "
                                              f"'{names[1]}'"))
        return ast.RunAction(_span(c[0], c[-1]), False, charger, safety)

    def set_action(self, c: list[Any]) -> ast.SetAction:
        target, charger = c[1]
        return ast.SetAction(_span(c[0], c[2]), target, charger, c[2])

    def plain_target(self, c: list[Token]) -> tuple[ast.Ident, None]:
        return _ident(c[0]), None

    def of_target(self, c: list[Token]) -> tuple[ast.Ident, ast.Ident]:
        return _ident(c[0]), _ident(c[1])

    def dotted_target(self, c: list[Token]) -> tuple[ast.Ident, ast.Ident]:
        return _ident(c[1]), _ident(c[0])

    def log_action(self, c: list[Token]) -> ast.LogAction:
        return ast.LogAction(_span(c[0], c[1]), _log_parts(c[1]))

    def plan_action(self, c: list[Any]) -> ast.PlanAction:
        return ast.PlanAction(_span(c[0], c[2]), None, c[1], c[2])

    def plan_of_action(self, c: list[Any]) -> ast.PlanAction:
        return ast.PlanAction(_span(c[0], c[3]), _ident(c[1]), c[2], c[3])

    def cancel_plan_action(self, c: list[Token]) -> ast.PlanAction:
        charger = _ident(c[2]) if len(c) > 2 else None
        return ast.PlanAction(_span(c[0], c[-1]), charger, None, None)

    # blocks and triggers
    def block(self, c: list[Any]) -> ast.Block:
        return ast.Block(_span(c[0], c[-1]), c[0], tuple(c[1:]))

    def every_trigger(self, c: list[Any]) -> ast.Every:
        return ast.Every(_span(c[0], c[1]), c[1])

    def at_trigger(self, c: list[Token]) -> ast.At:
        days = tuple(_ident(t) for t in c[2:] if t.type == "NAME")
        return ast.At(_span(c[0], c[-1]), _time(c[1]), days)

    def cron_trigger(self, c: list[Token]) -> ast.Cron:
        return ast.Cron(_span(c[0], c[1]), unescape(c[1][1:-1]), _tloc(c[1]))

    def change_trigger(self, c: list[Any]) -> ast.OnChange:
        return ast.OnChange(_span(c[0], c[1]), c[1])

    def when_trigger(self, c: list[Any]) -> ast.When:
        return ast.When(_span(c[0], c[1]), c[1])

    def if_guard(self, c: list[Any]) -> ast.Guard:
        return ast.Guard(_span(c[0], c[1]), "if", c[1])

    def while_guard(self, c: list[Any]) -> ast.Guard:
        return ast.Guard(_span(c[0], c[1]), "while", c[1])

    def between_guard(self, c: list[Any]) -> ast.Guard:
        loc = _span(c[0], c[2])
        return ast.Guard(loc, "between", ast.Between(loc, None, c[1], c[2]))

    def start_trigger(self, c: list[Any]) -> ast.OnStart:
        return ast.OnStart(_span(c[0], c[-1]))

    # expressions
    def for_expr(self, c: list[Any]) -> ast.For:
        return ast.For(_span(c[0], c[1]), c[0], c[1])

    def cond_expr(self, c: list[Any]) -> ast.Cond:
        return ast.Cond(_span(c[0], c[-1]), c[2], c[0], c[-1])

    def in_set(self, c: list[Any]) -> ast.In:
        return ast.In(_span(c[0], c[-1]), c[0], tuple(_ident(t) for t in c[1:-1]))

    def until(self, c: list[Any]) -> ast.Until:
        return ast.Until(_span(c[0], c[-1]), c[0], c[-1])

    or_op = _binary("or")
    and_op = _binary("and")
    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")

    def not_op(self, c: list[Any]) -> ast.Unary:
        return ast.Unary(_span(c[0], c[1]), "not", c[1])

    def compare(self, c: list[Any]) -> ast.Binary:
        return ast.Binary(_span(c[0], c[2]), str(c[1]), c[0], c[2])

    def is_name(self, c: list[Any]) -> ast.Expr:
        return _tariff_is(c, False) or ast.Is(_span(c[0], c[-1]), c[0], str(c[-1]),
                                              _tloc(c[-1]), False, False)

    def is_not_name(self, c: list[Any]) -> ast.Expr:
        return _tariff_is(c, True) or ast.Is(_span(c[0], c[-1]), c[0], str(c[-1]),
                                             _tloc(c[-1]), True, False)

    def is_text(self, c: list[Any]) -> ast.Is:
        return ast.Is(_span(c[0], c[-1]), c[0], unescape(c[-1][1:-1]), _tloc(c[-1]), False,
                      True)

    def is_not_text(self, c: list[Any]) -> ast.Is:
        return ast.Is(_span(c[0], c[-1]), c[0], unescape(c[-1][1:-1]), _tloc(c[-1]), True,
                      True)

    def between(self, c: list[Any]) -> ast.Between:
        return ast.Between(_span(c[0], c[-1]), c[0], c[1], c[2])

    def time_between(self, c: list[Any]) -> ast.Between:
        return ast.Between(_span(c[0], c[-1]), None, c[1], c[2])

    def negate(self, c: list[Any]) -> ast.Expr:
        operand = c[1]
        loc = _span(c[0], operand)
        if isinstance(operand, ast.NumberLit):
            # Fold `-5 A` into a literal, so that `for -5 min` reads as a negative duration.
            return replace(operand, loc=loc, value=-operand.value, text="-" + operand.text)
        return ast.Unary(loc, "-", operand)

    def quantity(self, c: list[Token]) -> ast.NumberLit:
        return _number(c[0], c[1] if len(c) > 1 else None)

    def time_of_day(self, c: list[Token]) -> ast.TimeLit:
        return _time(c[0])

    def text(self, c: list[Token]) -> ast.TextLit | ast.Template:
        if "{" in c[0] or "}" in c[0]:
            # Values are interpolated wherever a text is written, as in `log`.
            parts = _log_parts(c[0])
            if all(isinstance(part, str) for part in parts):
                return ast.TextLit(_tloc(c[0]), "".join(str(part) for part in parts))
            return ast.Template(_tloc(c[0]), parts)
        return ast.TextLit(_tloc(c[0]), unescape(c[0][1:-1]))

    def true(self, c: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(_tloc(c[0]), True)

    def false(self, c: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(_tloc(c[0]), False)

    def name(self, c: list[Token]) -> ast.Name:
        if len(c) == 2:
            return ast.Name(_span(c[0], c[1]), str(c[1]), str(c[0]))
        return ast.Name(_tloc(c[0]), str(c[0]))

    def call(self, c: list[Any]) -> ast.Call:
        return ast.Call(_span(c[0], c[-1]), str(c[0]), _tloc(c[0]), tuple(c[1:-1]))

    def smooth(self, c: list[Any]) -> ast.Smooth:
        return ast.Smooth(_span(c[0], c[-1]), c[1], c[2], c[3])


def _time(token: Token) -> ast.TimeLit:
    hours, minutes = (int(part) for part in str(token).split(":"))
    valid = hours < 24 and minutes < 60
    return ast.TimeLit(_tloc(token), float(hours * 3600 + minutes * 60), str(token), valid)


class _LogSyntaxError(Exception):
    def __init__(self, error: SourceError) -> None:
        super().__init__(error.message)
        self.error = error


def _log_parts(token: Token) -> tuple[str | ast.Expr, ...]:
    """Split `"pv is {pv}"` into text and expressions; `{{` and `}}` are literal braces."""
    raw = str(token)[1:-1]
    start = _tloc(token)
    parts: list[str | ast.Expr] = []
    literal: list[str] = []
    values = 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if raw.startswith("{{", i) or raw.startswith("}}", i):
            literal.append(ch)
            i += 2
            continue
        if ch == "}":
            raise _LogSyntaxError(_error_at(start, i + 1, 1, "a '}' without its '{' in the "
                                            "log text (write '}}' for a brace)"))
        if ch != "{":
            literal.append(raw[i])
            i += 1
            continue
        close = raw.find("}", i + 1)
        if close < 0:
            raise _LogSyntaxError(_error_at(start, i + 1, len(raw) - i, "a '{' without its '}' "
                                            "in the log text (write '{{' for a brace)"))
        inner = raw[i + 1:close]
        if not inner.strip():
            raise _LogSyntaxError(_error_at(start, i + 1, close - i + 1,
                                            "empty '{}' in the log text: put a name inside"))
        values += 1
        if values > MAX_INTERPOLATIONS:
            raise _LogSyntaxError(_error_at(start, i + 1, close - i + 1,
                                            f"a log text shows at most {MAX_INTERPOLATIONS:,} "
                                            "values: split it into several logs"))
        if literal:
            parts.append(unescape("".join(literal)))
            literal = []
        parts.append(_parse_interpolation(inner, start, i + 2))
        i = close + 1
    if literal:
        parts.append(unescape("".join(literal)))
    return tuple(parts)


def _error_at(string_loc: Location, offset: int, width: int, message: str) -> SourceError:
    col = string_loc.col + offset
    loc = Location(string_loc.file, string_loc.line, col, string_loc.line, col + width)
    return SourceError(loc, message)


def _parse_interpolation(text: str, string_loc: Location, offset: int) -> ast.Expr:
    """Parse `{...}` of a log text as an expression, with positions in the file (the nodes
    are placed as they are built: an expression of any depth is never walked again)."""
    token = _LINE_OFFSET.set(string_loc.line - 1)
    col_token = _COL_OFFSET.set(string_loc.col + offset - 1)
    try:
        expr: ast.Expr = _parser().parse(text, start="expr")  # type: ignore[assignment]
    except UnexpectedInput as error:
        moved = _translate(error, text.splitlines() or [""])
        message = moved.message.replace("found end of file", "found '}'")
        raise _LogSyntaxError(_error_at(string_loc, offset + moved.location.col - 1,
                                        moved.location.end_col - moved.location.col,
                                        message)) from None
    except BadCharacter as error:
        raise _LogSyntaxError(_error_at(string_loc, offset + error.column - 1, 1,
                                        f"unexpected character {error.char!r}")) from None
    finally:
        _COL_OFFSET.reset(col_token)
        _LINE_OFFSET.reset(token)
    return expr


def _fixed_texts(parser: Lark) -> dict[str, str]:
    """Keyword and punctuation text -> terminal name, as the grammar names them."""
    return {t.pattern.value: t.name for t in parser.terminals if t.pattern.type == "str"}


def _cache_file(grammar: str) -> str | bool:
    """Where Lark keeps its analysis of the grammar between runs (a command starts twice as
    fast): a per-user cache directory, never a shared temporary one. False: no cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = hashlib.sha256((grammar + lark.__version__).encode()).hexdigest()[:16]
    folder = Path(base) / "evse-rules"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return str(folder / f"grammar-{key}.lark-cache")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The parser used for rule files: the fast lexer and an inline transformer."""
    grammar = grammar_text()
    parser = Lark(
        grammar, parser="lalr", lexer=RuleLexer, start=["start", "expr"],
        maybe_placeholders=False, transformer=_Builder(), cache=_cache_file(grammar),
    )
    RuleLexer.types = _fixed_texts(parser)
    return parser


def build_reference_parser(strict: bool = False) -> Lark:
    """The same grammar with Lark's contextual lexer and no transformer: tests use it to
    prove the grammar clean under `strict=True` and the fast lexer faithful."""
    plain = Lark(grammar_text(), parser="lalr", lexer="contextual", start=["start", "expr"],
                 maybe_placeholders=False, strict=strict, postlex=RuleIndenter())
    keywords = {text: name for text, name in _fixed_texts(plain).items() if text.isalpha()}
    assert plain.options.postlex is not None
    plain.options.postlex.keyword_types = keywords  # type: ignore[attr-defined]
    return plain


def _translate(error: UnexpectedInput, lines: list[str]) -> SourceError:
    texts = {t.name: t.pattern.value for t in _parser().terminals if t.pattern.type == "str"}
    return translate(error, lines, _FILE.get(), _LINE_OFFSET.get(), texts)


def _with_source(error: SourceError, lines: list[str]) -> SourceError:
    line = error.location.line
    source = lines[line - 1] if 0 < line <= len(lines) else None
    return SourceError(error.location, error.message, source)


def _parse_piece(text: str, lines: list[str]) -> tuple[ast.Item, ...]:
    """Parse `text` (a whole file or one piece); raise SourceError on the first problem."""
    try:
        items: tuple[ast.Item, ...] = _parser().parse(  # type: ignore[assignment]
            text, start="start")
        return items
    except UnexpectedInput as error:
        raise with_hint(_translate(error, lines), lines, _LINE_OFFSET.get()) from None
    except _LogSyntaxError as error:
        raise error.error from None
    except BadIndent as error:
        line = error.line + _LINE_OFFSET.get()
        loc = Location(_FILE.get(), line, 1, line, error.width + 1)
        raise with_hint(SourceError(loc, "this line's indentation matches no enclosing block"),
                        lines, _LINE_OFFSET.get()) from None
    except BadCharacter as error:
        line = error.line + _LINE_OFFSET.get()
        loc = Location(_FILE.get(), line, error.column, line, error.column + 1)
        if error.char == '"':
            raise SourceError(loc, "a quoted text opens here and is not closed on this line "
                              "(end it with \")") from None
        raise SourceError(loc, f"unexpected character {error.char!r}") from None


def _pieces(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(first line index, text) of each unindented line with the lines that continue it."""
    start: int | None = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not line[0].isspace():
            if start is not None:
                yield start, "\n".join(lines[start:index]) + "\n"
            start = index
    if start is not None:
        yield start, "\n".join(lines[start:]) + "\n"


def source_lines(text: str) -> list[str]:
    """The lines of a text as the lexer counts them: only "\n" ends a line (str.splitlines
    would also split at form feeds and other separators the lexer treats as text)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_text(text: str, filename: str = "<rules>") -> tuple[ast.RuleFile, list[SourceError]]:
    """Parse a rule file. Returns the tree and the syntax errors (the tree is only usable
    when there are none)."""
    lines = source_lines(text)
    file_token = _FILE.set(filename)
    try:
        try:
            items = _parse_piece(text + "\n", lines)
            return ast.RuleFile(filename, items, tuple(lines)), []
        except SourceError as error:
            first_error = _with_source(error, lines)
        # The first error is exact. To find the others, parse each following piece (an
        # unindented line and the lines that continue it) on its own.
        errors = [first_error]
        pieces = list(_pieces(lines))
        for index, (first, piece) in enumerate(pieces):
            if first + 1 <= first_error.location.line:
                continue            # up to the first error, the whole-file parse is exact
            offset_token = _LINE_OFFSET.set(first)
            try:
                _parse_piece(piece, source_lines(piece))
            except SourceError as error:
                if index < len(pieces) - 1:
                    # The piece's end is not the file's: the next line starts a new one.
                    error = SourceError(error.location, error.message.replace(
                        "found end of file", "found the next unindented line"))
                errors.append(_with_source(error, lines))
            finally:
                _LINE_OFFSET.reset(offset_token)
        return ast.RuleFile(filename, (), tuple(lines)), errors
    finally:
        _FILE.reset(file_token)
