"""Commands in: `<base>/<charger>/<key>/set` and `<base>/var/<name>/set` as hand commands.

    <base>/<charger>/mode/set       auto | manual
    <base>/<charger>/charging/set   on/off, true/false, 1/0, start/stop (also .../enabled/set)
    <base>/<charger>/amps/set       a number of amperes (clamped and checked as the slider's)
    <base>/<charger>/plan/set       a charge plan, "20 kWh by 07:00"; "cancel" ends it
    <base>/var/<name>/set           the variable's value ("20 kWh", 20, true, a text)

Each becomes a `HandCommand` with source "mqtt" for `EngineFace.command`, the one command
path: the same checks, clamping and journal entries as the dashboard. What cannot be a
command at all (a charging value that is neither on nor off) is refused here, before it
reaches the engine, and said on `<base>/error` like every refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from evse_rules.live.views import HandCommand

ON = ("on", "true", "1", "start", "yes")
OFF = ("off", "false", "0", "stop", "no")
MAX_PAYLOAD = 1024


@dataclass(frozen=True, slots=True)
class NotACommand(Exception):
    """A /set message that cannot be a command: `message` says why."""

    message: str

    def __str__(self) -> str:
        return self.message


def command_topic(base: str, topic: str) -> tuple[str, str] | None:
    """(target, key) of `<base>/<target>/<key>/set`; None for any other topic."""
    prefix = base + "/"
    if not topic.startswith(prefix) or not topic.endswith("/set"):
        return None
    parts = topic[len(prefix):-len("/set")].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def parse_command(target: str, key: str, payload: bytes) -> HandCommand:
    """The hand command a /set message asks for; NotACommand says why it is none."""
    if len(payload) > MAX_PAYLOAD:
        raise NotACommand(f"a payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise NotACommand("the payload is not UTF-8 text") from None
    if key == "mode":
        return HandCommand("mode", target, text.lower(), "mqtt")
    if key in ("charging", "enabled"):
        lowered = text.lower()
        if lowered in ON:
            return HandCommand("start", target, None, "mqtt")
        if lowered in OFF:
            return HandCommand("stop", target, None, "mqtt")
        raise NotACommand(f"{key} is on or off (true/false, 1/0), not {text[:60]!r}")
    if key == "amps":
        try:
            amps: float | str = float(text)
        except ValueError:
            amps = text        # the command path refuses it, naming the value (journaled)
        return HandCommand("amps", target, amps, "mqtt")
    if key == "plan":
        if text.lower() in ("cancel", "none", "off"):
            return HandCommand("cancel_plan", target, None, "mqtt")
        return HandCommand("plan", target, text, "mqtt")   # the command path reads it
    raise NotACommand(f"no command {key!r} (mode, charging, enabled, amps, plan)")


def variable_command(name: str, payload: bytes) -> HandCommand:
    """`<base>/var/<name>/set`: the value as text; the command path reads it by the
    variable's type ("20 kWh", "20", "true", a text)."""
    if len(payload) > MAX_PAYLOAD:
        raise NotACommand(f"a payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise NotACommand("the payload is not UTF-8 text") from None
    return HandCommand("set", name, text.strip(), "mqtt")
