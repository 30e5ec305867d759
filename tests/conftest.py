"""Shared fixtures: a whole stack in-process on a frozen virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from secret_watch import Watch, install
from werkzeug.test import Client

from helpers import PLATFORM_VENDORS, T0, make_stack_app  # noqa: F401  (re-exported)
from mock_vendors.wsgi import StackApp


@pytest.fixture
def stack_app() -> StackApp:
    """The default demo stack (seed 1)."""
    return make_stack_app()


@pytest.fixture
def client(stack_app: StackApp) -> Client:
    """A WSGI test client for the whole stack (paths start with /<vendor>)."""
    return Client(stack_app)


@pytest.fixture
def creds(client: Client) -> Callable[[str], dict[str, dict[str, Any]]]:
    """``creds(vendor)`` -> {username: credential row} from ``/_mock/credentials``."""

    def get(vendor: str) -> dict[str, dict[str, Any]]:
        body = client.get(f"/{vendor}/_mock/credentials").json
        return {u["username"]: u for a in body["accounts"] for u in a["users"]}

    return get


@pytest.fixture
def login(client: Client, creds: Callable[[str], dict[str, dict[str, Any]]]):
    """``login(vendor, role)`` -> session token; role is master | dispatch | restricted."""

    def do(vendor: str, role: str = "master") -> str:
        users = creds(vendor).values()
        user = {
            "master": next(u for u in users if u["master"]),
            "dispatch": next(
                u for u in users if not u["master"] and "ALL VEHICLES" in u["vehicle_groups"]
            ),
            "restricted": next(u for u in users if "ALL VEHICLES" not in u["vehicle_groups"]),
        }[role]
        response = client.get(
            f"/{vendor}/v2/userauth/login",
            query_string={"username": user["username"], "app_token": user["app_token"]},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["data"]["token"]

    return do


# -- R8 over the whole run: no issued secret in any log line (see secret_watch.py) ----------

_WATCH = Watch()


def pytest_configure(config: pytest.Config) -> None:
    """Watch from the start: before any world is built or any token issued."""
    config._secret_watch_stop = install(_WATCH)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any log line held a secret issued during it."""
    stop = getattr(session.config, "_secret_watch_stop", None)
    if stop is not None:
        stop()
    leaks = _WATCH.leaks()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"secret watch: {len(_WATCH.issued)} issued secrets, {len(_WATCH.lines)} log lines, "
            f"{len(leaks)} leaks"
        )
        for name, line in leaks[:20]:
            reporter.write_line(f"  LEAK in {name}: {line[:300]}", red=True)
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
