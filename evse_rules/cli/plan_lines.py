"""The charge plan of a charger for `evse-rules why`: from the running engine's API (slots,
cost, whether it can be met), else from the state file (what was asked, by when)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evse_rules.config import Config


def plan_lines(config: Config, charger: str) -> list[str]:
    """`why`'s lines about the plan of `charger`; none when it has no plan."""
    from evse_rules.cli.hand import _api, _call
    from evse_rules.live.owner import engine_running

    api = _api(config) if engine_running(config) else None
    if api is not None:
        answer = _call(config, api, "GET", f"/api/v1/chargers/{charger}", None)
        if answer is not None and answer[0] == 200 and isinstance(answer[1], dict):
            plan = answer[1].get("plan")
            text = plan.get("text") if isinstance(plan, dict) else None
            return [f"  {line}" for line in text.splitlines()] if isinstance(text, str) else []
    return _saved(config, charger)


def _saved(config: Config, charger: str) -> list[str]:
    """The plan the state file holds (the engine's API cannot be asked)."""
    from evse_rules.engine.plan_store import decode_plans

    try:
        document = json.loads(config.state_path.read_text(encoding="utf-8"))
        plans = decode_plans(document.get("plans", {}) if isinstance(document, dict) else {})
    except (OSError, ValueError):
        return []
    record = plans.get(charger)
    if record is None:
        return []
    return [f"  plan: {record.text()} (set by {record.source} at "
            f"{record.began:%Y-%m-%d %H:%M}); its slots are shown by the running engine's "
            "API (`evse-rules status`, the dashboard)"]
