"""Helpers importable from any test module (``tests`` is on pytest's pythonpath)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from fleetsim.scenario_stack import serve_app
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


@pytest.fixture(scope="module", name="stack_app")
def module_stack_app() -> StackApp:
    """One stack for a whole module (building one per test is most of a test's cost).

    Import it together with ``reset_platform_stack`` into a test module to use it there."""
    return make_stack_app()


def reset_vendor(stack_app: StackApp, vendor: str, *, freeze_at: datetime | None = None) -> Client:
    """A client on ``stack_app`` with ``vendor`` back at its seeded world (and the clock
    frozen at ``freeze_at`` when given)."""
    client = Client(stack_app)
    assert client.post(f"/{vendor}/_mock/reset").status_code == 200
    if freeze_at is not None:
        clock = {"set": freeze_at.isoformat(), "freeze": True}
        assert client.post(f"/{vendor}/_mock/clock", json=clock).status_code == 200
    return client


@pytest.fixture(name="fresh_stack", autouse=True)
def reset_platform_stack(stack_app: StackApp) -> None:
    """Before each test: the seeded world, no sessions, and the clock frozen at T0 again."""
    control = Client(stack_app)
    for vendor in PLATFORM_VENDORS:
        assert control.post(f"/{vendor}/_mock/reset").status_code == 200
    clock = {"set": T0.isoformat(), "freeze": True}
    assert control.post(f"/{PLATFORM_VENDORS[0]}/_mock/clock", json=clock).status_code == 200


# One way to serve a stack on loopback, shared with `fleetsim scenario` (it cannot import tests).
served = serve_app


def wait_until(condition: Callable[[], Any], what: str, deadline_s: float = 10.0) -> Any:
    """Poll ``condition`` (another thread's work) until it is truthy and return its value;
    fail once ``deadline_s`` has passed."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")
        threading.Event().wait(0.01)  # a poll interval, not a wait for an outcome


WA_API = "/whiparound/api/public/v4"


class Sleeper:
    """Records the engine's waits; never sleeps."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def activate_integrations(
    store: Any, base: str, user: dict[str, Any], wa_key: str, at: datetime = T0
) -> None:
    """Store the served stack's GPS Insight integration (as ``user``) and its Whip Around
    integration (with ``wa_key``), activated at ``at``."""
    store.save_integration(
        "gpsinsight", "gpsinsight", f"{base}/gpsinsight", user["app_token"], at,
        username=user["username"],
    )  # fmt: skip
    store.save_integration("whiparound", "whiparound", f"{base}{WA_API}", wa_key, at)


def demo_credentials(base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(GPS Insight users, Whip Around keys) of a served stack, from its control plane."""
    users = requests.get(f"{base}/gpsinsight/_mock/credentials").json()["accounts"][0]["users"]
    keys = requests.get(f"{base}/whiparound/_mock/credentials").json()["keys"]
    return users, keys
