"""Building the daemon's chargers and inputs from the config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from evse_rules.chargers.base import Charger
from evse_rules.config import Config
from evse_rules.errors import ConfigError
from evse_rules.inputs.base import Clock, Input
from evse_rules.inputs.constant import ConstantInput

if TYPE_CHECKING:
    import httpx

    from evse_rules.mqtt.link import MqttLink

ChargerFactory = Callable[[str, Config], Charger]


def default_charger_factory(name: str, config: Config) -> Charger:
    """A driver for `[chargers.NAME]`: the password is read here, at connect time."""
    spec = config.chargers[name]
    if spec.driver == "simulated":
        from evse_rules.chargers.simulated import SimulatedCharger

        return SimulatedCharger(name, min_amps=spec.min_amps, max_amps=spec.max_amps,
                                phases=spec.phases, capacity_wh=spec.battery, soc=spec.soc)
    from evse_rules.chargers import connect

    try:
        secret = spec.password()
    except ConfigError as error:
        raise ConfigError(config.name, error.message, f"chargers.{name}.{error.key}") from None
    password = secret.get_secret_value() if secret else None
    try:
        # The drivers get the config's limits too: they clamp or refuse whatever current
        # reaches them (the engine's, an adopted claim's), the last step before the charger.
        return connect(name, spec.driver, spec.url or "", user=spec.user, password=password,
                       timeout=spec.timeout, client_id=spec.client_id, phases=spec.phases,
                       min_amps=spec.min_amps, max_amps=spec.max_amps)
    except ValueError as error:
        raise ConfigError(config.name, str(error), f"chargers.{name}") from None


def build_inputs(config: Config, client: httpx.AsyncClient | None,
                 clock: Clock | None = None) -> dict[str, Input]:
    """The configured inputs, sharing one HTTP client. `clock` is the daemon's: an mqtt
    input stamps each message with it when it arrives (see `Sources`)."""
    from evse_rules.inputs.http import HttpInput

    built: dict[str, Input] = {}
    link = _mqtt_link(config)
    for name, spec in config.inputs.items():
        every = config.input_every(name)
        if spec.kind == "constant":
            built[name] = ConstantInput(name, spec.constant_value(), every)
        elif spec.kind == "prices":
            from evse_rules.inputs.price_build import price_input

            built[name] = price_input(config, name, client, clock)
        elif spec.kind == "mqtt":
            from evse_rules.inputs.mqtt import MqttInput

            if link is None:    # [mqtt] added while running: it applies at the next start
                raise ConfigError(config.name, "kind 'mqtt' needs the [mqtt] table the "
                                  "engine started with (restart evse-rules)",
                                  f"inputs.{name}.kind")
            built[name] = MqttInput(name, spec.topic or "", link, path=spec.path,
                                    kind=spec.type, factor=spec.factor(), every=every,
                                    stale_after=config.input_stale_after(name),
                                    **({"clock": clock} if clock is not None else {}))
        else:
            try:
                secret = spec.password()
            except ConfigError as error:
                raise ConfigError(config.name, error.message,
                                  f"inputs.{name}.{error.key}") from None
            auth = None
            if spec.user is not None or secret is not None:
                auth = (spec.user or "", secret.get_secret_value() if secret else "")
            built[name] = HttpInput(
                name, spec.url or "", spec.path or "", kind=spec.type, factor=spec.factor(),
                every=every,
                timeout=spec.timeout, stale_after=config.input_stale_after(name),
                client=client, auth=auth)
    return built


def _mqtt_link(config: Config) -> MqttLink | None:
    """The one broker connection the mqtt inputs of `config` share (its own client id, so
    that it never takes over the connection of the state and commands)."""
    if config.mqtt is None or not any(s.kind == "mqtt" for s in config.inputs.values()):
        return None
    from evse_rules.mqtt.link import MqttLink, default_client_id

    client_id = (config.mqtt.client_id or default_client_id()) + "-inputs"
    try:
        return MqttLink(config.mqtt, client_id)
    except ConfigError as error:
        raise ConfigError(config.name, error.message, error.key) from None
