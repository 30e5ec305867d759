"""The reconciliation oracle (issue 11 §3): drift is what the engine's own plan would write
now, plus duplicate open defects and duplicate Driveri drivers; skips and anomalies are
listed, never counted. Table tests of the pure half, then the oracle against the served
stack (tests/engine_rig.py): zero right after a successful run, each kind of drift after a
hand-made change through a vendor's own API, and nothing written while it looks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from engine_rig import (  # noqa: F401  (fixtures)
    DriverRig,
    Rig,
    driver_rig_fixture,
    rig_fixture,
)

from helpers import WA_API
from sync_engine.model import (
    DRIVERI_ACTIVE,
    DRIVERI_DELETED,
    Asset,
    Defect,
    DriveriDriver,
    Dtc,
    Fix,
    PortalDriver,
    Vehicle,
    Vin,
)
from sync_engine.reconcilers.drivers import by_key
from sync_engine.reconcilers.drivers_plan import DriverLink
from sync_engine.reconcilers.drivers_plan import Observed as DriversObserved
from sync_engine.reconcilers.telematics_plan import Memory, Observed, Settings
from sync_engine.store import Store
from sync_engine.store.tables import metadata
from sync_engine.verify import Verdict, driver_drift, telematics_drift
from sync_engine.verify_observe import verify

NOW = datetime(2003, 2, 11, 15, 0, tzinfo=UTC)  # far from today: nothing may peek at a clock
SETTINGS = Settings(activated_at=NOW - timedelta(days=30))
VIN = "1M8GDM9AXKP042788"

# -- the pure half: telematics ------------------------------------------------------------------


def observed(
    odometer: float | None = 1000.0,
    reading: float = 1000.0,
    location_at: datetime | None = NOW - timedelta(minutes=1),
    fix_at: datetime = NOW - timedelta(minutes=1),
    dtcs: tuple[Dtc, ...] = (),
    defects: tuple[Defect, ...] = (),
    vin: str | None = VIN,
) -> Observed:
    vehicle = Vehicle("v1", Vin.parse(vin), "Truck 1", "S-v1")
    asset = Asset(101, "Asset 101", Vin.parse(VIN), odometer, "mi", location_at)
    fix = Fix("v1", fix_at, 33.4, -112.0, reading)
    return Observed("gpsinsight", [vehicle], {"v1": [fix]}, list(dtcs), [asset], list(defects))


def dtc(code: str = "P0420", last: datetime = NOW - timedelta(hours=1)) -> Dtc:
    return Dtc("v1", code, "catalyst", last - timedelta(hours=1), last, 2)


def telematics_verdict(seen: Observed, memory: Memory | None = None) -> Verdict:
    verdict = Verdict("telematics", "gpsinsight")
    telematics_drift(verdict, seen, memory or Memory(), SETTINGS, NOW)
    return verdict


def kinds(verdict: Verdict) -> list[tuple[str, str]]:
    return [(d.kind, d.entity) for d in verdict.drift]


def reasons(verdict: Verdict) -> list[str]:
    return [item["reason"] for item in verdict.listed]


def test_a_target_in_step_with_the_source_has_no_drift() -> None:
    verdict = telematics_verdict(observed())
    assert (verdict.drift, verdict.counts()["stale"]) == ([], 0)


def test_an_odometer_lower_at_the_target_is_stale_and_a_missing_one_is_missing() -> None:
    assert kinds(telematics_verdict(observed(odometer=900.0))) == [("stale", "asset 101 odometer")]
    missing = telematics_verdict(observed(odometer=None))
    assert kinds(missing) == [("missing", "asset 101 odometer")]
    assert missing.drift[0].detail == {
        "vehicle": "v1", "target": None, "source": 1000.0, "unit": "mi",
    }  # fmt: skip


def test_an_odometer_the_engine_refuses_as_a_rollback_is_listed_not_counted() -> None:
    verdict = telematics_verdict(observed(odometer=1200.0))
    assert verdict.drift == []
    assert reasons(verdict) == ["ROLLBACK"]


def test_a_location_older_at_the_target_is_stale_and_an_older_fix_is_listed() -> None:
    stale = telematics_verdict(observed(location_at=NOW - timedelta(hours=2)))
    assert kinds(stale) == [("stale", "asset 101 location")]
    assert stale.drift[0].detail == {
        "vehicle": "v1", "target_at": (NOW - timedelta(hours=2)).isoformat(),
        "source_at": (NOW - timedelta(minutes=1)).isoformat(), "points": 1,
    }  # fmt: skip
    newer_at_target = telematics_verdict(observed(location_at=NOW))
    assert (newer_at_target.drift, reasons(newer_at_target)) == ([], ["STALE"])


def test_an_active_dtc_without_its_defect_is_missing_and_a_historic_one_is_listed() -> None:
    verdict = telematics_verdict(observed(dtcs=(dtc(), dtc("P0300", NOW - timedelta(days=40)))))
    assert kinds(verdict) == [("missing", "asset 101 defect P0420")]
    assert reasons(verdict) == ["HISTORIC_DTC"]


def test_two_open_defects_for_one_asset_and_code_are_one_duplicate() -> None:
    open_twice = (
        Defect(1, 101, "P0420", "New", 1, NOW),
        Defect(2, 101, "p0420", "In Progress", 1, NOW),
        Defect(3, 101, "P0420", "Completed", 1, NOW),
    )
    verdict = telematics_verdict(observed(defects=open_twice))
    assert kinds(verdict) == [("duplicate", "asset 101 defect P0420")]
    assert verdict.drift[0].detail == {"defects": [1, 2]}


def test_an_unmatched_vehicle_is_listed_and_its_assets_defects_are_not_counted() -> None:
    open_twice = (Defect(1, 101, "P0420", "New", 1, NOW), Defect(2, 101, "P0420", "New", 1, NOW))
    verdict = telematics_verdict(observed(vin="N/A", odometer=1.0, defects=open_twice))
    assert (verdict.drift, reasons(verdict)) == ([], ["MISSING_VIN"])


# -- the pure half: drivers ---------------------------------------------------------------------


def person(id: int, driver_id: str | None, first: str = "Ada") -> PortalDriver:
    return PortalDriver(id, first, "Byron", f"d{id}@example.com", None, None, driver_id, 1)


def target(driver_id: str, first: str = "Ada", status: int = DRIVERI_ACTIVE) -> DriveriDriver:
    n = driver_id.split("-")[-1]
    return DriveriDriver(driver_id, first, "Byron", f"d{n}@example.com", status)


def driver_verdict(
    portal: list[PortalDriver],
    listing: list[DriveriDriver],
    links: dict[int, str],
    enabled: bool = True,
) -> Verdict:
    verdict = Verdict("drivers", "driveri")
    seen = DriversObserved(portal, by_key(listing))
    linked = {p: DriverLink(p, d) for p, d in links.items()}
    driver_drift(verdict, seen, listing, linked, enabled)
    return verdict


def test_driver_drift_is_missing_stale_or_orphan_by_what_the_plan_would_write() -> None:
    verdict = driver_verdict(
        [person(1, "D-1", first="Ann"), person(2, "D-2")],
        [target("D-1"), target("D-3")],
        {1: "D-1", 3: "D-3"},
    )
    assert kinds(verdict) == [
        ("stale", "driver 1"), ("missing", "driver 2"), ("orphan", "driver 3"),
    ]  # fmt: skip
    assert verdict.drift[0].detail["fields"] == {"firstName": "Ann"}
    assert verdict.drift[2].detail == {
        "portal_id": 3, "driver_id": "D-3", "source": "deleted in the portal",
    }  # fmt: skip


def test_two_live_driveri_drivers_for_one_driver_id_are_a_duplicate() -> None:
    listing = [target("D-1"), target("d-1"), target("D-2"), target("d-2", status=DRIVERI_DELETED)]
    verdict = driver_verdict([person(1, "D-1"), person(2, "D-2")], listing, {1: "D-1", 2: "D-2"})
    assert kinds(verdict) == [("duplicate", "driver 1")]
    assert verdict.drift[0].detail == {"driver_ids": ["D-1", "d-1"]}


def test_empty_and_shared_driver_ids_are_listed_not_counted() -> None:
    verdict = driver_verdict([person(1, " "), person(2, "D-2"), person(3, "d-2")], [], {1: "D-1"})
    assert verdict.drift == []
    assert sorted(reasons(verdict)) == ["DUPLICATE_DRIVER_ID", "DUPLICATE_DRIVER_ID",
                                        "EMPTY_DRIVER_ID"]  # fmt: skip


def test_a_matching_driveri_driver_without_a_link_is_listed_not_counted() -> None:
    verdict = driver_verdict([person(1, "D-1")], [target("D-1")], {})
    assert (verdict.drift, reasons(verdict)) == ([], ["NOT_LINKED"])


def test_deletes_the_mass_delete_guard_withheld_are_orphan_drift_until_confirmed() -> None:
    linked = {i: f"D-{i}" for i in range(1, 11)}
    listing = [target(f"D-{i}") for i in range(1, 11)]
    verdict = driver_verdict([person(i, f"D-{i}") for i in range(7, 11)], listing, linked)
    assert kinds(verdict) == [("orphan", f"driver {i}") for i in range(1, 7)]
    assert "MASS_DELETE" in reasons(verdict)


def test_with_driver_sync_off_nothing_is_counted() -> None:
    verdict = driver_verdict([person(1, "D-1")], [], {})
    off = driver_verdict([person(1, "D-1")], [], {}, enabled=False)
    assert (len(verdict.drift), off.drift, reasons(off)) == (1, [], ["DRIVER_SYNC_OFF"])


# -- against the served stack -------------------------------------------------------------------

GPS_WRITES = ("create", "update", "delete", "add", "set", "revoke")


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the engine's store."""
    with store.engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t))] for t in metadata.sorted_tables
        }


