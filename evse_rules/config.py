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
    NUMBER,
    VOLTAGE,
    Dimension,
    Quantity,
    UnitError,
    lookup_unit,
    parse_duration,
    parse_quantity,
)

if TYPE_CHECKING:
    from evse_rules.engine.settings import ChargerSettings
    from evse_rules.language.program import Environment

DEFAULT_CONFIG_NAME = "evse-rules.toml"

# The amperes every J1772 charger can signal; a charger's own hard limits may be narrower.
AMPS_FLOOR = 6
AMPS_CEILING = 32


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    if re.match(r"^https?://[^/@\s]*:[^/@\s]*@", value):
        # A password in the URL would end up in logs and error messages.
        raise ValueError("must not hold credentials; use user and password_env/password_file")
    try:
        port = urlsplit(value).port     # raises when not a number or outside 0..65535
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"must have a port between 1 and 65535, got {value!r}")
    return value

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Names rules already use for something else (DESIGN.md section 5 and the language keywords):
# an input or charger named like this would be shadowed or ambiguous.
_RESERVED_NAMES = frozenset({
    "now", "time", "hour", "weekday", "date", "mode", "state", "vehicle", "charging",
    "current", "amps", "voltage", "power", "session_energy", "total_energy", "temp",
    "min_amps", "max_amps", "phases", "online", "auto", "manual", "if", "then", "else",
    "and", "or", "not", "is", "for", "set", "to", "start", "stop", "log", "let", "var",
    "input", "every", "at", "on", "cron", "between", "true", "false",
})


