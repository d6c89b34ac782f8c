"""evse-rules: a checked rules language and engine for OpenEVSE / EmonEVSE chargers.

The package is laid out as the pipeline it implements, with imports running one way:

    cli -> simulate / engine -> language, chargers, inputs

    language/   rule files -> AST -> checked program -> closures   (no HTTP, no clock)
    engine/     state store, ticks, guards, journal
    chargers/   the charger interface and its drivers              (no rules)
    inputs/     external values: http, constant, CSV replay
    testing/    a loopback OpenEVSE emulator for tests and benchmarks
"""

__version__ = "0.1.0"
