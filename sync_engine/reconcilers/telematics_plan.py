"""Telematics (GPS Insight / Wex) -> Whip Around: the pure half.

``plan`` is a pure function of what was observed, what the store remembers, the settings and
the time: it decides every write and every skip (R10-R19). ``telematics`` does the I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ..model import MILES_TO_KM, Asset, Defect, Dtc, Fix, Vehicle, canonical_code
from ..report import Note, Report

MST = timezone(timedelta(hours=-7))  # GPS Insight's vendor day
MAX_MILES_PER_DAY = 3000.0
ODOMETER_EPSILON = 0.05
OPEN_STATUSES = ("New", "In Progress")
MAX_READING = 1_000_000_000.0  # the most Whip Around's odometer holds, in the asset's unit


@dataclass(frozen=True)
class Settings:
    """Knobs of the telematics pipeline (all have the documented defaults)."""

    activated_at: datetime
    lookback: timedelta = timedelta(hours=24)  # R19
    quiet_period: timedelta = timedelta(hours=24)  # R18
    resolution: timedelta = timedelta(minutes=5)  # R15
    max_reading: float = MAX_READING  # R14: the target's documented maximum reading


@dataclass(frozen=True)
class Observed:
    """Everything read from the vendors for one run."""

    source: str
    vehicles: list[Vehicle]
    fixes: dict[str, list[Fix]]  # per vehicle id, history since the cursor plus the latest
    dtcs: list[Dtc]
    assets: list[Asset]
    defects: list[Defect]


@dataclass(frozen=True)
class Memory:
    """What the store remembers: per-asset marks and the defect ledger."""

    marks: dict[int, dict[str, Any]] = field(default_factory=dict)
    ledger: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PostLocation:
    """Write a position to an asset."""

    asset_id: int
    vehicle_id: str
    fix: Fix


@dataclass(frozen=True)
class PostMileage:
    """Write an odometer reading in the asset's own unit."""

    asset_id: int
    vehicle_id: str
    value: float
    unit: str
    miles: float
    at: datetime


@dataclass(frozen=True)
class PostDtc:
    """Open a defect for a DTC, or raise ``repeated_times`` of the open one."""

    asset_id: int
    vehicle_id: str
    dtc: Dtc
    repeat: bool


@dataclass(frozen=True)
class RecordDefect:
    """Store-only: remember an open defect the target already has (no vendor write)."""

    asset_id: int
    code: str
    defect: Defect
    last_occurrence: datetime


Action = PostLocation | PostMileage | PostDtc | RecordDefect


@dataclass
class Plan:
    """The outcome of ``plan``: writes in order, and everything not written with why."""

    actions: list[Action] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    matched: list[tuple[Vehicle, Asset]] = field(default_factory=list)
    unmatched: int = 0
    unchanged: int = 0

    def note(self, kind: str, reason: str, **detail: Any) -> None:
        """Record a skip, anomaly or warning."""
        self.notes.append(Note(kind, reason, detail))


def vendor_day(when: datetime) -> str:
    """The GPS Insight day (MST) an instant falls in."""
    return when.astimezone(MST).date().isoformat()


def match(observed: Observed, plan: Plan) -> list[tuple[Vehicle, Asset]]:
    """R10-R12: exact match on normalised VINs, one to one or nothing."""
    by_vin: dict[str, list[Vehicle]] = defaultdict(list)
    for vehicle in observed.vehicles:
        if vehicle.vin.matchable:
            by_vin[vehicle.vin.key].append(vehicle)
    assets_by_vin: dict[str, list[Asset]] = defaultdict(list)
    for asset in observed.assets:
        if asset.vin.matchable:
            assets_by_vin[asset.vin.key].append(asset)
    pairs = []
    for vehicle in observed.vehicles:
        detail = {"vehicle": vehicle.id, "label": vehicle.label, "vin": vehicle.vin.raw}
        if not vehicle.vin.matchable:
            plan.note("skip", "MISSING_VIN", **detail)
            plan.unmatched += 1
            continue
        targets = assets_by_vin.get(vehicle.vin.key, [])
        if len(by_vin[vehicle.vin.key]) > 1:
            plan.note("skip", "DUPLICATE_SOURCE", **detail)
        elif not targets:
            plan.note("skip", "UNMATCHED", **detail)
        elif len(targets) > 1:
            plan.note("skip", "DUPLICATE_TARGET", assets=[a.id for a in targets], **detail)
        else:
            if vehicle.vin.problems:
                plan.note("warning", "INVALID_VIN", problems=list(vehicle.vin.problems), **detail)
            pairs.append((vehicle, targets[0]))
            continue
        plan.unmatched += 1
    return pairs


def plan(observed: Observed, memory: Memory, settings: Settings, now: datetime) -> Plan:
    """Decide every write of a run. Pure: no I/O, no clock (``now`` is passed in)."""
    result = Plan()
    result.matched = match(observed, result)
    matched_vehicles = {v.id for v, _ in result.matched}
    dtcs_by_vehicle: dict[str, dict[str, Dtc]] = defaultdict(dict)
    for dtc in observed.dtcs:
        if dtc.vehicle_id not in matched_vehicles:
            result.note("skip", "DTC_UNMATCHED_VEHICLE", vehicle=dtc.vehicle_id, code=dtc.code)
            continue
        # R16: one report per identity, whatever its case, spacing or description.
        code = canonical_code(dtc.code)
        reports = dtcs_by_vehicle[dtc.vehicle_id]
        reports[code] = _merge_reports(reports.get(code), replace(dtc, code=code))
    defects = _defects_by_identity(observed.defects)
    for vehicle, asset in result.matched:
        mark = memory.marks.get(asset.id, {})
        fixes = observed.fixes.get(vehicle.id, [])
        _plan_locations(vehicle, asset, fixes, settings, result)
        _plan_odometer(vehicle, asset, fixes, mark, settings, result)
        for _, dtc in sorted(dtcs_by_vehicle.get(vehicle.id, {}).items()):
            _plan_dtc(vehicle, asset, dtc, defects, memory, settings, result)
    return result


def _merge_reports(known: Dtc | None, report: Dtc) -> Dtc:
    """Two reports of one identity as one: the latest occurrence, the whole span, every count."""
    if known is None:
        return report
    latest = report if report.last > known.last else known
    return replace(latest, first=min(known.first, report.first), count=known.count + report.count)


def _plan_locations(
    vehicle: Vehicle,
    asset: Asset,
    fixes: list[Fix],
    settings: Settings,
    result: Plan,
) -> None:
    """R15: only newer than the asset's location as observed in this run (what the engine
    wrote earlier never blocks a repair), valid coordinates, thinned to the resolution, in
    time order."""
    floor = asset.location_at
    valid = []
    for fix in sorted(fixes, key=lambda f: f.at):
        if fix.coordinates_valid:
            valid.append(fix)
        else:
            result.note("anomaly", "INVALID_COORDINATES", vehicle=vehicle.id, at=fix.at.isoformat())
    fresh = [f for f in valid if floor is None or f.at > floor]
    if not fresh:
        if valid and asset.location_at is not None and valid[-1].at < asset.location_at:
            result.note("skip", "STALE", vehicle=vehicle.id, asset=asset.id)
        elif valid:
            result.unchanged += 1
        return
    last_kept = floor
    for fix in fresh:
        thinned = last_kept is not None and fix.at - last_kept < settings.resolution
        if thinned and fix is not fresh[-1]:
            continue  # history: one point per resolution at most
        # The newest fix always goes: it is where the vehicle is now, and a parked vehicle
        # sends nothing later that could carry it (R2).
        result.actions.append(PostLocation(asset.id, vehicle.id, fix))
        last_kept = fix.at


