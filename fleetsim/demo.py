"""`make run`'s demo set-up: a fresh demo store with the demo integrations activated, and the
demo Driveri tenant paired with the GPS Insight account for driver sync."""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests

from fleetsim.engine_cli import add_driveri, add_integration, receiver_url
from mock_vendors.wsgi import StackApp
from sync_engine.clients.gpsinsight import GpsInsightClient
from sync_engine.clock import record_clock, stack_spec
from sync_engine.store import Store
from sync_engine.store.store import DEFAULT_PATH


def fresh_demo_store() -> str:
    """Wipe the default demo store (the world is regenerated at every start, so its old
    links and cursors would be wrong). A store named by FLEETSIM_DB_URL is never wiped."""
    if os.environ.get("FLEETSIM_DB_URL"):
        return "store from FLEETSIM_DB_URL (kept)"
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{DEFAULT_PATH}{suffix}").unlink(missing_ok=True)
    return f"fresh demo store {DEFAULT_PATH}"


def wait_until_serving(base_url: str, timeout_s: float = 30.0) -> None:
    """Block until the stack answers on loopback."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            requests.get(f"{base_url}/gpsinsight/v2/heartbeat/beat", timeout=1).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # waiting for our own server to start, not for a test


def activate_demo(app: StackApp, base_url: str) -> list[str]:
    """Record that the engine runs on this stack's virtual clock, then add (idempotently) the
    demo's GPS Insight, Wex and Whip Around integrations, activated on that clock. Every
    command against the demo store then follows the stack's clock (FLEETSIM_ENGINE_CLOCK
    still overrides it for one command)."""
    store = Store()
    record_clock(store, stack_spec(base_url))
    done = []
    for kind in ("gpsinsight", "wex"):
        creds = app.vendors[kind].extensions["fleetsim"].backend.credentials()
        master = next(u for a in creds["accounts"] for u in a["users"] if u["master"])
        done.append(
            add_integration(
                store,
                kind,
                base_url=f"{base_url}/{kind}",
                username=master["username"],
                secret=master["app_token"],
            )
        )
    keys = app.vendors["whiparound"].extensions["fleetsim"].backend.credentials()["keys"]
    key = next(k["key"] for k in keys if k["type"] == "integration")
    done.append(
        add_integration(
            store, "whiparound", base_url=f"{base_url}/whiparound/api/public/v4", secret=key
        )
    )
    return done


def activate_driver_sync(app: StackApp, base_url: str, engine_url: str | None) -> str:
    """Pair the demo Driveri tenant (the stack's first API client) with the GPS Insight
    integration, subscribe the engine's receiver under ``engine_url`` (None: no engine runs,
    so no subscription) with a generated secret, and turn Driver Sync on in the demo account
    as its Master User (only the Master may). Returns a line for the banner."""
    store = Store()
    client = app.vendors["driveri"].extensions["fleetsim"].backend.credentials()["clients"][0]
    target = receiver_url("gpsinsight", engine_url) if engine_url else None
    subscription = add_driveri(
        store, client_id=client["client_id"], client_secret=client["client_secret"],
        tenant=client["tenant"], portal="gpsinsight", base_url=f"{base_url}/driveri",
        subscribe_url=target,
    )  # fmt: skip
    creds = app.vendors["gpsinsight"].extensions["fleetsim"].backend.credentials()
    master = next(u for a in creds["accounts"] for u in a["users"] if u["master"])
    portal = GpsInsightClient(f"{base_url}/gpsinsight", master["username"], master["app_token"])
    portal.set_driver_sync(True)
    hook = f"webhook #{subscription.id} -> {subscription.url}" if subscription else "no webhook"
    return f"Driveri tenant {client['tenant']!r} <- gpsinsight, Driver Sync on, {hook}"