def _duration(value: Any) -> float:
    """A duration written with its unit ('10 s', '5 min') in seconds; must be positive."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration like '30 s' or '5 min', got {value!r}")
    if isinstance(value, int | float):
        # A bare number is ambiguous (seconds? minutes?): make people say.
        raise ValueError(f"write the unit of the duration, like '{value} s' or '{value} min'")
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


Duration = Annotated[float, BeforeValidator(_duration)]
OptionalDuration = Annotated[float, BeforeValidator(_duration_or_zero)]


def _name_error(kind: str, name: str) -> str | None:
    if not _NAME.match(name):
        return (f"{kind} name {name!r} is not a valid name (letters, digits and _, "
                "not starting with a digit)")
    if name in _RESERVED_NAMES:
        return f"{kind} name {name!r} is reserved in rules; choose another one"
    return None


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """Paths in the file are relative to the config file's folder."""
    base = (info.context or {}).get("base")
    if isinstance(value, str | Path) and base is not None:
        path = Path(value).expanduser()
        return path if path.is_absolute() else Path(base) / path
    return value


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
    min_on: OptionalDuration = 600.0
    min_off: OptionalDuration = 300.0
    mode: Literal["auto", "manual"] = "manual"
    start_without_vehicle: bool = False
    client_id: int | None = None       # the claim's client id; None: the driver's own
    every: Duration | None = None      # poll interval; None: every tick
    timeout: Duration = 5.0
    # What stopping the engine does to the charger: keep our claim (the charger goes on
    # doing what it was last told, and the next start adopts it) or release it (the charger
    # goes back to its own settings: a sleeping charger may start at its full current).
    on_exit: Literal["keep", "release"] = "keep"

    @field_validator("min_amps", "max_amps", mode="before")
    @classmethod
    def _amps_in_range(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a whole number of amperes, got {value!r}")
        if value != int(value):
            raise ValueError(f"must be a whole number of amperes, got {value!r}")
        if not AMPS_FLOOR <= value <= AMPS_CEILING:
            raise ValueError(f"must be between {AMPS_FLOOR} and {AMPS_CEILING}, got {value!r}")
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
            raise ValueError(f"must be between 100 and 500 V, got {value!r}")
        return value

    @field_validator("password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _resolve(value, info)

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


class HttpConfig(BaseModel):
    """The `[http]` table: the API and the dashboard served by `evse-rules run`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    listen: str = "127.0.0.1:8080"
    password_env: str | None = None
    password_file: Path | None = None
    # Origins besides the dashboard's own that may send commands (a reverse proxy's name).
    allowed_origins: list[str] = Field(default_factory=list)

    @field_validator("password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _resolve(value, info)

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
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be a number from 1 to 65535, got {port!r}")
    return host, int(port)


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class InputConfig(BaseModel):
    """One `[inputs.NAME]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["http", "constant"]
    url: str | None = None
    path: str | None = None
    unit: str | None = None
    every: Duration | None = None       # poll interval; None: every tick
    timeout: Duration = 5.0
    stale_after: Duration | None = None  # None: three poll intervals
    value: str | float | None = None
    user: str | None = None              # HTTP Basic, as for chargers
    password_env: str | None = None
    password_file: Path | None = None

    @field_validator("password_file", mode="before")
    @classmethod
    def _relative(cls, value: Any, info: ValidationInfo) -> Any:
        return _resolve(value, info)

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
    def _value(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"expected a quantity like '300 W', got {value!r}")
        if isinstance(value, str):
            try:
                parse_quantity(value)
            except UnitError as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _by_kind(self) -> InputConfig:
        given = {k for k in type(self).model_fields if k in self.model_fields_set}
        if self.kind == "http":
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
            if self.unit is not None and isinstance(self.value, str):
                written = parse_quantity(self.value).dimension
                if written not in (NUMBER, lookup_unit(self.unit).dimension):
                    raise ValueError(f"value {self.value!r} is not in unit {self.unit!r}")
        return self

    @property
    def dimension(self) -> Dimension:
        if self.unit is not None:
            return lookup_unit(self.unit).dimension
        if self.kind == "constant" and isinstance(self.value, str):
            return parse_quantity(self.value).dimension
        return NUMBER

    def constant(self) -> Quantity:
        """The canonical value of a constant input."""
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


class Config(BaseModel):
    """A whole config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick: Duration = 60.0
    rules: list[Path] = Field(min_length=1)
    journal: Path = Field(default=Path("evse-rules.sqlite"), validate_default=True)
    state: Path = Field(default=Path("evse-rules-state.json"), validate_default=True)
    journal_days: int = Field(default=90, ge=0)    # days of journal kept; 0: keep everything
    timezone: str | None = None     # IANA name for the rules' local time; None: the system's
    http: HttpConfig = Field(default_factory=HttpConfig)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (write it like "
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

    def input_every(self, name: str) -> float:
        """Seconds between two reads of input `name` (the tick when not configured)."""
        every = self.inputs[name].every
        return every if every is not None else self.tick

    def input_stale_after(self, name: str) -> float:
        """Seconds after which input `name`'s last value no longer counts."""
        spec = self.inputs[name]
        if spec.kind == "constant":
            return float("inf")
        return spec.stale_after if spec.stale_after is not None else 3 * self.input_every(name)

    def environment(self) -> Environment:
        """The names the rule files may read besides their own: inputs and chargers."""
        from evse_rules.language.program import Environment, Kind, ValueType

        return Environment(
            inputs={n: ValueType(Kind.NUMBER, spec.dimension) for n, spec in self.inputs.items()},
            chargers=tuple(self.chargers),
            chargers_from_config=True,
        )

    def charger_settings(self) -> list[ChargerSettings]:
        """The engine's view of each charger: limits, guards, initial mode."""
        from evse_rules.engine.settings import ChargerSettings

        return [
            ChargerSettings(
                name=name, min_amps=spec.min_amps, max_amps=spec.max_amps, phases=spec.phases,
                min_on=spec.min_on, min_off=spec.min_off,
                start_without_vehicle=spec.start_without_vehicle, initial_mode=spec.mode,
                voltage=spec.voltage_input or spec.voltage_volts,
            )
            for name, spec in self.chargers.items()
        ]


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
        return f"must be one of {expected}, got {given!r}"
    if kind == "too_short":
        return "must not be empty"
    msg = error["msg"]
    return f"{msg[:1].lower()}{msg[1:]}, got {given!r}"


_TYPES = frozenset({"float", "str", "int", "bool", "list[...]"})


class ConfigErrors(ConfigError):
    """Every problem found in one config file; `errors` holds one ConfigError per key."""

    def __init__(self, errors: list[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.message, first.key)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(Exception.__str__(e) for e in self.errors)


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
        found.append(ConfigError(file, _message(detail), _key(loc) or None))
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
    context = {"base": base if base is not None else Path.cwd()}
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as error:
        raise _errors(file, error) from None
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
