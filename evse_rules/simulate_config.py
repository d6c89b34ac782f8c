"""The config's `[simulate]` table: how `evse-rules simulate` reads recorded data, for what
the command line would otherwise have to say at every replay (docs/simulation.md).

    [simulate]
    meter = "grid"            # the site meter column recorded without the car; "none": none
    meter_sign = "import"     # "import": import positive (a grid meter); "export": export

A module of its own, without imports from the replay: the config is read by every command,
the replay's machinery only by `simulate`. The vehicle stays in each `[chargers.NAME]`
(`battery`, `soc`), as live; `--meter`, `--battery` and `--soc` override the config.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SimulateConfig(BaseModel):
    """The `[simulate]` table; an unknown key is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A column name of the data (checked against the data when a replay starts: the config
    # does not know which file will be replayed).
    meter: str | None = Field(default=None, min_length=1, max_length=200)
    meter_sign: Literal["import", "export"] = "import"

    @field_validator("meter")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        if value is not None and (value != value.strip() or ":" in value):
            raise ValueError(f"a column name without spaces around it or ':' (the sign is "
                             f"meter_sign), got {value!r}")
        return value

    def meter_spec(self) -> str | None:
        """The meter as `--meter` says it (`grid`, `grid:export`, `none`); None: neither
        key given (a `grid` power column is the meter, import positive)."""
        if self.meter is None and self.meter_sign == "import":
            return None
        name = self.meter or "grid"
        if name.lower() == "none":
            return "none"
        return f"{name}:{self.meter_sign}"
