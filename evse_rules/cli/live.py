"""The live commands: run the daemon and read its journal (history, why)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from evse_rules.cli._command import add_command
from evse_rules.errors import ConfigError, EvseRulesError

if TYPE_CHECKING:
    from evse_rules.config import Config
    from evse_rules.engine.journal import Entry, Journal
    from evse_rules.language.program import Value, VariableDecl
    from evse_rules.live import Daemon
    from evse_rules.live.views import Service

DEFAULT_CONFIG = "evse-rules.toml"


def add_commands(subparsers: Any) -> None:
    def config_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", metavar="FILE", default=DEFAULT_CONFIG,
                            help=f"the config file (default: ./{DEFAULT_CONFIG})")

    run_parser = add_command(subparsers, "run", run)
    config_option(run_parser)
    run_parser.add_argument("--ticks", type=_positive, metavar="N", default=None,
                            help="stop after N ticks (to try a config)")

    history_parser = add_command(subparsers, "history", history)
    config_option(history_parser)
    history_parser.add_argument("--since", metavar="WHEN", default="24 h",
                                help="a duration back from now ('2h', '30 min', '7 d') or an "
                                     "ISO time (default: 24 h)")
    history_parser.add_argument("--charger", metavar="NAME", help="only this charger")
    history_parser.add_argument("--all", action="store_true",
                                help="also rule fires and actions held back as unchanged")
    history_parser.add_argument("--json", action="store_true", help="one JSON object a line")

    why_parser = add_command(subparsers, "why", why)
    config_option(why_parser)
    why_parser.add_argument("charger", nargs="?", metavar="CHARGER",
                            help="the charger (default: every charger)")


def _positive(text: str) -> int:
    """A whole number of at least 1 (argparse type): `--ticks 0` would otherwise run forever."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of ticks, 1 or more, "
                                         f"got {text!r}")
    return number


def _setup_logging(verbose: int) -> None:
    import logging

    # A daemon's default output is one line per command and per error: INFO for the daemon,
    # while the drivers' own request lines (INFO) wait for -v.
    logging.getLogger("evse_rules").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("evse_rules.chargers").setLevel(
        logging.DEBUG if verbose else logging.WARNING)


def run(args: argparse.Namespace) -> int:
    """Run the engine: poll the chargers and inputs, evaluate the rules every tick, send commands.

    evse-rules run --config evse-rules.toml [-v]

    Ticks at the config's `tick` (aligned to whole minutes when it is a minute). Rule files
    are reloaded when they change and on SIGHUP; a file with errors is reported and the
    previous rules keep running. Rule files with errors at start are reported too: the
    daemon then polls and journals without rules (sending nothing) until they are fixed.
    SIGINT or SIGTERM releases every charger and exits.
    Logs one line per command and per error; -v adds a trace line per tick. A failure that
    repeats (a tick that raises, a full disk) is logged when it starts, as a count while it
    lasts, and when it ends.
    Exit status: 0 after a stop (whatever happened before), 1 when the config cannot be
    used, 2 when the config file is not there.
    """
    import asyncio
    import logging

    from evse_rules.config import load_config
    from evse_rules.live import Daemon

    _setup_logging(args.verbose)
    config = load_config(args.config)
    daemon = Daemon(config, max_ticks=args.ticks)
    try:
        asyncio.run(daemon.run(services(config, daemon)))
    except EvseRulesError:
        raise
    except Exception as error:
        if daemon.journal is None:      # it never started: a real failure of `run`
            raise
        # Started, ran and was stopped: what fails while shutting down (the last journal
        # lines on a full disk) is said, but the stop itself was clean.
        logging.getLogger("evse_rules.live").error(
            "stopped; while shutting down: %s: %s", type(error).__name__, error)
    return 0


def services(config: Config, daemon: Daemon) -> list[Service]:
    """What runs beside the engine: the API and the dashboard when `[http]` is enabled,
    MQTT (state, commands, Home Assistant discovery) when there is an `[mqtt]` table."""
    from evse_rules.live.face import DaemonFace

    found: list[Service] = []
    if config.http.enabled:
        from evse_rules.api.service import HttpService

        password = config.http.password()
        found.append(HttpService(DaemonFace(daemon), config.http.host, config.http.port,
                                 password=password.get_secret_value() if password else None,
                                 allowed_origins=tuple(config.http.allowed_origins)))
    if config.mqtt is not None:
        from evse_rules.mqtt.service import MqttService

        found.append(MqttService(DaemonFace(daemon), config.mqtt))
    return found


