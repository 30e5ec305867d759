"""Table tests of the telematics ``plan()`` (R10-R19): a pure function of what was observed,
what the store remembers, the settings and the time."""

from __future__ import annotations

import copy
import functools
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fixtures.providers import is_valid_vin, make_faker
from sync_engine.model import MILES_TO_KM, Asset, Defect, Dtc, Fix, Vehicle, Vin
from sync_engine.reconcilers import telematics
from sync_engine.reconcilers.telematics import (
    Memory,
    Observed,
    Plan,
    PostDtc,
    PostLocation,
    PostMileage,
    RecordDefect,
    Settings,
    plan,
    vendor_day,
)

# Far from the real date on purpose: a plan that peeked at the clock would notice.
NOW = datetime(2003, 2, 11, 15, 0, tzinfo=UTC)
ACTIVATED = NOW - timedelta(days=30)
VIN_A = "1M8GDM9AXKP042788"
VIN_B = "1HGCM82633A004352"
VIN_A_BAD_CHECK_DIGIT = "1M8GDM9A1KP042788"
PLACEHOLDERS = ["", None, "N/A", "na", "NONE", "null", "UNKNOWN", "TBD", "AAAAAAAAAAAAAAAAA"]
CHECK_CHARACTERS = "0123456789X"


# -- factories ------------------------------------------------------------------------------


def vehicle(vin: str | None = VIN_A, id: str = "v1", label: str = "Truck 1") -> Vehicle:
    """A telematics vehicle."""
    return Vehicle(id=id, vin=Vin.parse(vin), label=label, serial=f"S-{id}")


def asset(
    vin: str | None = VIN_A,
    id: int = 101,
    odometer: float | None = 1000.0,
    unit: str | None = "mi",
    location_at: datetime | None = None,
) -> Asset:
    """A Whip Around asset."""
    return Asset(
        id=id,
        name=f"Asset {id}",
        vin=Vin.parse(vin),
        odometer=odometer,
        odometer_unit=unit,
        location_at=location_at,
    )


def fix(
    at: datetime = NOW - timedelta(minutes=1),
    latitude: float = 33.4484,
    longitude: float = -112.074,
    odometer: float | None = None,
    vehicle_id: str = "v1",
) -> Fix:
    """A position report."""
    return Fix(vehicle_id, at, latitude, longitude, odometer)


def dtc(
    code: str = "P0420",
    last: datetime = NOW - timedelta(hours=1),
    first: datetime | None = None,
    vehicle_id: str = "v1",
    description: str = "Catalyst system efficiency below threshold",
) -> Dtc:
    """A diagnostic code report."""
    return Dtc(vehicle_id, code, description, first or last - timedelta(hours=2), last, 3)


def defect(
    code: str = "P0420",
    status: str = "New",
    id: int = 9001,
    asset_id: int = 101,
    updated_at: datetime | None = NOW - timedelta(days=2),
) -> Defect:
    """A Whip Around DTC defect."""
    return Defect(id, asset_id, code, status, 1, updated_at)


def observed(
    vehicles: list[Vehicle] | None = None,
    assets: list[Asset] | None = None,
    fixes: list[Fix] | None = None,
    dtcs: list[Dtc] | None = None,
    defects: list[Defect] | None = None,
) -> Observed:
    """One run's reads; fixes are filed under their vehicle."""
    by_vehicle: dict[str, list[Fix]] = {}
    for one in fixes or []:
        by_vehicle.setdefault(one.vehicle_id, []).append(one)
    return Observed(
        source="gpsinsight",
        vehicles=[vehicle()] if vehicles is None else vehicles,
        fixes=by_vehicle,
        dtcs=dtcs or [],
        assets=[asset()] if assets is None else assets,
        defects=defects or [],
    )


def config(**knobs: Any) -> Settings:
    """Settings with the documented defaults unless overridden."""
    return Settings(activated_at=ACTIVATED, **knobs)


def run(
    seen: Observed | None = None,
    marks: dict[int, dict[str, Any]] | None = None,
    ledger: dict[tuple[int, str], dict[str, Any]] | None = None,
    settings: Settings | None = None,
    now: datetime = NOW,
) -> Plan:
    """``plan()`` with defaults for whatever a test does not care about."""
    memory = Memory(marks=marks or {}, ledger=ledger or {})
    return plan(seen or observed(), memory, settings or config(), now)


def of_kind(result: Plan, kind: type) -> list[Any]:
    """The plan's actions of one type."""
    return [action for action in result.actions if isinstance(action, kind)]


def reasons(result: Plan, kind: str | None = None) -> list[str]:
    """The reasons of the plan's notes (optionally of one kind)."""
    return [note.reason for note in result.notes if kind is None or note.kind == kind]


def ledger_row(last: datetime, defect_id: int = 9001, status: str = "New") -> dict[str, Any]:
    """A ledger row as ``apply`` stores it after posting the occurrence ``last``."""
    return {
        "defect_id": defect_id,
        "status": status,
        "last_occurrence": last,
        "posted_day": vendor_day(last),
        "resolved_at": None,
    }


@functools.cache
def fixture_vins() -> tuple[str, ...]:
    """2,000 VINs from the fixtures' own, independent check-digit implementation."""
    return tuple(str(make_faker(f"k{n}").vehicle_spec()["vin"]) for n in range(2000))


