"""Test-wide settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

# Property tests explore new examples on a developer's machine; in CI (CI=true, or
# HYPOTHESIS_PROFILE=ci) they replay a fixed sequence, so that a landing is never decided by
# the luck of a random draw. A failure found locally is kept in .hypothesis/ and replayed
# first next time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (tests/browser.py). Not per session: Playwright's sync
    API keeps an event loop running in the main thread while a browser is open, and the
    asyncio tests of later modules could not run theirs."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched
