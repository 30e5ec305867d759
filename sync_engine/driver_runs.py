"""The drivers pipeline's runs (GPS portal -> Driveri), a mixin of the Engine.

Two ways in, one lease per Driveri integration ("drivers", name): ``sync_drivers`` is the
full reconcile (manual, daily, and the first time Driver Sync is seen on, R25), and
``apply_driver_events`` applies the webhook events waiting in the store's inbox (R26).
Both read the portal's Driver Sync setting first (R25) and record a run with its report (R7).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clients.base import AuthError, QuotaError, VendorError
from .clients.driveri import DriveriClient
from .clients.gpsinsight import GpsInsightClient
from .reconcilers import drivers
from .reconcilers.drivers import DriveriTarget, DriverReport, PortalSource
from .reconcilers.drivers_plan import Observed, Scope, plan
from .report import FAILED, Report
from .store import Lease, LeaseKeeper, LeaseLost, RunBusy, Store
from .store.drivers import APPLIED, DROPPED
from .store.drivers import FAILED as EVENT_FAILED

PIPELINE = "drivers"
PORTAL_KINDS = ("gpsinsight", "wex")
SYNC_OFF = "Driver Sync is off"

# One run's work: (report, portal client, Driveri client, checkpoint).
Work = Callable[[DriverReport, PortalSource, DriveriTarget, Callable[[], None]], object]


class DriverRuns:
    """Driver runs; the Engine supplies the store, clock, owner, lease ttl and clients."""

    store: Store
    clock: Callable[[], datetime]
    owner: str
    lease_ttl: timedelta

    if TYPE_CHECKING:

        def source_client(
            self, row: dict[str, Any], keeper: LeaseKeeper | None = None
        ) -> GpsInsightClient: ...

        def driveri_client(
            self, row: dict[str, Any], tenant: str, keeper: LeaseKeeper | None = None
        ) -> DriveriClient: ...

    # -- entry points ------------------------------------------------------------------------

    def sync_drivers(
        self, integration: str | None = None, *, full: bool = True, dry_run: bool = False
    ) -> list[Report]:
        """A full reconcile per Driveri integration (or the one named, by its own name or its
        portal's). ``full=False`` applies only the pending webhook events instead. A dry run
        plans and reports, and writes nothing but the run record."""
        runs: list[Report] = []
        for row, pairing, portal in self.driver_integrations(integration):
            if not full:
                report = self.apply_driver_events(row["name"])
                runs.extend([report] if report is not None else [])
                continue
            work = functools.partial(
                self._reconcile, row["name"], seen=pairing["sync_seen_on"], dry_run=dry_run
            )
            report = self._drivers_run(row, pairing, portal, work)
            if report is None:
                report = DriverReport(PIPELINE, row["name"])
                report.error("lock", f"a run of {PIPELINE}:{row['name']} is already in progress")
            runs.append(report)
        return runs

    def apply_driver_events(self, driveri: str) -> Report | None:
        """Apply the pairing's pending webhook events under the drivers lease (R26). None
        when nothing was done: no event pending, or the lease busy (events stay pending)."""
        ((row, pairing, portal),) = self.driver_integrations(driveri, by_portal=False)
        events = [e for e in self.store.inbox_pending(1000) if e["portal"] == portal["name"]]
        if not events:
            return None

        def work(
            report: DriverReport,
            source: PortalSource,
            target: DriveriTarget,
            checkpoint: Callable[[], None],
        ) -> None:
            report.detail["events"] = len(events)
            self._apply_events(row["name"], pairing, events, report, source, target, checkpoint)

        return self._drivers_run(row, pairing, portal, work)

    def check_driver_sync(self, driveri: str) -> Report | None:
        """R25 between events: read the portal's Driver Sync setting (a login and one read).
        Turned on since last seen (first activation included): the adopt-first full
        reconcile runs now, not at the next driver event or daily reconcile. Turned off:
        remembered, so turning it on again is seen as a change. None when nothing changed or
        the portal could not be read (the daily reconcile and the events still check it)."""
        ((row, pairing, portal),) = self.driver_integrations(driveri, by_portal=False)
        source = self.source_client(portal)
        source.vendor, source.integration = portal["kind"], portal["name"]
        try:
            enabled = source.driver_sync_enabled()
        except VendorError:
            return None
        if enabled and not pairing["sync_seen_on"]:
            return self.sync_drivers(row["name"])[0]
        if not enabled and pairing["sync_seen_on"]:
            self.store.save_sync_seen(row["name"], False, self.clock())
        return None

    def driver_integrations(
        self, integration: str | None = None, *, by_portal: bool = True
    ) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        """(Driveri integration, pairing, portal integration) for every paired Driveri
        integration, or only the one named (its name, or its portal's when ``by_portal``)."""
        from .engine import ConfigError  # engine.py imports this module

        rows = self.store.integrations("driveri")
        if not rows:
            raise ConfigError(
                "no Driveri integration: add one with `fleetsim integrations add driveri`"
            )
        found = []
        for row in rows:
            pairing = self.store.pairing(row["name"])
            names = {row["name"], pairing["portal"] if pairing and by_portal else row["name"]}
            if integration is not None and integration not in names:
                continue
            if pairing is None:
                raise ConfigError(f"Driveri integration {row['name']!r} is paired with no portal")
            portal = self.store.integration(pairing["portal"])
            if portal is None or portal["kind"] not in PORTAL_KINDS:
                raise ConfigError(
                    f"Driveri integration {row['name']!r}: its portal integration "
                    f"{pairing['portal']!r} is missing or not GPS Insight / Wex"
                )
            found.append((row, pairing, portal))
        if not found:
            raise ConfigError(f"no Driveri integration named {integration!r}")
        return found

    # -- one run -----------------------------------------------------------------------------

    def _drivers_run(
        self,
        row: dict[str, Any],
        pairing: dict[str, Any],
        portal: dict[str, Any],
        work: Work,
    ) -> DriverReport | None:
        """Take the lease, build the clients, do ``work``, record the run. None: busy."""
        name = row["name"]
        report = DriverReport(PIPELINE, name)
        try:
            lease: Lease = self.store.start_leased_run(
                PIPELINE, name, self.owner, self.clock(), self.lease_ttl
            )
        except RunBusy:
            return None
        keeper = LeaseKeeper(self.store, lease, self.clock, self.lease_ttl)
        source = self.source_client(portal, keeper)
        source.vendor, source.integration = portal["kind"], portal["name"]
        target = self.driveri_client(row, pairing["tenant"], keeper)
        target.integration = name
        try:
            work(report, source, target, keeper.checkpoint)
        except LeaseLost as exc:  # taken over: stop here, the new holder redoes what is left
            report.error("lease", str(exc))
        except Exception as exc:
            # A bug, not a vendor's answer: the run is recorded as failed (by the error's type
            # only: its text is nobody's to vet for secrets) and the caller sees the exception.
            report.nothing_read = report.counts["read"] == 0
            report.error("run", f"unexpected {type(exc).__name__}: see the engine's log")
            raise
        finally:
            report.requests = source.requests_made + target.requests_made
            for client in (source, target):
                report.vendors[client.vendor] = client.stats()
            self.store.finish_leased_run(
                keeper.lease, report.outcome, report.as_dict(), self.clock()
            )
        return report

    def _reconcile(
        self,
        name: str,
        report: DriverReport,
        source: PortalSource,
        target: DriveriTarget,
        checkpoint: Callable[[], None],
        *,
        seen: bool | None,
        dry_run: bool = False,
        enabled: bool | None = None,
    ) -> bool:
        """A full reconcile (R25 toggle first, unless the caller just read it). Returns True
        when both sides were read completely and the plan was applied (or, dry, reported)."""
        if enabled is None:
            enabled = _read(report, source.driver_sync_enabled)
            if enabled is None:
                return False
        if not enabled:
            report.warn("DRIVER_SYNC_OFF", message=f"{SYNC_OFF} in the portal: nothing written")
            if not dry_run:
                self.store.save_sync_seen(name, False, self.clock())
                return True
            # A dry run plans what turning it on would do (what an admin checks first).
        report.detail["first_activation"] = not seen or not enabled
        observed = _read(report, lambda: drivers.observe(source, target))
        if observed is None:
            return False
        links = drivers.links_of(self.store, name)
        result = plan(observed, links, Scope())
        drivers.report_plan(result, report, len(observed.portal))
        if result.halted:
            return False
        if dry_run:
            report.planned = drivers.planned(result)
            return True
        now = self.clock()
        drivers.apply(result.actions, target, self.store, name, report, now, checkpoint)
        drivers.record_versions(result, observed, links, Scope(), self.store, name, now)
        if not report.auth_failed and not report.quota_hit:
            self.store.save_sync_seen(name, True, now)  # R25: seen on, adopt-first done
        return True

    def _apply_events(
        self,
        name: str,
        pairing: dict[str, Any],
        events: list[dict[str, Any]],
        report: DriverReport,
        source: PortalSource,
        target: DriveriTarget,
        checkpoint: Callable[[], None],
    ) -> None:
        """R25 then R26 for a batch of events, each marked with what became of it."""

        def mark(batch: list[dict[str, Any]], status: str, detail: str = "") -> None:
            now = self.clock()
            for event in batch:
                self.store.inbox_mark(event["event_id"], status, now, detail)

        enabled = _read(report, source.driver_sync_enabled)
        if enabled is None:
            mark(events, EVENT_FAILED, _first_error(report))
            return
        if not enabled or not pairing["sync_seen_on"]:
            # Off: events dropped, nothing written. On for the first time: the adopt-first
            # full reconcile stands for them (R25).
            done = self._reconcile(
                name, report, source, target, checkpoint, seen=pairing["sync_seen_on"],
                enabled=enabled,
            )  # fmt: skip
            if not enabled:
                mark(events, DROPPED, SYNC_OFF)
            else:
                failure = "" if done else _first_error(report)
                mark(events, APPLIED if done else EVENT_FAILED, failure)
            return
        links = drivers.links_of(self.store, name)
        live: list[dict[str, Any]] = []
        for event in events:
            link = links.get(event["portal_id"]) if event["portal_id"] is not None else None
            version = event["version"]
            if event["portal_id"] is None:
                mark([event], DROPPED, "the event names no driver")
            elif link is not None and version is not None and version < link.version:
                detail = f"version {version} is older than the applied version {link.version}"
                report.skip(
                    "STALE_EVENT", event_id=event["event_id"], portal_id=event["portal_id"],
                    version=version, applied=link.version,
                )  # fmt: skip
                mark([event], DROPPED, detail)
            else:
                live.append(event)
        if not live:
            return
        ids = {int(e["portal_id"]) for e in live}
        observed: Observed | None = _read(
            report, lambda: drivers.observe_scope(source, target, links, ids)
        )
        if observed is None:
            mark(live, EVENT_FAILED, _first_error(report))
            return
        scope = Scope(frozenset(ids))
        result = plan(observed, links, scope)
        drivers.report_plan(result, report, sum(1 for p in observed.portal if p.id in ids))
        if result.halted:
            mark(live, EVENT_FAILED, f"{result.halted}: nothing written")
            return
        now = self.clock()
        failed = drivers.apply(result.actions, target, self.store, name, report, now, checkpoint)
        drivers.record_versions(result, observed, links, scope, self.store, name, now)
        for event in live:
            if event["portal_id"] in failed:
                mark([event], EVENT_FAILED, _first_error(report, event["portal_id"]))
            else:
                mark([event], APPLIED)


def _read(report: Report, call: Callable[[], Any]) -> Any:
    """A read the run cannot do without: its failure is recorded (credentials refused or
    nothing read: FAILED; a quota: PARTIAL) and None returned."""
    try:
        return call()
    except AuthError as exc:
        report.auth_failed = True
        report.failure("read", exc)
    except QuotaError as exc:
        report.quota_hit = True
        report.failure("read", exc)
    except VendorError as exc:
        report.reads_failed = report.nothing_read = True
        report.failure("read", exc)
    return None


def _first_error(report: Report, portal_id: int | None = None) -> str:
    """The message of the run's first error (about ``portal_id`` when given)."""
    for error in report.errors:
        if portal_id is None or error.get("portal_id") == portal_id:
            return str(error["message"])
    return FAILED
