"""Serve a whole stack from one gunicorn process: one worker, many threads, state in memory.

The worker is :class:`fleetsim.worker.StackWorker` (requests are read whole by its poller
before a thread runs them, so stalled clients cost no thread), and every log line goes
through :mod:`fleetsim.redact`.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import replace
from typing import Any

from gunicorn.app.base import BaseApplication

from fleetsim.demo import (
    activate_demo,
    activate_driver_sync,
    fresh_demo_store,
    wait_until_serving,
)
from fleetsim.engine_child import (
    engine_address,
    healthz_url,
    start_engine,
    stop_engine,
    wait_until_healthy,
)
from fleetsim.redact import redact
from mock_vendors.wsgi import StackApp

READY_LINE = "fleetsim ready"


class StackServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running an already-built stack app (preloaded, so it is built exactly once)."""

    def __init__(self, app: StackApp, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> StackApp:
        return self.application


def banner(app: StackApp, base_url: str) -> str:
    """Base URLs and demo credentials, as ``make run`` prints them."""
    settings = app.stack.settings
    lines = [
        f"fleetsim stack: seed {settings.seed}, {settings.vehicles} GPS Insight vehicles, "
        f"{settings.wex_vehicles} Wex vehicles, virtual clock "
        f"{app.stack.clock.now().isoformat(timespec='seconds')}",
    ]
    for key, vendor in app.vendors.items():
        runtime = vendor.extensions["fleetsim"]
        lines.append(f"  {runtime.spec.title:<15} {base_url}/{key}")
        credentials = runtime.backend.credentials()
        for account in credentials.get("accounts", []):
            lines.append(f"    account {account['name']!r}:")
            for user in account["users"]:
                scope = "Master User" if user["master"] else ", ".join(user["vehicle_groups"])
                lines.append(
                    f"      username {user['username']:<18} app_token {user['app_token']}"
                    f"   ({scope})"
                )
        for client in credentials.get("clients", []):  # OAuth client vendors (Driveri)
            lines.append(
                f"    tenant {client['tenant']}  client_id {client['client_id']}  "
                f"client_secret {client['client_secret']}"
            )
        for api_key in credentials.get("keys", []):  # API-key vendors (Whip Around)
            lines.append(
                f"    {api_key['type']:<11} x-api-key {api_key['key']}   ({api_key.get('name')})"
            )
    lines.append(
        f"  control plane   {base_url}/<vendor>/_mock/  "
        "(credentials, clock, faults, journal, state, seed, reset)"
    )
    return "\n".join(lines)


def serve(
    app: StackApp,
    host: str,
    port: int,
    threads: int = 8,
    demo: bool = True,
    engine: bool = True,
    engine_port: int | None = None,
    scenario: dict[str, Any] | None = None,
) -> None:
    """Run the stack in the foreground until interrupted (Ctrl-C stops it cleanly).

    With ``scenario`` (a validated QA scenario), its ``given`` changes are applied through the
    vendors' APIs before the demo set-up, so the engine starts on that scenario's world.

    With ``demo``, the engine's demo integrations are activated against this stack on a fresh
    demo store before the ready line, so `fleetsim sync telematics` works straight away; with
    ``engine`` too, `fleetsim engine` runs beside the stack (a child process on the stack's
    clock, stopped with it) and the ready line waits for its /healthz."""
    base_url = f"http://{host}:{port}"
    engine_host, engine_port = engine_address(port=engine_port)
    with_engine = demo and engine
    engine_url = healthz_url(engine_host, engine_port).removesuffix("/healthz")
    # The bind address is a Host the control plane answers (besides the loopback names).
    app.stack.settings = replace(app.stack.settings, host=host)
    text = banner(app, base_url)
    store_note = fresh_demo_store() if demo else ""

    def set_up_and_announce() -> None:
        print(text, flush=True)
        if scenario is not None:
            from fleetsim.scenario_runner import load_given

            try:
                wait_until_serving(base_url)
                print(f"  scenario        {load_given(app, base_url, scenario)}", flush=True)
            except Exception as exc:  # the stack still serves; say why it is not ready
                reason = redact(f"{type(exc).__name__}: {exc}")
                print(f"scenario set-up failed, not ready: {reason}", flush=True)
                return
        if demo:
            try:
                wait_until_serving(base_url)
                names = activate_demo(app, base_url)
                drivers = activate_driver_sync(app, base_url, engine_url if with_engine else None)
            except Exception as exc:  # the stack still serves; say why it is not ready
                reason = redact(f"{type(exc).__name__}: {exc}")
                print(f"demo set-up failed, not ready: {reason}", flush=True)
                return
            print(f"  sync engine     {store_note}; integrations {', '.join(names)}, driveri")
            print(f"  driver sync     {drivers}")
            if scenario is not None:
                from fleetsim.scenario_runner import driver_sync_off_again

                if driver_sync_off_again(app, base_url, scenario):
                    print("  driver sync     turned off again, as the scenario's given says")
        if with_engine:
            url = healthz_url(engine_host, engine_port)
            try:
                wait_until_healthy(url)
            except Exception as exc:
                reason = redact(f"{type(exc).__name__}: {exc}")
                print(f"engine not answering at {url}, not ready: {reason}", flush=True)
                return
            print(f"  engine          {engine_url}  (/healthz, /api/runs)")
            print(
                f"  receiver        {engine_url}/webhooks/gpsinsight/gpsinsight  "
                "(/api/drivers/links, /api/drivers/events)"
            )
        print(READY_LINE, flush=True)

    def announce(worker: Any) -> None:
        # The worker is about to serve; the demo set-up talks to it over HTTP, so it runs
        # beside the worker's loop rather than before it.
        threading.Thread(target=set_up_and_announce, daemon=True).start()

    options = {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "fleetsim.worker.StackWorker",
        "threads": threads,
        # Open connections kept (idle and stalled ones included); past it, the waiting
        # connection nearest its deadline makes room for a new one.
        "worker_connections": app.stack.settings.max_connections,
        "logger_class": "fleetsim.redact.RedactingLogger",
        "preload_app": True,
        "post_worker_init": announce,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        # Request lines and header fields of any length up to the worker's 64 KiB head limit
        # reach the app, which answers them in the vendor's shape (not gunicorn's HTML 414).
        "limit_request_line": 0,
        "limit_request_field_size": 64 * 1024,
        "graceful_timeout": 5,
        "keepalive": 5,
        "proc_name": "fleetsim",
    }
    master = os.getpid()
    child = start_engine(engine_host, engine_port, base_url) if with_engine else None
    try:
        StackServer(app, options).run()
    finally:
        if child is not None and os.getpid() == master:  # not in the forked worker
            stop_engine(child)
    sys.exit(0)