# -- R10 normalise, then match exactly ------------------------------------------------------


def test_r10_vin_in_lower_case_with_spaces_matches() -> None:
    result = run(observed(vehicles=[vehicle(" 1m8g dm9a xkp 042788 ")], fixes=[fix()]))
    assert [a.id for _, a in result.matched] == [101]


def test_r10_asset_vin_with_tabs_and_newlines_matches() -> None:
    result = run(observed(assets=[asset("1M8GDM9AXK\tP04\n2788")], fixes=[fix()]))
    assert of_kind(result, PostLocation) == [PostLocation(101, "v1", fix())]


def test_r10_letter_o_is_not_read_as_zero() -> None:
    result = run(observed(vehicles=[vehicle("1HGCM82633AO04352")], assets=[asset(VIN_B)]))
    assert (result.matched, reasons(result)) == ([], ["UNMATCHED"])


def test_r10_vin_suffix_does_not_match() -> None:
    result = run(observed(assets=[asset(VIN_A[-8:])], fixes=[fix()]))
    assert (result.matched, result.actions) == ([], [])


def test_r10_vin_with_a_wrong_check_digit_is_not_corrected_to_match() -> None:
    result = run(observed(vehicles=[vehicle(VIN_A_BAD_CHECK_DIGIT)], fixes=[fix()]))
    assert (result.matched, reasons(result)) == ([], ["UNMATCHED"])


# -- R11 one to one or nothing --------------------------------------------------------------


def test_r11_vin_on_two_assets_is_duplicate_target_and_writes_nothing() -> None:
    seen = observed(
        assets=[asset(VIN_A, id=101), asset(VIN_A.lower(), id=102)],
        fixes=[fix(odometer=1500.0)],
        dtcs=[dtc()],
    )
    result = run(seen)
    assert (result.actions, reasons(result, "skip")) == (
        [],
        ["DUPLICATE_TARGET", "DTC_UNMATCHED_VEHICLE"],
    )


def test_r11_duplicate_target_names_both_assets() -> None:
    seen = observed(assets=[asset(VIN_A, id=101), asset(VIN_A, id=102)])
    [note] = run(seen).notes
    assert (note.reason, note.detail["assets"]) == ("DUPLICATE_TARGET", [101, 102])


def test_r11_vin_on_two_telematics_vehicles_is_duplicate_source_and_writes_nothing() -> None:
    seen = observed(
        vehicles=[vehicle(VIN_A, id="v1"), vehicle(f" {VIN_A.lower()}", id="v2")],
        fixes=[fix(vehicle_id="v1"), fix(vehicle_id="v2", odometer=1500.0)],
        dtcs=[dtc(vehicle_id="v2")],
    )
    result = run(seen)
    assert (result.actions, reasons(result, "skip")) == (
        [],
        ["DUPLICATE_SOURCE", "DUPLICATE_SOURCE", "DTC_UNMATCHED_VEHICLE"],
    )


def test_r11_vehicle_without_an_asset_is_unmatched_and_writes_nothing() -> None:
    seen = observed(assets=[asset(VIN_B)], fixes=[fix(odometer=1500.0)], dtcs=[dtc()])
    result = run(seen)
    assert (result.actions, result.unmatched, reasons(result, "skip")) == (
        [],
        1,
        ["UNMATCHED", "DTC_UNMATCHED_VEHICLE"],
    )


@pytest.mark.parametrize("missing", [None, "", "N/A"])
def test_r11_vehicle_with_a_missing_vin_is_reported_and_writes_nothing(missing: str | None) -> None:
    seen = observed(vehicles=[vehicle(missing)], assets=[asset(missing)], fixes=[fix()])
    result = run(seen)
    assert (result.actions, reasons(result)) == ([], ["MISSING_VIN"])


def test_r11_dtc_for_an_unmatched_vehicle_is_reported_and_creates_nothing() -> None:
    seen = observed(vehicles=[vehicle(), vehicle(VIN_B, id="v2")], dtcs=[dtc(vehicle_id="v2")])
    result = run(seen)
    assert (of_kind(result, PostDtc), reasons(result, "skip")) == (
        [],
        ["UNMATCHED", "DTC_UNMATCHED_VEHICLE"],
    )


def test_r11_matched_asset_is_addressed_by_its_id() -> None:
    seen = observed(
        assets=[asset(f"  {VIN_A.lower()} ", id=4242)],
        fixes=[fix(odometer=1500.0)],
        dtcs=[dtc()],
    )
    result = run(seen)
    assert {type(a).__name__: a.asset_id for a in result.actions} == {
        "PostLocation": 4242,
        "PostMileage": 4242,
        "PostDtc": 4242,
    }


def test_r11_only_the_ambiguous_vehicle_is_held_back() -> None:
    seen = observed(
        vehicles=[vehicle(VIN_A, id="v1"), vehicle(VIN_B, id="v2")],
        assets=[asset(VIN_A, id=101), asset(VIN_A, id=102), asset(VIN_B, id=103)],
        fixes=[fix(vehicle_id="v1"), fix(vehicle_id="v2")],
    )
    assert [a.asset_id for a in run(seen).actions] == [103]


