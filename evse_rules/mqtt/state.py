"""State out: the engine's view as retained messages, one value per topic (as evcc does).

    <base>/<charger>/<key>      state, vehicle, charging, enabled, current, amps, setpoint,
                                voltage, power, session_energy, temp, mode, online
    <base>/<charger>/plan       its charge plan in words (empty: none)
    <base>/site/<key>           with a [site] table: house (W), room (A, or W with only a
                                power limit), fallback (true/false), paused (names, comma-
                                separated; empty: none), text (the figures in words)
    <base>/input/<name>         an input's value in its display unit; /stale: true or false
    <base>/var/<name>           a user variable's value in its display unit
    <base>/status               online; offline as the last will and on a clean stop

Numbers are plain decimals in the units of `live/views.py` (A, V, W, Wh, degC; inputs and
variables in their display unit); booleans are true/false; an unknown value is an empty
payload, which also removes the retained message.
"""

from __future__ import annotations

from evse_rules.live.views import ChargerView, EngineView, SiteView

# The charger keys, with the decimals their numbers are given with.
CHARGER_KEYS: dict[str, int | None] = {
    "state": None, "vehicle": None, "charging": None, "enabled": None, "current": 1,
    "amps": 1, "setpoint": 1, "voltage": 1, "power": 0, "session_energy": 0, "temp": 1,
    "mode": None, "online": None,
}
# Names the topics under <base> use for themselves: no charger may take them.
RESERVED = ("input", "var", "status", "error", "site")
UNITS = {"current": "A", "amps": "A", "setpoint": "A", "voltage": "V", "power": "W",
         "session_energy": "Wh", "temp": "°C"}


def number(value: float, decimals: int | None = None) -> str:
    """A number as a payload: '1234', '7.5' (no exponent, no trailing zeros)."""
    places = 6 if decimals is None else decimals
    text = f"{round(value, places):.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def payload(value: object, decimals: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(float(value), decimals)
    return str(value)


def charger_topics(base: str, charger: ChargerView) -> dict[str, str]:
    topics = {f"{base}/{charger.name}/{key}": payload(getattr(charger, key), decimals)
              for key, decimals in CHARGER_KEYS.items()}
    topics[f"{base}/{charger.name}/plan"] = charger.plan.state if charger.plan else ""
    return topics


def site_topics(base: str, site: SiteView) -> dict[str, str]:
    room = site.room_amps if site.room_amps is not None else site.room_w
    return {f"{base}/site/house": payload(site.house_w, 0),
            f"{base}/site/room": payload(None if room is None else max(room, 0.0), 1),
            f"{base}/site/fallback": payload(site.fallback),
            f"{base}/site/paused": ",".join(site.paused),
            f"{base}/site/text": site.text}


def state_topics(base: str, view: EngineView) -> dict[str, str]:
    """Every state topic and its payload for `view` (the status topic aside)."""
    topics: dict[str, str] = {}
    for charger in view.chargers:
        topics.update(charger_topics(base, charger))
    for item in view.inputs:
        topics[f"{base}/input/{item.name}"] = payload(item.value)
        topics[f"{base}/input/{item.name}/stale"] = payload(item.stale)
    for variable in view.variables:
        topics[f"{base}/var/{variable.name}"] = payload(variable.value)
    if view.site is not None:
        topics.update(site_topics(base, view.site))
    return topics


class StateOut:
    """What was published, so that only changes go out (and all of it at a refresh)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sent: dict[str, str] = {}
        self._now: dict[str, str] = {}

    def changes(self, view: EngineView, everything: bool = False) -> list[tuple[str, str]]:
        """The (topic, payload) pairs to publish: changed ones, or all with `everything`;
        a topic that is gone (an input or charger removed) gets an empty payload."""
        self._now = now = state_topics(self.base, view)
        out = [(topic, text) for topic, text in now.items()
               if everything or self.sent.get(topic) != text]
        out += [(topic, "") for topic, text in self.sent.items() if topic not in now and text]
        return out

    def published(self) -> None:
        """The last `changes` went out: they are what the broker holds now."""
        self.sent = dict(self._now)

    def forget(self) -> None:
        """A new connection: the broker may have lost what it retained."""
        self.sent.clear()
