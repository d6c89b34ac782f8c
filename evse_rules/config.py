"""The TOML config file: chargers, inputs, rule files, journal and state (DESIGN.md section 10).

    tick = "1 min"
    rules = ["rules/solar_surplus.evr"]
    journal = "evse-rules.sqlite"
    state = "evse-rules-state.json"

    [chargers.garage]
    driver = "openevse"
    url = "http://192.168.1.50"
    ...

    [inputs.pv]
    kind = "http"
    ...

Every value is validated by the pydantic models below; `load_config` reports every problem of
a file at once, each naming the file and the dotted key. Durations and quantities are written
with their unit ("10 s", "300 W") and held canonical (seconds, W, V...). Paths are relative to
the config file. Passwords are never held here: only where to read them (an environment
variable or a file), read when a charger connects.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from evse_rules.chargers.firmware import validate_client_id
from evse_rules.errors import ConfigError
from evse_rules.language.units import (
    DURATION,
    ENERGY,
    NUMBER,
    PERCENTAGE,
    POWER,
    VOLTAGE,
    Dimension,
    Quantity,
    UnitError,
    lookup_unit,
    parse_duration,
    parse_quantity,
)
from evse_rules.price_config import PriceFields, price_problems
from evse_rules.redact import redact, redact_url
from evse_rules.simulate_config import SimulateConfig

if TYPE_CHECKING:
    from evse_rules.engine.settings import ChargerSettings
    from evse_rules.engine.site import SiteSettings
    from evse_rules.language.program import Environment, ValueType

DEFAULT_CONFIG_NAME = "evse-rules.toml"

# The amperes every J1772 charger can signal; a charger's own hard limits may be narrower.
AMPS_FLOOR = 6
AMPS_CEILING = 32


def _check_url(value: str) -> str:
    # Credentials first, whatever the scheme looks like ('HTTP://', 'htp://', none): every
    # message below echoes the URL, and must not echo a password with it.
    if "@" in value and redact_url(value) != value:
        raise ValueError("must not hold credentials (a user name or a password); use user and "
                         "password_env/password_file")
    shown = redact_url(value)
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an http:// or https:// URL, got {_show(shown)}")
    try:
        port = urlsplit(value).port     # raises when not a number or outside 0..65535
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"must have a port between 1 and 65535, got {_show(shown)}")
    return value


def _show(value: Any) -> str:
    """A value as an error message echoes it: its repr, cut short, secrets redacted."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):      # an int beyond the digit limit, a deep list
        return f"a {type(value).__name__} too large to show"
    if len(text) > 80:
        text = text[:60] + f"... ({len(text)} characters)"
    return redact(text)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Names rules already use for something else (DESIGN.md section 5 and the language keywords):
# an input or charger named like this would be shadowed or ambiguous.
_RESERVED_NAMES = frozenset({
    "now", "time", "hour", "weekday", "date", "mode", "state", "vehicle", "charging",
    "current", "amps", "voltage", "power", "session_energy", "total_energy", "temp",
    "min_amps", "max_amps", "phases", "online", "auto", "manual", "if", "then", "else",
    "and", "or", "not", "is", "for", "set", "to", "start", "stop", "log", "let", "var",
    "input", "every", "at", "on", "cron", "between", "true", "false", "minute", "while",
    "when", "until", "in", "among", "by", "cancel", "change", "charger", "fall", "of", "plan",
    "rise", "share", "smooth", "soc",
})


def _duration(value: Any) -> float:
    """A duration written with its unit ('10 s', '5 min') in seconds; must be positive."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration like '30 s' or '5 min', got {_show(value)}")
    if isinstance(value, int | float):
        # A bare number is ambiguous (seconds? minutes?): make people say.
        raise ValueError(f"write the unit of the duration, like '{_show(value)} s' or "
                         f"'{_show(value)} min'")
    try:
        return parse_duration(value)
    except UnitError as error:
        raise ValueError(str(error)) from None


def _duration_or_zero(value: Any) -> float:
    """Like `_duration`, but zero ('0 s') is allowed: a guard that is switched off."""
    if isinstance(value, str):
        try:
            quantity = parse_quantity(value)
        except UnitError as error:
            raise ValueError(str(error)) from None
        if quantity.value == 0 and quantity.dimension == DURATION:
            return 0.0
    return _duration(value)


def _with_unit(value: Any, dimension: Dimension, what: str, kind: str, example: str) -> float:
    """A quantity written with its unit (`example`: '40 kWh'), in canonical units;
    ValueError names `what` ("the battery") or the `kind` it must be ("an energy") and
    shows how to write it."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"write {what} with its unit, like {example!r}, got {_show(value)}")
    try:
        quantity = parse_quantity(value)
    except UnitError as error:
        raise ValueError(str(error)) from None
    if quantity.dimension != dimension:
        raise ValueError(f"{value!r} is not {kind} (write it like {example!r})")
    return quantity.value


def _battery_wh(value: Any) -> float:
    """A vehicle battery written with its unit ('40 kWh') in Wh: 1 Wh .. 1000 kWh."""
    wh = _with_unit(value, ENERGY, "the battery", "an energy", "40 kWh") / 3600.0
    if not 1.0 <= wh <= 1e6:
        raise ValueError(f"a vehicle battery is 1 Wh to 1000 kWh, got {value!r}")
    return wh