# -- R12 validity is reported, not blocking; placeholders never match ----------------------


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_r12_placeholder_vins_never_match(placeholder: str | None) -> None:
    seen = observed(
        vehicles=[vehicle(placeholder)], assets=[asset(placeholder)], fixes=[fix()], dtcs=[dtc()]
    )
    result = run(seen)
    assert (result.matched, result.actions, reasons(result)) == (
        [],
        [],
        ["MISSING_VIN", "DTC_UNMATCHED_VEHICLE"],
    )


def test_r12_identical_invalid_vin_on_both_sides_matches_with_a_warning() -> None:
    bad = VIN_A_BAD_CHECK_DIGIT
    result = run(observed(vehicles=[vehicle(bad)], assets=[asset(bad)], fixes=[fix()]))
    [note] = result.notes
    assert (note.kind, note.reason, note.detail["problems"], len(result.actions)) == (
        "warning",
        "INVALID_VIN",
        ["CHECK_DIGIT"],
        1,
    )


def test_r12_identical_short_vin_on_both_sides_matches_with_a_length_warning() -> None:
    result = run(observed(vehicles=[vehicle("ab 123")], assets=[asset("AB123")], fixes=[fix()]))
    assert ([n.detail["problems"] for n in result.notes], len(result.actions)) == (
        [["LENGTH"]],
        1,
    )


def test_r12_valid_vin_matches_without_any_note() -> None:
    result = run(observed(fixes=[fix()]))
    assert (len(result.matched), result.notes) == (1, [])


def test_r12_engine_accepts_every_vin_the_fixtures_generate() -> None:
    rejected = [v for v in fixture_vins() if Vin.parse(v).problems != () or not is_valid_vin(v)]
    assert rejected == []


def test_r12_engine_reports_check_digit_when_position_9_changes() -> None:
    missed = []
    for vin in fixture_vins():
        wrong = CHECK_CHARACTERS[(CHECK_CHARACTERS.index(vin[8]) + 1) % len(CHECK_CHARACTERS)]
        changed = vin[:8] + wrong + vin[9:]
        if Vin.parse(changed).problems != ("CHECK_DIGIT",) or is_valid_vin(changed):
            missed.append(changed)
    assert missed == []


# -- R13 units are explicit -----------------------------------------------------------------


def test_r13_mileage_is_posted_in_miles_to_a_miles_asset() -> None:
    result = run(observed(fixes=[fix(odometer=1500.0)]))
    assert of_kind(result, PostMileage) == [PostMileage(101, "v1", 1500.0, "mi", 1500.0, fix().at)]


def test_r13_mileage_is_converted_to_kilometres_for_a_km_asset() -> None:
    result = run(observed(assets=[asset(unit="km", odometer=100.0)], fixes=[fix(odometer=100.0)]))
    [posted] = of_kind(result, PostMileage)
    assert (posted.unit, posted.value, posted.miles) == ("km", pytest.approx(160.9344), 100.0)


def test_r13_km_asset_is_compared_in_kilometres_not_miles() -> None:
    # 100 mi is 160.9 km: above the asset's 150 km, so not a rollback.
    result = run(observed(assets=[asset(unit="km", odometer=150.0)], fixes=[fix(odometer=100.0)]))
    assert (reasons(result), len(of_kind(result, PostMileage))) == ([], 1)


def test_r13_one_mile_is_1_609344_km() -> None:
    assert MILES_TO_KM == 1.609344


@pytest.mark.parametrize("unit", [None, "", "miles", "hours"])
def test_r13_unknown_unit_means_no_odometer_write(unit: str | None) -> None:
    result = run(observed(assets=[asset(unit=unit)], fixes=[fix(odometer=1500.0)]))
    assert (of_kind(result, PostMileage), reasons(result, "anomaly")) == ([], ["UNKNOWN_UNIT"])


def test_r13_unknown_unit_still_lets_the_location_through() -> None:
    result = run(observed(assets=[asset(unit=None)], fixes=[fix(odometer=1500.0)]))
    assert of_kind(result, PostLocation) == [PostLocation(101, "v1", fix(odometer=1500.0))]


# -- R14 odometer never goes backwards or leaps ---------------------------------------------


def test_r14_reading_below_the_asset_odometer_is_a_rollback_and_not_written() -> None:
    result = run(observed(assets=[asset(odometer=1000.0)], fixes=[fix(odometer=990.0)]))
    assert (of_kind(result, PostMileage), reasons(result, "anomaly")) == ([], ["ROLLBACK"])


def test_r14_rollback_on_a_km_asset_is_judged_in_kilometres() -> None:
    # 100 mi is 160.9 km, below the asset's 170 km.
    result = run(observed(assets=[asset(unit="km", odometer=170.0)], fixes=[fix(odometer=100.0)]))
    assert reasons(result, "anomaly") == ["ROLLBACK"]


def test_r14_jump_of_more_than_3000_miles_in_a_day_is_implausible_and_not_written() -> None:
    marks = {101: {"odometer_mi": 1000.0, "odometer_at": NOW - timedelta(days=1)}}
    result = run(observed(fixes=[fix(at=NOW, odometer=4000.5)]), marks=marks)
    assert (of_kind(result, PostMileage), reasons(result, "anomaly")) == ([], ["IMPLAUSIBLE"])


