"""Runs pipelines: one run at a time per integration, a report for every run (R7)."""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .clients.base import AuthError, QuotaError, RetryPolicy, VendorError
from .clients.gpsinsight import GpsInsightClient
from .clients.whiparound import WhipAroundClient
from .reconcilers import telematics
from .report import FAILED, Report
from .store import RunBusy, Store

TELEMATICS_KINDS = ("gpsinsight", "wex")
RUN_LOCK_TTL = timedelta(hours=1)


class ConfigError(Exception):
    """The engine is not set up for what was asked (say which integration is missing)."""


class Engine:
    """The sync engine over one store. Time and sleeping are injected for tests."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        concurrency: int = 4,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.concurrency = concurrency
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    # -- clients -----------------------------------------------------------------------------

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(rng=self.rng)

    def source_client(self, row: dict[str, Any]) -> GpsInsightClient:
        """A GPS Insight-platform client for a stored integration."""
        return GpsInsightClient(
            row["base_url"], row["username"], row["secret"], sleep=self.sleep, retry=self._policy()
        )

    def target_client(self, row: dict[str, Any]) -> WhipAroundClient:
        """A Whip Around client for a stored integration."""
        return WhipAroundClient(
            row["base_url"], row["secret"], sleep=self.sleep, retry=self._policy()
        )

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
        lock = f"telematics:{name}"
        now = self.clock()
        try:
            self.store.acquire(lock, self.owner, now, RUN_LOCK_TTL)
        except RunBusy as exc:
            report.error("lock", str(exc))
            return report
        run_id = self.store.start_run("telematics", name, now)
        try:
            self._telematics_pass(source, target, report, now)
        finally:
            self.store.finish_run(run_id, report.outcome, report.as_dict(), self.clock())
            self.store.release(lock, self.owner)
        return report

    def _telematics_pass(
        self, source: dict[str, Any], target: dict[str, Any], report: Report, now: datetime
    ) -> None:
        settings = telematics.Settings(activated_at=source["activated_at"])
        source_client = self.source_client(source)
        target_client = self.target_client(target)
        try:
            self._telematics_steps(source, report, now, settings, source_client, target_client)
        finally:
            report.requests = source_client.requests_made + target_client.requests_made

    def _telematics_steps(
        self,
        source: dict[str, Any],
        report: Report,
        now: datetime,
        settings: telematics.Settings,
        source_client: GpsInsightClient,
        target_client: WhipAroundClient,
    ) -> None:
        try:
            observed = telematics.observe(
                source_client, target_client, source["name"], self.store, settings, now, report,
                self.concurrency,
            )  # fmt: skip
        except AuthError as exc:
            report.auth_failed = True
            report.error("read", str(exc))
            return
        except QuotaError as exc:
            report.quota_hit = True  # R4: a quota ends the run PARTIAL, even before any read
            report.error("read", str(exc))
            return
        except VendorError as exc:
            report.nothing_read = report.counts["read"] == 0
            report.reads_failed = True
            report.error("read", str(exc))
            return
        memory = telematics.Memory(marks=self.store.marks(), ledger=self.store.ledger())
        result = telematics.plan(observed, memory, settings, now)
        telematics.report_plan(result, report)
        all_written = telematics.apply(
            result.actions, target_client, self.store, source["name"], report, now,
            self.concurrency,
        )  # fmt: skip
        if all_written and not report.reads_failed:
            self.store.save_cursor(source["name"], telematics.HISTORY_CURSOR, now.isoformat(), now)

    def worst_outcome(self, reports: list[Report]) -> str:
        """The outcome a command exits with: the worst of its runs."""
        order = {"SUCCESS": 0, "PARTIAL": 1, FAILED: 2}
        return max((r.outcome for r in reports), key=order.__getitem__, default="SUCCESS")
