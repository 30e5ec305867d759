"""Runs pipelines: one run at a time per integration (a lease, renewed while the run works:
see store/leases.py), a report for every run (R7)."""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from .clients.base import AuthError, QuotaError, RetryPolicy, VendorError, _session
from .clients.driveri import DriveriClient
from .clients.gpsinsight import GpsInsightClient
from .clients.whiparound import WhipAroundClient
from .driver_runs import DriverRuns
from .reconcilers import telematics
from .report import FAILED, Report
from .store import LeaseKeeper, LeaseLost, RunBusy, Store

TELEMATICS_KINDS = ("gpsinsight", "wex")
DEFAULT_LEASE_TTL = timedelta(seconds=30)


class ConfigError(Exception):
    """The engine is not set up for what was asked (say which integration is missing)."""


def lease_ttl_from_env() -> timedelta:
    """``FLEETSIM_LEASE_TTL_S`` (seconds, > 0), or 30 s: how long a run's lease outlives its
    last renewal, so how soon a killed run's integration can be synced again."""
    raw = os.environ.get("FLEETSIM_LEASE_TTL_S")
    if not raw:
        return DEFAULT_LEASE_TTL
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:
        raise ConfigError(f"FLEETSIM_LEASE_TTL_S must be seconds between 0 and 86400, not {raw!r}")
    return timedelta(seconds=seconds)


class _CheckpointSession(requests.Session):
    """A client session that passes the run's safe point before every request."""

    def __init__(self, checkpoint: Callable[[], None]) -> None:
        super().__init__()
        template = _session()  # the same proxy and CA settings as every client's
        self.trust_env, self.proxies, self.verify = (
            template.trust_env, template.proxies, template.verify,
        )  # fmt: skip
        self.checkpoint = checkpoint

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.checkpoint()
        return super().request(method, url, *args, **kwargs)


