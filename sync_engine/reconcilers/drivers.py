"""Drivers (GPS portal -> Driveri): the I/O half.

``plan`` (in ``drivers_plan``) is pure and decides every Driveri write and skip (R20-R24, R6);
``observe`` reads both sides for it, ``apply`` makes the writes and keeps the store's links
(R21) current after each one (R5), and ``report_plan`` copies the plan into the run report
(R7). The Driver Sync toggle (R25) and event versions (R26) are the engine's to check
(``sync_engine.driver_runs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..clients.base import AuthError, QuotaError, VendorError
from ..model import DRIVERI_DELETED, DriveriDriver, PortalDriver, driver_key
from ..report import Report
from ..store import Store
from .drivers_plan import (
    ADOPT,
    CREATE,
    DELETE,
    RELEASE,
    RENAME,
    UPDATE,
    DriverAction,
    DriverLink,
    Observed,
    Plan,
    Scope,
)

MATCHED_KINDS = (ADOPT, RENAME, UPDATE)  # a portal driver that has its Driveri driver


class PortalSource(Protocol):
    """What the drivers pipeline reads from the GPS Insight / Wex portal."""

    def drivers(self) -> list[PortalDriver]:
        """Every live driver of the account (driver/list, never by ``driver``)."""
        ...

    def driver_sync_enabled(self) -> bool:
        """The account's Driver Sync setting."""
        ...


class DriveriTarget(Protocol):
    """What the drivers pipeline reads from and writes to a Driveri tenant."""

    def drivers(self, show_all: bool = True) -> list[DriveriDriver]:
        """Every driver of the tenant (soft-deleted ones with ``show_all``)."""
        ...

    def driver(self, driver_id: str) -> DriveriDriver | None:
        """One driver by its exact driverId; None when there is none."""
        ...

    def create(self, driver_id: str, fields: dict[str, Any], reinstate: bool = False) -> Any:
        """Add a driver."""
        ...

    def update(self, driver_id: str, fields: dict[str, Any]) -> Any:
        """A partial update of one driver (a rename when ``fields`` holds a new driverId)."""
        ...


@dataclass
class DriverReport(Report):
    """A drivers run's report: the counts of R7 plus ``deleted``, the run's details
    (first_activation, events) and, for a dry run, the planned actions."""

    detail: dict[str, Any] = field(default_factory=dict)
    planned: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = super().as_dict()
        data["counts"]["deleted"] = self.counts.get("deleted", 0)
        data["detail"] = dict(self.detail)
        if self.planned is not None:
            data["planned"] = list(self.planned)
        return data


# -- observe ---------------------------------------------------------------------------------


def links_of(store: Store, driveri: str) -> dict[int, DriverLink]:
    """The store's links of one Driveri integration, as the plan takes them."""
    return {
        row["portal_id"]: DriverLink(
            row["portal_id"], row["driveri_id"], row["phone"], int(row["version"] or 0)
        )
        for row in store.driver_links(driveri)
    }


def by_key(drivers: Iterable[DriveriDriver]) -> dict[str, DriveriDriver]:
    """Driveri drivers by ``driver_key``; of two ids differing only in letter case the live
    one wins (the first listed when both are)."""
    found: dict[str, DriveriDriver] = {}
    for d in drivers:
        if not d.key:
            continue
        kept = found.get(d.key)
        if kept is None or (kept.status == DRIVERI_DELETED and d.status != DRIVERI_DELETED):
            found[d.key] = d
    return found


def observe(portal: PortalSource, target: DriveriTarget) -> Observed:
    """A full reconcile's reads: every live portal driver and every Driveri driver (showAll),
    both complete listings (R6)."""
    return Observed(portal.drivers(), by_key(target.drivers(show_all=True)))


def observe_scope(
    portal: PortalSource, target: DriveriTarget, links: dict[int, DriverLink], ids: set[int]
) -> Observed:
    """An event batch's reads: the whole portal listing (a key is checked for duplicates
    across the account) and only the Driveri drivers the scope names, one exact lookup each.
    A lookup that finds nothing falls back on the complete listing: Driveri looks ids up
    with their letter case, R20 compares them without it, and only a complete listing may
    say a driver does not exist (R6)."""
    drivers = portal.drivers()
    wanted = {(p.driveri_id or "").strip() for p in drivers if p.id in ids and p.key}
    wanted |= {links[i].driveri_id for i in ids if i in links}
    found: list[DriveriDriver] = []
    for driver_id in sorted(wanted):
        d = target.driver(driver_id)
        if d is None:
            return Observed(drivers, by_key(target.drivers(show_all=True)))
        found.append(d)
    return Observed(drivers, by_key(found))


# -- report ----------------------------------------------------------------------------------


