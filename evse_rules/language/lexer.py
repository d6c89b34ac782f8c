"""The lexer of rule files: text -> Lark tokens, indentation included.

Lark's own lexers are correct but slow for this language (a regex match and several
Python calls per token). This one scans with a single compiled pattern and does the work of
`lark.indenter.Indenter` on the way: newlines inside parentheses are dropped, and changes of
indentation after a newline become _INDENT / _DEDENT tokens. It produces exactly the
terminals of grammar/evse_rules.lark (a test compares it with Lark's contextual lexer on
the example files). Keywords are reserved: a keyword is never a NAME.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from lark import Token
from lark.lexer import Lexer, LexerState
from lark.utils import TextSlice

_PATTERN = re.compile(r"""
    (?P<SPACE>[\t ]+|\\[\t ]*\r?\n)
  | (?P<NL>(?:\r?\n[\t ]*(?:\#[^\n]*)?)+)
  | (?P<COMMENT>\#[^\n]*)
  | (?P<TIME>\d{1,2}:\d\d)
  | (?P<NUMBER>\d+(?:\.\d+)?|\.\d+)
  | (?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<STRING>"(?:[^"\\\n]|\\.)*")
  | (?P<COMPARE><=|>=|==|!=|<|>)
  | (?P<PUNCT>[-+*/%(),.:=])
""", re.VERBOSE)

TAB_LENGTH = 8


class BadCharacter(Exception):
    """A character no token can start with, at (line, column)."""

    def __init__(self, char: str, line: int, column: int) -> None:
        super().__init__(f"unexpected character {char!r}")
        self.char = char
        self.line = line
        self.column = column


class BadIndent(Exception):
    """A dedent to a column that matches no enclosing block."""

    def __init__(self, line: int, width: int) -> None:
        super().__init__("inconsistent indentation")
        self.line = line
        self.width = width


class RuleLexer(Lexer):
    """A Lark custom lexer (interface 2). `types` maps fixed texts (keywords, punctuation)
    to their terminal names; it is filled from the grammar when the parser is built."""

    __future_interface__ = 2
    types: ClassVar[dict[str, str]] = {}

    def __init__(self, lexer_conf: Any) -> None:
        self.lexer_conf = lexer_conf

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        source = lexer_state.text
        text = source.text[source.start:source.end] if isinstance(source, TextSlice) \
            else str(source)
        return tokens(text, self.types)


def tokens(text: str, types: dict[str, str]) -> Iterator[Token]:
    """The tokens of `text` (which should end with a newline)."""
    match = _PATTERN.match
    new = Token
    line = 1
    line_start = 0
    pos = 0
    end = len(text)
    parens = 0
    indents = [0]
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise BadCharacter(text[pos], line, pos - line_start + 1)
        kind = m.lastgroup or ""
        value = m.group()
        next_pos = m.end()
        column = pos - line_start + 1
        if kind == "SPACE" or kind == "COMMENT":
            if kind == "SPACE" and "\n" in value:      # a backslash continuation
                line += 1
                line_start = pos + value.rindex("\n") + 1
            pos = next_pos
            continue
        if kind == "NL":
            newlines = value.count("\n")
            token_line = line
            line += newlines
            line_start = pos + value.rindex("\n") + 1
            if parens:
                pos = next_pos
                continue
            token = new("_NL", value, pos, token_line, column, line, next_pos - line_start + 1,
                        next_pos)
            yield token
            indent_text = value[value.rindex("\n") + 1:]
            if "#" in indent_text:
                indent_text = indent_text[:indent_text.index("#")]
            indent = indent_text.count(" ") + indent_text.count("\t") * TAB_LENGTH
            if indent > indents[-1]:
                indents.append(indent)
                yield new("_INDENT", indent_text, pos, token_line, column, line,
                          next_pos - line_start + 1, next_pos)
            else:
                while indent < indents[-1]:
                    indents.pop()
                    yield new("_DEDENT", indent_text, pos, token_line, column, line,
                              next_pos - line_start + 1, next_pos)
                if indent != indents[-1]:
                    raise BadIndent(line, len(indent_text))
            pos = next_pos
            continue
        if kind == "NAME" or kind == "PUNCT":
            kind = types.get(value, "NAME" if kind == "NAME" else value)
            if kind == "LPAR":
                parens += 1
            elif kind == "RPAR" and parens:
                parens -= 1
        yield new(kind, value, pos, line, column, line, column + len(value), next_pos)
        pos = next_pos
    while len(indents) > 1:
        indents.pop()
        yield new("_DEDENT", "", end, line, 1, line, 1, end)