@pytest.mark.parametrize(
    ("days", "miles", "expected"),
    [
        (1, 2999.0, []),
        (3, 8999.0, []),
        (3, 9001.0, ["IMPLAUSIBLE"]),
        (0.5, 2999.0, []),  # less than a day apart still allows a full day
        (0.01, 3001.0, ["IMPLAUSIBLE"]),
    ],
)
def test_r14_allowance_is_3000_miles_times_at_least_one_day_between_readings(
    days: float, miles: float, expected: list[str]
) -> None:
    marks = {101: {"odometer_mi": 1000.0, "odometer_at": NOW - timedelta(days=days)}}
    result = run(observed(fixes=[fix(at=NOW, odometer=1000.0 + miles)]), marks=marks)
    assert reasons(result, "anomaly") == expected


def test_r14_implausible_is_judged_in_miles_for_a_km_asset() -> None:
    # 2,500 mi in a day is plausible even though it is 4,023 km.
    marks = {101: {"odometer_mi": 1000.0, "odometer_at": NOW - timedelta(days=1)}}
    seen = observed(assets=[asset(unit="km", odometer=1609.3)], fixes=[fix(at=NOW, odometer=3500)])
    result = run(seen, marks=marks)
    assert (reasons(result), len(of_kind(result, PostMileage))) == ([], 1)


def test_r14_without_an_earlier_reading_only_rollback_applies() -> None:
    result = run(observed(assets=[asset(odometer=1000.0)], fixes=[fix(odometer=250_000.0)]))
    assert (reasons(result), [m.value for m in of_kind(result, PostMileage)]) == ([], [250_000.0])


def test_r14_rollback_lets_the_vehicles_other_writes_go_ahead() -> None:
    seen = observed(fixes=[fix(odometer=10.0)], dtcs=[dtc()])
    assert [type(a) for a in run(seen).actions] == [PostLocation, PostDtc]


def test_r14_implausible_jump_lets_the_vehicles_other_writes_go_ahead() -> None:
    marks = {101: {"odometer_mi": 1000.0, "odometer_at": NOW - timedelta(hours=2)}}
    seen = observed(fixes=[fix(odometer=90_000.0)], dtcs=[dtc()])
    assert [type(a) for a in run(seen, marks=marks).actions] == [PostLocation, PostDtc]


# -- R15 only newer, only changed -----------------------------------------------------------


def test_r15_fix_older_than_the_asset_location_is_stale_and_not_written() -> None:
    seen = observed(assets=[asset(location_at=NOW)], fixes=[fix(at=NOW - timedelta(hours=1))])
    result = run(seen)
    assert (result.actions, reasons(result)) == ([], ["STALE"])


def test_r15_fix_written_before_is_written_again_when_the_asset_went_backwards() -> None:
    # The engine wrote this fix last run; the asset now shows an older one (reset, edited).
    marks = {101: {"last_fix_at": NOW - timedelta(minutes=1)}}
    seen = observed(assets=[asset(location_at=NOW - timedelta(hours=3))], fixes=[fix()])
    result = run(seen, marks=marks)
    assert (result.actions, result.unchanged) == ([PostLocation(101, "v1", fix())], 0)


def test_r15_fix_not_newer_than_the_assets_observed_location_is_not_written() -> None:
    marks = {101: {"last_fix_at": NOW - timedelta(hours=3)}}
    seen = observed(assets=[asset(location_at=NOW - timedelta(minutes=1))], fixes=[fix()])
    result = run(seen, marks=marks)
    assert (result.actions, result.unchanged) == ([], 1)


def test_r15_fix_newer_than_the_last_written_but_not_the_asset_location_is_stale() -> None:
    marks = {101: {"last_fix_at": NOW - timedelta(hours=3)}}
    seen = observed(assets=[asset(location_at=NOW)], fixes=[fix(at=NOW - timedelta(hours=1))])
    result = run(seen, marks=marks)
    assert (result.actions, reasons(result)) == ([], ["STALE"])


def test_r15_fix_newer_than_both_the_last_written_and_the_asset_location_is_written() -> None:
    marks = {101: {"last_fix_at": NOW - timedelta(hours=2)}}
    seen = observed(assets=[asset(location_at=NOW - timedelta(hours=1))], fixes=[fix()])
    assert run(seen, marks=marks).actions == [PostLocation(101, "v1", fix())]


def test_r15_fix_at_null_island_is_an_anomaly_and_not_written() -> None:
    result = run(observed(fixes=[fix(latitude=0.0, longitude=0.0)]))
    assert (result.actions, reasons(result, "anomaly")) == ([], ["INVALID_COORDINATES"])


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(90.5, -112.0), (-91.0, -112.0), (33.4, 180.5), (33.4, -181.0), (math.nan, -112.0)],
)
def test_r15_fix_out_of_range_is_an_anomaly_and_not_written(
    latitude: float, longitude: float
) -> None:
    result = run(observed(fixes=[fix(latitude=latitude, longitude=longitude)]))
    assert (result.actions, reasons(result, "anomaly")) == ([], ["INVALID_COORDINATES"])


