"""Telematics (GPS Insight / Wex) -> Whip Around: location, odometer and DTC defects.

``plan`` (in ``telematics_plan``, re-exported here) is pure and decides every write and skip
(R10-R19); ``observe`` and ``apply`` here do the I/O around it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from ..clients.base import AuthError, QuotaError, VendorError
from ..clients.gpsinsight import GpsInsightClient
from ..clients.whiparound import WhipAroundClient
from ..model import Asset, Defect, Dtc, Fix, Vehicle
from ..report import Report
from ..store import Store
from ..store.store import Batch
from .telematics_plan import (
    MAX_MILES_PER_DAY,
    MST,
    ODOMETER_EPSILON,
    Action,
    Memory,
    Observed,
    Plan,
    PostDtc,
    PostLocation,
    PostMileage,
    RecordDefect,
    Settings,
    match,
    plan,
    report_plan,
    vendor_day,
)

__all__ = [
    "HISTORY_CURSOR", "MAX_MILES_PER_DAY", "MST", "ODOMETER_EPSILON", "Action", "Memory",
    "Observed", "Plan", "PostDtc", "PostLocation", "PostMileage", "RecordDefect", "Settings",
    "apply", "match", "observe", "plan", "report_plan", "vendor_day",
]  # fmt: skip


HISTORY_CURSOR = "history"
DTC_WINDOW = timedelta(days=2)


def observe(
    source: GpsInsightClient,
    target: WhipAroundClient,
    source_name: str,
    store: Store,
    settings: Settings,
    now: datetime,
    report: Report,
    concurrency: int = 4,
) -> Observed:
    """Read both sides. Vehicles, assets and defects must all be read; history and DTCs
    failing make the run PARTIAL and write nothing that depends on them."""
    vehicles = source.vehicles()
    latest = {fix.vehicle_id: fix for fix in source.latest_fixes()}
    assets = target.assets()
    defects = target.defects()
    report.counts["read"] += len(vehicles)
    scratch = Plan()
    pairs = match(
        Observed(source_name, vehicles, {}, [], assets, []), scratch
    )  # which vehicles need their history
    cursor = store.cursor(source_name, HISTORY_CURSOR)
    # History starts at activation (R15), then where the last complete run left off.
    resume = datetime.fromisoformat(cursor) if cursor else settings.activated_at
    start = max(settings.activated_at, resume)
    fixes: dict[str, list[Fix]] = {v.id: [latest[v.id]] if v.id in latest else [] for v in vehicles}

    def needs_history(vehicle: Vehicle, asset: Asset) -> bool:
        # Only a gap wider than the resolution between what the asset already has and the
        # latest fix can hold a point worth posting; otherwise the latest fix says it all.
        newest = latest.get(vehicle.id)
        if newest is None:
            return False
        known = [start, asset.location_at]  # R15: as observed, not as last written
        floor = max(t for t in known if t is not None)
        return newest.at - floor > settings.resolution

    def fetch(vehicle: Vehicle) -> tuple[str, list[Fix]]:
        return vehicle.id, source.history(vehicle.id, start, now) if start < now else []

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [
            pool.submit(fetch, vehicle) for vehicle, asset in pairs if needs_history(vehicle, asset)
        ]
        for future in futures:
            try:
                vehicle_id, history = future.result()
            except (AuthError, QuotaError):
                raise
            except VendorError as exc:
                report.reads_failed = True
                report.failure("history", exc)
                continue
            fixes[vehicle_id] = sorted(
                {f.at: f for f in [*history, *fixes[vehicle_id]]}.values(), key=lambda f: f.at
            )
    dtcs: list[Dtc] = []
    try:
        dtcs = source.dtcs(
            max(settings.activated_at - settings.lookback, now - DTC_WINDOW),
            now,
            {v.serial: v.id for v in vehicles if v.serial},
        )
    except (AuthError, QuotaError):
        raise
    except VendorError as exc:
        report.reads_failed = True
        report.failure("dtc", exc)
    return Observed(source_name, vehicles, fixes, dtcs, assets, defects)


def apply(
    actions: list[Action],
    target: WhipAroundClient,
    store: Store,
    source_name: str,
    report: Report,
    now: datetime,
    concurrency: int = 4,
) -> bool:
    """Run the writes, asset by asset (in order within an asset, assets in parallel), and
    record the successes in the store. Returns True when every write succeeded."""
    by_asset: dict[int, list[Action]] = defaultdict(list)
    for action in actions:
        by_asset[action.asset_id].append(action)
    stop = threading.Event()
    lock = threading.Lock()
    all_ok = True

    def run(asset_actions: list[Action]) -> None:
        # One transaction per asset for its bookkeeping: if the engine dies before it commits,
        # the next run finds the writes on the target (plan checks open defects), so a
        # replay repeats no DTC post.
        with store.batch() as book:
            write_all(asset_actions, book)

    def write_all(asset_actions: list[Action], book: Batch) -> None:
        nonlocal all_ok
        for action in asset_actions:
            if stop.is_set():
                return
            try:
                counted = _apply_one(action, target, book, source_name, now)
            except (AuthError, QuotaError) as exc:
                stop.set()
                with lock:
                    all_ok = False
                    report.auth_failed |= isinstance(exc, AuthError)
                    report.quota_hit |= isinstance(exc, QuotaError)
                    report.failure("write", exc, asset=action.asset_id)
                return
            except VendorError as exc:
                with lock:
                    all_ok = False
                    report.failure("write", exc, asset=action.asset_id)
                continue  # R6a: a refused write affects only itself
            with lock:
                if counted:
                    report.counts[counted] += 1
                    report.writes += 1

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(run, group) for group in by_asset.values()]:
            future.result()
    return all_ok


def _apply_one(
    action: Action, target: WhipAroundClient, store: Store | Batch, source_name: str, now: datetime
) -> str | None:
    """One write and its bookkeeping; returns the count it adds to (None: store only)."""
    if isinstance(action, PostLocation):
        fix = action.fix
        target.post_location(action.asset_id, fix.latitude, fix.longitude, fix.at)
        store.save_mark(action.asset_id, source_name, action.vehicle_id, last_fix_at=fix.at)
        return "updated"
    if isinstance(action, PostMileage):
        target.post_mileage(action.asset_id, action.value, action.unit, action.at)
        store.save_mark(
            action.asset_id,
            source_name,
            action.vehicle_id,
            odometer_mi=action.miles,
            odometer_at=action.at,
        )
        return "updated"
    if isinstance(action, RecordDefect):
        store.save_ledger(
            action.asset_id,
            action.code,
            now,
            defect_id=action.defect.id,
            status=action.defect.status,
            last_occurrence=action.last_occurrence,
        )
        return None
    dtc = action.dtc
    try:
        defect = target.post_dtc_defect(action.asset_id, dtc.code, dtc.description, dtc.last)
    except VendorError as exc:
        # No answer at all (the client's UnconfirmedWrite): the write may still have landed.
        # If the target shows it did, remember it, or the next run would repeat it the same
        # vendor day (R17). The run still reports the failed call.
        landed = (
            _landed_defect(target, action.asset_id, dtc.code, now) if exc.status is None else None
        )
        if landed is not None:
            _remember_post(store, action, landed, now)
        raise
    _remember_post(store, action, defect, now)
    return "updated" if action.repeat else "created"


def _landed_defect(
    target: WhipAroundClient, asset_id: int, code: str, now: datetime
) -> Defect | None:
    """The open defect of (asset, code) if it was created or repeated during this run."""
    try:
        defects = target.defects(asset_id)
    except VendorError:
        return None
    since = now.replace(microsecond=0)  # the vendor stamps whole seconds
    for defect in defects:
        if (
            defect.code == code
            and defect.is_open
            and defect.updated_at is not None
            and defect.updated_at >= since
        ):
            return defect
    return None


def _remember_post(store: Store | Batch, action: PostDtc, defect: Defect, now: datetime) -> None:
    store.save_ledger(
        action.asset_id,
        action.dtc.code,
        now,
        defect_id=defect.id,
        status=defect.status,
        last_occurrence=action.dtc.last,
        posted_day=vendor_day(action.dtc.last),
    )