def report_plan(result: Plan, report: Report, read: int) -> None:
    """Copy the plan's counts and notes into the run report; a halted plan is an error."""
    kinds = [a.kind for a in result.actions]
    report.counts["read"] += read
    report.counts["matched"] += result.unchanged + sum(kinds.count(k) for k in MATCHED_KINDS)
    report.counts["unmatched"] += kinds.count(CREATE)
    report.counts["unchanged"] += result.unchanged
    report.add_notes(result.notes)
    if result.halted:
        report.error("plan", f"{result.halted}: the run stopped before writing anything")


def planned(result: Plan) -> list[dict[str, Any]]:
    """The plan's actions as data (what a dry run prints)."""
    rows = []
    for a in result.actions:
        row: dict[str, Any] = {"kind": a.kind, "portal_id": a.portal_id, "driver_id": a.driver_id}
        if a.old_driver_id is not None:
            row["old_driver_id"] = a.old_driver_id
        row["fields"] = dict(a.fields)
        rows.append(row)
    return rows


# -- apply -----------------------------------------------------------------------------------


def apply(
    actions: list[DriverAction],
    target: DriveriTarget,
    store: Store,
    driveri: str,
    report: Report,
    now: datetime,
    checkpoint: Callable[[], None],
) -> set[int]:
    """Make the writes in plan order, each link change saved right after its write (R5).
    A refused write affects only itself (R6a); refused credentials or a spent quota stop
    the rest. A write whose answer was lost is settled by the client (it reads the driver
    back); one still unknown is an error here, and the next run finds the driver (R21a).
    Returns the portal ids whose action failed or was not attempted."""
    failed: set[int] = set()
    for n, action in enumerate(actions):
        checkpoint()  # a run that lost its lease writes nothing more
        try:
            counted = _apply_one(action, target, store, driveri, now)
        except (AuthError, QuotaError) as exc:
            report.auth_failed |= isinstance(exc, AuthError)
            report.quota_hit |= isinstance(exc, QuotaError)
            report.failure("write", exc, portal_id=action.portal_id, action=action.kind)
            failed |= {a.portal_id for a in actions[n:]}
            break
        except VendorError as exc:
            report.failure("write", exc, portal_id=action.portal_id, action=action.kind)
            failed.add(action.portal_id)
            continue
        except ValueError as exc:  # the store refused a second link to one Driveri driver
            report.error("link", str(exc), portal_id=action.portal_id, action=action.kind)
            failed.add(action.portal_id)
            continue
        if counted:
            report.counts[counted] += 1
            report.writes += 1
    return failed


def _apply_one(
    a: DriverAction, target: DriveriTarget, store: Store, driveri: str, now: datetime
) -> str | None:
    """One action and its bookkeeping; returns the count it adds to (None: store only)."""

    def link(driver_id: str, phone: str | None, version: int) -> None:
        store.save_link(driveri, a.portal_id, driver_id, phone=phone, version=version, now=now)

    if a.kind == CREATE:
        target.create(a.driver_id, a.fields)
        link(a.driver_id, a.phone, a.version)
        return "created"
    if a.kind == ADOPT:
        if not a.fields:
            link(a.driver_id, a.phone, a.version)
            return None
        # R21a: linked before it is written, so a crash in between leaves it adopted; the
        # phone and version are recorded only once the write took.
        link(a.driver_id, None, 0)
        target.update(a.driver_id, a.fields)
        link(a.driver_id, a.phone, a.version)
        return "updated"
    if a.kind == UPDATE:
        target.update(a.driver_id, a.fields)
        link(a.driver_id, a.phone, a.version)
        return "updated"
    if a.kind == RENAME:
        body = {"driverId": a.driver_id, **a.fields}
        target.update(a.old_driver_id or "", body)
        link(a.driver_id, a.phone, a.version)
        return "updated"
    if a.kind == DELETE:
        target.update(a.driver_id, a.fields)
        store.release_link(driveri, a.portal_id)
        return "deleted"
    if a.kind == RELEASE:
        store.release_link(driveri, a.portal_id)
        return None
    raise ValueError(f"unknown driver action {a.kind!r}")


def record_versions(
    result: Plan,
    observed: Observed,
    links: dict[int, DriverLink],
    scope: Scope,
    store: Store,
    driveri: str,
    now: datetime,
) -> None:
    """R26: remember the version of every linked driver the plan found already in step (no
    action, no note), so an older event about it is dropped later."""
    acted = {a.portal_id for a in result.actions}
    noted = {n.detail.get("portal_id") for n in result.notes}
    for p in observed.portal:
        link = links.get(p.id)
        if (
            link is None
            or p.id in acted
            or p.id in noted
            or not (scope.full or p.id in (scope.portal_ids or frozenset()))
            or driver_key(link.driveri_id) != p.key
            or p.version == link.version
        ):
            continue
        store.save_link_version(driveri, p.id, p.version, now)
