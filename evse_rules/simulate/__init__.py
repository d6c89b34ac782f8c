"""The replay of recorded data through the one engine, with simulated chargers.

    setup = prepare(["rules/solar_surplus.evr"], "data/cloudy-day.csv")   # checks everything
    result = run(setup)                                                    # the figures
    print(render_table(result, "title"), result.to_json())

`setup` checks the data, the config and the rules against each other; `replay` runs the
ticks; `figures` holds the results; `outputs` writes traces and plots.
"""

from evse_rules.simulate.figures import (
    COMMAND_KINDS,
    ChargerFigures,
    SimulationResult,
    render_table,
)
from evse_rules.simulate.outputs import PlotRecorder, TraceRecorder
from evse_rules.simulate.replay import (
    ProgressCallback,
    Recorder,
    Recorders,
    apply_command,
    run,
    shown_path,
    simulate,
)
from evse_rules.simulate.setup import (
    CHARGER_COLUMNS,
    DEFAULT_CHARGER,
    DEFAULT_VOLTAGE,
    Setup,
    prepare,
)

__all__ = [
    "CHARGER_COLUMNS",
    "COMMAND_KINDS",
    "DEFAULT_CHARGER",
    "DEFAULT_VOLTAGE",
    "ChargerFigures",
    "PlotRecorder",
    "ProgressCallback",
    "Recorder",
    "Recorders",
    "Setup",
    "SimulationResult",
    "TraceRecorder",
    "apply_command",
    "prepare",
    "render_table",
    "run",
    "shown_path",
    "simulate",
]
