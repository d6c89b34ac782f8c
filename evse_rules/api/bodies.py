"""Request bodies, with the words a person reads when one is wrong."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from evse_rules.live.views import JournalLine, Series

_AMPS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:A|amps?|amperes?)?\s*$", re.IGNORECASE)


def _shown(value: Any) -> str:
    """The offending value as the person sent it (JSON spelling), kept short."""
    if isinstance(value, str):
        text = f'"{value}"'
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _amps(value: Any) -> float:
    """10, 10.5 or "10 A" -> amperes; anything else says what was expected."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (match := _AMPS.match(value)):
        number = float(match.group(1))
    if number is None or not math.isfinite(number) or number < 0:
        raise PydanticCustomError(
            "amps", 'expected a number of amperes like 10 or "10 A", got {got}',
            {"got": _shown(value)})
    return number


def _mode(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in ("auto", "manual"):
        return value.strip().lower()
    raise PydanticCustomError("mode", 'expected "auto" or "manual", got {got}',
                              {"got": _shown(value)})


def _variable(value: Any) -> float | str | bool:
    """A number (in the variable's display unit), a text ("20 kWh") or a boolean."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    raise PydanticCustomError(
        "value", 'expected a number, a text such as "20 kWh", or true/false, got {got}',
        {"got": _shown(value)})


class AmpsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amps: Annotated[float, BeforeValidator(_amps)]


class ModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Annotated[Literal["auto", "manual"], BeforeValidator(_mode)]


class VariableBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Annotated[float | str | bool, BeforeValidator(_variable)]


def _plan_energy(value: Any) -> str:
    """20 (kWh), 20.5 or "20 kWh" -> the text the plan parser reads."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{float(value):g}"
    if isinstance(value, str) and value.strip() and len(value) <= 40:
        return value.strip()
    raise PydanticCustomError("energy", 'expected an energy like 20 or "20 kWh", got {got}',
                              {"got": _shown(value)})


def _plan_time(value: Any) -> str:
    if isinstance(value, str) and value.strip() and len(value) <= 40:
        return value.strip()
    raise PydanticCustomError("by", 'expected a time like "07:00" or "2026-06-02T07:00", '
                              "got {got}", {"got": _shown(value)})


class PlanBody(BaseModel):
    """A charge plan: `energy` (kWh, or a text with its unit) by `by` (a time of day, the
    next one, or a date and time)."""

    model_config = ConfigDict(extra="forbid")
    energy: Annotated[str, BeforeValidator(_plan_energy)]
    by: Annotated[str, BeforeValidator(_plan_time)]


class EmptyBody(BaseModel):
    """start, stop and release take no value: `{}` or no body at all."""

    model_config = ConfigDict(extra="forbid")


class OutcomeBody(BaseModel):
    """What a command answers when the engine took it (`ok` False: nothing was changed)."""

    ok: bool
    message: str
    sent: list[str]


class ErrorBody(BaseModel):
    detail: str


class JournalBody(BaseModel):
    entries: list[JournalLine]


class SeriesBody(BaseModel):
    series: list[Series]


class TextBody(BaseModel):
    text: str
