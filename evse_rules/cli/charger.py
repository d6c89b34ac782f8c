"""`evse-rules charger URL ACTION`: drive one charger by hand."""

from __future__ import annotations

import argparse
from typing import Any

from evse_rules.cli._command import add_command

ACTIONS = ("status", "start", "stop", "amps", "voltage", "release")


def add_commands(subparsers: Any) -> None:
    parser = add_command(subparsers, "charger", charger)
    parser.add_argument("url", help="the charger's address, e.g. http://192.168.1.50")
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument("value", nargs="?", help="amperes for `amps`, volts for `voltage`")
    parser.add_argument("--user", help="HTTP Basic user name (the charger's www_username)")
    parser.add_argument("--password-env", metavar="VAR",
                        help="read the password from environment variable VAR")
    parser.add_argument("--api", choices=("wifi", "rapi"), default="wifi",
                        help="wifi: the WiFi API, firmware 4.0.1+ (default); rapi: legacy /r")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for each answer (default 5)")
    parser.add_argument("--client-id", type=int, default=None, metavar="ID",
                        help="claim client id (WiFi API; default 1163264001)")
    parser.add_argument("--phases", type=int, choices=(1, 3), default=1,
                        help="the charger's phases, for the power of firmware that does not "
                             "report it (RAPI; WiFi before 4.2); default 1")


def charger(args: argparse.Namespace) -> int:
    """Read or drive one charger by hand: status, start, stop, amps N, voltage V, release.

    status        show state, vehicle, setpoint, current, voltage, power, energy, temperature
                  and firmware (--json: the keys rules use: state, vehicle, charging, current,
                  amps, voltage, power, session_energy, total_energy, temp, min_amps, max_amps,
                  online, firmware)
    start / stop  allow / stop charging (WiFi API: our claim `state: active|disabled`;
                  RAPI: $FE / $FS)
    amps N        set the charging current to N whole amperes; refused, with nothing sent,
                  outside the charger's limits (min/max_current_hard in /config, $GC in RAPI)
    voltage V     set the reference voltage (WiFi firmware 4.1.6+: POST /status; RAPI: $SV),
                  sent only when it differs from what the charger reports
    release       delete our claim: the charger goes back to its own schedule, divert and
                  default state

    The password is never taken on the command line: --password-env names the environment
    variable that holds it. Example:

        EVSE_PASSWORD=... evse-rules charger http://192.168.1.50 amps 16 \\
            --user admin --password-env EVSE_PASSWORD
    """
    import asyncio
    import os
    import sys

    from evse_rules.errors import ConfigError

    value: float | None = None
    if args.action in ("amps", "voltage"):
        unit = ("whole amperes, e.g. `amps 16`" if args.action == "amps"
                else "volts, e.g. `voltage 230`")
        try:
            value = int(args.value) if args.action == "amps" else float(args.value)
        except (TypeError, ValueError):
            print(f"evse-rules charger: error: `{args.action}` needs a number of {unit}",
                  file=sys.stderr)
            return 2
    elif args.value is not None:
        print(f"evse-rules charger: error: `{args.action}` takes no value", file=sys.stderr)
        return 2
    if args.action != "status":
        owned = _owned(args.url, args.action, value)
        if owned is not None:
            print(owned, file=sys.stderr)
            return 1
    password = None
    if args.password_env:
        if not args.user:
            raise ConfigError("--password-env", "a password needs a user name: add --user")
        from evse_rules.config import check_password_env

        try:
            check_password_env(args.password_env)
        except ValueError as error:       # a password pasted in place of the variable's name
            raise ConfigError("--password-env", str(error)) from None
        password = os.environ.get(args.password_env)
        if password is None:
            raise ConfigError("--password-env",
                              f"the environment variable {args.password_env} is not set")
    return asyncio.run(_run(args, value, password))


def _owned(url: str, action: str, value: float | None) -> str | None:
    """Why this charger is not to be driven from here: a running engine owns it. A command
    sent around the engine would be undone by it (or fight it with the same claim)."""
    from evse_rules.live.owner import owner_of

    owner = owner_of(url)
    if owner is None:
        return None
    hand = {"start": "start", "stop": "stop", "amps": "amps", "release": "release"}.get(action)
    if hand is None:
        return (f"evse-rules charger: {owner.charger} is driven by the engine running with "
                f"{owner.config} (pid {owner.pid}): change its config instead")
    argument = f" {value:g}" if value is not None else ""
    return (f"evse-rules charger: {owner.charger} is driven by the engine running with "
            f"{owner.config} (pid {owner.pid}); nothing was sent. Ask the engine instead:\n"
            f"    evse-rules {hand} {owner.charger}{argument} --config {owner.config}")


