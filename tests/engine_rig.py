"""The end-to-end rig the engine's tests share: a stack served on a loopback socket, the
engine over an in-memory store on the stack's clock, and calls to the vendors' own APIs and
control planes to set up and check what the engine did."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from fixtures.units import KM_PER_MILE
from helpers import (
    T0,
    WA_API,
    Sleeper,
    activate_integrations,
    demo_credentials,
    make_stack_app,
    served,
)
from mock_vendors.wsgi import StackApp
from sync_engine.engine import Engine
from sync_engine.report import Report
from sync_engine.store import Store

WA_WRITES = "/api/public/v4/assets/*"
WA_DTC_WRITES = "/api/public/v4/assets/*/dtc-defects"
PLACEHOLDERS = {"", "N/A", "NA", "NONE", "NULL", "UNKNOWN", "TBD"}
ENGINE_USER = "acme.dispatch"  # sees ALL VEHICLES, is not the Master User
OPEN = ("New", "In Progress")


@dataclass
class Rig:
    """A stack on a loopback socket, the engine over an in-memory store, and test helpers."""

    app: StackApp
    base: str
    store: Store
    sleeper: Sleeper
    engine: Engine
    gps_user: dict[str, Any]
    gps_master: dict[str, Any]
    wa_key: str
    http: requests.Session = field(default_factory=requests.Session)

    # -- the engine --------------------------------------------------------------------------

    def sync(self) -> Report:
        (report,) = self.engine.sync_telematics()
        return report

    def cursor(self) -> str | None:
        return self.store.cursor("gpsinsight", "history")

    # -- control planes ----------------------------------------------------------------------

    def fault(self, vendor: str, **spec: Any) -> None:
        response = self.http.post(f"{self.base}/{vendor}/_mock/faults", json=spec)
        assert response.status_code == 201, response.text

    def clear_faults(self) -> None:
        for vendor in ("gpsinsight", "whiparound"):
            self.http.delete(f"{self.base}/{vendor}/_mock/faults").raise_for_status()

    def journal(self, vendor: str, method: str | None = None, path: str | None = None) -> list:
        params = {k: v for k, v in {"method": method, "path": path}.items() if v}
        response = self.http.get(f"{self.base}/{vendor}/_mock/journal", params=params)
        response.raise_for_status()
        return response.json()["entries"]

    def clear_journals(self, *vendors: str) -> None:
        for vendor in vendors or ("gpsinsight", "whiparound"):
            self.http.delete(f"{self.base}/{vendor}/_mock/journal").raise_for_status()

    def advance(self, seconds: float) -> None:
        self.http.post(f"{self.base}/gpsinsight/_mock/clock", json={"advance": seconds})

    def now(self) -> datetime:
        return self.app.stack.clock.now()

    # -- the vendors' own APIs ---------------------------------------------------------------

    def gps(self, method: str, **params: Any) -> Any:
        """Call GPS Insight as the Master User (a session of its own, not the engine's)."""
        login = self.http.post(
            f"{self.base}/gpsinsight/v2/userauth/login",
            data={"username": self.gps_master["username"],
                  "app_token": self.gps_master["app_token"]},
        )  # fmt: skip
        token = login.json()["data"]["token"]
        body = self.http.post(
            f"{self.base}/gpsinsight/v2/{method}", data={"session_token": token, **params}
        ).json()
        assert body["head"]["status"] == "OK", body
        return body["data"]

    def wa(self, path: str, **params: Any) -> Any:
        response = self.http.get(
            f"{self.base}{WA_API}/{path}",
            params={"limit": 1000, **params},
            headers={"x-api-key": self.wa_key},
        )
        response.raise_for_status()
        return response.json()["data"]

    def defects(self) -> list[dict[str, Any]]:
        return [d for d in self.wa("defects") if d.get("dtc_code")]

    def login_count(self) -> int:
        """Logins made with the engine's App Token (the Master User's are not counted)."""
        return sum(
            1
            for e in self.journal("gpsinsight", path="/v2/userauth/login")
            if e["app_token_id"] == self.gps_user["app_token_id"]
        )

    def sync_all(self) -> list[Report]:
        return self.engine.sync_telematics()

    def reset_whiparound(self) -> None:
        self.http.post(f"{self.base}/whiparound/_mock/reset").raise_for_status()

    def open_defects(self) -> Counter[tuple[int, str]]:
        return Counter(
            (d["asset_id"], d["dtc_code"])
            for d in self.wa("defects")
            if d.get("dtc_code") and d["status"] in OPEN
        )

    def assets(self) -> dict[int, dict[str, Any]]:
        return {a["id"]: a for a in self.wa("assets")}

    # -- what the truth is -----------------------------------------------------------------------

    def matched(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(GPS Insight vehicle, Whip Around asset) pairs one to one on normalised VINs."""
        vehicles = self.gps("vehicle/list", details=1)
        assets = self.wa("assets")
        by_vin: dict[str, list[dict[str, Any]]] = {}
        for asset in assets:
            by_vin.setdefault(vin_key(asset.get("vin")), []).append(asset)
        source_vins = Counter(vin_key(v.get("vin")) for v in vehicles)
        return [
            (v, by_vin[key][0])
            for v in vehicles
            if (key := vin_key(v.get("vin"))) not in PLACEHOLDERS
            and len(set(key)) > 1
            and source_vins[key] == 1
            and len(by_vin.get(key, [])) == 1
        ]

    def active_dtcs(self) -> set[tuple[int, str]]:
        """(asset, code) of every code reported since activation minus the lookback."""
        serial_to_asset = {v["serial_number"]: a["id"] for v, a in self.matched()}
        start = int((T0 - timedelta(hours=24)).timestamp())
        rows = self.gps("vehicle/dtc", start=start, end=int(self.now().timestamp()))
        return {
            (serial_to_asset[row["serial_number"]], code_key(code))
            for row in rows
            if row["serial_number"] in serial_to_asset
            for code in row["dtc"]
        }

    def assert_converged(self) -> None:
        """R2: every matched asset's location and odometer are GPS Insight's latest fix."""
        self.clear_faults()
        fixes = {f["id"]: f for f in self.gps("vehicle/location")}
        pairs = self.matched()
        assert len(pairs) >= 8
        for vehicle, asset in pairs:
            fix = fixes[vehicle["id"]]
            location = asset["location"]
            assert (location["latitude"], location["longitude"]) == (
                fix["latitude"],
                fix["longitude"],
            ), vehicle["id"]
            assert parse(location["recorded_at"]) == parse(fix["fix_time_gmt"]), vehicle["id"]
            miles = float(fix["odometer"])
            expected = miles * KM_PER_MILE if asset["odometer_unit"] == "km" else miles
            assert asset["odometer"] == pytest.approx(expected, abs=0.051), vehicle["id"]

    def assert_one_open_defect_per_code(self) -> None:
        """R17: at most one open defect per (asset, code)."""
        open_per_identity = Counter(
            (d["asset_id"], code_key(d["dtc_code"])) for d in self.defects() if d["status"] in OPEN
        )
        assert [k for k, n in open_per_identity.items() if n > 1] == []

    def secrets(self) -> list[str]:
        return [self.gps_user["app_token"], self.gps_master["app_token"], self.wa_key]


def vin_key(vin: str | None) -> str:
    return re.sub(r"\s+", "", vin or "").upper()


def code_key(code: str) -> str:
    return " ".join(code.split()).upper()


def parse(when: str) -> datetime:
    return datetime.fromisoformat(when.replace("Z", "+00:00"))


@pytest.fixture(name="rig")
def rig_fixture() -> Iterator[Rig]:
    """The rig, torn down after the test (import ``rig_fixture`` to use it)."""
    app = make_stack_app(vehicles=12, wex_vehicles=4)
    with served(app) as base:
        users, keys = demo_credentials(base)
        user = next(u for u in users if u["username"] == ENGINE_USER)
        master = next(u for u in users if u["master"])
        wa_key = next(k["key"] for k in keys if k["type"] == "integration")
        store = Store("sqlite://")
        activate_integrations(store, base, user, wa_key, T0)
        sleeper = Sleeper()
        engine = Engine(
            store, clock=lambda: app.stack.clock.now(), sleep=sleeper, rng=random.Random(1)
        )
        rig = Rig(app, base, store, sleeper, engine, user, master, wa_key)
        yield rig
        rig.http.close()


# -- the drivers pipeline (GPS portal -> Driveri) ----------------------------------------------

DRIVERI_WRITE_METHODS = ("POST", "PUT")


@dataclass
class DriverRig:
    """The rig with the demo Driveri tenant paired with the GPS Insight account, and calls to
    set up portal drivers and check what reached Driveri."""

    rig: Rig
    driveri: dict[str, Any]  # the demo tenant's API client: client_id, client_secret, tenant

    @property
    def store(self) -> Store:
        return self.rig.store

    def sync(self, **kwargs: Any) -> Report:
        (report,) = self.rig.engine.sync_drivers(**kwargs)
        return report

    def toggle(self, enabled: bool) -> None:
        """Driver Sync on or off, as the Master User."""
        self.rig.gps("driverisync/update", enabled=int(enabled))

    # -- the portal (as the Master User) -----------------------------------------------------

    def portal(self) -> dict[int, dict[str, Any]]:
        return {d["id"]: d for d in self.rig.gps("driver/list")}

    def create(self, **fields: Any) -> int:
        return int(self.rig.gps("driver/create", **fields)["id"])

    def update(self, portal_id: int, **fields: Any) -> None:
        self.rig.gps("driver/update", driver=str(portal_id), **fields)

    def delete(self, portal_id: int) -> None:
        self.rig.gps("driver/delete", driver=str(portal_id))

    # -- Driveri -----------------------------------------------------------------------------

    def tenant(self) -> dict[str, dict[str, Any]]:
        """Every Driveri driver (phone and soft-deleted ones included), from the state dump."""
        response = self.rig.http.get(f"{self.rig.base}/driveri/_mock/state")
        response.raise_for_status()
        return {d["driverId"]: d for d in response.json()["state"]["drivers"]}

    def writes(self) -> list[dict[str, Any]]:
        """Driver writes Driveri received (token requests left out)."""
        return [
            e
            for e in self.rig.journal("driveri")
            if e["method"] in DRIVERI_WRITE_METHODS and "/auth/" not in e["path"]
        ]

    def edit_in_driveri(self, driver_id: str, **fields: Any) -> None:
        """An edit made on the Driveri side, through its own API (a token of its own)."""
        base = f"{self.rig.base}/driveri/v1"
        auth = (self.driveri["client_id"], self.driveri["client_secret"])
        bearer = self.rig.http.post(f"{base}/auth/token", auth=auth).json()["data"]["accessToken"]
        response = self.rig.http.put(
            f"{base}/tenants/{self.driveri['tenant']}/drivers/{driver_id}",
            json=fields,
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert response.status_code == 200, response.text

    def links(self) -> dict[int, str]:
        return {r["portal_id"]: r["driveri_id"] for r in self.store.driver_links("driveri")}


def pair_driveri(rig: Rig) -> DriverRig:
    """Store the demo Driveri tenant as integration "driveri", paired with "gpsinsight"."""
    creds = rig.http.get(f"{rig.base}/driveri/_mock/credentials").json()["clients"][0]
    rig.store.save_integration(
        "driveri", "driveri", f"{rig.base}/driveri", creds["client_secret"], T0,
        username=creds["client_id"],
    )  # fmt: skip
    rig.store.save_pairing("driveri", "gpsinsight", creds["tenant"], T0)
    return DriverRig(rig, creds)


@pytest.fixture(name="drivers")
def driver_rig_fixture(rig: Rig) -> DriverRig:
    """The driver rig with Driver Sync on (import ``driver_rig_fixture`` and ``rig_fixture``)."""
    drivers = pair_driveri(rig)
    drivers.toggle(True)
    return drivers
