"""`evse-rules simulate`: replay recorded data through the rules, with simulated chargers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from evse_rules.cli._command import add_command

# Below this many ticks a replay is over before a progress bar would be read.
PROGRESS_MIN_TICKS = 20_000


def simulate(args: argparse.Namespace) -> int:
    """Replay recorded data through rule files, with simulated chargers, and print figures.

    The data CSV has a header row; the first column is the time (ISO 8601), every other
    column an input named by its header with an optional unit: `time,pv[W],house[W]`.
    Columns `vehicle` (0/1) and `voltage` drive the simulated charger. The clock ticks at
    the configured interval (1 min without --config) from the first row to the last; an
    input keeps its last value between rows.

    Without --config: one simulated charger named `evse`, single phase, 6..32 A, 240 V
    (unless a `voltage` column exists), a vehicle connected (unless a `vehicle` column says
    otherwise), an endless battery, mode auto.

    Prints solar and EV energy (from solar, from the grid), charges, commands and how often
    each rule fired: a table, or one JSON object with --json (the same inputs always give
    the same bytes).

    Example: evse-rules simulate rules/solar_surplus.evr --data data/cloudy-day.csv
    """
    from evse_rules.simulate import (
        PlotRecorder,
        Recorder,
        Recorders,
        TraceRecorder,
        prepare,
        render_table,
        run,
        shown_path,
    )

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib: pip install 'evse-rules[plot]'",
                  file=sys.stderr)
            return 2
    from pathlib import Path

    from evse_rules.errors import DataError
    from evse_rules.simulate.bounds import check_bounds, largest_power, replay_ticks

    if args.plot and Path(args.plot).is_dir():     # said before a replay that may be long
        raise DataError(args.plot, None, "cannot write the plot here: it is a directory")
    from evse_rules.simulate.events import parse_event, read_events
    from evse_rules.simulate.setup import Vehicle

    events = [parse_event(when, what, f"--at {when} {what}") for when, what in args.at or ()]
    if args.events:
        events += read_events(args.events)
    vehicle = None
    if args.battery is not None or args.soc is not None:
        vehicle = Vehicle(args.battery, 50.0 if args.soc is None else args.soc)
    setup = prepare(args.rules, args.data, args.config, meter=args.meter, vehicle=vehicle,
                    events=events)
    for warning in setup.warnings:
        print(warning, file=sys.stderr)
    # A span of years or a week without rows is said before the replay; a replay of more
    # than --max-ticks (5 million by default) is refused: it would run for many minutes.
    for warning in check_bounds(setup.data, setup.tick, args.max_ticks):
        print(warning, file=sys.stderr)
    trace = TraceRecorder(args.trace, setup) if args.trace else None
    plot = PlotRecorder(setup) if args.plot else None
    recorders: list[Recorder] = [r for r in (trace, plot) if r is not None]
    recorder = Recorders(recorders) if recorders else None
    ticks = replay_ticks(setup.data, setup.tick)
    progress = _progress if sys.stderr.isatty() and ticks >= PROGRESS_MIN_TICKS else None
    try:
        result = run(setup, recorder, progress)
    except BaseException:
        if trace is not None:
            trace.abort()
        raise
    if trace is not None:
        trace.finish()
    files = " ".join(shown_path(path) for path in (args.rules or setup.program.files))
    if plot is not None:
        plot.save(args.plot, f"{files} on {args.data}")
    for warning in result.warnings():
        print(f"{args.data}: {warning}", file=sys.stderr)
    overflowed = result.overflowed()
    if overflowed:
        print(f"{args.data}: warning: too large to count, shown as null (--json) or "
              f"overflow: {', '.join(overflowed)}{largest_power(setup.data)}", file=sys.stderr)
    if args.json:
        # allow_nan=False: Infinity and NaN are no JSON; an overflowed figure is null.
        print(json.dumps(result.to_json(), indent=2, allow_nan=False))
    else:
        print(render_table(result, f"Replay of {args.data} with {files}"))
    return 0


def _progress(done: int, total: int) -> None:
    width = 40
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done * 100 // total:3d}% "
                     f"{done}/{total} ticks{end}")
    sys.stderr.flush()


def add_commands(subparsers: Any) -> None:
    parser = add_command(subparsers, "simulate", simulate)
    parser.add_argument("rules", nargs="*", metavar="RULES",
                        help="rule files (default: the config's rules)")
    parser.add_argument("--data", required=True, metavar="FILE.csv",
                        help="recorded data: time, then one column per input")
    parser.add_argument("--config", metavar="FILE.toml",
                        help="chargers, inputs and tick interval (all chargers simulated)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--max-ticks", type=_ticks, metavar="N", default=None,
                        help="replay at most N ticks (default 5,000,000: 9.5 years of "
                             "one-minute ticks); a longer replay is refused")
    parser.add_argument("--trace", metavar="OUT.csv",
                        help="write a row per tick and charger: state, amps, power, "
                             "inputs, let values, events, and the rule and block behind "
                             "each command")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="draw PV, house and EV power and the current (needs matplotlib)")
    parser.add_argument("--meter", metavar="COLUMN[:export]",
                        help="the site meter column recorded without the car (default: "
                             "the config's [simulate] meter, else a grid[W] column, import "
                             "positive; 'none': replay it as it is)")
    parser.add_argument("--battery", type=_battery, metavar="ENERGY",
                        help="every simulated vehicle's battery, e.g. 40kWh (default: the "
                             "config's, or a car that never fills)")
    parser.add_argument("--soc", type=_soc, metavar="PERCENT",
                        help="its state of charge at the start, e.g. 50%% (default 50%%)")
    parser.add_argument("--at", nargs=2, action="append", metavar=("TIME", "ACTION"),
                        help="a person's action: --at 12:00 mode=manual, --at 19:30 "
                             "boost=true, --at 12:00 garage.stop (HH:MM: every day)")
    parser.add_argument("--events", metavar="FILE",
                        help="a file of such actions, one 'TIME ACTION' a line")


def _battery(text: str) -> float:
    """A battery with its unit ('40kWh') in Wh (argparse type)."""
    from evse_rules.config import _battery_wh

    try:
        return _battery_wh(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _soc(text: str) -> float:
    """A state of charge ('50%') in % (argparse type)."""
    from evse_rules.config import _soc_percent

    try:
        return _soc_percent(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _ticks(text: str) -> int:
    """A whole number of ticks, 1 or more (argparse type)."""
    try:
        number = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of ticks, 1 or more, "
                                         f"got {text!r}")
    return number