def _journal(config: Config) -> Journal:
    path = config.journal_path
    if not path.exists():
        raise ConfigError(config.name, f"no journal at {path} yet (has `evse-rules run` run?)",
                          "journal")
    return _open(config)


def _open(config: Config) -> Journal:
    import sqlite3

    from evse_rules.engine.journal import Journal

    try:
        return Journal(config.journal_path)
    except (OSError, sqlite3.Error) as error:
        # Permissions are the usual cause; a file that is no database is not one of them.
        hint = ("" if isinstance(error, sqlite3.DatabaseError)
                and "not a database" in str(error) else " (run this as the user the daemon "
                "runs as)")
        raise ConfigError(config.name, f"cannot open the journal {config.journal_path}: "
                          f"{error}{hint}", "journal") from None


# The units of `--since`: what people type for a duration back from now.
_SINCE_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 7 * 86400.0),
}
_SINCE_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)\s*,?\s*")


def _since_seconds(text: str) -> float | None:
    """'2m', '2min', '90s', '1h30', '1 h 30 min', '7 d', '2 weeks' in seconds; None when
    `text` is not a duration. A bare number after hours is minutes, after minutes seconds
    ('1h30', '2m30'), as on a clock."""
    rest = text.strip().lower().removesuffix("ago").strip()
    if not rest:
        return None
    total, pos, last = 0.0, 0, 0.0
    for part in _SINCE_PART.finditer(rest):
        if part.start() != pos:
            return None
        pos = part.end()
        number, unit = float(part.group(1)), part.group(2)
        if unit:
            size = _SINCE_UNITS.get(unit)
        elif pos == len(rest) and last in (3600.0, 60.0):
            size = last / 60            # '1h30': 30 min; '2m30': 30 s
        else:
            size = None                 # '90' alone: 90 what?
        if size is None:
            return None
        total += number * size
        last = size
    return total if pos == len(rest) else None


def parse_since(text: str, now: datetime) -> datetime:
    """'2h', '2m', '90 s', '1h30', '7 d' back from `now`, or an ISO time (local time when
    naive)."""
    seconds = _since_seconds(text)
    if seconds is not None:
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC)     # further back than any date: all
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise EvseRulesError(
            f"--since {text!r}: expected a duration back from now like '2h', '30 min', "
            "'90s' or '1h30', or an ISO time like 2026-06-01T08:00") from None
    return when if when.tzinfo else when.astimezone()


