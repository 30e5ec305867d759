"""A scenario's own stack: the emulators served on a free 127.0.0.1 port on a frozen virtual
clock, an in-memory engine store with the integrations activated, the engine in-process on
the stack's clock, and calls to every vendor's own API and control plane.

Self-contained on purpose (fleetsim never imports tests/): `fleetsim scenario run` works
whether or not `make run` is up.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from werkzeug.serving import make_server

from mock_vendors._common.clock import VirtualClock
from mock_vendors._common.stack import Stack, StackSettings
from mock_vendors.wsgi import StackApp, create_all
from sync_engine.engine import Engine
from sync_engine.store import LeaseKeeper, Store
from sync_engine.store.leases import Lease

# Every scenario starts here, frozen: 10:30 in the account's time zone (America/Phoenix).
START = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
WA_API = "/whiparound/api/public/v4"
LEASE_TTL = timedelta(seconds=30)
ENGINE_USERS = {"gpsinsight": "acme.dispatch", "wex": "wexfleet.dispatch"}


class Killed(BaseException):
    """The engine stopped dead mid-run, as a SIGKILL would stop it (not an Exception, so no
    handler of the engine catches it)."""


class Sleeper:
    """The engine's sleep: records each wait (a Retry-After included) and never sleeps, so
    scenarios are fast and deterministic."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class KillableStore(Store):
    """The store, except that a killed run never records its end: its lease stays held and
    its run unfinished, exactly what a killed process leaves behind."""

    killed = False

    def finish_leased_run(
        self, lease: Lease, outcome: str, report: dict[str, Any], now: datetime
    ) -> bool:
        """Record the run's end, unless the run was killed."""
        if self.killed:
            return False
        return super().finish_leased_run(lease, outcome, report, now)


class KillableEngine(Engine):
    """The engine, able to die after a set number of vendor requests of a run."""

    kill_after: int | None = None
    requests_seen = 0

    def _hooks(self, keeper: LeaseKeeper | None) -> dict[str, Any]:
        hooks = super()._hooks(keeper)
        session = hooks.get("session")
        if session is not None:
            inner: Callable[[], None] = session.checkpoint

            def checkpoint() -> None:
                self.requests_seen += 1
                if self.kill_after is not None and self.requests_seen > self.kill_after:
                    assert isinstance(self.store, KillableStore)
                    self.store.killed = True
                    raise Killed(f"killed before request {self.requests_seen}")
                inner()

            session.checkpoint = checkpoint
        return hooks


@contextmanager
def serve_app(app: StackApp, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on a loopback port for the block (a free one unless ``port`` is given:
    serving again on a port that was stopped); yields its base URL. The tests serve their
    stacks with it too."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def world(given: dict[str, Any]) -> dict[str, Any]:
    """The world sizes a scenario's ``given`` asks for (small by default)."""
    return {
        "seed": int(given.get("seed", 1)),
        "vehicles": int(given.get("vehicles", 6)),
        "wex_vehicles": int(given.get("wex_vehicles", 0)),
    }


def build_app(given: dict[str, Any]) -> StackApp:
    """The stack a scenario's ``given`` describes, on a frozen clock at START."""
    settings = StackSettings(**world(given))
    return create_all(stack=Stack(settings, clock=VirtualClock(START, frozen=True)))


def vin_key(vin: str | None) -> str:
    """A VIN as R10 compares it."""
    return re.sub(r"\s+", "", vin or "").upper()


class Vendors:
    """Calls to the vendors' own APIs (as their people would make them) and control planes."""

    def __init__(self, app: StackApp, base: str) -> None:
        self.app = app
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only: never through a proxy from the environment
        self.credentials = {
            key: vendor.extensions["fleetsim"].backend.credentials()
            for key, vendor in app.vendors.items()
        }
        self.aliases: dict[str, int] = {}

    def close(self) -> None:
        """Close the HTTP session."""
        self.http.close()

    # -- credentials -------------------------------------------------------------------------

    def user(self, vendor: str, username: str | None = None) -> dict[str, Any]:
        """A GPS Insight-platform user (the Master User unless named)."""
        users = self.credentials[vendor]["accounts"][0]["users"]
        return next(u for u in users if (u["username"] == username if username else u["master"]))

    def wa_key(self, kind: str) -> str:
        """A Whip Around API key of the given type (integration or personal)."""
        return str(next(k["key"] for k in self.credentials["whiparound"]["keys"]
                        if k["type"] == kind))  # fmt: skip

    @property
    def driveri_client(self) -> dict[str, Any]:
        """The demo Driveri tenant's API client."""
        return dict(self.credentials["driveri"]["clients"][0])

    # -- GPS Insight / Wex -------------------------------------------------------------------

    def gps(self, method: str, vendor: str = "gpsinsight", **params: Any) -> Any:
        """Call the portal as its Master User (a session of its own, not the engine's)."""
        master = self.user(vendor)
        login = self.http.post(
            f"{self.base}/{vendor}/v2/userauth/login",
            data={"username": master["username"], "app_token": master["app_token"]},
        )
        token = login.json()["data"]["token"]
        body = self.http.post(
            f"{self.base}/{vendor}/v2/{method}", data={"session_token": token, **params}
        ).json()
        if body["head"]["status"] != "OK":
            raise RuntimeError(f"{vendor} {method}: {body['head']}")
        return body["data"]

    def vehicle_id(self, number: int, vendor: str = "gpsinsight") -> str:
        """The id of vehicle ``number`` (its label ends with the number, as seeded)."""
        records = self.state(vendor)["vehicles"]
        suffix = f" {number:04d}"
        found = [v["id"] for v in records if str(v["label"]).endswith(suffix)]
        if not found:
            raise RuntimeError(f"{vendor} has no vehicle {number}")
        return str(found[0])

    def portal_driver(self, ref: int | str) -> int:
        """A portal driver's id from its id or the alias its create step gave it."""
        if isinstance(ref, str):
            if ref not in self.aliases:
                raise RuntimeError(f"no driver was created 'as: {ref}'")
            return self.aliases[ref]
        return int(ref)

    def state(self, vendor: str) -> dict[str, Any]:
        """A vendor's state, from its control plane's dump."""
        response = self.http.get(f"{self.base}/{vendor}/_mock/state")
        response.raise_for_status()
        return dict(response.json()["state"])

    def restore(self, vendor: str, state: dict[str, Any]) -> None:
        """Put an edited state back (the clock left as it is)."""
        response = self.http.post(f"{self.base}/{vendor}/_mock/state", json={"state": state})
        if response.status_code != 200:
            raise RuntimeError(f"{vendor} state restore: {response.text}")

    # -- Driveri -----------------------------------------------------------------------------

    def driveri(self, method: str, path: str, body: dict[str, Any]) -> None:
        """A Driveri tenant call with a token of its own."""
        client = self.driveri_client
        root = f"{self.base}/driveri/v1"
        auth = (client["client_id"], client["client_secret"])
        bearer = self.http.post(f"{root}/auth/token", auth=auth).json()["data"]["accessToken"]
        response = self.http.request(
            method, f"{root}/tenants/{client['tenant']}/{path}", json=body,
            headers={"Authorization": f"Bearer {bearer}"},
        )  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(f"driveri {method} {path}: {response.text}")

    def tenant(self) -> dict[str, dict[str, Any]]:
        """Every Driveri driver (soft-deleted ones included) by driverId."""
        return {d["driverId"]: d for d in self.state("driveri")["drivers"]}

    # -- Whip Around -------------------------------------------------------------------------

    def wa(self, method: str, path: str, key: str = "personal", **kwargs: Any) -> Any:
        """Call Whip Around with the fleet manager's personal key (or, for a telematics
        write, which only an integration key may make, the integration key)."""
        response = self.http.request(
            method, f"{self.base}{WA_API}/{path}", headers={"x-api-key": self.wa_key(key)},
            **kwargs,
        )  # fmt: skip
        if response.status_code >= 400:
            raise RuntimeError(f"whiparound {method} {path}: {response.text}")
        return response.json()["data"] if response.content else None

    def assets(self) -> dict[int, dict[str, Any]]:
        """Every asset by id."""
        return {a["id"]: a for a in self.wa("GET", "assets", params={"limit": 1000})}

    def defects(self) -> list[dict[str, Any]]:
        """Every DTC defect, in id order."""
        return [d for d in self.wa("GET", "defects", params={"limit": 1000}) if d["dtc_code"]]

    # -- control planes ----------------------------------------------------------------------

    def control(self, vendor: str, method: str, what: str, body: Any = None) -> Any:
        """Call a vendor's control plane; a refusal raises with the vendor's answer."""
        response = self.http.request(method, f"{self.base}/{vendor}/_mock/{what}", json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{vendor} _mock/{what}: {response.text}")
        return response.json() if response.content else None

    def journal(self, vendor: str) -> list[dict[str, Any]]:
        """A vendor's journal entries."""
        return list(self.control(vendor, "GET", "journal")["entries"])


class ScenarioStack:
    """Stack + vendors + store + engine for one scenario run."""

    def __init__(self, app: StackApp, base: str, engine_user: str | None = None) -> None:
        self.app = app
        self.base = base
        self.users = dict(ENGINE_USERS, **({"gpsinsight": engine_user} if engine_user else {}))
        self.vendors = Vendors(app, base)
        self.sleeper = Sleeper()
        self.store = KillableStore("sqlite://")
        self.engine = KillableEngine(
            self.store, clock=self.now, sleep=self.sleeper, rng=random.Random(1),
            concurrency=1, lease_ttl=LEASE_TTL,
        )  # fmt: skip
        self.sources = ["gpsinsight"] + (["wex"] if app.stack.settings.wex_vehicles else [])
        self.activate()

    def now(self) -> datetime:
        """The stack's virtual time (the engine's clock too)."""
        return self.app.stack.clock.now()

    def activate(self) -> None:
        """Store the integrations as `fleetsim integrations add` would, activated now: each
        telematics source as its dispatcher (every vehicle, not the Master User), Whip Around
        with its integration key, and the Driveri tenant paired with GPS Insight."""
        now = self.now()
        for kind in self.sources:
            user = self.vendors.user(kind, self.users[kind])
            self.store.save_integration(
                kind, kind, f"{self.base}/{kind}", user["app_token"], now,
                username=user["username"],
            )  # fmt: skip
        self.store.save_integration(
            "whiparound", "whiparound", f"{self.base}{WA_API}",
            self.vendors.wa_key("integration"), now,
        )  # fmt: skip
        client = self.vendors.driveri_client
        self.store.save_integration(
            "driveri", "driveri", f"{self.base}/driveri", client["client_secret"], now,
            username=client["client_id"],
        )  # fmt: skip
        self.store.save_pairing("driveri", "gpsinsight", client["tenant"], now)

    def engine_token_id(self, vendor: str = "gpsinsight") -> str:
        """The app_token_id the journal shows for the engine's logins."""
        return str(self.vendors.user(vendor, self.users[vendor])["app_token_id"])

    def close(self) -> None:
        """Release the store and the HTTP session."""
        self.vendors.close()
        self.store.engine.dispose()
