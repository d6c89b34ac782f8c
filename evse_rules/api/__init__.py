"""The REST API and the dashboard: FastAPI in front of `EngineFace` (evse_rules.live.views).

This room knows only the views contract: never the engine, the daemon or the chargers, so the
same app serves the real daemon, a demo and the tests' fakes.
"""

from evse_rules.api.app import create_app

__all__ = ["create_app"]
