"""The chaos tests' world and checks: the engine rig (tests/engine_rig.py) with Driveri paired,
a DTC on every vehicle (so creates happen), seeded dirty data on every side, an engine that
runs one request at a time and whose waits move the stack's clock (nothing really sleeps,
and the journals show every wait, so the grading can check Retry-After), and the checks every
plan and every kill ends with: no duplicate defect, no duplicate or lost driver."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from engine_rig import OPEN, DriverRig, Rig, code_key, pair_driveri

from helpers import T0, activate_integrations
from mock_vendors.wsgi import StackApp
from sync_engine.engine import Engine
from sync_engine.model import DRIVERI_DELETED
from sync_engine.store import Store

VENDORS = ("gpsinsight", "whiparound", "driveri")
HISTORY = timedelta(hours=1)  # the clock an hour past activation: location history to write
CODES = ("P0420", "P0171", "P0300", "P0128", "P0442", "SPN 3031 FMI 9")


@dataclass
class ChaosWorld:
    """A served stack, the engine over a store, and the vendors' own APIs (the rig's)."""

    rig: Rig
    drivers: DriverRig
    engine: Engine

    def control(self, vendor: str, method: str, what: str, body: Any = None) -> Any:
        """A control-plane call that must succeed."""
        response = self.rig.http.request(
            method, f"{self.rig.base}/{vendor}/_mock/{what}", json=body
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def state(self, vendor: str) -> dict[str, Any]:
        return dict(self.control(vendor, "GET", "state")["state"])

    def restore(self, vendor: str, state: dict[str, Any]) -> None:
        self.control(vendor, "POST", "state", {"state": state})

    def clear_faults(self) -> None:
        for vendor in VENDORS:
            self.control(vendor, "DELETE", "faults")

    def clear_journals(self) -> None:
        """Every vendor's journal emptied: the grading then sees exactly the faults' life."""
        for vendor in VENDORS:
            self.control(vendor, "DELETE", "journal")


def chaos_engine(store: Store, app: StackApp, seed: int) -> Engine:
    """The engine on the stack's clock, one request at a time (a replayable request order)
    and sleeping by moving that clock (the journals then show how long it waited)."""
    clock = app.stack.clock
    return Engine(
        store, clock=clock.now, sleep=clock.advance, rng=random.Random(seed), concurrency=1
    )


def chaos_world(rig: Rig, seed: int, store_url: str = "sqlite://") -> ChaosWorld:
    """The rig's stack back at its seeded world and T0; a new store (in memory unless
    ``store_url`` names one) with the integrations activated at T0 and Driveri paired with
    Driver Sync on; an active DTC on every vehicle (so creates happen); seeded dirty data;
    and the clock an hour on (history to write)."""
    for vendor in VENDORS:
        rig.http.post(f"{rig.base}/{vendor}/_mock/reset").raise_for_status()
    clock = {"set": T0.isoformat(), "freeze": True}
    rig.http.post(f"{rig.base}/gpsinsight/_mock/clock", json=clock).raise_for_status()
    store = Store(store_url)
    activate_integrations(store, rig.base, rig.gps_user, rig.wa_key, T0)
    engine = chaos_engine(store, rig.app, seed)
    fresh = replace(rig, store=store, engine=engine)
    drivers = pair_driveri(fresh)
    drivers.toggle(True)
    world = ChaosWorld(fresh, drivers, engine)
    dirty(world, seed)
    fresh.advance(HISTORY.total_seconds())
    return world


# -- dirty data, seeded --------------------------------------------------------------------------


def dirty(world: ChaosWorld, seed: int) -> None:
    """Seeded dirty data on every side, through the control planes (not journaled): a
    placeholder VIN, a VIN typed in lower case with spaces, one VIN on two assets, an empty
    DriverID, two portal drivers sharing a DriverID, one DriverID in lower case with spaces."""
    rng = random.Random(f"dirty:{seed}")
    gps = world.state("gpsinsight")
    for vehicle in gps["vehicles"]:
        code = rng.choice(CODES)
        if not any(d["code"] == code for d in vehicle["dtcs"]):
            vehicle["dtcs"].append(
                {"code": code, "description": "chaos", "start": int(T0.timestamp()) - 3600,
                 "end": None, "mil": True}
            )  # fmt: skip
    vehicles = [v for v in gps["vehicles"] if v["vin"]]
    rng.choice(vehicles)["vin"] = rng.choice(("N/A", "UNKNOWN", "null"))
    empty, twin, other, spaced = rng.sample(gps["drivers"], 4)
    empty["driveri_driver_id"] = ""
    twin["driveri_driver_id"] = f" {other['driveri_driver_id'].lower()}"
    spaced["driveri_driver_id"] = f"  {spaced['driveri_driver_id'].lower()} "
    world.restore("gpsinsight", gps)

    wa = world.state("whiparound")
    with_vin = [a for a in wa["assets"] if a.get("vin")]
    lower, first, second = rng.sample(with_vin, 3)
    vin = str(lower["vin"]).lower()
    lower["vin"] = f"{vin[:8]} {vin[8:]}"
    second["vin"] = first["vin"]
    world.restore("whiparound", wa)


# -- what must hold at the end -------------------------------------------------------------------


def duplicate_defects(rig: Rig) -> list[tuple[int, str]]:
    """(asset, code) identities with more than one open defect in Whip Around (R17)."""
    per_identity = Counter(
        (d["asset_id"], code_key(d["dtc_code"])) for d in rig.defects() if d["status"] in OPEN
    )
    return sorted(k for k, n in per_identity.items() if n > 1)


def driver_key(driver_id: str | None) -> str:
    """A DriverID as R20 compares it: trimmed, letter case ignored."""
    return (driver_id or "").strip().casefold()


def driver_faults(drivers: DriverRig, before: set[str]) -> dict[str, Any]:
    """What is wrong with Driveri against the portal, empty when nothing is:

    - ``lost``: a live portal driver with a valid DriverID no other live one shares and no
      active Driveri driver under it; ``duplicated``: one with more than one;
    - ``extra``: an active Driveri driver that was not there before (``before``: its ids)
      under the DriverID of a portal driver the engine must not sync (empty, shared, or
      deleted in the portal). Drivers a listing-mutation fault inserted carry no portal
      DriverID and are nobody's to judge."""
    portal = list(drivers.portal().values())
    live = Counter(driver_key(p["driveri_driver_id"]) for p in portal if not p.get("deleted"))
    synced = {key for key, n in live.items() if key and n == 1}
    every_portal_key = {driver_key(p["driveri_driver_id"]) for p in portal} - {""}
    active = [d for d in drivers.tenant().values() if d["status"] != DRIVERI_DELETED]
    per_key = Counter(driver_key(d["driverId"]) for d in active)
    found = {
        "lost": sorted(key for key in synced if per_key[key] == 0),
        "duplicated": sorted(key for key in synced if per_key[key] > 1),
        "extra": sorted(
            d["driverId"]
            for d in active
            if d["driverId"] not in before
            and driver_key(d["driverId"]) in every_portal_key - synced
        ),
    }
    return {kind: keys for kind, keys in found.items() if keys}


def driveri_ids(drivers: DriverRig) -> set[str]:
    """Every Driveri driverId there is now (soft-deleted ones included)."""
    return set(drivers.tenant())