def _soc_percent(value: Any) -> float:
    """A state of charge in % ('50 %' or 50), within 0..100."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a state of charge like '50 %', got {_show(value)}")
    if isinstance(value, str):
        try:
            quantity = parse_quantity(value)
        except UnitError as error:
            raise ValueError(str(error)) from None
        if quantity.dimension not in (PERCENTAGE, NUMBER):
            raise ValueError(f"{value!r} is not a percentage (write it like '50 %')")
        value = quantity.value
    if not 0.0 <= float(value) <= 100.0:
        raise ValueError(f"a state of charge is 0..100 %, got {_show(value)}")
    return float(value)


MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# Every duration has bounds that the daemon can use: asyncio's timers, datetime arithmetic
# and SQLite's times all break long before 1e300 h, and a tick of 1e-300 s would spin.
TICK_BOUNDS = (0.1, HOUR)               # a tick: 100 ms (tests) .. 1 h
TIMEOUT_BOUNDS = (0.1, HOUR)            # waiting for an answer
EVERY_BOUNDS = (0.1, DAY)               # reading a charger or an input
STALE_BOUNDS = (0.1, 30 * DAY)          # stale_after
GUARD_BOUNDS = (0.0, 30 * DAY)          # min_on, min_off ('0 s' switches the guard off)
JOURNAL_DAYS_MAX = 3650                 # ten years


def _seconds(value: float) -> str:
    """A bound as people write it: '100 ms', '1 h', '720 h (30 days)'."""
    if value >= DAY and value % DAY == 0:
        days = value / DAY
        return f"{value / HOUR:g} h ({days:g} day{'s' if days != 1 else ''})"
    for size, unit in ((HOUR, "h"), (MINUTE, "min"), (1.0, "s")):
        if value >= size and value % size == 0:
            return f"{value / size:g} {unit}"
    return f"{value * 1000:g} ms" if 0 < value < 1 else f"{value:g} s"


def _bounded(parse: Any, low: float, high: float) -> Any:
    def check(value: Any) -> float:
        seconds: float = parse(value)
        if not (math.isfinite(seconds) and low <= seconds <= high):
            raise ValueError(f"must be between {_seconds(low)} and {_seconds(high)}, got "
                             f"{_show(value)}")
        return seconds
    return BeforeValidator(check)


TickDuration = Annotated[float, _bounded(_duration, *TICK_BOUNDS)]
Timeout = Annotated[float, _bounded(_duration, *TIMEOUT_BOUNDS)]
Every = Annotated[float, _bounded(_duration, *EVERY_BOUNDS)]
StaleAfter = Annotated[float, _bounded(_duration, *STALE_BOUNDS)]
GuardDuration = Annotated[float, _bounded(_duration_or_zero, *GUARD_BOUNDS)]


def _name_error(kind: str, name: str) -> str | None:
    if not _NAME.match(name):
        return (f"{kind} name {name!r} is not a valid name (letters, digits and _, "
                "not starting with a digit)")
    if name in _RESERVED_NAMES:
        return f"{kind} name {name!r} is reserved in rules; choose another one"
    return None


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """Paths in the file are relative to the config file's folder."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("a path cannot hold a NUL character")
    base = (info.context or {}).get("base")
    if isinstance(value, str | Path) and base is not None:
        path = Path(value).expanduser()
        # Written as people read it: `data/../rules/a.evr` is `rules/a.evr` in messages.
        return path if path.is_absolute() else Path(os.path.normpath(Path(base) / path))
    return value


# An environment variable's name as people write them: EVSE_PASSWORD. Anything else may be the
# password itself, pasted in the wrong key: refused, and never echoed.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Characters that passwords hold and file names hardly ever do.
_NOT_IN_PATHS = re.compile(r"""[!@#$%^&*()=+?'"<>|;,`{}\[\]\\]|[\x00-\x1f\x7f]""")


def check_password_env(value: Any) -> Any:
    """`value` as a password_env (the name of an environment variable, never a password);
    ValueError says why not. Used by the config and by `charger --password-env`."""
    if value is None:
        return None
    if (not isinstance(value, str) or not _ENV_NAME.match(value)
            or (re.search(r"[a-z]", value) and re.search(r"[0-9]", value))):
        # Lower-case letters mixed with digits read like a password, not like EVSE_PASSWORD.
        raise ValueError("password_env must name an environment variable (letters, digits, "
                         "_; written like EVSE_PASSWORD), not a password: the value is not "
                         "shown")
    return value


def _password_file(value: Any) -> Any:
    if value is None or isinstance(value, Path):
        return value
    if (not isinstance(value, str) or not value.strip() or value != value.strip()
            or _NOT_IN_PATHS.search(value)):
        raise ValueError("password_file must be the path of the file that holds the password "
                         "(like '/etc/evse-rules/garage.password'), not a password: the value "
                         "is not shown")
    return value


def _password_location(value: Any, info: ValidationInfo) -> Any:
    """password_env and password_file, refused without echo when they look like a password."""
    if info.field_name == "password_env":
        return check_password_env(value)
    return _resolve(_password_file(value), info)


