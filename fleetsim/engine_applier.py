"""The background applier of the portal's webhook events (R26), a thread of `fleetsim engine`.

The receiver (fleetsim/engine_api.py) only stores an event and wakes this thread; the thread
calls the engine's ``apply_driver_events`` for each pairing with events waiting, so the
portal is answered before any vendor is called.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetsim.redact import redact
from sync_engine.report import Report
from sync_engine.store import Store

TICK_S = 1.0
MAX_BACKOFF_TICKS = 60
PENDING_SCAN = 1000  # inbox events looked at to find the pairings with work waiting
log = logging.getLogger("fleetsim.engine")


@dataclass
class Applier:
    """Applies the webhook events the receiver stored (R26), in a thread of its own.

    Each pass asks ``pending`` which Driveri integrations have events waiting and calls
    ``apply`` for each; a None (the lease is busy: a reconcile holds it) leaves them for the
    next pass. A pass runs when the receiver wakes it and at least every ``tick_s``; after a
    failed pass the periodic retry backs off (doubling, up to a minute), a wake still counts."""

    apply: Callable[[str], Report | None]
    pending: Callable[[], list[str]]
    stop: threading.Event = field(default_factory=threading.Event)
    tick_s: float = TICK_S
    woken: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    passes: int = 0
    failures: int = 0  # consecutive failed passes
    last_error: str | None = None

    def wake(self) -> None:
        """An event is waiting: run a pass now (called from the receiver's thread)."""
        self.woken.set()

    def drain(self) -> list[Report]:
        """One pass: apply the events of every pairing that has some waiting."""
        self.passes += 1
        try:
            names = self.pending()
        except Exception as exc:  # the store is unreachable: the next pass retries
            self._failed("the inbox", exc)
            self.failures += 1
            return []
        reports: list[Report] = []
        failed = False
        for name in names:
            if self.stop.is_set():
                break
            try:
                report = self.apply(name)
            except Exception as exc:  # one pairing's failure never stops the others
                self._failed(name, exc)
                failed = True
                continue
            if report is not None:
                reports.append(report)
                failed = failed or report.outcome == "FAILED"
        self.failures = self.failures + 1 if failed else 0
        return reports

    def _failed(self, where: str, exc: Exception) -> None:
        # Client errors are redacted already; redact again: a log line never holds a secret.
        self.last_error = redact(f"{where}: {type(exc).__name__}: {exc}")[:500]
        log.warning("applying driver events failed for %s", self.last_error)

    def loop(self) -> None:
        """Pass after pass until stopped."""
        while not self.stop.is_set():
            self.woken.clear()  # before the pass: a wake during it brings on another
            try:
                self.drain()
            except Exception as exc:  # keep applying; the next pass retries
                self._failed("the applier", exc)
                self.failures += 1
            backoff = min(2 ** min(self.failures, 6), MAX_BACKOFF_TICKS) if self.failures else 1
            self.woken.wait(self.tick_s * backoff)

    def start(self) -> None:
        """Run :meth:`loop` in a daemon thread."""
        self.thread = threading.Thread(target=self.loop, name="fleetsim-applier", daemon=True)
        self.thread.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop after the apply under way (which stops at its next safe point)."""
        self.stop.set()
        self.woken.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def state(self) -> dict[str, Any]:
        """For /healthz: whether it runs, how many passes, the last failure (redacted)."""
        return {
            "running": self.thread is not None and self.thread.is_alive(),
            "passes": self.passes,
            "last_error": self.last_error,
        }


def pending_pairings(store: Store) -> list[str]:
    """The Driveri integrations whose portal has webhook events waiting in the inbox."""
    portals = {e["portal"] for e in store.inbox_pending(PENDING_SCAN)}
    if not portals:
        return []
    return [p["driveri"] for p in store.pairings() if p["portal"] in portals]
