"""``fleetsim engine``: the sync engine as one long-running process.

A scheduler thread runs each registered pipeline (a :class:`Schedule`: name, interval on the
ENGINE clock, the integrations it covers, one run) for every integration, the first time one
interval after the integration was first seen, then every interval. It looks at the clock at
least once a second, so a run made due by a (virtual) clock jump starts within a second or
two. Runs go through the store's leases: a run refused because another holds the lease is
skipped until it is next due. On stop (Ctrl-C, SIGTERM) the run under way stops at its next
safe point (before a vendor request or around a wait, where the lease is checked) and is
recorded as INTERRUPTED.

Beside it, the :class:`Applier` thread applies the portal's webhook events (R26) that the
receiver stored in the inbox: woken by the receiver, and at least once a second, it runs
``apply_driver_events`` for each pairing with events waiting. The daily drivers reconcile is
a Schedule like telematics (``FLEETSIM_DRIVERS_RECONCILE_INTERVAL``, default 86400 s).
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetsim.engine_applier import TICK_S, Applier, pending_pairings
from fleetsim.redact import redact_process_logging
from sync_engine.engine import TELEMATICS_KINDS, ConfigError, Engine
from sync_engine.report import Report
from sync_engine.store import LeaseKeeper, LeaseLost, Store

INTERRUPTED = "INTERRUPTED"
SKIPPED_BUSY = "SKIPPED_BUSY"
IDLE = "IDLE"  # a check that found nothing to do
DEFAULT_TELEMATICS_INTERVAL_S = 300.0
DEFAULT_DRIVERS_INTERVAL_S = 86400.0
DEFAULT_TOGGLE_POLL_S = 300.0
MAX_INTERVAL_S = 7 * 86400

Clock = Callable[[], datetime]


class StopRequested(LeaseLost):
    """The engine is stopping: the run ends at this safe point (handled like a lost lease,
    so nothing more is written and no cursor is saved)."""


class StoppableEngine(Engine):
    """The engine whose runs also stop at their safe points once ``stop`` is set.

    The stop check wraps each run's LeaseKeeper.checkpoint (every vendor request and every
    wait passes it); the runs it ended are re-recorded as INTERRUPTED after they return."""

    def __init__(self, store: Store, *, stop: threading.Event, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.stop = stop
        # "pipeline:integration" (the lease's name) -> run id, of the runs the stop ended.
        # Keyed per lease, as the scheduler and the applier run in two threads.
        self.interrupted: dict[str, int] = {}

    def _hooks(self, keeper: LeaseKeeper | None) -> dict[str, Any]:
        if keeper is not None and not getattr(keeper, "_stoppable", False):
            inner = keeper.checkpoint
            run_id, name = keeper.lease.run_id, keeper.lease.name

            def checkpoint() -> None:
                if self.stop.is_set():
                    self.interrupted[name] = run_id
                    raise StopRequested("the engine is stopping: run interrupted at a safe point")
                inner()

            setattr(keeper, "checkpoint", checkpoint)  # noqa: B010 (an instance override)
            setattr(keeper, "_stoppable", True)  # noqa: B010
        return super()._hooks(keeper)

    def _interruptible(
        self, pipeline: str, integration: str, call: Callable[[], Report | None]
    ) -> Report | None:
        key = f"{pipeline}:{integration}"
        self.interrupted.pop(key, None)
        report = call()
        run_id = self.interrupted.pop(key, None)
        if run_id is not None and report is not None:
            data = {**report.as_dict(), "outcome": INTERRUPTED}
            self.store.finish_run(run_id, INTERRUPTED, data, self.clock())
        return report

    def run_telematics(self, integration: str) -> Report:
        """One telematics run of one integration; INTERRUPTED when stopped part-way."""
        report = self._interruptible(
            "telematics", integration, lambda: self.sync_telematics(integration)[0]
        )
        assert report is not None  # a telematics run always reports
        return report

    def run_drivers(self, integration: str) -> Report:
        """One full drivers reconcile of one Driveri integration (the daily schedule)."""
        report = self._interruptible(
            "drivers", integration, lambda: self.sync_drivers(integration, full=True)[0]
        )
        assert report is not None  # a reconcile always reports (a busy lease included)
        return report

    def run_driver_sync_check(self, integration: str) -> Report | None:
        """Look at the portal's Driver Sync setting; a reconcile when it was turned on."""
        return self._interruptible(
            "drivers", integration, lambda: self.check_driver_sync(integration)
        )

    def run_driver_events(self, integration: str) -> Report | None:
        """Apply one pairing's pending webhook events; None when the lease is busy or nothing
        is pending (the applier tries again on its next tick)."""
        return self._interruptible(
            "drivers", integration, lambda: self.apply_driver_events(integration)
        )


