"""Placeholder until the command lands."""

from __future__ import annotations

from typing import Any


def add_commands(subparsers: Any) -> None:
    """No command yet."""
