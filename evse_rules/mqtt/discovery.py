"""Home Assistant MQTT discovery: the entities evse-rules offers, as retained config
messages on `<prefix>/<component>/<node_id>/<object_id>/config`.

Per charger a device with sensors (power W, current A, voltage V, session energy Wh,
temperature degC, state), a `select` for the mode, a `switch` for charging (allowed or
not: start/stop) and a `number` for the current within the charger's [min_amps, max_amps];
per user variable a `text`, `number` or `switch` on the engine's own device; with a `[site]`
table, the house load and the chargers the supply paused on the engine's device. Every entity
is unavailable while `<base>/status` says offline (and the charger's measurements while the
charger is offline). The keys are those of Home Assistant's MQTT integration
(https://www.home-assistant.io/integrations/mqtt/, and sensor.mqtt, select.mqtt,
switch.mqtt, number.mqtt, text.mqtt).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from evse_rules.live.views import ChargerView, EngineView, VariableView

TEXT_MAX = 255               # Home Assistant's own limit for a text entity


@dataclass(frozen=True, slots=True)
class Sensor:
    key: str                  # the state topic's key under <base>/<charger>/
    name: str
    device_class: str | None
    unit: str | None
    state_class: str | None
    charger_availability: bool = True


SENSORS = (
    Sensor("power", "Power", "power", "W", "measurement"),
    Sensor("current", "Current", "current", "A", "measurement"),
    Sensor("voltage", "Voltage", "voltage", "V", "measurement"),
    # Resets at each session: Home Assistant counts a drop as a new start.
    Sensor("session_energy", "Session energy", "energy", "Wh", "total_increasing"),
    Sensor("temp", "Temperature", "temperature", "°C", "measurement"),
    Sensor("state", "State", None, None, None, charger_availability=False),
    # Its charge plan in words (`<charger>/plan/set` sets one: docs/mqtt.md).
    Sensor("plan", "Charge plan", None, None, None, charger_availability=False),
)
# With a [site] table, on the engine's device: the supply's figures (<base>/site/<key>).
SITE_SENSORS = (
    Sensor("house", "House load", "power", "W", "measurement"),
    Sensor("paused", "Paused by the supply", None, None, None),
)


def node_id(base: str) -> str:
    """The discovery node of a base topic: letters, digits, _ and - only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", base)


def object_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


