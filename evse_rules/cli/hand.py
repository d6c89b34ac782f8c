"""Hand commands by charger name, through the running engine: start, stop, amps, mode, set,
release, plan, status.

The running engine is the only writer of its chargers, so these commands never talk to a
charger: they ask the engine that runs with the same config file. With its API on
(`[http]`, the default) the answer comes at once; with the API off, the request goes into
the journal and the engine takes it at its next tick (`--wait` waits for it). With no engine
running, they say so at once: `mode` and `set` are then kept for its next start; start,
stop, amps and release are refused (a start queued for days is not what anyone meant).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from evse_rules.cli._command import add_command
from evse_rules.cli.live import DEFAULT_CONFIG, _local, _open, parse_value
from evse_rules.errors import ConfigError, EvseRulesError

if TYPE_CHECKING:
    from evse_rules.config import Config
    from evse_rules.language.program import Value


def add_commands(subparsers: Any) -> None:
    def common(parser: argparse.ArgumentParser, wait: bool = True) -> None:
        parser.add_argument("--config", metavar="FILE", default=DEFAULT_CONFIG,
                            help=f"the config file (default: ./{DEFAULT_CONFIG})")
        if wait:
            parser.add_argument("--wait", action="store_true", help=(
                "with the engine's API off: wait until the engine has taken it (two ticks "
                "at most)"))

    for name, function in (("start", start), ("stop", stop), ("release", release)):
        parser = add_command(subparsers, name, function)
        parser.add_argument("charger", metavar="CHARGER")
        common(parser)

    amps_parser = add_command(subparsers, "amps", amps)
    amps_parser.add_argument("charger", metavar="CHARGER")
    amps_parser.add_argument("amps", metavar="AMPS", help="whole amperes, e.g. 10 or '10 A'")
    common(amps_parser)

    mode_parser = add_command(subparsers, "mode", mode)
    mode_parser.add_argument("charger", metavar="CHARGER")
    mode_parser.add_argument("mode", choices=("auto", "manual"))
    common(mode_parser)

    set_parser = add_command(subparsers, "set", set_variable)
    set_parser.add_argument("variable", metavar="VAR")
    set_parser.add_argument("value", metavar="VALUE")
    common(set_parser)

    plan_parser = add_command(subparsers, "plan", plan)
    plan_parser.add_argument("charger", metavar="CHARGER")
    plan_parser.add_argument("energy", nargs="?", metavar="ENERGY",
                             help="the energy to charge, e.g. 20kWh (a bare number is kWh)")
    plan_parser.add_argument("by", nargs="?", metavar="TIME",
                             help="by when: 07:00 (the next one) or 2026-06-02T07:00")
    plan_parser.add_argument("--cancel", action="store_true", help="cancel the plan")
    common(plan_parser)

    status_parser = add_command(subparsers, "status", status)
    status_parser.add_argument("charger", nargs="?", metavar="CHARGER",
                               help="only this charger (default: every charger)")
    status_parser.add_argument("--json", action="store_true", help="the API's JSON")
    common(status_parser, wait=False)


# -- the commands ---------------------------------------------------------------------------

def start(args: argparse.Namespace) -> int:
    """ON: let a charger charge now, through the running engine (it switches to manual).

    evse-rules start CHARGER --config evse-rules.toml

    A person's ON acts at once: the contactor guards do not hold it back. The charger stays
    on until OFF, or until Auto hands it back to the rules (`evse-rules mode CHARGER auto`).
    Exit status: 0 when the charger took it, 1 when it was refused or no engine runs.
    """
    return _hand(args, "start", args.charger, None, "")


def stop(args: argparse.Namespace) -> int:
    """OFF: stop a charger now, through the running engine (it switches to manual).

    evse-rules stop CHARGER --config evse-rules.toml

    A person's OFF is never held back by a contactor guard (min_on), and a current set
    afterwards keeps the charger off.
    """
    return _hand(args, "stop", args.charger, None, "")


def amps(args: argparse.Namespace) -> int:
    """Set a charger's current by hand, through the running engine (it switches to manual).

    evse-rules amps CHARGER 10 --config evse-rules.toml

    Whole amperes within the charger's [min_amps, max_amps] (and its own hard limits); a
    current outside them is refused, nothing is sent. It does not start a stopped charger.
    """
    text = args.amps.strip()
    number = text[:-1].strip() if text[-1:] in ("A", "a") else text
    try:
        value = float(number)
    except ValueError:
        raise EvseRulesError(f"amps: expected a number of amperes like 10 or '10 A', "
                             f"got {args.amps!r}") from None
    return _hand(args, "amps", args.charger, value, f"{value:g} A")


def mode(args: argparse.Namespace) -> int:
    """Switch a charger's mode: auto (the rules drive it) or manual (people do).

    evse-rules mode CHARGER auto|manual --config evse-rules.toml

    Through the running engine; with no engine running, the request waits in the journal
    and the next `evse-rules run` takes it at its start. Modes survive restarts. Rules read
    the mode (`if mode is auto and ...`).
    """
    return _hand(args, "mode", args.charger, args.mode, args.mode)


def set_variable(args: argparse.Namespace) -> int:
    """Set a user variable declared by the rule files (`var NAME: TYPE = DEFAULT`).

    evse-rules set VAR VALUE --config evse-rules.toml

    The value is checked against the declaration: a number with its unit ("36 kWh",
    "16 A"), true/false (yes/no, on/off, 1/0), or a text. Through the running engine; with
    no engine running, it waits in the journal for the next start. Variables survive
    restarts.
    """
    return _hand(args, "set", args.variable, args.value, args.value)


def plan(args: argparse.Namespace) -> int:
    """A charge plan: this energy by this time, in the cheapest hours (docs/plans.md).

    evse-rules plan CHARGER 20kWh 07:00 --config evse-rules.toml
    evse-rules plan CHARGER --cancel --config evse-rules.toml

    The running engine chooses the cheapest slots of the charger's `plan_price` input
    before the time (the latest hours when it has none), charges at full power in them and
    lets the rules run outside them. The charger goes to auto; a person's ON, OFF or current
    pauses the plan (manual) until Auto. It says at once which slots it chose, what they
    cost and whether the energy can be had in time; `evse-rules why CHARGER` shows it.
    """
    if args.cancel:
        if args.energy is not None:
            raise EvseRulesError("plan: --cancel takes no energy or time")
        return _hand(args, "cancel_plan", args.charger, None, "")
    if args.energy is None or args.by is None:
        raise EvseRulesError("plan: give an energy and a time, like "
                             f"`evse-rules plan {args.charger} 20kWh 07:00`, or --cancel")
    text = f"{args.energy} by {args.by}"
    return _hand(args, "plan", args.charger, text, text)


def release(args: argparse.Namespace) -> int:
    """Hand a charger back to its own settings: the engine deletes its claim.

    evse-rules release CHARGER --config evse-rules.toml

    The charger then does what its own schedule and settings say (a sleeping charger may
    start at its full current). The engine switches it to manual, so that the rules do not
    claim it again; `evse-rules mode CHARGER auto` hands it back to the rules.
    """
    return _hand(args, "release", args.charger, None, "")


def status(args: argparse.Namespace) -> int:
    """The running engine's chargers, inputs and variables, as the dashboard shows them.

    evse-rules status [CHARGER] --config evse-rules.toml [--json]

    Asks the engine's API; without it (or without a running engine) it says so and points
    to `evse-rules why`, which reads the journal.
    """
    from evse_rules.config import load_config

    config = load_config(args.config)
    api = _api(config)
    if api is None:
        raise EvseRulesError(_not_reachable(config, "status"))
    answer = _call(config, api, "GET", "/api/v1/state", None)
    if answer is None:
        raise EvseRulesError(_not_reachable(config, "status"))
    code, body = answer
    if code != 200:
        raise EvseRulesError(f"status: the engine answered {code}: {_detail(body)}")
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    chargers = [c for c in body.get("chargers", []) if args.charger in (None, c.get("name"))]
    if args.charger and not chargers:
        names = ", ".join(c.get("name", "?") for c in body.get("chargers", []))
        raise EvseRulesError(f"status: no charger named {args.charger!r} (chargers: {names})")
    site = body.get("site")
    if isinstance(site, dict) and site.get("text"):
        paused = site.get("paused") or []
        print(f"supply: {site['text']}" + (f"; paused: {', '.join(paused)}" if paused else ""))
    for tile in chargers:
        print(_tile(tile))
    if args.charger is None:
        for item in body.get("inputs", []):
            stale = " (stale)" if item.get("stale") else ""
            print(f"input {item['name']}: {item.get('display')}{stale}")
        for item in body.get("variables", []):
            print(f"var {item['name']}: {item.get('display')}")
    return 0


# -- how a command reaches the engine --------------------------------------------------------

def _hand(args: argparse.Namespace, action: str, target: str, value: Value,
          shown: str) -> int:
    from evse_rules.config import load_config
    from evse_rules.live.owner import engine_running

    config = load_config(args.config)
    if action != "set" and target not in config.chargers:
        raise ConfigError(config.name, f"no charger named {target!r} (chargers: "
                          + ", ".join(config.chargers) + ")", "chargers")
    what = " ".join(part for part in (action, target, shown) if part)
    running = engine_running(config)
    api = _api(config) if running else None
    if api is not None:
        method = "DELETE" if action == "cancel_plan" else "POST"
        answer = _call(config, api, method, _path(action, target), _body(action, value))
        if answer is not None:
            code, body = answer
            if code == 200:
                print(body.get("message", f"{what}: done") if isinstance(body, dict)
                      else f"{what}: done")
                return 0
            print(f"{what}: {_detail(body)}", file=sys.stderr)
            return 1
    if action in ("start", "stop", "amps", "release", "plan", "cancel_plan") and not running:
        raise EvseRulesError(_not_reachable(config, what))
    request_value = value
    if action == "set":
        request_value = _checked_variable(config, target, str(value))
    return _queue(config, action, target, request_value, what, args.wait, running)


def _checked_variable(config: Config, name: str, text: str) -> Value:
    from evse_rules.live.reload import default_loader

    try:
        program = default_loader(config.rule_paths, config.environment())
    except (EvseRulesError, OSError) as error:
        raise EvseRulesError(f"set: {name} cannot be checked, the rule files do not "
                             f"load:\n{error}") from None
    declared = {v.name: v for v in program.variables}
    if name not in declared:
        import difflib

        close = difflib.get_close_matches(name, list(declared), 1)
        hint = f" (did you mean {close[0]!r}?)" if close else (
            " (declared: " + ", ".join(declared) + ")" if declared else
            " (the rule files declare no variable)")
        raise EvseRulesError(f"set: unknown variable {name!r}{hint}")
    return parse_value(declared[name], text)


def _queue(config: Config, kind: str, target: str, value: Value, what: str, wait: bool,
           running: bool) -> int:
    """Leave the request in the journal for the engine (the API is off, or none runs)."""
    if not running and wait:
        print(f"{what}: no engine is running with {config.name}: nothing to wait for "
              "(start it with `evse-rules run`; without --wait the request is kept for its "
              "next start)", file=sys.stderr)
        return 1
    with _open(config) as journal:
        request = journal.add_request(kind, target, value, datetime.now(UTC))
        if not running:
            print(f"{what}: no engine is running with {config.name}: queued, the next "
                  "`evse-rules run` takes it at its start")
            return 0
        if not wait:
            print(f"{what}: queued; the running engine takes it at its next tick (see "
                  f"`evse-rules history --config {config.name}`)")
            return 0
        limit = 2 * config.tick_seconds + 5.0
        deadline = time.monotonic() + limit
        while (taken := journal.request_result(request)) is None:
            if time.monotonic() > deadline:
                print(f"{what}: queued, but the running engine did not take it within "
                      f"{limit:g} s; it stays queued", file=sys.stderr)
                return 1
            time.sleep(0.2)
    at, result = taken
    print(f"{what}: {result} (taken at {_local(at)})")
    return 0 if result.startswith("done") else 1


def _api(config: Config) -> str | None:
    """The address of the API of the engine running with `config`, when it serves one."""
    from evse_rules.live.owner import announced_api

    if not config.http.enabled:
        return None
    return announced_api(config)


def _call(config: Config, api: str, method: str, path: str,
          body: dict[str, Any] | None) -> tuple[int, Any] | None:
    """One request to the engine's API; None when it cannot be reached."""
    import httpx

    password = config.http.password()
    auth = ("evse-rules", password.get_secret_value()) if password else None
    try:
        reply = httpx.request(method, api + path, json=body, auth=auth, timeout=10.0,
                              headers={"X-Evse-Source": "cli"})
    except httpx.HTTPError:
        return None
    try:
        return reply.status_code, reply.json()
    except ValueError:
        return reply.status_code, {"detail": reply.text[:200]}


