"""One vendor of a stack served on a loopback port, for client tests that need real sockets
(dropped connections, threads): its URL and its control plane (reset, faults, clock, journal).

Import ``module_served_stack`` into a test module to get the ``served_stack`` fixture: one
served stack for the whole module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from helpers import T0, make_stack_app, served


@pytest.fixture(scope="module", name="served_stack")
def module_served_stack() -> Iterator[tuple[Client, str]]:
    """The whole stack served on 127.0.0.1 for the module: an in-process control client and
    the base URL."""
    app = make_stack_app()
    with served(app) as base:
        yield Client(app), base


class ServedVendor:
    """A vendor of the served stack; subclasses name it."""

    vendor = ""

    def __init__(self, control: Client, base: str) -> None:
        self.control = control
        self.url = f"{base}/{self.vendor}"

    def reset(self) -> None:
        """The seeded world, no faults, an empty journal, the clock frozen at T0."""
        prefix = f"/{self.vendor}/_mock"
        assert self.control.post(f"{prefix}/reset").status_code == 200
        assert self.control.delete(f"{prefix}/faults").status_code == 200
        assert self.control.delete(f"{prefix}/journal").status_code == 200
        clock = {"set": T0.isoformat(), "freeze": True}
        assert self.control.post(f"{prefix}/clock", json=clock).status_code == 200

    def fault(self, **spec: Any) -> None:
        """Register a fault (docs: mock_vendors/_common/faults.py)."""
        answer = self.control.post(f"/{self.vendor}/_mock/faults", json=spec)
        assert answer.status_code == 201, answer.json

    def faults(self) -> list[dict[str, Any]]:
        """The registered faults with their counters."""
        return list(self.control.get(f"/{self.vendor}/_mock/faults").json["faults"])

    def advance(self, seconds: float) -> None:
        """Move the virtual clock."""
        answer = self.control.post(f"/{self.vendor}/_mock/clock", json={"advance": seconds})
        assert answer.status_code == 200

    def journal(self, method: str, path: str) -> list[dict[str, Any]]:
        """Journal entries of one method on a mount-relative path glob."""
        query = {"method": method, "path": path}
        answer = self.control.get(f"/{self.vendor}/_mock/journal", query_string=query)
        return list(answer.json["entries"])