def _plan_odometer(
    vehicle: Vehicle,
    asset: Asset,
    fixes: list[Fix],
    mark: dict[str, Any],
    settings: Settings,
    result: Plan,
) -> None:
    """R13/R14: the latest reading only, in the asset's unit, never backwards, never a leap."""
    readings = [f for f in fixes if f.odometer_mi is not None]
    if not readings:
        return
    latest = max(readings, key=lambda f: f.at)
    miles = float(latest.odometer_mi or 0.0)
    unit = asset.odometer_unit
    if unit not in ("mi", "km"):
        result.note("anomaly", "UNKNOWN_UNIT", vehicle=vehicle.id, asset=asset.id, unit=unit)
        return
    value = miles if unit == "mi" else miles * MILES_TO_KM
    if value > settings.max_reading:
        # The target would refuse it (R14): planned away, first reading included.
        result.note(
            "anomaly", "IMPLAUSIBLE", vehicle=vehicle.id, asset=asset.id, reading=value,
            maximum=settings.max_reading, unit=unit,
        )  # fmt: skip
        return
    current = asset.odometer
    if current is not None and abs(round(value, 1) - current) < ODOMETER_EPSILON:
        # R15: equal to what the asset holds now (as observed, not as last written).
        result.unchanged += 1
        return
    if current is not None and value < current:
        result.note(
            "anomaly", "ROLLBACK", vehicle=vehicle.id, asset=asset.id, reading=value,
            current=current, unit=unit,
        )  # fmt: skip
        return
    last_mi, last_at = mark.get("odometer_mi"), mark.get("odometer_at")
    if last_mi is not None and last_at is not None:
        days = max(1.0, (latest.at - last_at).total_seconds() / 86_400)
        if miles - last_mi > MAX_MILES_PER_DAY * days:
            result.note(
                "anomaly", "IMPLAUSIBLE", vehicle=vehicle.id, asset=asset.id,
                reading_mi=miles, last_mi=last_mi,
            )  # fmt: skip
            return
    result.actions.append(PostMileage(asset.id, vehicle.id, value, unit, miles, latest.at))


def _defects_by_identity(defects: Iterable[Defect]) -> dict[tuple[int, str], Defect]:
    """Per (asset, code): the open defect if there is one, else the latest resolved one."""
    chosen: dict[tuple[int, str], Defect] = {}
    for defect in defects:
        key = (defect.asset_id, canonical_code(defect.code))
        current = chosen.get(key)
        if current is None or (defect.is_open, defect.id) > (current.is_open, current.id):
            chosen[key] = defect
    return chosen


def _plan_dtc(
    vehicle: Vehicle,
    asset: Asset,
    dtc: Dtc,
    defects: dict[tuple[int, str], Defect],
    memory: Memory,
    settings: Settings,
    result: Plan,
) -> None:
    """R16-R19: one open defect per (asset, code); people own resolution."""
    detail = {"vehicle": vehicle.id, "asset": asset.id, "code": dtc.code}
    if dtc.last < settings.activated_at - settings.lookback:
        result.note("skip", "HISTORIC_DTC", **detail)
        return
    key = (asset.id, dtc.code)
    defect = defects.get(key)
    row = memory.ledger.get(key, {})
    seen = row.get("last_occurrence")
    if defect is not None and defect.is_open:
        if seen is not None and (dtc.last <= seen or row.get("posted_day") == vendor_day(dtc.last)):
            result.unchanged += 1
            return
        if seen is None and defect.updated_at is not None and dtc.last <= defect.updated_at:
            # The open defect already covers it (a lost reply, a lost ledger): remember it.
            result.unchanged += 1
            result.actions.append(RecordDefect(asset.id, dtc.code, defect, dtc.last))
            return
        result.actions.append(PostDtc(asset.id, vehicle.id, dtc, repeat=True))
        return
    if defect is not None:
        resolved_at = defect.updated_at or row.get("resolved_at")
        already_posted = seen is not None and dtc.last <= seen  # stale data never reopens
        if already_posted or (
            resolved_at is not None and dtc.last <= resolved_at + settings.quiet_period
        ):
            result.note("skip", "RESOLVED_RECENTLY", **detail)
            return
    elif row.get("defect_id") is not None and row.get("status") in OPEN_STATUSES:
        # R17: the ledger believes it open, a complete listing no longer shows it (the target
        # was reset or the defect deleted): open it again, and say so.
        result.note("warning", "DEFECT_MISSING", defect=row["defect_id"], **detail)
    result.actions.append(PostDtc(asset.id, vehicle.id, dtc, repeat=False))


def report_plan(result: Plan, report: Report) -> None:
    """Copy the plan's counts and notes into the run report."""
    report.counts["matched"] += len(result.matched)
    report.counts["unmatched"] += result.unmatched
    report.counts["unchanged"] += result.unchanged
    report.add_notes(result.notes)