@pytest.mark.parametrize(("latitude", "longitude"), [(0.0, 12.5), (-90.0, 180.0), (90.0, -180.0)])
def test_r15_fix_on_an_axis_or_at_the_limits_is_valid(latitude: float, longitude: float) -> None:
    result = run(observed(fixes=[fix(latitude=latitude, longitude=longitude)]))
    assert len(of_kind(result, PostLocation)) == 1


def test_r15_invalid_fix_does_not_hold_back_a_valid_one() -> None:
    fixes = [fix(at=NOW - timedelta(minutes=9)), fix(latitude=0.0, longitude=0.0)]
    assert [a.fix for a in run(observed(fixes=fixes)).actions] == fixes[:1]


def test_r15_unchanged_odometer_is_not_reposted() -> None:
    result = run(observed(assets=[asset(odometer=1500.0)], fixes=[fix(odometer=1500.0)]))
    assert (of_kind(result, PostMileage), reasons(result)) == ([], [])


def test_r15_unchanged_odometer_on_a_km_asset_is_not_reposted() -> None:
    # The asset holds what was posted last time: 100 mi as 160.9 km.
    seen = observed(assets=[asset(unit="km", odometer=160.9)], fixes=[fix(odometer=100.0)])
    assert of_kind(run(seen), PostMileage) == []


def test_r15_history_is_thinned_to_one_point_per_5_minutes_by_default() -> None:
    fixes = [fix(at=NOW - timedelta(minutes=20 - n)) for n in range(21)]
    posted = [a.fix.at for a in run(observed(fixes=fixes)).actions]
    assert posted == [NOW - timedelta(minutes=m) for m in (20, 15, 10, 5, 0)]


def test_r15_thinning_follows_the_configured_resolution() -> None:
    fixes = [fix(at=NOW - timedelta(minutes=20 - n)) for n in range(21)]
    result = run(observed(fixes=fixes), settings=config(resolution=timedelta(minutes=10)))
    assert [a.fix.at for a in result.actions] == [NOW - timedelta(minutes=m) for m in (20, 10, 0)]


def test_r15_thinning_counts_from_the_assets_observed_location() -> None:
    marks = {101: {"last_fix_at": NOW - timedelta(minutes=1)}}  # memory never blocks
    seen = observed(
        assets=[asset(location_at=NOW - timedelta(minutes=12))],
        fixes=[fix(at=NOW - timedelta(minutes=11 - n)) for n in range(11)],  # the last at NOW-1
    )
    posted = [a.fix.at for a in run(seen, marks=marks).actions]
    assert posted == [NOW - timedelta(minutes=m) for m in (7, 2, 1)]


def test_r15_thinning_never_drops_the_newest_fix() -> None:
    fixes = [fix(at=NOW - timedelta(minutes=m)) for m in (8, 6, 4, 2)]
    posted = [a.fix.at for a in run(observed(fixes=fixes)).actions]
    assert posted == [NOW - timedelta(minutes=8), NOW - timedelta(minutes=2)]


def test_r2_newest_fix_minutes_after_the_last_fix_written_is_written() -> None:
    # The vehicle parked 3 minutes after the last point written: nothing later will come.
    marks = {101: {"last_fix_at": NOW - timedelta(minutes=3)}}
    assert run(observed(fixes=[fix(at=NOW)]), marks=marks).actions == [
        PostLocation(101, "v1", fix(at=NOW))
    ]


def test_r15_history_is_posted_in_time_order() -> None:
    fixes = [fix(at=NOW - timedelta(minutes=m)) for m in (0, 30, 10, 20)]
    posted = [a.fix.at for a in run(observed(fixes=fixes)).actions]
    assert posted == sorted(posted) and len(posted) == 4


def test_r15_mileage_comes_from_the_latest_reading_only() -> None:
    fixes = [
        fix(at=NOW - timedelta(minutes=m), odometer=o)
        for m, o in ((10, 1100.0), (1, 1120.0), (20, 1090.0), (0, None))
    ]
    assert [m.miles for m in of_kind(run(observed(fixes=fixes)), PostMileage)] == [1120.0]


def test_r15_changed_mileage_minutes_after_the_last_posted_reading_is_posted() -> None:
    # The vehicle parked 3 minutes after the last posting: no newer reading will come.
    marks = {101: {"odometer_mi": 1500.0, "odometer_at": NOW - timedelta(minutes=3)}}
    seen = observed(assets=[asset(odometer=1500.0)], fixes=[fix(at=NOW, odometer=1501.2)])
    assert [m.miles for m in of_kind(run(seen, marks=marks), PostMileage)] == [1501.2]


def test_r15_mileage_equal_to_what_the_asset_holds_now_is_not_posted_again() -> None:
    marks = {101: {"odometer_mi": 1501.2, "odometer_at": NOW}}
    seen = observed(assets=[asset(odometer=1501.2)], fixes=[fix(at=NOW, odometer=1501.2)])
    result = run(seen, marks=marks)
    assert (of_kind(result, PostMileage), result.unchanged) == ([], 1)