def _path(action: str, target: str) -> str:
    if action == "set":
        return f"/api/v1/variables/{target}"
    if action == "cancel_plan":
        return f"/api/v1/chargers/{target}/plan"
    return f"/api/v1/chargers/{target}/{action}"


def _body(action: str, value: Value) -> dict[str, Any] | None:
    if action == "amps":
        return {"amps": value}
    if action == "mode":
        return {"mode": value}
    if action == "set":
        return {"value": value}
    if action == "plan":
        energy, _, by = str(value).partition(" by ")
        return {"energy": energy, "by": by}
    return None


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)
    return str(body)


def _not_reachable(config: Config, what: str) -> str:
    from evse_rules.live.owner import engine_running

    if engine_running(config):
        return (f"{what}: the engine running with {config.name} serves no API ([http] "
                "enabled = false, or it could not listen: see its log); nothing was sent")
    return (f"{what}: no engine is running with {config.name}; nothing was sent. Start it "
            f"with `evse-rules run --config {config.name}`, or drive a charger directly "
            "with `evse-rules charger URL ...`")


def _tile(tile: dict[str, Any]) -> str:
    parts = [f"{tile['name']}: {tile.get('state_text')}", f"mode {tile.get('mode')}"]
    if tile.get("amps") is not None:
        parts.append(f"pilot {tile['amps']:g} A")
    if tile.get("power") is not None:
        parts.append(f"{tile['power']:g} W")
    lines = [", ".join(parts), f"  {tile.get('why')}"]
    countdown = tile.get("countdown")
    if countdown:
        lines.append(f"  {countdown.get('text')}")
    return "\n".join(lines)
