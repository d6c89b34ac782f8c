"""The keys of a price input (`[inputs.NAME] kind = "prices"`, docs/tariffs.md).

    [inputs.price]
    kind = "prices"
    file = "prices.csv"            # a CSV of time,price
    # or: url = "https://api.awattar.de/v1/marketdata", path = "data",
    #     start_key = "start_timestamp", end_key = "end_timestamp",
    #     price_key = "marketprice", scale = 0.001
    # or: offpeak = ["22:00-06:00"], offpeak_price = 0.18, peak_price = 0.32
    every = "1 h"

A module of its own: `config.InputConfig` takes these fields as a base class and calls
`price_problems` from its check by kind, so the config file names every key in one place
while the tariff keys live here. No import from the config (it imports this).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator

from evse_rules.inputs.prices import PLAUSIBLE_PRICE, JsonShape, Window

# The keys only a price input takes (the others refuse them).
PRICE_KEYS = ("file", "offpeak", "offpeak_price", "peak_price", "scale", "start_key",
              "end_key", "price_key")


class PriceFields(BaseModel):
    """The tariff keys of an `[inputs.NAME]` table (used by kind "prices" only)."""

    file: Path | None = None                 # a CSV of time,price (relative to the config)
    offpeak: list[str] | None = None         # ["22:00-06:00", "12:00-14:00"]
    offpeak_price: float | None = None
    peak_price: float | None = None
    scale: float = 1.0                       # every price read is multiplied by it
    start_key: str = "start"                 # the keys of one item of a JSON array
    end_key: str | None = "end"
    price_key: str = "price"

    @field_validator("file", mode="before")
    @classmethod
    def _file(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            if not value.strip() or "\x00" in value:
                raise ValueError(f"must name a CSV file like 'prices.csv', got {value!r}")
            base = (info.context or {}).get("base")
            path = Path(value).expanduser()
            return path if path.is_absolute() or base is None else Path(base) / path
        return value

    @field_validator("offpeak")
    @classmethod
    def _windows(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("give at least one window, like offpeak = [\"22:00-06:00\"]")
            for text in value:
                Window.parse(text)
        return value

    @field_validator("offpeak_price", "peak_price")
    @classmethod
    def _price(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and abs(value) <= PLAUSIBLE_PRICE):
            raise ValueError(f"must be a price per kWh (within +-{PLAUSIBLE_PRICE:g}), got "
                             f"{value!r}")
        return value

    @field_validator("scale")
    @classmethod
    def _scale(cls, value: float) -> float:
        if not (math.isfinite(value) and value != 0 and abs(value) <= 1e6):
            raise ValueError(f"must be a number like 0.001 (per MWh to per kWh), got {value!r}")
        return value

    @field_validator("start_key", "price_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value:
            raise ValueError("must name a key of the JSON items")
        return value

    def windows(self) -> tuple[Window, ...]:
        return tuple(Window.parse(text) for text in self.offpeak or ())

    def json_shape(self, path: str | None) -> JsonShape:
        return JsonShape(path, self.start_key, self.end_key or None, self.price_key,
                         self.scale)


def price_problems(kind: str, given: set[str], url: str | None, file: Path | None,
                   offpeak: list[str] | None, offpeak_price: float | None,
                   peak_price: float | None, unit: str | None, type_: str) -> str | None:
    """What is wrong with the keys of an input as a price input (kind "prices") or, for
    another kind, which price keys it was given; None when nothing is."""
    if kind != "prices":
        extra = sorted(given & set(PRICE_KEYS))
        return f"{', '.join(extra)}: only for kind 'prices'" if extra else None
    sources = [key for key, value in (("file", file), ("url", url), ("offpeak", offpeak))
               if value is not None]
    if len(sources) != 1:
        found = " and ".join(sources) if sources else "none"
        return ("kind 'prices' reads one source: file = \"prices.csv\", url = \"...\" (JSON) "
                f"or offpeak = [\"22:00-06:00\"] (found {found})")
    if unit is not None or type_ != "number":
        return "kind 'prices' takes no unit or type: a price is a number per kWh (use scale)"
    extra = sorted(given & {"value", "topic"})
    if extra:
        return f"kind 'prices' takes no {', '.join(extra)}"
    if offpeak is not None:
        missing = [k for k, v in (("offpeak_price", offpeak_price), ("peak_price", peak_price))
                   if v is None]
        if missing:
            return f"offpeak windows need {' and '.join(missing)} (per kWh)"
        stray = sorted(given & {"path", "start_key", "end_key", "price_key", "scale",
                                "timeout", "user", "password_env", "password_file"})
        if stray:
            return f"offpeak windows take no {', '.join(stray)}"
    else:
        stray = sorted(given & {"offpeak_price", "peak_price"})
        if stray:
            return f"{', '.join(stray)}: only with offpeak windows"
    if file is not None:
        stray = sorted(given & {"path", "start_key", "end_key", "price_key", "timeout",
                                "user", "password_env", "password_file"})
        if stray:
            return f"a price file takes no {', '.join(stray)} (those are for a url)"
    return None