def test_r15_mileage_posted_before_is_posted_again_when_the_asset_went_backwards() -> None:
    marks = {101: {"odometer_mi": 1501.2, "odometer_at": NOW}}
    seen = observed(assets=[asset(odometer=1500.0)], fixes=[fix(at=NOW, odometer=1501.2)])
    assert of_kind(run(seen, marks=marks), PostMileage) == [
        PostMileage(101, "v1", 1501.2, "mi", 1501.2, NOW)
    ]


# -- R16 identity is (asset, canonical code) ------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "on_target"),
    [(" p0420 ", "P0420"), ("spn  3031 fmi\t9", "SPN 3031 FMI 9"), ("P0420", "p0420")],
)
def test_r16_case_and_whitespace_do_not_change_identity(reported: str, on_target: str) -> None:
    last = NOW - timedelta(hours=1)
    seen = observed(dtcs=[dtc(reported, last=last)], defects=[defect(on_target)])
    key = (101, " ".join(on_target.split()).upper())
    assert run(seen, ledger={key: ledger_row(last)}).actions == []


def test_r16_case_and_whitespace_do_not_open_a_second_defect() -> None:
    seen = observed(dtcs=[dtc("p0420")], defects=[defect("P0420")])
    assert [a.repeat for a in of_kind(run(seen), PostDtc)] == [True]


def test_r16_description_is_not_part_of_identity() -> None:
    last = NOW - timedelta(hours=1)
    seen = observed(dtcs=[dtc(last=last, description="Catalyst, bank 1")], defects=[defect()])
    assert run(seen, ledger={(101, "P0420"): ledger_row(last)}).actions == []


def test_r16_one_code_reported_twice_in_a_run_is_posted_once() -> None:
    reports = [
        dtc("P0420", last=NOW - timedelta(hours=3), description="Catalyst"),
        dtc("p0420 ", last=NOW - timedelta(hours=1), description="Catalyst efficiency"),
    ]
    result = run(observed(dtcs=reports))
    assert [(a.dtc.code, a.dtc.last) for a in of_kind(result, PostDtc)] == [
        ("P0420", NOW - timedelta(hours=1))
    ]


def test_r16_posted_code_is_the_canonical_code() -> None:
    result = run(observed(dtcs=[dtc("  spn 3031   fmi 9 ")]))
    assert [a.dtc.code for a in of_kind(result, PostDtc)] == ["SPN 3031 FMI 9"]


def test_r16_same_code_on_two_assets_is_two_identities() -> None:
    seen = observed(
        vehicles=[vehicle(VIN_A, id="v1"), vehicle(VIN_B, id="v2")],
        assets=[asset(VIN_A, id=101), asset(VIN_B, id=102)],
        dtcs=[dtc(vehicle_id="v1"), dtc(vehicle_id="v2")],
        defects=[defect(asset_id=101)],
    )
    posts = of_kind(run(seen), PostDtc)
    assert [(a.asset_id, a.repeat) for a in posts] == [(101, True), (102, False)]


# -- R17 at most one open defect per identity -----------------------------------------------


def test_r17_new_code_opens_one_defect() -> None:
    result = run(observed(dtcs=[dtc()]))
    assert [(a.asset_id, a.dtc.code, a.repeat) for a in result.actions] == [(101, "P0420", False)]


@pytest.mark.parametrize("status", ["New", "In Progress"])
def test_r17_open_defect_with_the_same_last_occurrence_is_not_reposted(status: str) -> None:
    last = NOW - timedelta(hours=1)
    seen = observed(dtcs=[dtc(last=last)], defects=[defect(status=status)])
    result = run(seen, ledger={(101, "P0420"): ledger_row(last)})
    assert (result.actions, result.unchanged) == ([], 1)


def test_r17_code_advancing_on_the_same_vendor_day_is_not_reposted() -> None:
    # 09:00 and 13:00 UTC on 11 Feb are 02:00 and 06:00 MST on 11 Feb.
    ledger = {(101, "P0420"): ledger_row(datetime(2003, 2, 11, 9, 0, tzinfo=UTC))}
    seen = observed(dtcs=[dtc(last=datetime(2003, 2, 11, 13, 0, tzinfo=UTC))], defects=[defect()])
    assert run(seen, ledger=ledger).actions == []


def test_r17_code_advancing_on_a_later_vendor_day_is_reposted_once_as_a_repeat() -> None:
    ledger = {(101, "P0420"): ledger_row(NOW - timedelta(days=1))}
    seen = observed(dtcs=[dtc(last=NOW - timedelta(hours=1))], defects=[defect()])
    assert [(type(a), a.repeat) for a in run(seen, ledger=ledger).actions] == [(PostDtc, True)]


def test_r17_code_not_advancing_is_not_reposted_even_on_a_later_day() -> None:
    # The ledger holds a later occurrence than the one reported now (an older window).
    ledger = {(101, "P0420"): ledger_row(NOW - timedelta(hours=1))}
    seen = observed(dtcs=[dtc(last=NOW - timedelta(days=2))], defects=[defect()])
    assert run(seen, ledger=ledger).actions == []