def _read_password(env: str | None, file: Path | None) -> SecretStr | None:
    """A password from an environment variable or a file; ConfigError names what failed."""
    if env:
        secret = os.environ.get(env)
        if secret is None:
            raise ConfigError("<config>", f"the environment variable {env} is not set",
                              "password_env")
        return SecretStr(secret)
    if file:
        try:
            return SecretStr(file.read_text().strip())
        except OSError as error:
            raise ConfigError("<config>", f"cannot read {file}: {error.strerror}",
                              "password_file") from None
    return None


class ChargerConfig(BaseModel):
    """One `[chargers.NAME]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    driver: Literal["openevse", "rapi", "simulated"] = "openevse"
    url: str | None = None
    user: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    min_amps: int = AMPS_FLOOR
    max_amps: int = AMPS_CEILING
    phases: Literal[1, 3] = 1
    # The reference voltage to give the charger: volts, or the name of a voltage input (checked
    # by Config); None leaves the charger's own setting alone.
    voltage: float | str | None = None
    min_on: GuardDuration = 600.0
    min_off: GuardDuration = 300.0
    mode: Literal["auto", "manual"] = "manual"
    start_without_vehicle: bool = False
    client_id: int | None = None       # the claim's client id; None: the driver's own
    every: Every | None = None         # poll interval; None: every tick
    timeout: Timeout = 5.0
    # What stopping the engine does to the charger: keep our claim (the charger goes on
    # doing what it was last told, and the next start adopts it) or release it (the charger
    # goes back to its own settings: a sleeping charger may start at its full current).
    on_exit: Literal["keep", "release"] = "keep"
    # The vehicle of a simulated charger (driver simulated, and every charger of a replay):
    # its battery ("40 kWh"; None: it never fills) and its state of charge at the start.
    battery: float | None = None       # Wh
    soc: float = 50.0                  # %
    # Its place under a `[site]` limit: a higher priority keeps its current longer; a
    # single-phase charger's supply phase (1..3) on a three-phase site.
    priority: int = Field(default=0, ge=-100, le=100)
    phase: Literal[1, 2, 3] = 1
    # Charge plans (docs/plans.md): the price input (kind "prices") whose slots a plan
    # chooses the cheapest of, and an optional one whose series is the expected solar
    # power (W) per slot; without plan_price a plan takes the latest hours before its time.
    plan_price: str | None = None
    plan_solar: str | None = None

    @field_validator("battery", mode="before")
    @classmethod
    def _battery(cls, value: Any) -> Any:
        return None if value is None else _battery_wh(value)

    @field_validator("soc", mode="before")
    @classmethod
    def _soc(cls, value: Any) -> Any:
        return _soc_percent(value)

    @field_validator("min_amps", "max_amps", mode="before")
    @classmethod
    def _amps_in_range(cls, value: Any) -> Any:
        # inf and nan are floats of TOML; neither is a whole number (int() would raise).
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or (isinstance(value, float) and not value.is_integer())):
            raise ValueError(f"must be a whole number of amperes, got {_show(value)}")
        if not AMPS_FLOOR <= value <= AMPS_CEILING:
            raise ValueError(f"must be between {AMPS_FLOOR} and {AMPS_CEILING}, got "
                             f"{_show(value)}")
        return int(value)

    @field_validator("voltage", mode="before")
    @classmethod
    def _voltage(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected volts or an input name, got {value!r}")
        if isinstance(value, str) and not _NAME.match(value.strip()):
            try:
                quantity = parse_quantity(value)
            except UnitError as error:
                raise ValueError(str(error)) from None
            if quantity.dimension not in (VOLTAGE, NUMBER):
                raise ValueError(f"{value!r} is not a voltage")
            value = quantity.value
        if isinstance(value, int | float) and not 100 <= value <= 500:
            raise ValueError(f"must be between 100 and 500 V, got {_show(value)}")
        return value

    @field_validator("password_env", "password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _password_location(value, info)

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: int | None) -> int | None:
        # The driver's own rule (range, ids the firmware uses itself), said at load time.
        return None if value is None else validate_client_id(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value).rstrip("/") if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> ChargerConfig:
        if self.min_amps > self.max_amps:
            raise ValueError(f"min_amps ({self.min_amps}) is above max_amps ({self.max_amps})")
        if self.driver != "simulated" and not self.url:
            raise ValueError(f"driver {self.driver!r} needs a url")
        if self.client_id is not None and self.driver != "openevse":
            raise ValueError("client_id applies to the openevse driver only (claims)")
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        return self

    @property
    def voltage_input(self) -> str | None:
        """The input that gives the reference voltage, when it is not a fixed number."""
        return self.voltage.strip() if isinstance(self.voltage, str) else None

    @property
    def voltage_volts(self) -> float | None:
        """The fixed reference voltage, when it is a number."""
        return float(self.voltage) if isinstance(self.voltage, int | float) else None

    def password(self) -> SecretStr | None:
        """Read the password now (from the environment or the file); None without one.

        Called when the charger connects, so that a rotated password file is picked up on
        restart and the secret never sits in the config object.
        """
        return _read_password(self.password_env, self.password_file)


def _site_power(value: Any) -> float:
    """A site's power limit written with its unit ('17 kW') in W: 100 W .. 10 MW."""
    watts = _with_unit(value, POWER, "the power", "a power", "17 kW")
    if not 100.0 <= watts <= 1e7:
        raise ValueError(f"a site's power limit is 100 W to 10 MW, got {value!r}")
    return watts