async def _run(args: argparse.Namespace, value: float | None, password: str | None) -> int:
    import json
    import sys

    from evse_rules.chargers.http import split_credentials
    from evse_rules.chargers.openevse import OpenEvseCharger
    from evse_rules.chargers.rapi import RapiCharger
    from evse_rules.errors import LimitError
    from evse_rules.redact import redact_url

    driver: OpenEvseCharger | RapiCharger
    try:  # a bad URL, timeout or client id: a usage error
        # The charger's name in messages: its URL without credentials or secret query values.
        name = redact_url(split_credentials(args.url)[0])
        # By hand, the limits are the charger's own within 6..32 A (no config to narrow them).
        if args.api == "rapi":
            driver = RapiCharger(name, args.url, user=args.user, password=password,
                                 timeout=args.timeout, phases=args.phases,
                                 min_amps=6, max_amps=32)
        else:
            driver = OpenEvseCharger(name, args.url, user=args.user, password=password,
                                     timeout=args.timeout, client_id=args.client_id,
                                     phases=args.phases, min_amps=6, max_amps=32)
    except ValueError as error:
        print(f"evse-rules charger: error: {error}", file=sys.stderr)
        return 2
    try:
        status = await driver.read_status()
        if args.action == "status":
            print(json.dumps(_status_json(status)) if args.json else _status_text(status))
            return 0
        if args.action == "amps":
            assert value is not None
            low, high = (("min_current_hard", "max_current_hard") if args.api == "wifi"
                         else ("$GC minimum", "$GC maximum"))
            if value < status.min_amps:
                raise LimitError(f"{name}: {value:g} A is below the charger's minimum of "
                                 f"{status.min_amps:g} A ({low}); nothing was sent")
            if value > status.max_amps:
                raise LimitError(f"{name}: {value:g} A is above the charger's maximum of "
                                 f"{status.max_amps:g} A ({high}); nothing was sent")
            await driver.set_current(int(value))
            print(f"{name}: charging current set to {int(value)} A")
        elif args.action == "voltage":
            assert value is not None
            if not 60 <= value <= 300:
                raise LimitError(f"{name}: {value:g} V is outside 60..300 V, the reference "
                                 "voltages the firmware accepts; nothing was sent")
            await driver.set_voltage(value)
            print(f"{name}: reference voltage {value:g} V")
        elif args.action == "start":
            await driver.start()
            print(f"{name}: charging allowed")
        elif args.action == "stop":
            await driver.stop()
            print(f"{name}: charging stopped")
        else:
            await driver.release()
            print(f"{name}: control handed back to the charger")
        return 0
    finally:
        await driver.close()


def _status_json(status: Any) -> dict[str, Any]:
    return {
        "state": status.state.value, "vehicle": status.vehicle, "charging": status.charging,
        "current": status.current, "amps": status.amps, "voltage": status.voltage,
        "power": status.power, "session_energy": status.session_energy,
        "total_energy": status.total_energy, "temp": status.temp, "min_amps": status.min_amps,
        "max_amps": status.max_amps, "online": status.online, "firmware": status.firmware,
    }


def _status_text(status: Any) -> str:
    state = status.state.value + (f" ({status.error})" if status.error else "")
    temp = f"{status.temp:.1f} °C" if status.temp is not None else "no sensor"
    rows = [
        ("state", state),
        ("vehicle", "connected" if status.vehicle else "not connected"),
        ("amps", f"{status.amps:g} A (setpoint; limits "
                 f"{status.min_amps:g}..{status.max_amps:g} A)"),
        ("current", f"{status.current:.2f} A"),
        ("voltage", f"{status.voltage:g} V"),
        ("power", f"{status.power:.0f} W"),
        ("energy", f"{status.session_energy:.0f} Wh this session, "
                   f"{status.total_energy:.1f} kWh in total"),
        ("temperature", temp),
        ("firmware", status.firmware or "unknown"),
    ]
    return "\n".join(f"{key:<12} {text}" for key, text in rows)