@dataclass
class Schedule:
    """A pipeline the scheduler runs for each of its integrations every ``interval``."""

    name: str
    interval: timedelta
    integrations: Callable[[], list[str]]
    run: Callable[[str], Report | None]  # None: nothing needed doing


@dataclass
class Slot:
    """The schedule state of one (pipeline, integration)."""

    next_due: datetime
    runs: int = 0
    last_started: datetime | None = None
    last_outcome: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "next_due": self.next_due.isoformat(),
            "runs": self.runs,
            "last_started": self.last_started.isoformat() if self.last_started else None,
            "last_outcome": self.last_outcome,
        }


@dataclass
class Scheduler:
    """Runs the registered schedules on the engine clock, one run at a time."""

    clock: Clock
    stop: threading.Event = field(default_factory=threading.Event)
    wait: Callable[[float], bool] | None = None  # waits up to N s; True once stopping
    schedules: list[Schedule] = field(default_factory=list)
    slots: dict[tuple[str, str], Slot] = field(default_factory=dict)
    current: str | None = None
    last_error: str | None = None
    thread: threading.Thread | None = None
    applier: Applier | None = None  # started and stopped with the scheduler
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, schedule: Schedule) -> None:
        """Add a pipeline; an interval of zero (or less) means it is off."""
        if schedule.interval > timedelta(0):
            self.schedules.append(schedule)

    def tick(self) -> list[Report]:
        """Start every run that is due now (in order); returns their reports."""
        reports: list[Report] = []
        for schedule in self.schedules:
            try:
                names = schedule.integrations()
            except Exception as exc:  # the store is unreachable: try again next tick
                self.last_error = f"{schedule.name}: {type(exc).__name__}"
                continue
            for name in names:
                if self.stop.is_set():
                    return reports
                now = self.clock()
                key = (schedule.name, name)
                with self._lock:
                    slot = self.slots.setdefault(key, Slot(next_due=now + schedule.interval))
                if now < slot.next_due:
                    continue
                reports.extend(self._run(schedule, name, slot, now))
        return reports

    def _run(self, schedule: Schedule, name: str, slot: Slot, now: datetime) -> list[Report]:
        self.current = f"{schedule.name}:{name}"
        reports: list[Report] = []
        try:
            report = schedule.run(name)
        except ConfigError as exc:
            self.last_error = str(exc)
            outcome = "NOT_CONFIGURED"
        else:
            if report is None:
                outcome = IDLE
            elif any(e["where"] == "lock" for e in report.errors):
                outcome, reports = SKIPPED_BUSY, [report]
            elif self.stop.is_set() and any(e["where"] == "lease" for e in report.errors):
                outcome, reports = INTERRUPTED, [report]
            else:
                outcome, reports = report.outcome, [report]
        finally:
            self.current = None
        return self._after(schedule, slot, now, outcome, reports)

    def _after(
        self, schedule: Schedule, slot: Slot, now: datetime, outcome: str, reports: list[Report]
    ) -> list[Report]:
        """Record a run's outcome in its slot and set when it is next due."""
        after = self.clock()
        with self._lock:
            slot.runs += 1
            slot.last_started, slot.last_outcome = now, outcome
            due = slot.next_due + schedule.interval
            slot.next_due = due if due > after else after + schedule.interval
        return reports

    def loop(self) -> None:
        """Tick until stopped, looking at the clock every TICK_S seconds."""
        wait = self.wait or self.stop.wait
        while not self.stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep scheduling; the next tick retries
                self.last_error = f"{type(exc).__name__}"
            if wait(TICK_S):
                break

    def start(self) -> None:
        """Run :meth:`loop` (and the applier, if any) in daemon threads."""
        self.thread = threading.Thread(target=self.loop, name="fleetsim-scheduler", daemon=True)
        self.thread.start()
        if self.applier is not None:
            self.applier.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask the runs under way to stop at their next safe point, and wait for them."""
        self.stop.set()
        if self.applier is not None:
            self.applier.shutdown(timeout)
        if self.thread is not None:
            self.thread.join(timeout)

    def state(self) -> dict[str, Any]:
        """The scheduler's state for /healthz (no secrets: names, times and outcomes)."""
        with self._lock:
            slots = {f"{p}:{i}": s.as_dict() for (p, i), s in sorted(self.slots.items())}
        return {
            "running": self.thread is not None and self.thread.is_alive(),
            "stopping": self.stop.is_set(),
            "clock": self.clock().isoformat(),
            "current_run": self.current,
            "last_error": self.last_error,
            "pipelines": [
                {"name": s.name, "interval_s": s.interval.total_seconds()} for s in self.schedules
            ],
            "schedule": slots,
            "applier": self.applier.state() if self.applier is not None else None,
        }