class SiteConfig(BaseModel):
    """The `[site]` table: the supply every charger shares (docs/site.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_amps: float | None = Field(default=None, gt=0, le=2000)   # A per phase
    max_power: float | None = None                               # W in all
    phases: Literal[1, 3] = 1
    # What the supply carries besides the chargers, from one input: `meter` measures the
    # whole site (import positive, the chargers included), `house` the consumption
    # without the chargers.
    meter: str | None = None
    house: str | None = None
    voltage: float = Field(default=230.0, ge=100, le=500)
    # The meter silent or stale for this long: the chargers together get `fallback_amps`
    # per phase (0: every charger paused), like the firmware's current shaper after its
    # data interval.
    fallback_after: GuardDuration = 120.0
    fallback_amps: float = Field(default=0.0, ge=0, le=2000)

    @field_validator("max_power", mode="before")
    @classmethod
    def _power(cls, value: Any) -> Any:
        return None if value is None else _site_power(value)

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        if self.max_amps is None and self.max_power is None:
            raise ValueError("give the supply's limit: max_amps (per phase) and/or max_power")
        if (self.meter is None) == (self.house is None):
            raise ValueError("give one input the limit is measured by: meter (the whole "
                             "site, chargers included) or house (without the chargers)")
        return self

    @property
    def measured_by(self) -> str:
        """The input that measures the site."""
        return self.meter if self.meter is not None else str(self.house)

    def settings(self) -> SiteSettings:
        from evse_rules.engine.site import SiteSettings

        return SiteSettings(
            max_amps=self.max_amps, max_power=self.max_power, phases=self.phases,
            input=self.measured_by, includes_chargers=self.meter is not None,
            voltage=self.voltage, fallback_after=self.fallback_after,
            fallback_amps=self.fallback_amps)


class HttpConfig(BaseModel):
    """The `[http]` table: the API and the dashboard served by `evse-rules run`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    listen: str = "127.0.0.1:8080"
    password_env: str | None = None
    password_file: Path | None = None
    # Origins besides the dashboard's own that may send commands (a reverse proxy's name).
    allowed_origins: list[str] = Field(default_factory=list)

    @field_validator("password_env", "password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _password_location(value, info)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value.strip()

    @model_validator(mode="after")
    def _guarded(self) -> HttpConfig:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        host, _ = split_listen(self.listen)
        if self.enabled and not _loopback(host) and not (self.password_env or
                                                         self.password_file):
            raise ValueError(f"listen = {self.listen!r} is reachable from other machines: "
                             "set password_env or password_file (or listen on 127.0.0.1)")
        return self

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]

    def password(self) -> SecretStr | None:
        return _read_password(self.password_env, self.password_file)


def split_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8080', '[::1]:8080', 'localhost:80' -> (host, port); ValueError says why."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT like '127.0.0.1:8080', got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    # Port 0 takes a free port (tests, `evse-rules demo`): the log says which.
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"the port must be a number from 0 to 65535, got {port!r}")
    return host, int(port)


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# An MQTT topic as the [mqtt] table and mqtt inputs take it: one topic, no wildcards.
def _topic(value: str, key: str) -> str:
    if not value or value.strip() != value:
        raise ValueError(f"{key} must be an MQTT topic like 'shelly/em/power', got {_show(value)}")
    if "+" in value or "#" in value:
        raise ValueError(f"{key} = {_show(value)}: one topic without the wildcards + and #")
    if "\x00" in value or len(value.encode()) > 65535:
        raise ValueError(f"{key} = {_show(value)} is not an MQTT topic")
    return value


