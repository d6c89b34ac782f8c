"""The compiled code against a plain interpreter: random expressions over known and unknown
values must give the same value (let), the same `then` and the same `else`."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.language import ActionKind, load_program_text

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Tree = tuple[Any, ...]

# Power-valued leaves, boolean leaves.
NUMBER_LEAVES = ["a", "b", "1 W", "0 W", "2.5 W"]
BOOLEAN_LEAVES = ["p", "q", "true", "false", "(mode is auto)", "(mode is not manual)"]


def numbers(depth: int) -> st.SearchStrategy[Tree]:
    leaf = st.sampled_from(NUMBER_LEAVES).map(lambda name: ("leaf", name))
    if depth == 0:
        return leaf
    sub = numbers(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(["+", "-"]), sub, sub),
        st.tuples(st.just("scale"), sub, st.sampled_from(["2", "0", "0.5"])),
        st.tuples(st.just("ratio"), sub, sub),          # (x / y) * 1 W: power again
        st.tuples(st.just("neg"), sub),
        st.tuples(st.sampled_from(["min", "max"]), sub, sub),
        st.tuples(st.sampled_from(["abs", "round", "floor", "ceil"]), sub),
        st.tuples(st.just("clamp"), sub, sub, sub),
    )


def conditions(depth: int) -> st.SearchStrategy[Tree]:
    leaf = st.sampled_from(BOOLEAN_LEAVES).map(lambda name: ("leaf", name))
    num = numbers(1)
    compare = st.tuples(st.just("cmp"), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
                        num, num)
    if depth == 0:
        return st.one_of(leaf, compare)
    sub = conditions(depth - 1)
    return st.one_of(
        leaf, compare,
        st.tuples(st.sampled_from(["and", "or"]), sub, sub),
        st.tuples(st.just("not"), sub),
        st.tuples(st.just("known"), num),
        st.tuples(st.just("between"), num, num, num),
        st.tuples(st.just("eq_bool"), sub, sub),
    )


def text(tree: Tree) -> str:
    kind = tree[0]
    if kind == "leaf":
        return str(tree[1])
    if kind in ("+", "-", "and", "or"):
        return f"({text(tree[1])} {kind} {text(tree[2])})"
    if kind == "scale":
        return f"({text(tree[1])} * {tree[2]})"
    if kind == "ratio":
        return f"(({text(tree[1])} / {text(tree[2])}) * 1 W)"
    if kind == "neg":
        return f"(-{text(tree[1])})"
    if kind in ("min", "max", "clamp", "abs", "round", "floor", "ceil", "known"):
        return f"{kind}({', '.join(text(t) for t in tree[1:])})"
    if kind == "cmp":
        return f"({text(tree[2])} {tree[1]} {text(tree[3])})"
    if kind == "not":
        return f"(not {text(tree[1])})"
    if kind == "between":
        return f"({text(tree[1])} between {text(tree[2])} and {text(tree[3])})"
    assert kind == "eq_bool"
    return f"({text(tree[1])} == {text(tree[2])})"


def _round(x: float) -> float:
    return float(math.floor(x + 0.5)) if x >= 0 else -float(math.floor(-x + 0.5))


def evaluate(tree: Tree, env: dict[str, Any]) -> Any:
    """The reference: a direct reading of docs/language.md, unknown as None."""
    kind = tree[0]
    if kind == "leaf":
        name = tree[1]
        if name in env:
            return env[name]
        if name.startswith("(mode is"):
            mode = env["evse.mode"]
            if mode is None:
                return None                 # a comparison with unknown is unknown
            return mode == "auto" if name == "(mode is auto)" else mode != "manual"
        if name in ("true", "false"):
            return name == "true"
        return float(name.split()[0])
    if kind in ("and", "or"):
        left, right = evaluate(tree[1], env), evaluate(tree[2], env)
        if kind == "and":
            if left is False or right is False:
                return False
            return None if left is None or right is None else True
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if kind == "not":
        value = evaluate(tree[1], env)
        return None if value is None else not value
    if kind == "known":
        return evaluate(tree[1], env) is not None
    values = [evaluate(t, env) for t in tree[1:] if isinstance(t, tuple)]
    if any(v is None for v in values):
        return None
    if kind == "+":
        return values[0] + values[1]
    if kind == "-":
        return values[0] - values[1]
    if kind == "scale":
        return values[0] * float(tree[2])
    if kind == "ratio":
        return None if values[1] == 0 else values[0] / values[1] * 1.0
    if kind == "neg":
        return -values[0]
    if kind == "min":
        return min(values)
    if kind == "max":
        return max(values)
    if kind == "abs":
        return abs(values[0])
    if kind == "round":
        return _round(values[0])
    if kind == "floor":
        return float(math.floor(values[0]))
    if kind == "ceil":
        return float(math.ceil(values[0]))
    if kind == "clamp":
        return min(max(values[0], values[1]), values[2])
    if kind == "cmp":
        left, right = values
        return {"<": left < right, "<=": left <= right, ">": left > right,
                ">=": left >= right, "==": left == right, "!=": left != right}[tree[1]]
    if kind == "between":
        return values[1] <= values[0] <= values[2]
    assert kind == "eq_bool"
    return values[0] == values[1]


HEADER = "input a: W\ninput b: W\ninput p: boolean\ninput q: boolean\n"
NUMBER_VALUES = st.sampled_from([None, 0.0, 1.0, 2.5, -3.0])
BOOLEAN_VALUES = st.sampled_from([None, True, False])


def run(program_text: str, env: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    program = load_program_text(HEADER + program_text, "c.evr")
    row = [env.get(e.name) for e in program.externals]
    result = program.tick(NOW, row)
    return result.lets, [a.value for a in result.actions if a.kind is ActionKind.LOG]


def same(compiled: Any, reference: Any) -> bool:
    if isinstance(compiled, float) and isinstance(reference, float):
        return math.isclose(compiled, reference, rel_tol=1e-9, abs_tol=1e-12)
    return type(compiled) is type(reference) and compiled == reference


@settings(max_examples=300, deadline=None)
@given(numbers(3), NUMBER_VALUES, NUMBER_VALUES)
def test_compiled_arithmetic_matches_the_reference(tree: Tree, a: Any, b: Any) -> None:
    env = {"a": a, "b": b, "p": None, "q": None, "evse.mode": None}
    lets, _ = run(f"let r = {text(tree)}\n", env)
    assert same(lets["r"], evaluate(tree, env)), text(tree)


@settings(max_examples=400, deadline=None)
@given(conditions(3), NUMBER_VALUES, NUMBER_VALUES, BOOLEAN_VALUES, BOOLEAN_VALUES,
       st.sampled_from([None, "auto", "manual"]))
def test_compiled_conditions_match_the_reference(tree: Tree, a: Any, b: Any, p: Any,
                                                 q: Any, mode: Any) -> None:
    env = {"a": a, "b": b, "p": p, "q": q, "evse.mode": mode}
    source = text(tree)
    lets, logs = run(f"let r = {source}\n"
                     f'if {source} then log "then" else log "else"\n'
                     f'if not {source} then log "false"\n', env)
    expected = evaluate(tree, env)
    assert lets["r"] is expected, source
    assert logs == (["then"] if expected is True else
                    ["else", "false"] if expected is False else ["else"]), source


def test_arithmetic_on_a_charger_value_inside_a_condition() -> None:
    program = load_program_text("input pv: W\nif pv > 6.5 A * voltage then start\n")
    assert [a.kind for a in program.tick(NOW, [2000.0, 240.0]).actions] == [ActionKind.START]
    assert program.tick(NOW, [1000.0, 240.0]).actions == []
    assert program.tick(NOW, [2000.0, None]).actions == []
