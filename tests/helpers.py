"""Helpers importable from any test module (``tests`` is on pytest's pythonpath)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mock_vendors._common.clock import VirtualClock
from mock_vendors._common.stack import Stack, StackSettings
from mock_vendors.wsgi import StackApp, create_all

# A fixed, frozen start: tests are reproducible and never wait for real time.
T0 = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
PLATFORM_VENDORS = ("gpsinsight", "wex")


def make_stack_app(**settings: Any) -> StackApp:
    """A stack app on a frozen clock at T0 with the given settings."""
    stack = Stack(StackSettings(**settings), clock=VirtualClock(T0, frozen=True))
    return create_all(stack=stack)