class MqttConfig(BaseModel):
    """The `[mqtt]` table: the broker that mqtt inputs read from and that state, commands
    and Home Assistant discovery go through (docs/mqtt.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)   # None: 1883, or 8883 with TLS
    user: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    tls: bool = False                   # with the system's CAs unless ca_file is given
    ca_file: Path | None = None
    client_id: str | None = None        # None: evse-rules-<host name>
    base_topic: str = "evse-rules"
    discovery: bool = True              # Home Assistant MQTT discovery
    discovery_prefix: str = "homeassistant"

    @field_validator("password_env", "password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _password_location(value, info)

    @field_validator("ca_file", mode="before")
    @classmethod
    def _ca(cls, value: Any, info: ValidationInfo) -> Any:
        return _resolve(value, info)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in "/ \t"):
            raise ValueError(f"must be a host name or address like 'broker.local', got "
                             f"{_show(value)}")
        return value.strip()

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topics(cls, value: str, info: ValidationInfo) -> str:
        _topic(value, info.field_name or "topic")
        if value.startswith("/") or value.endswith("/") or value.startswith("$"):
            raise ValueError(f"{info.field_name} = {_show(value)}: no leading or trailing / "
                             "and no leading $")
        return value

    @field_validator("client_id")
    @classmethod
    def _client(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= len(value.encode()) <= 65535:
            raise ValueError("client_id must not be empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        if (self.password_env or self.password_file) and self.user is None:
            raise ValueError("a password needs a user")
        return self

    @property
    def port_number(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls or self.ca_file is not None else 1883

    def password(self) -> SecretStr | None:
        """Read the password now, when connecting (never held in the config)."""
        return _read_password(self.password_env, self.password_file)


class InputConfig(PriceFields):
    """One `[inputs.NAME]` table (the tariff keys of kind "prices": `price_config`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["http", "constant", "mqtt", "prices"]
    url: str | None = None
    path: str | None = None
    unit: str | None = None
    every: Every | None = None          # poll interval; None: every tick
    timeout: Timeout = 5.0
    stale_after: StaleAfter | None = None  # None: three poll intervals
    # The value's type, before `value`: a constant's value is read by its type.
    type: Literal["number", "text", "boolean"] = "number"
    value: bool | str | float | None = None
    user: str | None = None              # HTTP Basic, as for chargers
    password_env: str | None = None
    password_file: Path | None = None
    topic: str | None = None             # kind "mqtt": the topic whose messages are read

    @field_validator("password_env", "password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _password_location(value, info)

    @field_validator("topic")
    @classmethod
    def _mqtt_topic(cls, value: str | None) -> str | None:
        return _topic(value, "topic") if value is not None else None

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                lookup_unit(value)
            except UnitError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value) if value is not None else None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(not p for p in value.split("."))):
            raise ValueError(f"must be a dotted path like 'site.meters.0.power', got {value!r}")
        return value

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a quantity like '300 W', got {value!r}")
        if isinstance(value, bool | str | int | float):     # else pydantic says what it takes
            _constant_value(value, info.data.get("type", "number"))
        return value

    @model_validator(mode="after")
    def _by_kind(self) -> InputConfig:
        given = {k for k in type(self).model_fields if k in self.model_fields_set}
        if self.kind != "mqtt" and "topic" in given:
            raise ValueError("topic is only for kind 'mqtt'")
        if self.type != "number" and self.unit is not None:
            raise ValueError(f"unit is only for numbers (type = {self.type!r})")
        problem = price_problems(self.kind, given, self.url, self.file, self.offpeak,
                                 self.offpeak_price, self.peak_price, self.unit, self.type)
        if problem is not None:
            raise ValueError(problem)
        if self.kind == "prices":
            return self
        if self.kind == "mqtt":
            _mqtt_input(self, given)
        elif self.kind == "http":
            missing = [k for k in ("url", "path") if getattr(self, k) is None]
            if missing:
                raise ValueError("kind 'http' needs " + " and ".join(missing))
            if "value" in given:
                raise ValueError("value is only for kind 'constant'")
            if self.password_env and self.password_file:
                raise ValueError("give password_env or password_file, not both")
        else:
            if self.value is None:
                raise ValueError("kind 'constant' needs a value, like value = \"300 W\"")
            extra = sorted(given & {"url", "path", "every", "timeout", "stale_after", "user",
                                    "password_env", "password_file"})
            if extra:
                raise ValueError(f"kind 'constant' takes no {', '.join(extra)}")
            _constant_value(self.value, self.type)
            if self.type != "number":
                return self
            if self.unit is not None and isinstance(self.value, str):
                written = parse_quantity(self.value).dimension
                if written not in (NUMBER, lookup_unit(self.unit).dimension):
                    raise ValueError(f"value {self.value!r} is not in unit {self.unit!r}")
            if not math.isfinite(self.constant().value):
                raise ValueError(f"value {_show(self.value)} is too large")
        return self

    def value_type(self) -> ValueType:
        """The type rules and the store give this input: a number in its unit, or an mqtt
        input's text or boolean."""
        from evse_rules.language.program import Kind, ValueType

        if self.type == "text":
            return ValueType(Kind.TEXT)
        if self.type == "boolean":
            return ValueType(Kind.BOOLEAN)
        return ValueType(Kind.NUMBER, self.dimension)

    @property
    def dimension(self) -> Dimension:
        if self.unit is not None:
            return lookup_unit(self.unit).dimension
        if self.kind == "constant" and isinstance(self.value, str):
            return parse_quantity(self.value).dimension
        return NUMBER

    def constant_value(self) -> float | str | bool:
        """The value of a constant input as rules read it: a canonical number, a text or a
        boolean (its `type`)."""
        if self.type == "number":
            return self.constant().value
        return _constant_value(self.value, self.type)

    def constant(self) -> Quantity:
        """The canonical value of a constant input of type number."""
        if self.value is None:
            raise ValueError("not a constant input")
        if isinstance(self.value, str):
            quantity = parse_quantity(self.value)
            if quantity.dimension == NUMBER and self.unit is not None:
                unit = lookup_unit(self.unit)
                return Quantity(unit.to_canonical(quantity.value), unit.dimension)
            return quantity
        if self.unit is None:
            return Quantity(float(self.value), NUMBER)
        unit = lookup_unit(self.unit)
        return Quantity(unit.to_canonical(float(self.value)), unit.dimension)

    def password(self) -> SecretStr | None:
        """Read the password now, when the input is built (never held in the config)."""
        return _read_password(self.password_env, self.password_file)

    def factor(self) -> float:
        """What a raw number read from the source is multiplied by to become canonical."""
        return lookup_unit(self.unit).factor if self.unit else 1.0


def _constant_value(value: bool | str | float | None, kind: str) -> float | str | bool:
    """A constant's value checked against its type; ValueError says what to write."""
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"type 'text' takes a quoted value, like value = \"red\", got "
                             f"{_show(value)}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"type 'boolean' takes value = true or false, got {_show(value)}")
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a quantity like '300 W', got {value!r} (for a boolean, "
                         "write type = \"boolean\")")
    if isinstance(value, str):
        try:
            return parse_quantity(value).value
        except UnitError as error:
            raise ValueError(f"{error} (for a text, write type = \"text\")") from None
    return float(value) if value is not None else math.nan


def _mqtt_input(spec: InputConfig, given: set[str]) -> None:
    """The keys an `[inputs.NAME]` of kind "mqtt" takes (docs/mqtt.md)."""
    if spec.topic is None:
        raise ValueError("kind 'mqtt' needs a topic, like topic = \"shelly/em/power\"")
    extra = sorted(given & {"url", "value", "timeout", "user", "password_env",
                            "password_file"})
    if extra:
        raise ValueError(f"kind 'mqtt' takes no {', '.join(extra)} (the broker is [mqtt])")


class Config(BaseModel):
    """A whole config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick: TickDuration = 60.0
    rules: list[Path] = Field(min_length=1)
    journal: Path = Field(default=Path("evse-rules.sqlite"), validate_default=True)
    state: Path = Field(default=Path("evse-rules-state.json"), validate_default=True)
    journal_days: int = 90      # days of journal kept, 0..3650; 0: keep everything
    timezone: str | None = None     # IANA name for the rules' local time; None: the system's
    http: HttpConfig = Field(default_factory=HttpConfig)
    mqtt: MqttConfig | None = None
    site: SiteConfig | None = None

    @field_validator("journal_days", mode="before")
    @classmethod
    def _journal_days(cls, value: Any) -> Any:
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or (isinstance(value, float) and not value.is_integer())
                or not 0 <= value <= JOURNAL_DAYS_MAX):
            raise ValueError(f"must be a whole number of days from 0 (keep everything) to "
                             f"{JOURNAL_DAYS_MAX}, got {_show(value)}")
        return int(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError(f"unknown time zone {_show(value)} (write it like "
                                 "'Europe/Paris')") from None
        return value

    def tzinfo(self) -> tzinfo | None:
        """The rules' time zone; None means the system's local time."""
        if self.timezone is None:
            return None
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)
    chargers: dict[str, ChargerConfig] = Field(min_length=1)
    inputs: dict[str, InputConfig] = Field(default_factory=dict)
    simulate: SimulateConfig | None = None      # `evse-rules simulate` only
    source: Path | None = Field(default=None, exclude=True)   # set by load_config

    @field_validator("journal", "state", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _resolve(value, info)

    @field_validator("rules", mode="before")
    @classmethod
    def _relative_list(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            # A file listed twice (`a.evr`, `./a.evr`) is loaded once: twice, its
            # declarations would clash and its rules would fire twice.
            unique: dict[Any, Any] = {}
            for raw in value:
                if isinstance(raw, str) and raw.strip() in ("", "."):
                    raise ValueError(f"{raw!r} names no rule file: give a path such as "
                                     "'rules/solar_surplus.evr'")
            for item in (_resolve(v, info) for v in value):
                key = Path(item).resolve() if isinstance(item, Path) else id(item)
                unique.setdefault(key, item)
            return list(unique.values())
        return value

    @field_validator("chargers", "inputs", mode="before")
    @classmethod
    def _names(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            kind = "charger" if info.field_name == "chargers" else "input"
            problems = [p for p in (_name_error(kind, n) for n in value) if p]
            if problems:
                raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _cross(self) -> Config:
        clash = sorted(set(self.chargers) & set(self.inputs))
        if clash:
            raise ValueError(f"{', '.join(clash)} names both a charger and an input")
        # Every cross-check at once, a line each ("KEY: message"), as the field errors are.
        problems: list[str] = []
        for name, charger in self.chargers.items():
            ref = charger.voltage_input
            if ref is None:
                continue
            if ref not in self.inputs:
                choices = difflib.get_close_matches(ref, list(self.inputs), 1)
                hint = f" (did you mean {choices[0]!r}?)" if choices else ""
                problems.append(f"chargers.{name}.voltage: no input named {ref!r}{hint}")
            elif (dimension := self.inputs[ref].dimension) != VOLTAGE:
                problems.append(f"chargers.{name}.voltage: input {ref!r} is not a voltage "
                                f"(it is {dimension.name})")
        problems += _site_problems(self)
        problems += _plan_problems(self)
        mqtt_inputs = [name for name, spec in self.inputs.items() if spec.kind == "mqtt"]
        if mqtt_inputs and self.mqtt is None:
            problems.append(f"inputs.{mqtt_inputs[0]}.kind: kind 'mqtt' needs an [mqtt] table "
                            "with the broker's host")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # --- the API the engine and the CLI use ---------------------------------------------

    @property
    def tick_seconds(self) -> float:
        return self.tick

    @property
    def rule_paths(self) -> list[Path]:
        return list(self.rules)

    @property
    def journal_path(self) -> Path:
        return self.journal

    @property
    def state_path(self) -> Path:
        return self.state

    @property
    def name(self) -> str:
        """How messages name this config: its file name, or '<config>'."""
        return str(self.source) if self.source else "<config>"

    @property
    def lock_path(self) -> Path:
        """The lock file that keeps a second daemon off the journal: the journal + '.lock'."""
        return self.journal.with_name(self.journal.name + ".lock")

    def check_files(self) -> None:
        """Refuse files the daemon would destroy: ConfigErrors naming every key at fault.

        The state, the journal (and SQLite's -wal and -shm beside it), the lock and the
        config must be distinct files once symlinks are resolved, and each must be a file or
        not exist yet (not a folder, not '/'). Run by `check --config` and at `run`'s start.
        """
        problems = file_problems(self)
        if problems:
            raise ConfigErrors([ConfigError(self.name, _clip(message), key)
                                for key, message in problems])

    def input_every(self, name: str) -> float:
        """Seconds between two reads of input `name` (the tick when not configured)."""
        every = self.inputs[name].every
        return every if every is not None else self.tick

    def input_stale_after(self, name: str) -> float:
        """Seconds after which input `name`'s last value no longer counts."""
        spec = self.inputs[name]
        if spec.kind in ("constant", "prices"):
            # A price input is unknown where its series has no slot, never by age.
            return float("inf")
        return spec.stale_after if spec.stale_after is not None else 3 * self.input_every(name)

    def environment(self) -> Environment:
        """The names the rule files may read besides their own: inputs and chargers."""
        from evse_rules.language.program import Environment

        return Environment(
            inputs={n: spec.value_type() for n, spec in self.inputs.items()},
            chargers=tuple(self.chargers),
            chargers_from_config=True,
            limits={n: (float(c.min_amps), float(c.max_amps))
                    for n, c in self.chargers.items()},
            origins={n: f"[inputs.{n}] of the config" for n in self.inputs},
            prices=frozenset(n for n, spec in self.inputs.items() if spec.kind == "prices"),
        )

    def site_settings(self) -> SiteSettings | None:
        """The supply the chargers share (`[site]`); None without one."""
        return None if self.site is None else self.site.settings()

    def charger_settings(self) -> list[ChargerSettings]:
        """The engine's view of each charger: limits, guards, initial mode."""
        from evse_rules.engine.settings import ChargerSettings

        return [
            ChargerSettings(
                name=name, min_amps=spec.min_amps, max_amps=spec.max_amps, phases=spec.phases,
                min_on=spec.min_on, min_off=spec.min_off,
                start_without_vehicle=spec.start_without_vehicle, initial_mode=spec.mode,
                voltage=spec.voltage_input or spec.voltage_volts,
                priority=spec.priority, phase=spec.phase,
                plan_price=spec.plan_price, plan_solar=spec.plan_solar,
            )
            for name, spec in self.chargers.items()
        ]


def _plan_problems(config: Config) -> list[str]:
    """Each charger's plan_price and plan_solar name a price input ("KEY: message" each)."""
    problems = []
    for name, charger in config.chargers.items():
        for key in ("plan_price", "plan_solar"):
            ref = getattr(charger, key)
            if ref is None:
                continue
            spec = config.inputs.get(ref)
            if spec is None:
                choices = difflib.get_close_matches(ref, list(config.inputs), 1)
                hint = f" (did you mean {choices[0]!r}?)" if choices else ""
                problems.append(f"chargers.{name}.{key}: no input named {ref!r}{hint}")
            elif spec.kind != "prices":
                problems.append(f"chargers.{name}.{key}: input {ref!r} is of kind "
                                f"{spec.kind!r}; a plan reads a series: kind \"prices\"")
    return problems


def _site_problems(config: Config) -> list[str]:
    """Cross-checks of `[site]` against the inputs and chargers ("KEY: message" each)."""
    site = config.site
    if site is None:
        return []
    key = "site.meter" if site.meter is not None else "site.house"
    name = site.measured_by
    problems = []
    if name not in config.inputs:
        choices = difflib.get_close_matches(name, list(config.inputs), 1)
        hint = f" (did you mean {choices[0]!r}?)" if choices else ""
        problems.append(f"{key}: no input named {name!r}{hint}")
    elif (dimension := config.inputs[name].dimension) != POWER:
        problems.append(f"{key}: input {name!r} is not a power (it is {dimension.name})")
    for charger, spec in config.chargers.items():
        if spec.phases == 3 and site.phases == 1:
            problems.append(f"chargers.{charger}.phases: a three-phase charger on a "
                            "single-phase site (site.phases = 1)")
        if spec.phase > site.phases:
            problems.append(f"chargers.{charger}.phase: phase {spec.phase} on a "
                            f"single-phase site (site.phases = 1)")
    return problems


# --- the files the daemon writes ---------------------------------------------------------

def _real(path: Path) -> Path:
    """`path` with every symlink resolved (as far as it exists), absolute."""
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return path.absolute()


def _written_file_problem(path: Path) -> str | None:
    """Why a file the daemon writes cannot be at `path` (None: it can)."""
    real = _real(path)
    try:
        if real.is_dir():
            return f"{path} is a folder, not a file"
        if real.exists() and not real.is_file():
            return f"{path} is not a regular file"
        folder = real.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            return f"{path} cannot be created: {folder} is not a folder"
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def _same(a: Path, b: Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)       # two hard links to one file
    except (OSError, ValueError):
        return False


def file_problems(config: Config) -> list[tuple[str, str]]:
    """(key, message) for each file of `config` the daemon could not use or would destroy."""
    journal = config.journal_path
    # What the daemon writes, as (key, how messages name it, path).
    written = [
        ("state", "the state file", config.state_path),
        ("journal", "the journal", journal),
        ("journal", "the journal's lock file", config.lock_path),
    ]
    # SQLite's companions of the journal are written too; they only have to be distinct.
    companions = [("journal", f"the journal's {suffix} file",
                   journal.with_name(journal.name + suffix)) for suffix in ("-wal", "-shm")]
    read = [("rules", f"the rule file {path}", path) for path in config.rule_paths]
    if config.source is not None:
        read.append(("config", "the config file", config.source))
    problems: list[tuple[str, str]] = []
    for key, what, path in written:
        problem = _written_file_problem(path)
        if problem:
            problems.append((key, f"{what}: {problem}"))
    clashed: set[tuple[str, str]] = set()
    for i, (key, what, path) in enumerate(written):
        for other_key, other_what, other in [*written[i + 1:], *companions, *read]:
            if key == other_key == "journal" or (other_key, other_what) in clashed:
                continue      # the journal's lock and companions are distinct by their names
            if _same(path, other):
                clashed.add((key, what))
                problems.append((key, f"{what} and {other_what} ({other_key}) are the same "
                                 f"file ({_real(path)}): each needs its own, or one would "
                                 "overwrite the other"))
    return problems


# --- loading and error messages ---------------------------------------------------------

_SECTIONS: dict[str, type[BaseModel]] = {"chargers": ChargerConfig, "inputs": InputConfig}


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: ErrorDetails) -> str:
    loc, kind, given = error["loc"], error["type"], error.get("input")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        model: type[BaseModel] = Config
        if len(loc) == 3 and str(loc[0]) in _SECTIONS:
            model = _SECTIONS[str(loc[0])]
        known = [k for k in model.model_fields if k != "source"]
        if name == "password":
            return "a password is never written in the config: use password_env or password_file"
        close = difflib.get_close_matches(name, known, 1)
        hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)
        return f"unknown key ({hint})"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}, got {_show(given)}"
    if kind == "too_short":
        return "must not be empty"
    msg = error["msg"]
    return f"{msg[:1].lower()}{msg[1:]}, got {_show(given)}"


