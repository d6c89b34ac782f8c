"""`share EXPR among garage, carport`: one power divided among chargers by priority.

The declaration becomes ordinary lets, written here as syntax trees and then checked and
compiled like any `let` (so a replay and the daemon run the same code, and the trace shows
the values). For each listed charger `c`, in the declared order:

    c.available = EXPR for the first; for the next, what the one before left
    c.share     = c.available / (c.voltage * c.phases)            (a current)
    takes       = min(c.share, c.max_amps) * c.voltage * c.phases  when c claims, else 0 W
    next.available = c.available - takes

A charger claims its part when it is charging, or when its share reaches its minimum
current and it could start (a vehicle is plugged in and its mode is auto): the one before
claims as soon as its minimum fits, in the very tick, so two chargers never start together
on a surplus that fits one. A charger whose share is unknown (offline: its voltage is
unknown) claims nothing; an unknown EXPR makes every share unknown (a stale meter never
starts a charger). min_amps and max_amps fall back to 6 A and 32 A, phases to 1, where the
engine gives none (a program ticked on its own).

Every test is written so that an unknown operand makes it false, never unknown: what a
charger takes is always known when what it was offered is.
"""

from __future__ import annotations

from evse_rules.errors import Location
from evse_rules.language import ast
from evse_rules.language.units import CURRENT, NUMBER, POWER

# The charger properties a `share` declaration defines: `garage.share` (A) and
# `garage.available` (W, what the chargers before it left).
SHARE_PROPERTIES = ("share", "available")
DEFAULT_MIN_AMPS = 6.0
DEFAULT_MAX_AMPS = 32.0


def share_lets(decl: ast.ShareDecl) -> list[tuple[str, ast.Expr]]:
    """The lets of a declaration, in the order they are computed: (qualified name, tree)."""
    loc = decl.loc
    lets: list[tuple[str, ast.Expr]] = []
    available: ast.Expr = decl.expr
    for ident in decl.chargers:
        charger = ident.name
        lets.append((f"{charger}.available", available))
        offered = _prop(loc, charger, "available")
        volts = _mul(loc, _prop(loc, charger, "voltage"),
                     _known_or(loc, _prop(loc, charger, "phases"), _number(loc, 1.0, None)))
        lets.append((f"{charger}.share", ast.Binary(loc, "/", offered, volts)))
        share = _prop(loc, charger, "share")
        low = _known_or(loc, _prop(loc, charger, "min_amps"),
                        _number(loc, DEFAULT_MIN_AMPS, "A"))
        high = _known_or(loc, _prop(loc, charger, "max_amps"),
                         _number(loc, DEFAULT_MAX_AMPS, "A"))
        could_start = _and(loc, ast.Binary(loc, ">=", share, low), _and(
            loc, _surely(loc, _prop(loc, charger, "vehicle")),
            _surely(loc, ast.Is(loc, _prop(loc, charger, "mode"), "auto", loc, False, False),
                    _prop(loc, charger, "mode"))))
        claims = _and(loc, _known(loc, share), ast.Binary(
            loc, "or", _surely(loc, _prop(loc, charger, "charging")), could_start))
        takes = ast.Cond(loc, claims, _mul(loc, ast.Call(loc, "min", loc, (share, high)), volts),
                         _number(loc, 0.0, "W"))
        available = ast.Binary(loc, "-", offered, takes)
    return lets


def _prop(loc: Location, charger: str, name: str) -> ast.Name:
    return ast.Name(loc, name, charger)


def _number(loc: Location, value: float, unit: str | None) -> ast.NumberLit:
    dimension = {None: NUMBER, "A": CURRENT, "W": POWER}[unit]
    text = f"{value:g} {unit}" if unit else f"{value:g}"
    return ast.NumberLit(loc, value, dimension, unit, text)


def _mul(loc: Location, left: ast.Expr, right: ast.Expr) -> ast.Binary:
    return ast.Binary(loc, "*", left, right)


def _and(loc: Location, left: ast.Expr, right: ast.Expr) -> ast.Binary:
    return ast.Binary(loc, "and", left, right)


def _known(loc: Location, subject: ast.Expr) -> ast.Call:
    return ast.Call(loc, "known", loc, (subject,))


def _known_or(loc: Location, value: ast.Expr, fallback: ast.Expr) -> ast.Cond:
    """`value if known(value) else fallback`."""
    return ast.Cond(loc, _known(loc, value), value, fallback)


def _surely(loc: Location, condition: ast.Expr, subject: ast.Expr | None = None) -> ast.Cond:
    """`condition if known(subject) else false`: false, not unknown, when `subject` (the
    condition itself by default) is unknown."""
    return ast.Cond(loc, _known(loc, subject if subject is not None else condition),
                    condition, ast.BoolLit(loc, False))