class Discovery:
    """The discovery messages for a view, and which of them are new or gone."""

    def __init__(self, base: str, prefix: str) -> None:
        self.base = base
        self.prefix = prefix
        self.node = node_id(base)

    def topic(self, component: str, object_name: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{object_id(object_name)}/config"

    def pattern(self) -> str:
        """Every config topic of this node (to find those of chargers that are gone)."""
        return f"{self.prefix}/+/{self.node}/+/config"

    def shape(self, view: EngineView) -> tuple[object, ...]:
        """What the messages depend on: when it is unchanged, so are they."""
        return (view.version,
                tuple((c.name, c.min_amps, c.max_amps) for c in view.chargers),
                tuple((v.name, v.type, v.unit) for v in view.variables),
                view.site is not None)

    def messages(self, view: EngineView) -> dict[str, dict[str, Any]]:
        """Config topic -> payload, for every entity of `view`."""
        found: dict[str, dict[str, Any]] = {}
        for charger in view.chargers:
            found.update(self._charger(charger, view.version))
        for variable in view.variables:
            component, payload = self._variable(variable, view.version)
            found[self.topic(component, f"var_{variable.name}")] = payload
        if view.site is not None:
            for sensor in SITE_SENSORS:
                payload = self._common(f"{self.node}_site_{sensor.key}", sensor.name,
                                       self._engine_device(view.version), view.version,
                                       [self._status()])
                payload["state_topic"] = f"{self.base}/site/{sensor.key}"
                if sensor.device_class is not None:
                    payload.update({"device_class": sensor.device_class,
                                    "unit_of_measurement": sensor.unit,
                                    "state_class": sensor.state_class})
                found[self.topic("sensor", f"site_{sensor.key}")] = payload
        return found

    def _engine_device(self, version: str) -> dict[str, Any]:
        return {"identifiers": [f"{self.node}_engine"], "name": "evse-rules",
                "manufacturer": "evse-rules", "model": "rules engine", "sw_version": version}

    # -- the pieces ------------------------------------------------------------------------

    def _origin(self, version: str) -> dict[str, str]:
        return {"name": "evse-rules", "sw_version": version}

    def _status(self) -> dict[str, str]:
        return {"topic": f"{self.base}/status", "payload_available": "online",
                "payload_not_available": "offline"}

    def _common(self, unique: str, name: str, device: dict[str, Any], version: str,
                availability: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "name": name,
            "unique_id": unique,
            "device": device,
            "origin": self._origin(version),
            "availability": availability,
            "availability_mode": "all",
        }

    def _charger(self, charger: ChargerView, version: str) -> dict[str, dict[str, Any]]:
        name = charger.name
        here = f"{self.base}/{name}"
        device = {"identifiers": [f"{self.node}_{name}"], "name": f"EVSE {name}",
                  "manufacturer": "OpenEVSE", "model": "OpenEVSE via evse-rules",
                  "sw_version": version}
        status = [self._status()]
        online = [self._status(), {"topic": f"{here}/online", "payload_available": "true",
                                   "payload_not_available": "false"}]
        found: dict[str, dict[str, Any]] = {}
        for sensor in SENSORS:
            unique = f"{self.node}_{name}_{sensor.key}"
            payload = self._common(unique, sensor.name, device, version,
                                   online if sensor.charger_availability else status)
            payload["state_topic"] = f"{here}/{sensor.key}"
            if sensor.device_class is not None:
                payload["device_class"] = sensor.device_class
            if sensor.unit is not None:
                payload["unit_of_measurement"] = sensor.unit
            if sensor.state_class is not None:
                payload["state_class"] = sensor.state_class
            found[self.topic("sensor", f"{name}_{sensor.key}")] = payload
        mode = self._common(f"{self.node}_{name}_mode", "Mode", device, version, status)
        mode.update({"state_topic": f"{here}/mode", "command_topic": f"{here}/mode/set",
                     "options": ["auto", "manual"]})
        found[self.topic("select", f"{name}_mode")] = mode
        switch = self._common(f"{self.node}_{name}_charging", "Charging", device, version,
                              status)
        switch.update({"state_topic": f"{here}/enabled",
                       "command_topic": f"{here}/enabled/set",
                       "payload_on": "true", "payload_off": "false",
                       "state_on": "true", "state_off": "false"})
        found[self.topic("switch", f"{name}_charging")] = switch
        amps = self._common(f"{self.node}_{name}_amps", "Charge current", device, version,
                            status)
        amps.update({"state_topic": f"{here}/amps", "command_topic": f"{here}/amps/set",
                     "min": charger.min_amps, "max": charger.max_amps, "step": 1,
                     "mode": "slider", "unit_of_measurement": "A",
                     "device_class": "current"})
        found[self.topic("number", f"{name}_amps")] = amps
        return found

    def _variable(self, variable: VariableView, version: str) -> tuple[str, dict[str, Any]]:
        device = self._engine_device(version)
        here = f"{self.base}/var/{variable.name}"
        payload = self._common(f"{self.node}_var_{variable.name}", variable.name, device,
                               version, [self._status()])
        payload.update({"state_topic": here, "command_topic": f"{here}/set"})
        if variable.type == "boolean":
            payload.update({"payload_on": "true", "payload_off": "false",
                            "state_on": "true", "state_off": "false"})
            return "switch", payload
        if variable.type == "number":
            # A variable has no range of its own: the command path checks its type and unit.
            payload.update({"min": -1e9, "max": 1e9, "step": 0.001, "mode": "box"})
            if variable.unit is not None:
                payload["unit_of_measurement"] = variable.unit
            return "number", payload
        payload.update({"min": 0, "max": TEXT_MAX, "mode": "text"})
        return "text", payload


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