def test_r17_vendor_day_is_the_mst_day_not_the_utc_day() -> None:
    # 06:00 UTC on 11 Feb is 23:00 MST on 10 Feb; 08:00 UTC is 01:00 MST on 11 Feb.
    ledger = {(101, "P0420"): ledger_row(datetime(2003, 2, 11, 6, 0, tzinfo=UTC))}
    seen = observed(dtcs=[dtc(last=datetime(2003, 2, 11, 8, 0, tzinfo=UTC))], defects=[defect()])
    assert [a.repeat for a in of_kind(run(seen, ledger=ledger), PostDtc)] == [True]


def test_r17_utc_midnight_inside_one_mst_day_is_not_a_new_vendor_day() -> None:
    # 20:00 UTC on 10 Feb and 05:00 UTC on 11 Feb are both 10 Feb in MST.
    ledger = {(101, "P0420"): ledger_row(datetime(2003, 2, 10, 20, 0, tzinfo=UTC))}
    seen = observed(dtcs=[dtc(last=datetime(2003, 2, 11, 5, 0, tzinfo=UTC))], defects=[defect()])
    assert run(seen, ledger=ledger).actions == []


def test_r17_open_defect_without_a_ledger_row_is_recorded_not_reposted() -> None:
    # A lost reply or a lost store: the open defect already covers the occurrence.
    last = NOW - timedelta(hours=3)
    open_defect = defect(updated_at=NOW - timedelta(hours=2))
    result = run(observed(dtcs=[dtc(last=last)], defects=[open_defect]))
    assert result.actions == [RecordDefect(101, "P0420", open_defect, last)]


def test_r17_open_defect_without_a_ledger_row_and_a_newer_occurrence_is_a_repeat() -> None:
    seen = observed(dtcs=[dtc(last=NOW - timedelta(hours=1))], defects=[defect()])
    assert [a.repeat for a in of_kind(run(seen), PostDtc)] == [True]


def test_r17_open_defect_wins_over_a_newer_resolved_one() -> None:
    defects = [defect(id=3, status="In Progress"), defect(id=5, status="Completed")]
    seen = observed(dtcs=[dtc()], defects=defects)
    assert [a.repeat for a in of_kind(run(seen), PostDtc)] == [True]


# -- R18 people own resolution --------------------------------------------------------------


def test_r18_code_that_stopped_reporting_leaves_its_defect_alone() -> None:
    seen = observed(fixes=[fix()], defects=[defect()])
    assert of_kind(run(seen), PostDtc) == []


@pytest.mark.parametrize("status", ["Completed", "No Correction Needed"])
@pytest.mark.parametrize("after", [timedelta(hours=1), timedelta(hours=23), timedelta(hours=24)])
def test_r18_recurrence_within_the_quiet_period_after_resolution_creates_nothing(
    status: str, after: timedelta
) -> None:
    resolved_at = NOW - timedelta(days=2)
    seen = observed(
        dtcs=[dtc(last=resolved_at + after)],
        defects=[defect(status=status, updated_at=resolved_at)],
    )
    result = run(seen, ledger={(101, "P0420"): ledger_row(resolved_at - timedelta(hours=5))})
    assert (result.actions, reasons(result)) == ([], ["RESOLVED_RECENTLY"])


@pytest.mark.parametrize("status", ["Completed", "No Correction Needed"])
def test_r18_recurrence_after_the_quiet_period_opens_a_new_defect(status: str) -> None:
    resolved_at = NOW - timedelta(days=2)
    seen = observed(
        dtcs=[dtc(last=resolved_at + timedelta(hours=24, seconds=1))],
        defects=[defect(status=status, updated_at=resolved_at)],
    )
    result = run(seen, ledger={(101, "P0420"): ledger_row(resolved_at - timedelta(hours=5))})
    assert [a.repeat for a in of_kind(result, PostDtc)] == [False]


@pytest.mark.parametrize(("after_hours", "posts"), [(1, 0), (3, 1)])
def test_r18_quiet_period_is_configurable(after_hours: int, posts: int) -> None:
    resolved_at = NOW - timedelta(days=2)
    seen = observed(
        dtcs=[dtc(last=resolved_at + timedelta(hours=after_hours))],
        defects=[defect(status="Completed", updated_at=resolved_at)],
    )
    result = run(seen, settings=config(quiet_period=timedelta(hours=2)))
    assert len(of_kind(result, PostDtc)) == posts


def test_r18_stale_occurrence_from_before_the_resolution_never_reopens() -> None:
    resolved_at = NOW - timedelta(hours=2)
    seen = observed(
        dtcs=[dtc(last=resolved_at - timedelta(days=1))],
        defects=[defect(status="Completed", updated_at=resolved_at)],
    )
    assert run(seen, now=NOW + timedelta(days=400)).actions == []


def test_r18_occurrence_already_in_the_ledger_never_reopens_a_resolved_defect() -> None:
    # Whip Around sent no usable updated_at: the ledger still knows the occurrence is old.
    last = NOW - timedelta(days=3)
    seen = observed(dtcs=[dtc(last=last)], defects=[defect(status="Completed", updated_at=None)])
    assert run(seen, ledger={(101, "P0420"): ledger_row(last)}).actions == []