class Engine(DriverRuns):
    """The sync engine over one store. Time and sleeping are injected for tests. The
    drivers pipeline's runs come from ``DriverRuns`` (driver_runs.py)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        concurrency: int = 4,
        lease_ttl: timedelta | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.concurrency = concurrency
        self.lease_ttl = lease_ttl or lease_ttl_from_env()
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}-{uuid.uuid4().hex[:8]}"

    # -- clients -----------------------------------------------------------------------------

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(rng=self.rng)

    def _hooks(self, keeper: LeaseKeeper | None) -> dict[str, Any]:
        """Client options that make every request and every wait a safe point of the run."""
        if keeper is None:
            return {"sleep": self.sleep}
        check = keeper.checkpoint

        def sleep(seconds: float) -> None:
            check()
            self.sleep(seconds)
            check()

        return {"sleep": sleep, "session": _CheckpointSession(check)}

    def source_client(
        self, row: dict[str, Any], keeper: LeaseKeeper | None = None
    ) -> GpsInsightClient:
        """A GPS Insight-platform client for a stored integration."""
        return GpsInsightClient(
            row["base_url"], row["username"], row["secret"], retry=self._policy(),
            **self._hooks(keeper),
        )  # fmt: skip

    def target_client(
        self, row: dict[str, Any], keeper: LeaseKeeper | None = None
    ) -> WhipAroundClient:
        """A Whip Around client for a stored integration."""
        return WhipAroundClient(
            row["base_url"], row["secret"], retry=self._policy(), **self._hooks(keeper)
        )

    def driveri_client(
        self, row: dict[str, Any], tenant: str, keeper: LeaseKeeper | None = None
    ) -> DriveriClient:
        """A Driveri client for a stored integration (client id and secret) and its tenant."""
        return DriveriClient(
            row["base_url"], row["username"], row["secret"], tenant, retry=self._policy(),
            **self._hooks(keeper),
        )  # fmt: skip

    # -- telematics --------------------------------------------------------------------------

    def sync_telematics(self, integration: str | None = None) -> list[Report]:
        """One telematics pass per source integration (or only the named one)."""
        targets = self.store.integrations("whiparound")
        if not targets:
            raise ConfigError(
                "no Whip Around integration: add one with `fleetsim integrations add whiparound`"
            )
        sources = [
            row
            for row in self.store.integrations()
            if row["kind"] in TELEMATICS_KINDS and integration in (None, row["name"])
        ]
        if not sources:
            raise ConfigError(
                f"no telematics integration named {integration!r}"
                if integration
                else "no telematics integration: add one with "
                "`fleetsim integrations add gpsinsight`"
            )
        return [self._telematics_run(source, targets[0]) for source in sources]

    def _telematics_run(self, source: dict[str, Any], target: dict[str, Any]) -> Report:
        name = source["name"]
        report = Report("telematics", name)
        now = self.clock()
        try:
            lease = self.store.start_leased_run("telematics", name, self.owner, now, self.lease_ttl)
        except RunBusy as exc:
            report.error("lock", str(exc))
            return report
        keeper = LeaseKeeper(self.store, lease, self.clock, self.lease_ttl)
        try:
            self._telematics_pass(source, target, report, now, keeper)
        except LeaseLost as exc:  # taken over: stop here, the new holder redoes what is left
            report.error("lease", str(exc))
        finally:
            finished = self.clock()
            self.store.finish_leased_run(keeper.lease, report.outcome, report.as_dict(), finished)
        return report

    def _telematics_pass(
        self,
        source: dict[str, Any],
        target: dict[str, Any],
        report: Report,
        now: datetime,
        keeper: LeaseKeeper | None = None,
    ) -> None:
        settings = telematics.Settings(activated_at=source["activated_at"])
        source_client = self.source_client(source, keeper)
        target_client = self.target_client(target, keeper)
        # Errors and retry accounting name the integration (and vendor) they belong to.
        source_client.vendor, source_client.integration = source["kind"], source["name"]
        target_client.integration = target["name"]
        try:
            self._telematics_steps(
                source, report, now, settings, source_client, target_client,
                keeper.checkpoint if keeper is not None else _no_checkpoint,
            )  # fmt: skip
        finally:
            report.requests = source_client.requests_made + target_client.requests_made
            for client in (source_client, target_client):
                report.vendors[client.vendor] = client.stats()

    def _telematics_steps(
        self,
        source: dict[str, Any],
        report: Report,
        now: datetime,
        settings: telematics.Settings,
        source_client: GpsInsightClient,
        target_client: WhipAroundClient,
        checkpoint: Callable[[], None],
    ) -> None:
        try:
            observed = telematics.observe(
                source_client, target_client, source["name"], self.store, settings, now, report,
                self.concurrency,
            )  # fmt: skip
        except AuthError as exc:
            report.auth_failed = True
            report.failure("read", exc)
            return
        except QuotaError as exc:
            report.quota_hit = True  # R4: a quota ends the run PARTIAL, even before any read
            report.failure("read", exc)
            return
        except VendorError as exc:
            report.nothing_read = report.counts["read"] == 0
            report.reads_failed = True
            report.failure("read", exc)
            return
        memory = telematics.Memory(marks=self.store.marks(), ledger=self.store.ledger())
        result = telematics.plan(observed, memory, settings, now)
        telematics.report_plan(result, report)
        all_written = telematics.apply(
            result.actions, target_client, self.store, source["name"], report, now,
            self.concurrency,
        )  # fmt: skip
        if all_written and not report.reads_failed:
            checkpoint()  # R5: a run that lost its lease saves no cursor
            self.store.save_cursor(source["name"], telematics.HISTORY_CURSOR, now.isoformat(), now)

    def worst_outcome(self, reports: list[Report]) -> str:
        """The outcome a command exits with: the worst of its runs."""
        order = {"SUCCESS": 0, "PARTIAL": 1, FAILED: 2}
        return max((r.outcome for r in reports), key=order.__getitem__, default="SUCCESS")


def _no_checkpoint() -> None:
    """No lease to check (a pass run outside a leased run)."""
