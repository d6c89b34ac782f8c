"""Parsing rule files: the grammar, the lexer, every construct, syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from evse_rules.errors import RuleFileErrors, SourceError
from evse_rules.language import ast, load_program_text
from evse_rules.language.lexer import RuleLexer, tokens
from evse_rules.language.parse import KEYWORDS, _parser, build_reference_parser, parse_text
from evse_rules.language.units import DURATION, ENERGY, NUMBER, PERCENTAGE, POWER

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "rules").glob("*.evr"))


def parse_ok(text: str) -> tuple[ast.Item, ...]:
    tree, errors = parse_text(text, "t.evr")
    assert errors == [], [e.render() for e in errors]
    return tree.items


def syntax_errors(text: str) -> list[SourceError]:
    _, errors = parse_text(text, "t.evr")
    assert errors, "expected a syntax error"
    return errors


def first_condition(text: str) -> ast.Expr:
    item = parse_ok(text)[0]
    assert isinstance(item, ast.IfStmt)
    return item.condition


# ---- the grammar ----------------------------------------------------------------------------

def test_grammar_is_clean_under_lark_strict_mode() -> None:
    # strict=True raises on any shift/reduce conflict and on any terminal collision.
    parser = build_reference_parser(strict=True)
    assert {"start", "expr"} <= set(parser.options.start)


def test_the_keyword_list_is_every_word_of_the_grammar() -> None:
    words = {t.pattern.value for t in _parser().terminals
             if t.pattern.type == "str" and t.pattern.value.isalpha()}
    assert words == KEYWORDS


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_fast_lexer_gives_the_tokens_of_larks_contextual_lexer(path: Path) -> None:
    text = path.read_text() + "\n"
    reference = build_reference_parser()
    theirs = [(t.type, str(t), t.line, t.column) for t in reference.lex(text)
              if t.type not in ("_INDENT", "_DEDENT")]
    ours = [(t.type, str(t), t.line, t.column) for t in tokens(text, RuleLexer.types)
            if t.type not in ("_INDENT", "_DEDENT")]
    assert ours == theirs


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_fast_lexer_and_reference_parser_accept_the_same_files(path: Path) -> None:
    text = path.read_text() + "\n"
    build_reference_parser().parse(text, start="start")    # raises on a syntax error
    parse_ok(text)


# ---- literals and units ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value", "dimension"), [
    ("1400W", 1400.0, POWER),
    ("1400 W", 1400.0, POWER),
    ("1.4 kW", 1400.0, POWER),
    ("1.4kW", 1400.0, POWER),
    ("5min", 300.0, DURATION),
    ("5 min", 300.0, DURATION),
    ("2 h", 7200.0, DURATION),
    ("30 s", 30.0, DURATION),
    ("10 minutes", 600.0, DURATION),
    ("80%", 80.0, PERCENTAGE),
    ("20 kWh", 72_000_000.0, ENERGY),
    ("3", 3.0, NUMBER),
    (".5", 0.5, NUMBER),
])
def test_quantities_are_normalised_to_canonical_units(text: str, value: float,
                                                      dimension: object) -> None:
    items = parse_ok(f"let x = {text}\n")
    let = items[0]
    assert isinstance(let, ast.LetDecl) and isinstance(let.expr, ast.NumberLit)
    assert let.expr.value == pytest.approx(value)
    assert let.expr.dimension == dimension


def test_unknown_unit_is_kept_for_the_checker() -> None:
    let = parse_ok("let x = 5 Kw\n")[0]
    assert isinstance(let, ast.LetDecl) and isinstance(let.expr, ast.NumberLit)
    assert let.expr.dimension is None and let.expr.unit == "Kw"


def test_negative_literal_is_folded() -> None:
    let = parse_ok("let x = -5 A\n")[0]
    assert isinstance(let, ast.LetDecl) and isinstance(let.expr, ast.NumberLit)
    assert let.expr.value == -5.0


def test_time_of_day_text_and_booleans() -> None:
    cond = first_condition('if time > 22:30 and tariff is "HC" and true then stop\n')
    assert isinstance(cond, ast.Binary)
    inner = cond.left
    assert isinstance(inner, ast.Binary) and isinstance(inner.left, ast.Binary)
    time_lit = inner.left.right
    assert isinstance(time_lit, ast.TimeLit) and time_lit.seconds == 22 * 3600 + 30 * 60
    text = inner.right
    assert isinstance(text, ast.Is) and text.text and text.value == "HC"
    assert isinstance(cond.right, ast.BoolLit) and cond.right.value is True


def test_strings_unescape() -> None:
    log = parse_ok('log "say \\"hi\\" \\\\ {{x}}"\n')[0]
    assert isinstance(log, ast.DoStmt)
    action = log.actions[0]
    assert isinstance(action, ast.LogAction)
    assert action.parts == ('say "hi" \\ {x}',)


# ---- constructs -------------------------------------------------------------------------------

def test_the_design_card_sentence_parses_verbatim() -> None:
    items = parse_ok("if mode is auto and pv > 1400W then set amps to surplus/voltage\n")
    stmt = items[0]
    assert isinstance(stmt, ast.IfStmt)
    assert isinstance(stmt.condition, ast.Binary) and stmt.condition.op == "and"
    action = stmt.then[0]
    assert isinstance(action, ast.SetAction) and action.target.name == "amps"
    assert isinstance(action.value, ast.Binary) and action.value.op == "/"


def test_declarations() -> None:
    items = parse_ok("input pv: W\ninput tariff: text\nlet s = pv - 1 kW\n"
                     "var target: kWh = 20 kWh\ncharger garage, carport\ninput soc: %\n")
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["InputDecl", "InputDecl", "LetDecl", "VarDecl", "ChargerDecl",
                     "InputDecl"]
    charger = items[4]
    assert isinstance(charger, ast.ChargerDecl)
    assert [n.name for n in charger.names] == ["garage", "carport"]
    assert isinstance(items[5], ast.InputDecl) and items[5].type.text == "%"


def test_several_actions_per_branch_and_else() -> None:
    stmt = parse_ok("if x then start, set amps to 16 A, log \"on\" else stop, "
                    "set boost to false\n")[0]
    assert isinstance(stmt, ast.IfStmt)
    assert [type(a).__name__ for a in stmt.then] == ["RunAction", "SetAction", "LogAction"]
    assert [type(a).__name__ for a in stmt.otherwise] == ["RunAction", "SetAction"]


@pytest.mark.parametrize(("text", "target", "charger"), [
    ("set amps to 16 A", "amps", None),
    ("set amps of garage to 16 A", "amps", "garage"),
    ("set garage.amps to 16 A", "amps", "garage"),
    ("set mode of garage to auto", "mode", "garage"),
    ("set carport.mode to manual", "mode", "carport"),
    ("set boost to true", "boost", None),
])
def test_set_targets(text: str, target: str, charger: str | None) -> None:
    stmt = parse_ok(text + "\n")[0]
    assert isinstance(stmt, ast.DoStmt)
    action = stmt.actions[0]
    assert isinstance(action, ast.SetAction)
    assert action.target.name == target
    assert (action.charger.name if action.charger else None) == charger


def test_start_and_stop_may_name_a_charger() -> None:
    stmt = parse_ok("start garage, stop carport, start\n")[0]
    assert isinstance(stmt, ast.DoStmt)
    names = [a.charger.name if isinstance(a, ast.RunAction) and a.charger else None
             for a in stmt.actions]
    assert names == ["garage", "carport", None]


def test_trigger_blocks_indented_and_on_one_line() -> None:
    items = parse_ok(
        "every 5 min:\n    start\n    stop\n"
        "at 22:00 on mon, tue:\n    start\n"
        'cron "0 22 * * 1-5": start\n'
        "on change of garage.state:\n    log \"changed\"\n"
        "on start: stop\n"
        "at 06:00: stop\n"
    )
    triggers = [type(i.trigger).__name__ for i in items if isinstance(i, ast.Block)]
    assert triggers == ["Every", "At", "Cron", "OnChange", "OnStart", "At"]
    every = items[0]
    assert isinstance(every, ast.Block) and len(every.statements) == 2
    at = items[1]
    assert isinstance(at, ast.Block) and isinstance(at.trigger, ast.At)
    assert [d.name for d in at.trigger.days] == ["mon", "tue"]
    cron = items[2]
    assert isinstance(cron, ast.Block) and isinstance(cron.trigger, ast.Cron)
    assert cron.trigger.expression == "0 22 * * 1-5"


def test_for_between_aggregates_and_smooth() -> None:
    cond = first_condition("if avg(pv, 10 min) < 1 kW and between 22:00 and 06:00 "
                           "for 3 min then stop\n")
    # `for` binds loosest: (avg(...) < 1 kW and between ...) for 3 min
    assert isinstance(cond, ast.For) and cond.duration.value == 180.0
    assert isinstance(cond.condition, ast.Binary) and cond.condition.op == "and"
    window = cond.condition.left
    assert isinstance(window, ast.Binary) and isinstance(window.left, ast.Call)
    assert isinstance(cond.condition.right, ast.Between)
    let = parse_ok("let s = smooth(pv, rise 20 s, fall 10 min)\n")[0]
    assert isinstance(let, ast.LetDecl) and isinstance(let.expr, ast.Smooth)
    assert (let.expr.rise.value, let.expr.fall.value) == (20.0, 600.0)


def test_parentheses_scope_for_and_allow_line_breaks() -> None:
    cond = first_condition("if (pv > 1 kW for 3 min) and (mode is auto or\n"
                           "        mode is manual) then stop\n")
    assert isinstance(cond, ast.Binary) and isinstance(cond.left, ast.For)


def test_backslash_continues_a_line() -> None:
    stmt = parse_ok("if x then \\\n    start\n")[0]
    assert isinstance(stmt, ast.IfStmt)


def test_operator_precedence() -> None:
    cond = first_condition("if not a or b and c > 1 + 2 * 3 then stop\n")
    assert isinstance(cond, ast.Binary) and cond.op == "or"
    assert isinstance(cond.left, ast.Unary) and cond.left.op == "not"
    right = cond.right
    assert isinstance(right, ast.Binary) and right.op == "and"
    compare = right.right
    assert isinstance(compare, ast.Binary) and compare.op == ">"
    total = compare.right
    assert isinstance(total, ast.Binary) and total.op == "+"
    assert isinstance(total.right, ast.Binary) and total.right.op == "*"


def test_is_not_and_between_with_subject() -> None:
    cond = first_condition("if state is not charging and soc between 20% and 80% then stop\n")
    assert isinstance(cond, ast.Binary)
    assert isinstance(cond.left, ast.Is) and cond.left.negated
    assert isinstance(cond.right, ast.Between) and cond.right.subject is not None


def test_log_interpolation_has_file_positions() -> None:
    stmt = parse_ok('if x then log "pv is {pv + 1 kW} now"\n')[0]
    assert isinstance(stmt, ast.IfStmt)
    log = stmt.then[0]
    assert isinstance(log, ast.LogAction)
    text, expr, tail = log.parts
    assert text == "pv is " and tail == " now"
    assert isinstance(expr, ast.Binary)
    # `pv` starts at column 23 of the line.
    assert (expr.loc.line, expr.loc.col) == (1, 23)
    assert isinstance(expr.left, ast.Name) and expr.left.loc.col == 23


def test_comments_and_blank_lines_are_ignored() -> None:
    items = parse_ok("# a file\n\ninput pv: W   # the roof\n   # indented comment\n"
                     "every 5 min:   # a block\n    # inside\n    stop\n\n# end")
    assert len(items) == 2


def test_statement_location_spans_its_line() -> None:
    stmt = parse_ok("\n\nif x then stop\n")[0]
    assert (stmt.loc.line, stmt.loc.col, stmt.loc.end_col) == (3, 1, 15)


# ---- syntax errors ------------------------------------------------------------------------------

def test_syntax_error_says_expected_and_found_with_a_caret() -> None:
    (error,) = syntax_errors("input pv: W\nif pv > then stop\n")
    assert error.message == "expected an expression, found 'then'"
    assert (error.location.line, error.location.col) == (2, 9)
    assert error.render() == ("t.evr:2:9: error: expected an expression, found 'then'\n"
                              "    if pv > then stop\n"
                              "            ^^^^")


def test_every_syntax_error_of_a_file_is_reported() -> None:
    errors = syntax_errors("input pv W\nif pv > 3 kW then\nstart\nlet = 4\n")
    assert [e.location.line for e in errors] == [1, 2, 4]
    assert errors[0].message == "expected ':', found 'W'"
    assert errors[1].message == ("expected an action (start, stop, set, log, plan or "
                                 "cancel), found end of line")
    assert errors[2].message == "expected a name, found '='"


def test_keywords_are_reserved() -> None:
    (error,) = syntax_errors("let if = 3\n")
    assert error.message == "expected a name, found 'if'"


def test_unexpected_character() -> None:
    (error,) = syntax_errors("if x ! 3 then stop\n")
    assert error.message == "unexpected character '!'"
    assert error.location.col == 6


def test_inconsistent_indentation() -> None:
    (error,) = syntax_errors("every 5 min:\n        start\n    stop\n")
    assert error.message == "this line's indentation matches no enclosing block"
    assert error.location.line == 3


def test_unexpected_indentation() -> None:
    (error,) = syntax_errors("start\n    stop\n")
    assert error.message == ("this line is indented, but the line above opens no block "
                             "(blocks open with a trigger and a colon, like `every 5 min:`)")
    assert (error.location.line, error.location.col, error.location.end_col) == (2, 1, 5)


def test_block_without_statements() -> None:
    (error,) = syntax_errors("every 5 min:\nstart\n")
    assert error.message == "expected an indented block, found 'start'"
    assert error.location.line == 2


def test_errors_after_the_first_are_found_piece_by_piece() -> None:
    errors = syntax_errors("if then stop\nevery 5 min:\nif x then stop\nlet = 1\n")
    assert [(e.location.line, e.message) for e in errors] == [
        (1, "expected an expression, found 'then'"),
        (2, "expected an indented block, found the next unindented line"),
        (4, "expected a name, found '='"),
    ]


def test_unexpected_end_of_file_inside_parentheses() -> None:
    (error,) = syntax_errors("if (x then stop\n")
    assert "found 'then'" in error.message


@pytest.mark.parametrize(("text", "message", "col"), [
    ('log "a } b"', "a '}' without its '{' in the log text (write '}}' for a brace)", 8),
    ('log "a { b"', "a '{' without its '}' in the log text (write '{{' for a brace)", 8),
    ('log "a {  } b"', "empty '{}' in the log text: put a name inside", 8),
    ('log "a {pv +} b"', "expected an expression, found '}'", 13),
    ('log "a {pv ! 2} b"', "unexpected character '!'", 12),
])
def test_log_text_errors(text: str, message: str, col: int) -> None:
    (error,) = syntax_errors(text + "\n")
    assert error.message == message
    assert error.location.col == col


def test_a_file_with_syntax_errors_never_gives_a_program() -> None:
    with pytest.raises(RuleFileErrors) as caught:
        load_program_text("input pv: W\nif pv > 1 kW then start\nif pv < then stop\n")
    assert len(caught.value.errors) == 1


def test_a_deeply_nested_log_value_is_an_error_at_its_place_not_a_crash() -> None:
    text = "input pv: W\nlog \"{" + "+".join(["pv"] * 3000) + "}\"\n"
    with pytest.raises(RuleFileErrors) as caught:
        load_program_text(text, "deep.evr")
    (error,) = caught.value.errors
    assert error.message.startswith("this expression is nested too deeply")
    assert (error.location.file, error.location.line, error.location.col) == ("deep.evr", 2, 7)


def test_a_keyword_glued_to_a_name_is_not_split() -> None:
    # Keywords are whole words: `isauto` is one (unknown) name, never `is auto`.
    (error,) = syntax_errors("if mode isauto then stop\n")
    assert (error.location.line, error.location.col) == (1, 9)
    assert "isauto" in error.message