def test_r18_resolution_time_falls_back_to_the_ledger() -> None:
    resolved_at = NOW - timedelta(hours=6)
    ledger = {(101, "P0420"): {**ledger_row(NOW - timedelta(days=3)), "resolved_at": resolved_at}}
    seen = observed(dtcs=[dtc(last=NOW)], defects=[defect(status="Completed", updated_at=None)])
    assert reasons(run(seen, ledger=ledger)) == ["RESOLVED_RECENTLY"]


# -- R19 no flood on activation -------------------------------------------------------------


def test_r19_code_last_seen_before_activation_minus_the_lookback_creates_nothing() -> None:
    seen = observed(dtcs=[dtc(last=ACTIVATED - timedelta(hours=25))])
    result = run(seen)
    assert (result.actions, reasons(result)) == ([], ["HISTORIC_DTC"])


def test_r19_historic_codes_at_activation_create_nothing_at_all() -> None:
    codes = ["P0420", "P0301", "SPN 3031 FMI 9", "P0171"]
    last_seen = [NOW - timedelta(days=d, hours=1) for d in (1, 2, 5, 40)]
    seen = observed(dtcs=[dtc(c, last=at) for c, at in zip(codes, last_seen, strict=True)])
    result = run(seen, settings=Settings(activated_at=NOW), now=NOW)
    assert (result.actions, reasons(result)) == ([], ["HISTORIC_DTC"] * 4)


def test_r19_code_last_seen_within_the_lookback_opens_a_defect() -> None:
    seen = observed(dtcs=[dtc(last=ACTIVATED - timedelta(hours=23))])
    assert [a.repeat for a in of_kind(run(seen), PostDtc)] == [False]


@pytest.mark.parametrize(("hours_before", "posts"), [(1, 1), (3, 0)])
def test_r19_lookback_is_configurable(hours_before: int, posts: int) -> None:
    seen = observed(dtcs=[dtc(last=ACTIVATED - timedelta(hours=hours_before))])
    result = run(seen, settings=config(lookback=timedelta(hours=2)))
    assert len(of_kind(result, PostDtc)) == posts


def test_r19_code_first_seen_before_activation_and_still_reporting_opens_a_defect() -> None:
    seen = observed(dtcs=[dtc(first=ACTIVATED - timedelta(days=9), last=NOW)])
    assert len(of_kind(run(seen), PostDtc)) == 1


# -- the plan itself ------------------------------------------------------------------------


def busy_inputs() -> tuple[Observed, Memory]:
    """Two vehicles with fixes, readings, codes and a defect, and a store with history."""
    seen = observed(
        vehicles=[vehicle(VIN_A, id="v1"), vehicle(VIN_B.lower(), id="v2")],
        assets=[
            asset(VIN_A, id=101, location_at=NOW - timedelta(hours=1)),
            asset(VIN_B, id=102, unit="km", odometer=8000.0),
        ],
        fixes=[
            *[fix(at=NOW - timedelta(minutes=m), odometer=1200.0 - m) for m in (0, 7, 14)],
            fix(at=NOW - timedelta(minutes=3), vehicle_id="v2", odometer=5200.0),
            fix(at=NOW - timedelta(minutes=2), latitude=0, longitude=0, vehicle_id="v2"),
        ],
        dtcs=[dtc("P0420"), dtc("P0301", vehicle_id="v2"), dtc("P0171", last=ACTIVATED)],
        defects=[defect("P0420", status="Completed", updated_at=NOW - timedelta(days=3))],
    )
    memory = Memory(
        marks={
            101: {
                "last_fix_at": NOW - timedelta(minutes=30),
                "odometer_mi": 1190.0,
                "odometer_at": NOW - timedelta(minutes=30),
            }
        },  # fmt: skip
        ledger={(101, "P0420"): ledger_row(NOW - timedelta(days=4))},
    )
    return seen, memory


def test_plan_is_pure_the_same_inputs_give_equal_plans() -> None:
    seen, memory = busy_inputs()
    first = plan(seen, memory, config(), NOW)
    assert first == plan(seen, memory, config(), NOW) and first.actions


def test_plan_never_reads_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clock(*_: Any) -> Any:
        raise AssertionError("plan() read the clock")

    class TrappedDatetime(datetime):
        now = classmethod(no_clock)  # type: ignore[assignment]
        utcnow = classmethod(no_clock)  # type: ignore[assignment]
        today = classmethod(no_clock)  # type: ignore[assignment]

    seen, memory = busy_inputs()
    expected = plan(seen, memory, config(), NOW)
    with monkeypatch.context() as trap:
        trap.setattr(telematics, "datetime", TrappedDatetime)
        for name in ("time", "time_ns", "monotonic", "monotonic_ns", "localtime", "gmtime"):
            trap.setattr(time, name, no_clock)
        result = plan(seen, memory, config(), NOW)
    assert result == expected


def test_plan_does_not_change_its_inputs() -> None:
    seen, memory = busy_inputs()
    before = copy.deepcopy((seen, memory))
    plan(seen, memory, config(), NOW)
    assert (seen, memory) == before


def test_plan_orders_a_vehicles_writes_location_then_mileage_then_dtc() -> None:
    seen = observed(fixes=[fix(odometer=1500.0)], dtcs=[dtc("P0301"), dtc("P0420")])
    assert [type(a) for a in run(seen).actions] == [PostLocation, PostMileage, PostDtc, PostDtc]