_TYPES = frozenset({"float", "str", "int", "bool", "list[...]"})


class ConfigErrors(ConfigError):
    """Every problem found in one config file; `errors` holds one ConfigError per key."""

    def __init__(self, errors: list[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.message, first.key)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(Exception.__str__(e) for e in self.errors)


def _clip(message: str) -> str:
    """A message cut short: a validator may echo a 4000-digit value whole."""
    if len(message) <= 300:
        return message
    return f"{message[:240]}... ({len(message)} characters)"


def _errors(file: str, error: ValidationError) -> ConfigError:
    found: list[ConfigError] = []
    for detail in error.errors(include_url=False):
        # Union members and validators add their own name to the location: drop it.
        loc = tuple(p for p in detail["loc"]
                    if not (isinstance(p, str) and (p.startswith("function") or p in _TYPES)))
        text = str(detail.get("ctx", {}).get("error", ""))
        named = [re.match(r"^([\w.]+): (.*)$", line) for line in text.split("\n")]
        if detail["type"] == "value_error" and not loc and all(named):
            # Cross-checks of the whole file that name their own keys ("chargers.x.voltage:
            # ..."), a line each.
            found += [ConfigError(file, m.group(2), m.group(1)) for m in named if m]
            continue
        # Whatever a message echoes, a password or a token in it is not shown.
        found.append(ConfigError(file, _clip(redact(_message(detail))), _key(loc) or None))
    unique: dict[str, ConfigError] = {}
    for e in found:
        unique.setdefault(str(e), e)
    return ConfigErrors(list(unique.values()))


def parse_config(text: str, file: str = "<config>", base: Path | None = None) -> Config:
    """Validate config `text` (TOML); `file` names it in errors, paths are relative to `base`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(file, f"not valid TOML: {error}") from None
    except ValueError:
        # Python refuses to turn more than 4300 digits into an int (a denial-of-service
        # guard); tomllib lets that ValueError out.
        raise ConfigError(file, "not valid TOML: a number has too many digits") from None
    except RecursionError:
        raise ConfigError(file, "not valid TOML: arrays or tables nested too deep") from None
    context = {"base": base if base is not None else Path.cwd()}
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as error:
        raise _errors(file, error) from None
    except RecursionError:
        raise ConfigError(file, "values nested too deep to check") from None
    return config.model_copy(update={"source": Path(file)})


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; ConfigError names the file and every bad key."""
    path = Path(path)
    try:
        # utf-8-sig: the byte order mark some Windows editors write is not text.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"cannot read: {error}") from None
    return parse_config(text, str(path), path.resolve().parent)