def vendor_writes(rig: Rig) -> list[tuple[str, str, str]]:
    """Requests that could change something, across the four vendors (token and session
    requests aside: they read credentials)."""
    found = []
    for vendor in ("gpsinsight", "whiparound", "driveri"):
        for e in rig.journal(vendor):
            path = e["path"].lower()
            if vendor == "gpsinsight":
                writes = any(w in path.rsplit("/", 1)[-1] for w in GPS_WRITES)
            else:
                writes = e["method"] != "GET" and path != "/v1/auth/token"
            if writes:
                found.append((vendor, e["method"], e["path"]))
    return found


def wa_post(rig: Rig, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = rig.http.post(
        f"{rig.base}{WA_API}/{path}", json=body, headers={"x-api-key": rig.wa_key}
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json()["data"])


def test_zero_drift_right_after_a_successful_telematics_run_and_nothing_written(
    rig: Rig,
) -> None:
    report = rig.sync()
    assert report.outcome == "SUCCESS"
    rig.clear_journals("gpsinsight", "whiparound")
    before = snapshot(rig.store)
    (verdict,) = verify(rig.engine)
    assert (verdict.error, verdict.drift) == (None, [])
    noted = [n["reason"] for n in [*report.skips, *report.anomalies, *report.warnings]]
    assert "DUPLICATE_TARGET" in noted
    assert sorted(reasons(verdict)) == sorted(noted)  # the run's own notes: listed, not counted
    assert rig.journal("whiparound") and rig.journal("gpsinsight")  # it did read
    assert vendor_writes(rig) == []
    assert before["runs"] and snapshot(rig.store) == before  # no run record, cursor, ledger


def test_target_changes_made_through_whip_around_are_stale_and_duplicate_drift(
    rig: Rig,
) -> None:
    rig.sync()
    open_defect = next(d for d in rig.defects() if d["status"] == "New")
    asset_id, code = open_defect["asset_id"], open_defect["dtc_code"]
    wa_post(rig, "defects", {"asset_id": asset_id, "name": "by hand", "dtc_code": code})
    lowered = next(a for a in rig.matched() if a[1]["id"] != asset_id)[1]
    value = lowered["odometer"] - 100
    wa_post(
        rig, f"assets/{lowered['id']}/mileage", {"value": value, "unit": lowered["odometer_unit"]}
    )
    (verdict,) = verify(rig.engine)
    assert kinds(verdict) == [
        ("stale", f"asset {lowered['id']} odometer"),
        ("duplicate", f"asset {asset_id} defect {code}"),
    ]
    assert verdict.drift[0].detail["target"] == round(value, 1)


def test_a_run_under_way_is_listed_with_the_verdict(rig: Rig) -> None:
    rig.sync()
    rig.store.start_leased_run("telematics", "gpsinsight", "elsewhere", rig.now(), timedelta(60))
    (verdict,) = verify(rig.engine)
    assert "RUN_IN_PROGRESS" in reasons(verdict) and verdict.drift == []


def test_a_reset_target_is_missing_everything_the_next_run_repairs(rig: Rig) -> None:
    rig.sync()
    rig.reset_whiparound()
    (verdict,) = verify(rig.engine)
    counts = verdict.counts()
    assert counts["missing"] == len(rig.active_dtcs()) and counts["stale"] > 0
    assert rig.sync().outcome == "SUCCESS"
    (after,) = verify(rig.engine)
    assert after.drift == []


def test_zero_drift_right_after_a_successful_driver_reconcile_and_nothing_written(
    drivers: DriverRig,
) -> None:
    assert drivers.sync().outcome == "SUCCESS"
    drivers.rig.clear_journals("gpsinsight", "whiparound", "driveri")
    before = snapshot(drivers.store)
    verdicts = verify(drivers.rig.engine, "driveri")
    assert [(v.pipeline, v.error, v.drift) for v in verdicts] == [("drivers", None, [])]
    assert drivers.rig.journal("driveri")  # it did read
    assert vendor_writes(drivers.rig) == []
    assert before["driver_links"] and snapshot(drivers.store) == before


def test_portal_and_driveri_side_changes_are_missing_stale_and_orphan_drift(
    drivers: DriverRig,
) -> None:
    drivers.sync()
    portal = drivers.portal()
    first, second = sorted(portal)[:2]
    drivers.edit_in_driveri(portal[first]["driveri_driver_id"], firstName="Edited")
    drivers.delete(second)
    new = drivers.create(firstname="New", lastname="Driver", driveri_driver_id="NEW-1")
    (verdict,) = verify(drivers.rig.engine, "driveri")
    assert sorted(kinds(verdict)) == [
        ("missing", f"driver {new}"), ("orphan", f"driver {second}"), ("stale", f"driver {first}"),
    ]  # fmt: skip
    assert drivers.sync().outcome == "SUCCESS"
    assert verify(drivers.rig.engine, "driveri")[0].drift == []
