"""A price input built from its `[inputs.NAME]` table (kind "prices", docs/tariffs.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evse_rules.errors import ConfigError
from evse_rules.inputs.base import Clock, utc_now
from evse_rules.inputs.prices import PriceInput

if TYPE_CHECKING:
    import httpx

    from evse_rules.config import Config


def price_input(config: Config, name: str, client: httpx.AsyncClient | None,
                clock: Clock | None = None) -> PriceInput:
    """The price input `name` of `config`; the password (HTTP Basic) is read here. `clock`
    is the daemon's: off-peak windows are laid out around its day."""
    spec = config.inputs[name]
    try:
        secret = spec.password()
    except ConfigError as error:
        raise ConfigError(config.name, error.message, f"inputs.{name}.{error.key}") from None
    auth = None
    if spec.user is not None or secret is not None:
        auth = (spec.user or "", secret.get_secret_value() if secret else "")
    return PriceInput(
        name, file=spec.file, url=spec.url, shape=spec.json_shape(spec.path),
        windows=spec.windows(), offpeak_price=spec.offpeak_price or 0.0,
        peak_price=spec.peak_price or 0.0, scale=spec.scale, zone=config.tzinfo(),
        # Prices change by the hour at most: without `every`, read them hourly.
        every=spec.every if spec.every is not None else 3600.0, timeout=spec.timeout,
        client=client, auth=auth, clock=clock or utc_now)
