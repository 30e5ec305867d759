"""Telematics that repairs what it observes (issue 9 §4): R6a, R14's target maximum, R15 and
R17 against what this run observed, and the report's retry/quota accounting (R7).

Unit cases drive the pure ``plan``; end-to-end cases serve the emulators on 127.0.0.1 (an
ephemeral port each) with the engine on the stack's frozen clock and a sleeper that only
records.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from engine_rig import KM_PER_MILE, OPEN, Rig, parse, rig_fixture, vin_key  # noqa: F401  (rig: fixture)

from helpers import (
    T0,
)
from sync_engine.model import Asset, Defect, Dtc, Fix, Vehicle, Vin
from sync_engine.reconcilers.telematics import (
    Memory,
    Observed,
    Plan,
    PostDtc,
    PostLocation,
    PostMileage,
    Settings,
    plan,
    vendor_day,
)

NOW = datetime(2003, 2, 11, 15, 0, tzinfo=UTC)
ACTIVATED = NOW - timedelta(days=30)
VIN = "1M8GDM9AXKP042788"


# -- plan factories --------------------------------------------------------------------------


def a_vehicle() -> Vehicle:
    return Vehicle(id="v1", vin=Vin.parse(VIN), label="Truck 1", serial="S-v1")


def an_asset(
    odometer: float | None = 1000.0, unit: str = "mi", location_at: datetime | None = None
) -> Asset:
    return Asset(
        id=101, name="Asset 101", vin=Vin.parse(VIN), odometer=odometer, odometer_unit=unit,
        location_at=location_at,
    )  # fmt: skip


def a_fix(at: datetime = NOW - timedelta(minutes=1), odometer: float | None = None) -> Fix:
    return Fix("v1", at, 33.4484, -112.074, odometer)


def a_dtc(code: str = "P0420", last: datetime = NOW - timedelta(hours=1)) -> Dtc:
    return Dtc("v1", code, "Catalyst", last - timedelta(hours=2), last, 3)


def planned(
    asset: Asset,
    fixes: list[Fix],
    dtcs: list[Dtc] | None = None,
    defects: list[Defect] | None = None,
    marks: dict[int, dict[str, Any]] | None = None,
    ledger: dict[tuple[int, str], dict[str, Any]] | None = None,
    **knobs: Any,
) -> Plan:
    seen = Observed("gpsinsight", [a_vehicle()], {"v1": fixes}, dtcs or [], [asset], defects or [])
    memory = Memory(marks=marks or {}, ledger=ledger or {})
    return plan(seen, memory, Settings(activated_at=ACTIVATED, **knobs), NOW)


def notes(result: Plan, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n.reason, n.detail) for n in result.notes if n.kind == kind]


# -- R14: a reading the target cannot hold -----------------------------------------------------


def test_r14_first_reading_beyond_target_maximum_is_implausible_and_dtc_still_posted() -> None:
    result = planned(an_asset(odometer=None), [a_fix(odometer=2_000_000_000.0)], dtcs=[a_dtc()])
    assert [a for a in result.actions if isinstance(a, PostMileage)] == []
    assert notes(result, "anomaly") == [
        ("IMPLAUSIBLE", {"vehicle": "v1", "asset": 101, "reading": 2_000_000_000.0,
                         "maximum": 1_000_000_000.0, "unit": "mi"}),
    ]  # fmt: skip
    assert [(a.dtc.code, a.repeat) for a in result.actions if isinstance(a, PostDtc)] == [
        ("P0420", False)
    ]
    assert [a.fix for a in result.actions if isinstance(a, PostLocation)] == [
        a_fix(odometer=2_000_000_000.0)
    ]


def test_r14_target_maximum_applies_after_unit_conversion() -> None:
    miles = 700_000_000.0  # fits in miles, not in km (1.13e9 km)
    in_miles = planned(an_asset(unit="mi"), [a_fix(odometer=miles)])
    in_km = planned(an_asset(unit="km"), [a_fix(odometer=miles)])
    assert [a.value for a in in_miles.actions if isinstance(a, PostMileage)] == [miles]
    assert [a for a in in_km.actions if isinstance(a, PostMileage)] == []
    assert [r for r, _ in notes(in_km, "anomaly")] == ["IMPLAUSIBLE"]
    assert notes(in_km, "anomaly")[0][1]["reading"] == pytest.approx(miles * KM_PER_MILE)


def test_r14_target_maximum_is_a_setting() -> None:
    result = planned(an_asset(), [a_fix(odometer=5000.0)], max_reading=4000.0)
    assert [a for a in result.actions if isinstance(a, PostMileage)] == []
    assert notes(result, "anomaly")[0][0] == "IMPLAUSIBLE"
    assert notes(result, "anomaly")[0][1]["maximum"] == 4000.0
    assert Settings(activated_at=ACTIVATED).max_reading == 1_000_000_000


def test_r14_reading_at_exactly_the_maximum_is_written() -> None:
    result = planned(an_asset(), [a_fix(odometer=1_000_000_000.0)])
    assert [a.value for a in result.actions if isinstance(a, PostMileage)] == [1_000_000_000.0]
    assert notes(result, "anomaly") == []


# -- R17: a defect the ledger believes open but the target no longer lists ---------------------


def open_ledger_row(last: datetime, status: str = "New") -> dict[str, Any]:
    return {
        "defect_id": 9001, "status": status, "last_occurrence": last,
        "posted_day": vendor_day(last), "resolved_at": None,
    }  # fmt: skip


def test_r17_defect_missing_from_the_listing_is_opened_again_and_reported() -> None:
    occurrence = a_dtc()
    # Already posted this vendor day: only the target's listing says it must go again.
    ledger = {(101, "P0420"): open_ledger_row(occurrence.last)}
    result = planned(an_asset(), [a_fix()], dtcs=[occurrence], ledger=ledger)
    assert [a for a in result.actions if isinstance(a, PostDtc)] == [
        PostDtc(101, "v1", occurrence, repeat=False)
    ]
    assert notes(result, "warning") == [
        ("DEFECT_MISSING", {"defect": 9001, "vehicle": "v1", "asset": 101, "code": "P0420"})
    ]


def test_r17_defect_still_listed_is_not_reported_missing_nor_posted_again() -> None:
    occurrence = a_dtc()
    ledger = {(101, "P0420"): open_ledger_row(occurrence.last)}
    listed = Defect(9001, 101, "P0420", "New", 1, NOW - timedelta(minutes=30))
    result = planned(an_asset(), [a_fix()], [occurrence], [listed], ledger=ledger)
    assert [a for a in result.actions if isinstance(a, PostDtc)] == []
    assert notes(result, "warning") == []


def test_r17_resolved_defect_missing_from_the_listing_is_not_reported_missing() -> None:
    occurrence = a_dtc()
    ledger = {(101, "P0420"): open_ledger_row(occurrence.last, status="Completed")}
    result = planned(an_asset(), [a_fix()], dtcs=[occurrence], ledger=ledger)
    assert notes(result, "warning") == []


# -- the served stack -------------------------------------------------------------------------


def vehicle_with_dtcs(rig: Rig) -> tuple[str, int, set[str]]:
    """A matched GPS Insight vehicle with DTCs active now: its id, its asset id, its codes."""
    by_vin = {vin_key(a.get("vin")): a["id"] for a in rig.wa("assets")}
    vehicles = {v["serial_number"]: v for v in rig.gps("vehicle/list", details=1)}
    start = int((T0 - timedelta(hours=24)).timestamp())
    rows = rig.gps("vehicle/dtc", start=start, end=int(rig.app.stack.clock.now().timestamp()))
    for row in rows:
        v = vehicles.get(row["serial_number"])
        if v is not None and row["dtc"] and vin_key(v.get("vin")) in by_vin:
            codes = {" ".join(c.split()).upper() for c in row["dtc"]}
            return v["id"], by_vin[vin_key(v.get("vin"))], codes
    raise AssertionError("the demo world always has a matched vehicle with DTCs")


# -- R6a / R14 end to end ------------------------------------------------------------------------


def test_r14_odometer_beyond_target_maximum_is_an_anomaly_and_dtc_defects_still_open(
    rig: Rig,
) -> None:
    vehicle_id, asset_id, codes = vehicle_with_dtcs(rig)
    rig.gps("vehicle/setodometerwaypoint", vehicle=vehicle_id, odometer=2_000_000_000)
    before = rig.assets()[asset_id]["odometer"]

    report = rig.sync()

    assert report.outcome == "SUCCESS", report.errors
    assert report.errors == []
    implausible = [a for a in report.anomalies if a["reason"] == "IMPLAUSIBLE"]
    assert [(a["asset"], a["maximum"]) for a in implausible] == [(asset_id, 1_000_000_000.0)]
    assert rig.assets()[asset_id]["odometer"] == before
    assert {k: n for k, n in rig.open_defects().items() if k[0] == asset_id} == {
        (asset_id, code): 1 for code in codes
    }
    mileage_posts = [
        e for e in rig.journal("whiparound", method="POST")
        if e["path"].endswith(f"/assets/{asset_id}/mileage")
    ]  # fmt: skip
    assert mileage_posts == []


def test_r6a_refused_mileage_write_does_not_stop_the_assets_other_writes(rig: Rig) -> None:
    # Whip Around refuses every mileage write; locations and DTC defects still go out.
    rig.fault("whiparound", method="POST", path="/api/public/v4/assets/*/mileage", status=422)
    report = rig.sync()
    assert report.outcome == "PARTIAL"
    assert report.errors and all(e["where"] == "write" for e in report.errors)
    assert all("/mileage" in e["message"] and "422" in e["message"] for e in report.errors)
    defects = rig.open_defects()
    assert defects, "the demo world always has DTCs active today"
    assert report.counts["created"] == sum(defects.values())
    refused_assets = {e["asset"] for e in report.errors}
    assert refused_assets & {asset for asset, _ in defects}
    located = rig.assets()
    assert all(located[a]["location"]["recorded_at"] for a in refused_assets)


# -- R15 / R17 end to end: Whip Around reset behind the engine's back ----------------------------


def assert_matches_gps_insight(rig: Rig) -> None:
    """Every matched asset's location and odometer are GPS Insight's latest fix (R2)."""
    fixes = {f["id"]: f for f in rig.gps("vehicle/location")}
    by_vin: dict[str, list[dict[str, Any]]] = {}
    for one in rig.wa("assets"):
        by_vin.setdefault(vin_key(one.get("vin")), []).append(one)
    vehicles = rig.gps("vehicle/list", details=1)
    source_vins = Counter(vin_key(v.get("vin")) for v in vehicles)
    checked = 0
    for v in vehicles:
        key = vin_key(v.get("vin"))
        assets = by_vin.get(key, [])
        if len(assets) != 1 or source_vins[key] != 1 or len(set(key)) < 2 or key == "N/A":
            continue
        asset = assets[0]
        fix = fixes[v["id"]]
        location = asset["location"]
        assert (location["latitude"], location["longitude"]) == (
            fix["latitude"], fix["longitude"],
        ), v["id"]  # fmt: skip
        assert parse(location["recorded_at"]) == parse(fix["fix_time_gmt"]), v["id"]
        miles = float(fix["odometer"])
        expected = miles * KM_PER_MILE if asset["odometer_unit"] == "km" else miles
        assert asset["odometer"] == pytest.approx(expected, abs=0.051), v["id"]
        checked += 1
    assert checked >= 8


def test_r15_r17_whip_around_reset_is_repaired_by_the_next_run_then_nothing_is_written(
    rig: Rig,
) -> None:
    first = rig.sync()
    assert first.outcome == "SUCCESS", first.errors
    opened = rig.open_defects()
    assert opened and set(opened.values()) == {1}
    rig.reset_whiparound()
    assert rig.open_defects() == Counter()

    second = rig.sync()

    assert second.outcome == "SUCCESS", second.errors
    assert_matches_gps_insight(rig)
    assert rig.open_defects() == opened
    missing = [w for w in second.warnings if w["reason"] == "DEFECT_MISSING"]
    assert sorted((w["asset"], w["code"]) for w in missing) == sorted(opened)
    assert second.counts["created"] == len(opened)

    rig.clear_journals("whiparound")
    third = rig.sync()
    assert third.outcome == "SUCCESS", third.errors
    assert (third.writes, third.counts["created"], third.counts["updated"]) == (0, 0, 0)
    assert rig.journal("whiparound", method="POST") == []
    assert third.warnings == [w for w in third.warnings if w["reason"] != "DEFECT_MISSING"]


# -- R7: retries, waits and quota hits in the report; errors name their integration ------------


def test_r7_whip_around_429s_are_counted_in_the_report_per_vendor(rig: Rig) -> None:
    # Every other write is refused with 429 + Retry-After: each is retried and lands (one
    # write at a time, so no call meets two refusals in a row).
    rig.engine.concurrency = 1
    rig.fault(
        "whiparound", method="POST", path="/api/public/v4/assets/*", every=2, status=429,
        retry_after=2,
    )  # fmt: skip
    report = rig.sync()

    assert report.outcome == "SUCCESS", report.errors
    refused = [e for e in rig.journal("whiparound", method="POST") if e["status"] == 429]
    assert len(refused) >= 10
    assert rig.sleeper.waits and all(w >= 2.0 for w in rig.sleeper.waits)
    data = report.as_dict()
    assert data["vendors"]["whiparound"] == {
        "integration": "whiparound",
        "requests": data["vendors"]["whiparound"]["requests"],
        "retries": len(refused),
        "waited_s": pytest.approx(sum(rig.sleeper.waits)),
        "quota_hits": len(refused),
    }
    assert data["vendors"]["gpsinsight"]["integration"] == "gpsinsight"
    assert (
        data["vendors"]["gpsinsight"]["retries"],
        data["vendors"]["gpsinsight"]["quota_hits"],
    ) == (0, 0)
    assert sum(v["requests"] for v in data["vendors"].values()) == data["requests"]
    text = "\n".join(report.vendor_lines())
    assert f"whiparound (whiparound): requests {data['vendors']['whiparound']['requests']}" in text
    assert f"retries {len(refused)}" in text and f"quota hits {len(refused)}" in text
    assert f"waited {round(sum(rig.sleeper.waits), 3):g}s" in text


def test_r7_a_clean_run_reports_no_retries(rig: Rig) -> None:
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert {
        v: (s["retries"], s["waited_s"], s["quota_hits"]) for v, s in report.vendors.items()
    } == {
        "gpsinsight": (0, 0.0, 0),
        "whiparound": (0, 0.0, 0),
    }
    assert rig.sleeper.waits == []


def add_wex(rig: Rig) -> None:
    users = requests.get(f"{rig.base}/wex/_mock/credentials").json()["accounts"][0]["users"]
    user = next(u for u in users if u["master"])
    rig.store.save_integration(
        "wex-east", "wex", f"{rig.base}/wex", user["app_token"], T0, username=user["username"]
    )


def test_r7_a_wex_failure_is_labelled_with_the_wex_integration(rig: Rig) -> None:
    add_wex(rig)
    rig.fault("wex", path="/v2/vehicle/dtc", status=503)  # every DTC read fails, retries too
    reports = {r.integration: r for r in rig.sync_all()}

    wex = reports["wex-east"]
    assert wex.outcome == "PARTIAL"
    assert [(e["where"], e["integration"]) for e in wex.errors] == [("dtc", "wex-east")]
    assert wex.errors[0]["message"].startswith("wex v2/vehicle/dtc: 503")
    assert wex.vendors["wex"]["integration"] == "wex-east"
    assert wex.vendors["wex"]["retries"] == 4  # five attempts in all
    assert "gpsinsight" not in wex.vendors
    assert reports["gpsinsight"].outcome == "SUCCESS", reports["gpsinsight"].errors


def test_r7_a_whip_around_write_failure_is_labelled_with_the_whip_around_integration(
    rig: Rig,
) -> None:
    rig.fault("whiparound", method="POST", path="/api/public/v4/assets/*/location", first=1,
              status=500)  # fmt: skip
    report = rig.sync()
    assert report.outcome == "PARTIAL"
    assert [(e["where"], e["integration"]) for e in report.errors] == [("write", "whiparound")]
    assert report.errors[0]["message"].startswith("whiparound ")
    assert report.as_dict()["errors"] == report.errors