def _interval(env: dict[str, str] | None, var: str, default_s: float) -> timedelta:
    raw = (os.environ if env is None else env).get(var, "")
    try:
        seconds = float(raw) if raw else default_s
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_INTERVAL_S:  # also refuses nan
        raise ConfigError(f"{var} must be seconds between 0 and {MAX_INTERVAL_S}, not {raw!r}")
    return timedelta(seconds=seconds)


def telematics_interval(env: dict[str, str] | None = None) -> timedelta:
    """``FLEETSIM_TELEMATICS_INTERVAL`` seconds (default 300; 0 turns telematics off)."""
    return _interval(env, "FLEETSIM_TELEMATICS_INTERVAL", DEFAULT_TELEMATICS_INTERVAL_S)


def drivers_interval(env: dict[str, str] | None = None) -> timedelta:
    """``FLEETSIM_DRIVERS_RECONCILE_INTERVAL`` seconds of the engine clock between full
    drivers reconciles (default 86400: daily; 0 turns the schedule off, not the webhooks)."""
    return _interval(env, "FLEETSIM_DRIVERS_RECONCILE_INTERVAL", DEFAULT_DRIVERS_INTERVAL_S)


def toggle_poll_interval(env: dict[str, str] | None = None) -> timedelta:
    """``FLEETSIM_DRIVER_SYNC_POLL_INTERVAL`` seconds of the engine clock between looks at
    each portal's Driver Sync setting (default 300; 0: only events and the daily reconcile
    notice it being turned on)."""
    return _interval(env, "FLEETSIM_DRIVER_SYNC_POLL_INTERVAL", DEFAULT_TOGGLE_POLL_S)


def engine_clock_for(store: Store) -> Clock:
    """The engine clock: sync_engine.clock.engine_clock when that module exists (real time,
    or the recorded stack's clock), else real time."""
    try:
        module = importlib.import_module("sync_engine.clock")
    except ImportError:
        return lambda: datetime.now(UTC)
    clock: Clock = module.engine_clock(store)
    return clock


def build_scheduler(
    store: Store,
    clock: Clock,
    *,
    env: dict[str, str] | None = None,
    wait: Callable[[float], bool] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Scheduler:
    """The scheduler with every pipeline the engine has (telematics, the daily drivers
    reconcile) and the webhook events' applier."""
    scheduler = Scheduler(clock=clock, wait=wait)
    options: dict[str, Any] = {"clock": clock}
    if sleep is not None:
        options["sleep"] = sleep
    engine = StoppableEngine(store, stop=scheduler.stop, **options)

    def telematics_names() -> list[str]:
        return [r["name"] for r in store.integrations() if r["kind"] in TELEMATICS_KINDS]

    def driveri_names() -> list[str]:
        return [r["name"] for r in store.integrations() if r["kind"] == "driveri"]

    # Drivers first: when a clock jump makes both due, the reconcile (a few requests) does not
    # wait behind telematics runs that may post thousands of readings.
    scheduler.register(
        Schedule("drivers", drivers_interval(env), driveri_names, engine.run_drivers)
    )
    scheduler.register(
        Schedule(
            "driver-sync-setting", toggle_poll_interval(env), driveri_names,
            engine.run_driver_sync_check,
        )
    )  # fmt: skip
    scheduler.register(
        Schedule("telematics", telematics_interval(env), telematics_names, engine.run_telematics)
    )
    scheduler.applier = Applier(
        engine.run_driver_events, lambda: pending_pairings(store), stop=scheduler.stop
    )
    return scheduler


PARENT_PID_VAR = "FLEETSIM_ENGINE_PARENT_PID"


def parent_gone(env: dict[str, str] | None = None) -> bool:
    """Whether the process that started this engine (named in FLEETSIM_ENGINE_PARENT_PID by
    `fleetsim serve`) is no longer its parent: it died, and the engine was re-parented."""
    raw = (os.environ if env is None else env).get(PARENT_PID_VAR, "")
    return raw.isdigit() and os.getppid() != int(raw)


def serve_engine(host: str, port: int, store: Store | None = None) -> None:
    """Run the scheduler and the status API until Ctrl-C or SIGTERM."""
    from werkzeug.serving import make_server

    from fleetsim.engine_api import create_api

    store = store or Store()
    redact_process_logging()  # the receiver's and the applier's warnings, secrets masked
    scheduler = build_scheduler(store, engine_clock_for(store))
    wake = scheduler.applier.wake if scheduler.applier is not None else None
    server = make_server(host, port, create_api(store, scheduler, host, wake=wake), threaded=True)
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.start()  # before the API answers, so /healthz never shows it not yet running
    print(f"fleetsim engine on http://{host}:{server.server_port}", flush=True)
    threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True).start()
    while not stopping.wait(0.5):
        if parent_gone():
            break  # `fleetsim serve` died without stopping us (SIGKILL): do not outlive it
    scheduler.shutdown()
    server.shutdown()
    server.server_close()