def _local(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def describe(entry: Entry) -> str:
    """A journal entry as a line of text, without its time (live/report.py `describe`)."""
    from evse_rules.live.report import describe as text

    return text(entry)


def history(args: argparse.Namespace) -> int:
    """Print what the engine did: commands sent, actions held back, errors, changes.

    evse-rules history --config evse-rules.toml [--since 2h|ISO] [--charger NAME] [--json] [--all]

    Reads the journal of a running (or stopped) engine. Each line: the local time, the
    charger, what happened, and why: the rule (file:line and text) and the values that made
    it fire, or the guard that held an action back. --all adds every rule fire and the
    actions held back because they would have changed nothing.
    """
    from evse_rules.config import load_config

    config = load_config(args.config)
    if args.charger and args.charger not in config.chargers:
        raise ConfigError(config.name, f"no charger named {args.charger!r} (chargers: "
                          + ", ".join(config.chargers) + ")", "chargers")
    since = parse_since(args.since, datetime.now(UTC))
    with _journal(config) as journal:
        entries = journal.entries(since, args.charger, fires=args.all, unchanged=args.all)
    out = sys.stdout
    for entry in entries:
        if args.json:
            out.write(json.dumps(entry.as_json()) + "\n")
        else:
            out.write(f"{_local(entry.at)}  {entry.charger or '-':<10} {describe(entry)}\n")
    if not entries and not args.json:
        print(f"nothing journaled since {_local(since)}", file=sys.stderr)
    return 0


def why(args: argparse.Namespace) -> int:
    """Explain the engine's last decision for a charger: which rule, which values, which guard.

    evse-rules why --config evse-rules.toml [CHARGER]

    Shows the charger's state at the last tick, the inputs (and which are stale), the rules
    that fired, what was sent and what a guard held back (minimum on/off time, no vehicle,
    offline...), the last command and any problem of that tick.
    """
    from evse_rules.config import load_config

    config = load_config(args.config)
    if args.charger and args.charger not in config.chargers:
        raise ConfigError(config.name, f"no charger named {args.charger!r} (chargers: "
                          + ", ".join(config.chargers) + ")", "chargers")
    names = [args.charger] if args.charger else list(config.chargers)
    declarations = _declarations(config)
    with _journal(config) as journal:
        last = journal.last_tick()
        if last is None:
            print(f"no tick journaled yet in {config.journal_path}")
            return 0
        age = (datetime.now(UTC) - last.at).total_seconds()
        print(f"last tick {_local(last.at)} ({_ago(age)})")
        if last.rules_error is not None:
            print("no rules running: the rule files have errors (the daemon loads them as "
                  "soon as they are fixed); the first one:")
            print("\n".join(f"    {line}" for line in last.rules_error.splitlines()))
        for name in names:
            print()
            print(_explain(journal, name, config, last.id, last.samples, last.stale,
                           declarations))
            from evse_rules.cli.plan_lines import plan_lines

            for line in plan_lines(config, name):       # its charge plan, if any
                print(line)
    return 0


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _explain(journal: Journal, name: str, config: Config, tick_id: int,
             samples: dict[str, Any], stale: tuple[str, ...],
             declarations: dict[str, VariableDecl]) -> str:
    lines = [f"{name}:"]
    state = samples.get(f"{name}.state")
    if state is None:
        lines.append("  no status read yet")
    else:
        vehicle = "vehicle connected" if samples.get(f"{name}.vehicle") else "no vehicle"
        reading = (f"{vehicle}, pilot {samples.get(f'{name}.amps', 0):g} A, "
                   f"{samples.get(f'{name}.power', 0):g} W, mode {samples.get(f'{name}.mode')}")
        if state in ("offline", "error"):
            # Why: a wrong password, a closed port and a wrong URL all read "offline".
            lines.append(f"  {state}: {_charger_problem(journal, name, samples)}")
            # Offline: what it said last; in error, it answers: these are its readings now.
            lines.append(f"  {'last known' if state == 'offline' else 'now'}: {reading}")
        else:
            lines.append(f"  {state}, {reading}")
    shown = [f"{key}={_value(key, value, config)}" + (" (stale)" if key in stale else "")
             for key, value in samples.items() if key in config.inputs]
    if shown:
        lines.append("  inputs: " + ", ".join(shown))
    # An unknown input: its failure was journaled once, when it began (maybe ticks ago).
    for key in config.inputs:
        failure = journal.last_event(f"inputs.{key}") if samples.get(key) is None else None
        if failure is not None and failure.kind != "info":
            cause = (failure.detail or "").removeprefix(f"inputs.{key}: ")
            lines.append(f"  {key} unknown since {_local(failure.at)}: {cause}")
    # Variables are the samples that are neither inputs nor charger values ("name.prop").
    variables = [f"{key}={_variable(key, value, declarations)}"
                 for key, value in samples.items() if key not in config.inputs and "." not in key]
    if variables:
        lines.append("  variables: " + ", ".join(variables))
    now_entries = journal.tick_entries(tick_id, name)
    fired = [e for e in now_entries if e.type == "fired"]
    if fired:
        lines.append("  rules that fired in the last tick:")
        lines.extend(f"    {e.rule} {e.rule_text}" for e in fired)
    else:
        lines.append("  no rule fired in the last tick")
    problems = [e for e in now_entries if e.type == "event" and e.kind != "info"]
    decided = journal.last_decision_tick(name)
    if decided is None:
        lines.append("  no rule has asked anything of this charger yet")
    else:
        entries = [e for e in journal.tick_entries(decided, name)
                   if e.type in ("command", "held") and e.charger == name]
        when = _local(entries[0].at) if entries else "?"
        lines.append(f"  last decision ({when}):")
        lines.extend(f"    {describe(e)}" for e in entries)
    command = journal.last_command(name)
    if command is not None:
        lines.append(f"  last command: {describe(command)} at {_local(command.at)}")
    if problems:
        lines.append("  problems in the last tick:")
        lines.extend(f"    {describe(e)}" for e in problems)
    elif stale:
        lines.append("  stale inputs: " + ", ".join(stale) + " (rules reading them do not fire)")
    return "\n".join(lines)


def _charger_problem(journal: Journal, name: str, samples: dict[str, Any]) -> str:
    """Why a charger is offline or in error: the reason of the last tick, else (a journal
    written before ticks kept it) the last problem journaled about the charger."""
    reason = samples.get(f"{name}.error")
    if isinstance(reason, str) and reason:
        return reason
    event = journal.last_event(f"chargers.{name}")
    if event is not None and event.kind != "info" and event.detail:
        return event.detail.removeprefix(f"chargers.{name}: ").removeprefix(
            "offline: ").removeprefix("fault: ")
    return "no reason journaled"


def _variable(name: str, value: Any, declarations: dict[str, VariableDecl]) -> str:
    """A variable's value with its declared unit, when the rule files still declare it."""
    from evse_rules.language.program import Kind
    from evse_rules.language.units import format_quantity

    declared = declarations.get(name)
    if (declared is not None and declared.type.kind is Kind.NUMBER
            and isinstance(value, int | float) and not isinstance(value, bool)):
        return format_quantity(float(value), declared.type.dimension)
    return json.dumps(value)


def _declarations(config: Config) -> dict[str, VariableDecl]:
    """The variables the rule files declare now ({} when they do not load)."""
    from evse_rules.live.reload import default_loader

    try:
        program = default_loader(config.rule_paths, config.environment())
    except (EvseRulesError, OSError):
        return {}
    return {v.name: v for v in program.variables}


def _value(name: str, value: Any, config: Config) -> str:
    """An input's value with its unit: the one the config reads it in ('10 kW' for an input
    of `unit = "kW"`), else the usual one for its dimension ('1400 W')."""
    from evse_rules.language.units import NUMBER, UnitError, format_quantity, lookup_unit

    if value is None:
        return "unknown"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    spec = config.inputs[name]
    symbol = spec.unit
    if symbol is None and isinstance(spec.value, str):     # a constant: the unit written
        written = re.fullmatch(r"\s*[-+.\deE]+\s*([A-Za-z%]+)\s*", spec.value)
        symbol = written.group(1) if written else None
    if symbol is not None and spec.dimension != NUMBER:
        try:
            unit = lookup_unit(symbol)
        except UnitError:
            unit = None
        if unit is not None and unit.dimension == spec.dimension and unit.symbol != "%":
            return f"{unit.from_canonical(float(value)):g} {unit.symbol}"
    return format_quantity(float(value), spec.dimension)


def parse_value(decl: VariableDecl, text: str) -> Value:
    """`text` as a value of the declared variable, or an error saying what is expected."""
    from evse_rules.language.program import Kind
    from evse_rules.language.units import NUMBER, UnitError, parse_quantity

    kind = decl.type.kind
    where = f"set {decl.name}"
    if kind is Kind.BOOLEAN:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise EvseRulesError(f"{where}: {decl.name} is a boolean: give true or false, "
                             f"not {text!r}")
    if kind is Kind.TEXT:
        return text
    # The other declarable types (`var NAME: TYPE`) are a unit or `number`.
    try:
        quantity = parse_quantity(text)
    except UnitError as error:
        raise EvseRulesError(f"{where}: {error}") from None
    expected = decl.type.dimension
    if quantity.dimension != expected:
        if quantity.dimension == NUMBER:
            raise EvseRulesError(f"{where}: {decl.name} is {_a(expected.name)}: give the "
                                 f"unit, like '{text} {_unit_hint(expected)}'")
        raise EvseRulesError(f"{where}: {decl.name} is {_a(expected.name)}, "
                             f"{text!r} is {_a(quantity.dimension.name)}")
    return quantity.value


def _a(noun: str) -> str:
    """`noun` with its indefinite article: 'a power', 'an energy'."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _unit_hint(dimension: Any) -> str:
    from evse_rules.language.units import DISPLAY_UNITS

    unit = DISPLAY_UNITS.get(dimension)
    return unit.symbol if unit else ""
