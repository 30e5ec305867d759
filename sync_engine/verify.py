"""The reconciliation oracle, pure half: is every entity the engine owns in step?

Drift is what the engine's own planner would write if it ran now: ``plan`` of each pipeline is
called on freshly observed data, and every target write it plans is a difference between
what the source says and what the target holds, classified by the action's kind (a planned
write = drift). So whatever the engine's rules refuse (a rollback, a DTC older than
activation, a stale fix, a duplicate VIN, an empty DriverID ...) is not drift: it is listed
with the plan's own reason and never counted, and right after a successful full run there
is no drift by construction (R1). Two things the planner does not look for are added:
duplicate open defects per (asset, code) and two live Driveri drivers for one portal driver.
Store-only actions (remember a defect, link a Driveri driver that already matches, release
a link) are not target differences: the first two are listed, the last is silent.

``verify_observe`` does the reading; this module does no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .model import DRIVERI_DELETED, Defect, DriveriDriver, canonical_code
from .reconcilers import drivers_plan, telematics_plan
from .reconcilers.drivers_plan import DriverAction, DriverLink, Scope

MISSING, STALE, DUPLICATE, ORPHAN = "missing", "stale", "duplicate", "orphan"
KINDS = (MISSING, STALE, DUPLICATE, ORPHAN)


@dataclass(frozen=True)
class Drift:
    """One entity out of step: its kind (missing | stale | duplicate | orphan), which entity
    (e.g. ``asset 12 odometer``, ``driver 7``) and what each side says."""

    kind: str
    entity: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": self.kind, "entity": self.entity, **self.detail}


@dataclass
class Verdict:
    """What one integration's check found: counted drift, listed (uncounted) notes, and
    ``error`` when it could not be verified (a read failed)."""

    pipeline: str
    integration: str
    drift: list[Drift] = field(default_factory=list)
    listed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def note(self, kind: str, reason: str, detail: dict[str, Any]) -> None:
        """List a skip, anomaly or warning (never counted as drift)."""
        self.listed.append({"kind": kind, "reason": reason, **detail})

    def counts(self) -> dict[str, int]:
        """Drift per kind (every kind present, zeros included)."""
        found = Counter(d.kind for d in self.drift)
        return {kind: found.get(kind, 0) for kind in KINDS}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "pipeline": self.pipeline,
            "integration": self.integration,
            "verified": self.error is None,
            "error": self.error,
            "drift_count": len(self.drift),
            "counts": self.counts(),
            "drift": [d.as_dict() for d in self.drift],
            "listed": list(self.listed),
        }


# -- telematics -> Whip Around ---------------------------------------------------------------


def telematics_drift(
    verdict: Verdict,
    observed: telematics_plan.Observed,
    memory: telematics_plan.Memory,
    settings: telematics_plan.Settings,
    now: datetime,
) -> telematics_plan.Plan:
    """Fill ``verdict`` from the telematics plan of ``observed`` (R10-R19) and the duplicate
    open defects of matched assets (R17). Returns the plan (for tests and callers)."""
    result = telematics_plan.plan(observed, memory, settings, now)
    for note in result.notes:
        verdict.note(note.kind, note.reason, note.detail)
    assets = {asset.id: asset for _, asset in result.matched}
    points: dict[int, list[datetime]] = defaultdict(list)  # history points: one entity
    for a in result.actions:
        if isinstance(a, telematics_plan.PostLocation):
            points[a.asset_id].append(a.fix.at)
    located: set[int] = set()
    for action in result.actions:
        if isinstance(action, telematics_plan.PostLocation):
            if action.asset_id in located:
                continue
            located.add(action.asset_id)
            at = assets[action.asset_id].location_at
            verdict.drift.append(
                Drift(
                    MISSING if at is None else STALE, f"asset {action.asset_id} location",
                    {"vehicle": action.vehicle_id, "target_at": _iso(at),
                     "source_at": _iso(max(points[action.asset_id])),
                     "points": len(points[action.asset_id])},
                )
            )  # fmt: skip
        elif isinstance(action, telematics_plan.PostMileage):
            held = assets[action.asset_id].odometer
            verdict.drift.append(
                Drift(
                    MISSING if held is None else STALE, f"asset {action.asset_id} odometer",
                    {"vehicle": action.vehicle_id, "target": held,
                     "source": round(action.value, 1), "unit": action.unit},
                )
            )  # fmt: skip
        elif isinstance(action, telematics_plan.PostDtc):
            # A repeat: the open defect exists but has not counted a newer occurrence (R17).
            verdict.drift.append(
                Drift(
                    STALE if action.repeat else MISSING,
                    f"asset {action.asset_id} defect {action.dtc.code}",
                    {"vehicle": action.vehicle_id, "last_occurrence": _iso(action.dtc.last)},
                )
            )
        else:  # RecordDefect: the target has it, only the engine's ledger lags
            verdict.note(
                "warning", "NOT_IN_LEDGER",
                {"asset": action.asset_id, "code": action.code, "defect": action.defect.id},
            )  # fmt: skip
    verdict.drift.extend(duplicate_defects(observed.defects, set(assets)))
    return result


def duplicate_defects(defects: list[Defect], owned_assets: set[int]) -> list[Drift]:
    """R17: more than one open defect for one (asset, canonical code) of a matched asset."""
    open_by_identity: dict[tuple[int, str], list[int]] = defaultdict(list)
    for defect in defects:
        if defect.is_open and defect.asset_id in owned_assets:
            open_by_identity[(defect.asset_id, canonical_code(defect.code))].append(defect.id)
    return [
        Drift(DUPLICATE, f"asset {asset_id} defect {code}", {"defects": sorted(ids)})
        for (asset_id, code), ids in sorted(open_by_identity.items())
        if len(ids) > 1
    ]


# -- drivers: GPS portal -> Driveri ----------------------------------------------------------

DRIVER_DRIFT = {
    drivers_plan.CREATE: MISSING,
    drivers_plan.ADOPT: STALE,  # an unlinked Driveri driver of this DriverID that differs
    drivers_plan.UPDATE: STALE,
    drivers_plan.RENAME: STALE,
    drivers_plan.DELETE: ORPHAN,
}


def driver_drift(
    verdict: Verdict,
    observed: drivers_plan.Observed,
    listing: list[DriveriDriver],
    links: dict[int, DriverLink],
    enabled: bool,
) -> drivers_plan.Plan:
    """Fill ``verdict`` from the drivers full-reconcile plan (R20-R24, R6) and the live
    Driveri drivers that one portal driver's DriverID names more than once (letter case
    aside). ``listing`` is the complete Driveri listing ``observed.driveri`` was made from.
    With Driver Sync off the engine may write nothing (R25): nothing is counted."""
    result = drivers_plan.plan(observed, links, Scope())
    if not enabled:
        verdict.note("warning", "DRIVER_SYNC_OFF", {"message": "Driver Sync is off: not counted"})
        return result
    for note in result.notes:
        verdict.note(note.kind, note.reason, note.detail)
    # A run the mass-delete guard stops writes nothing, yet Driveri still differs from the
    # portal: what it withheld is drift until someone confirms the deletes (R6).
    for action in result.actions or result.withheld:
        kind = DRIVER_DRIFT.get(action.kind)
        if kind is None or (action.kind == drivers_plan.ADOPT and not action.fields):
            if action.kind == drivers_plan.ADOPT:  # matches already, only the link is missing
                verdict.note(
                    "warning", "NOT_LINKED",
                    {"portal_id": action.portal_id, "driver_id": action.driver_id},
                )  # fmt: skip
            continue
        verdict.drift.append(Drift(kind, f"driver {action.portal_id}", _driver_detail(action)))
    verdict.drift.extend(duplicate_drivers(observed, listing, result))
    return result


def duplicate_drivers(
    observed: drivers_plan.Observed, listing: list[DriveriDriver], result: drivers_plan.Plan
) -> list[Drift]:
    """Two or more live Driveri drivers whose driverIds differ only in letter case, named by
    one synced portal driver (R20 compares without case: one portal driver, two targets)."""
    skipped = {n.detail.get("portal_id") for n in result.notes if n.kind == "skip"}
    live: dict[str, list[str]] = defaultdict(list)
    for d in listing:
        if d.key and d.status != DRIVERI_DELETED:
            live[d.key].append(d.driver_id)
    found = []
    for p in sorted(observed.portal, key=lambda p: p.id):
        ids = live.get(p.key, []) if p.key else []
        if len(ids) > 1 and p.id not in skipped:
            found.append(Drift(DUPLICATE, f"driver {p.id}", {"driver_ids": sorted(ids)}))
    return found


def _driver_detail(action: DriverAction) -> dict[str, Any]:
    detail: dict[str, Any] = {"portal_id": action.portal_id, "driver_id": action.driver_id}
    if action.old_driver_id is not None:
        detail["target_driver_id"] = action.old_driver_id
    if action.kind == drivers_plan.DELETE:
        detail["source"] = "deleted in the portal"  # while the linked driver is still live
    elif action.fields:
        detail["fields"] = dict(action.fields)  # what the portal says (phone: vs last pushed)
    return detail


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
