"""`fleetsim engine`: the scheduler, stopping a run at a safe point, and the status API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from fleetsim.engine_service import (
    INTERRUPTED,
    SKIPPED_BUSY,
    Schedule,
    Scheduler,
    StoppableEngine,
    build_scheduler,
    drivers_interval,
    parent_gone,
    telematics_interval,
    toggle_poll_interval,
)
from helpers import T0, activate_integrations, demo_credentials, make_stack_app, served, wait_until
from mock_vendors.wsgi import StackApp
from sync_engine.engine import ConfigError
from sync_engine.report import Report
from sync_engine.store import Store

SECRET_GPS = "gps-app-token-SECRET-1"
SECRET_WA = "wa-api-key-SECRET-2"


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)


class Runs:
    """A fake pipeline run: records (integration, clock time) and reports SUCCESS."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, datetime]] = []

    def __call__(self, name: str) -> Report:
        self.calls.append((name, self.clock()))
        return Report("telematics", name)


def fake_scheduler(interval_s: float, names: list[str]) -> tuple[Scheduler, FakeClock, Runs]:
    clock = FakeClock()
    runs = Runs(clock)
    scheduler = Scheduler(clock=clock)
    scheduler.register(Schedule("telematics", timedelta(seconds=interval_s), lambda: names, runs))
    return scheduler, clock, runs


# -- the schedule (step 1) -----------------------------------------------------------------------


def test_first_run_is_one_interval_after_start_then_every_interval() -> None:
    scheduler, clock, runs = fake_scheduler(300, ["gpsinsight", "wex"])
    scheduler.tick()
    clock.advance(299)
    scheduler.tick()
    assert runs.calls == []
    clock.advance(1)
    scheduler.tick()
    assert runs.calls == [("gpsinsight", T0 + timedelta(seconds=300)),
                          ("wex", T0 + timedelta(seconds=300))]  # fmt: skip
    clock.advance(299)
    scheduler.tick()
    assert len(runs.calls) == 2
    clock.advance(1)
    scheduler.tick()
    assert [c[0] for c in runs.calls] == ["gpsinsight", "wex", "gpsinsight", "wex"]
    state = scheduler.state()["schedule"]["telematics:gpsinsight"]
    assert state["runs"] == 2 and state["last_outcome"] == "SUCCESS"
    assert state["next_due"] == (T0 + timedelta(seconds=900)).isoformat()


def test_a_big_clock_jump_runs_once_not_once_per_missed_interval() -> None:
    scheduler, clock, runs = fake_scheduler(60, ["gpsinsight"])
    scheduler.tick()
    clock.advance(3600)
    scheduler.tick()
    scheduler.tick()
    assert len(runs.calls) == 1
    assert scheduler.slots[("telematics", "gpsinsight")].next_due == clock() + timedelta(seconds=60)


def test_an_integration_added_later_runs_one_interval_after_it_was_seen() -> None:
    names = ["gpsinsight"]
    scheduler, clock, runs = fake_scheduler(100, names)
    scheduler.tick()
    clock.advance(50)
    names.append("wex")
    scheduler.tick()
    clock.advance(50)
    scheduler.tick()
    assert [c[0] for c in runs.calls] == ["gpsinsight"]
    clock.advance(50)
    scheduler.tick()
    assert [c[0] for c in runs.calls] == ["gpsinsight", "wex"]


def test_interval_zero_turns_the_pipeline_off() -> None:
    scheduler, clock, runs = fake_scheduler(0, ["gpsinsight"])
    clock.advance(10**6)
    scheduler.tick()
    assert runs.calls == [] and scheduler.state()["pipelines"] == []


def test_telematics_interval_from_env() -> None:
    assert telematics_interval({}) == timedelta(seconds=300)
    assert telematics_interval({"FLEETSIM_TELEMATICS_INTERVAL": "0"}) == timedelta(0)
    assert telematics_interval({"FLEETSIM_TELEMATICS_INTERVAL": "2.5"}) == timedelta(seconds=2.5)
    for bad in ("-1", "soon", "1e9"):
        with pytest.raises(ConfigError, match="FLEETSIM_TELEMATICS_INTERVAL"):
            telematics_interval({"FLEETSIM_TELEMATICS_INTERVAL": bad})


def test_the_loop_looks_at_the_clock_every_second_so_a_jump_starts_a_run_soon() -> None:
    scheduler, clock, runs = fake_scheduler(300, ["gpsinsight"])
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return scheduler.stop.wait(0.005)  # a real second per tick, compressed for the test

    scheduler.wait = wait
    scheduler.start()
    try:
        wait_until(lambda: len(waits) >= 3, "three ticks", deadline_s=5)
        assert runs.calls == []
        clock.advance(300)
        ticks_before = len(waits)
        wait_until(lambda: runs.calls, "the run the clock jump made due", deadline_s=5)
        assert runs.calls == [("gpsinsight", T0 + timedelta(seconds=300))]
        assert len(waits) - ticks_before <= 2  # started at the next tick: within ~1 s
        assert set(waits) == {1.0}
        assert scheduler.state()["running"] is True
    finally:
        scheduler.shutdown(timeout=5)
    assert scheduler.thread is not None and not scheduler.thread.is_alive()
    assert scheduler.state()["running"] is False and scheduler.state()["stopping"] is True


# -- the daily drivers reconcile and the webhook events' applier (issue 10) ---------------------


def test_drivers_interval_from_env_defaults_to_a_day() -> None:
    assert drivers_interval({}) == timedelta(days=1)
    assert drivers_interval({"FLEETSIM_DRIVERS_RECONCILE_INTERVAL": "0"}) == timedelta(0)
    assert drivers_interval({"FLEETSIM_DRIVERS_RECONCILE_INTERVAL": "90"}) == timedelta(seconds=90)
    for bad in ("-1", "daily", "nan", "604801"):
        with pytest.raises(ConfigError, match="FLEETSIM_DRIVERS_RECONCILE_INTERVAL"):
            drivers_interval({"FLEETSIM_DRIVERS_RECONCILE_INTERVAL": bad})


def test_driver_sync_poll_interval_from_env_defaults_to_five_minutes() -> None:
    assert toggle_poll_interval({}) == timedelta(minutes=5)
    assert toggle_poll_interval({"FLEETSIM_DRIVER_SYNC_POLL_INTERVAL": "0"}) == timedelta(0)
    with pytest.raises(ConfigError, match="FLEETSIM_DRIVER_SYNC_POLL_INTERVAL"):
        toggle_poll_interval({"FLEETSIM_DRIVER_SYNC_POLL_INTERVAL": "often"})


def test_the_driver_sync_setting_is_looked_at_every_poll_interval_and_idle_runs_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    checks: list[tuple[str, datetime]] = []

    def check_driver_sync(self: Any, name: str) -> Report | None:
        checks.append((name, clock()))
        return None if len(checks) == 1 else Report("drivers", name)  # turned on: a reconcile

    monkeypatch.setattr(StoppableEngine, "check_driver_sync", check_driver_sync)
    scheduler = build_scheduler(
        driveri_store(), clock,
        env={"FLEETSIM_TELEMATICS_INTERVAL": "0", "FLEETSIM_DRIVERS_RECONCILE_INTERVAL": "0"},
    )  # fmt: skip
    assert scheduler.state()["pipelines"] == [{"name": "driver-sync-setting", "interval_s": 300.0}]
    scheduler.tick()
    clock.advance(300)
    assert scheduler.tick() == []
    assert scheduler.state()["schedule"]["driver-sync-setting:driveri"]["last_outcome"] == "IDLE"
    clock.advance(300)
    (report,) = scheduler.tick()
    assert report.pipeline == "drivers" and [t for _, t in checks] == [
        T0 + timedelta(seconds=300), T0 + timedelta(seconds=600),
    ]  # fmt: skip


def driveri_store() -> Store:
    store = Store("sqlite://")
    store.save_integration("gpsinsight", "gpsinsight", "http://127.0.0.1:9/gpsinsight",
                           SECRET_GPS, T0, username="acme.admin")  # fmt: skip
    store.save_integration("driveri", "driveri", "http://127.0.0.1:9/driveri", "cs-SECRET", T0,
                           username="client-1")  # fmt: skip
    store.save_pairing("driveri", "gpsinsight", "acme", T0)
    return store


def test_the_drivers_reconcile_is_scheduled_on_the_engine_clock_for_each_driveri_integration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    calls: list[tuple[str, bool, datetime]] = []

    def sync_drivers(self: Any, name: str | None = None, *, full: bool = True,
                     dry_run: bool = False) -> list[Report]:  # fmt: skip
        calls.append((str(name), full, clock()))
        return [Report("drivers", str(name))]

    monkeypatch.setattr(StoppableEngine, "sync_drivers", sync_drivers)
    scheduler = build_scheduler(
        driveri_store(), clock,
        env={"FLEETSIM_TELEMATICS_INTERVAL": "0", "FLEETSIM_DRIVERS_RECONCILE_INTERVAL": "86400",
             "FLEETSIM_DRIVER_SYNC_POLL_INTERVAL": "0"},
    )  # fmt: skip
    assert scheduler.state()["pipelines"] == [{"name": "drivers", "interval_s": 86400.0}]
    assert scheduler.tick() == []
    clock.advance(23 * 3600)
    assert scheduler.tick() == [] and calls == []
    clock.advance(2 * 3600)  # the stack's clock moved on 25 h: the daily reconcile is due
    (report,) = scheduler.tick()
    assert report.pipeline == "drivers" and calls == [("driveri", True, T0 + timedelta(hours=25))]
    assert scheduler.state()["schedule"]["drivers:driveri"]["last_outcome"] == "SUCCESS"


def test_when_a_clock_jump_makes_both_due_the_drivers_reconcile_runs_before_telematics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []

    def sync_drivers(self: Any, name: str | None = None, **_: Any) -> list[Report]:
        order.append(f"drivers:{name}")
        return [Report("drivers", str(name))]

    def run_telematics(self: Any, name: str) -> Report:
        order.append(f"telematics:{name}")
        return Report("telematics", name)

    monkeypatch.setattr(StoppableEngine, "sync_drivers", sync_drivers)
    monkeypatch.setattr(StoppableEngine, "run_telematics", run_telematics)
    clock = FakeClock()
    scheduler = build_scheduler(
        driveri_store(), clock, env={"FLEETSIM_DRIVER_SYNC_POLL_INTERVAL": "0"}
    )
    scheduler.tick()
    clock.advance(25 * 3600)
    assert len(scheduler.tick()) == 2
    assert order == ["drivers:driveri", "telematics:gpsinsight"]


# -- against a served stack ----------------------------------------------------------------------


@dataclass
class Rig:
    app: StackApp
    base: str
    store: Store
    waits: list[float]

    def stack_now(self) -> datetime:
        return self.app.stack.clock.now()

    def fault(self, vendor: str, **spec: Any) -> None:
        response = requests.post(f"{self.base}/{vendor}/_mock/faults", json=spec, timeout=5)
        assert response.status_code == 201, response.text

    def advance(self, seconds: float) -> None:
        requests.post(
            f"{self.base}/gpsinsight/_mock/clock", json={"advance": seconds}, timeout=5
        ).raise_for_status()


@pytest.fixture
def rig() -> Iterator[Rig]:
    app = make_stack_app(vehicles=6, wex_vehicles=0)
    with served(app) as base:
        users, keys = demo_credentials(base)
        master = next(u for u in users if u["master"])
        wa_key = next(k["key"] for k in keys if k["type"] == "integration")
        store = Store("sqlite://")
        activate_integrations(store, base, master, wa_key, T0)
        yield Rig(app, base, store, [])


def rig_scheduler(rig: Rig, **env: str) -> Scheduler:
    return build_scheduler(
        rig.store,
        rig.stack_now,
        env={"FLEETSIM_TELEMATICS_INTERVAL": "300", **env},
        sleep=rig.waits.append,
    )


def test_a_scheduled_telematics_run_syncs_and_is_recorded(rig: Rig) -> None:
    scheduler = rig_scheduler(rig)
    assert scheduler.tick() == []
    rig.advance(300)
    (report,) = scheduler.tick()
    assert report.outcome == "SUCCESS", report.errors
    assert report.writes > 0 and report.counts["read"] == 6
    (run,) = rig.store.runs()
    assert run["outcome"] == "SUCCESS" and run["report"]["writes"] == report.writes
    state = scheduler.state()
    assert state["schedule"]["telematics:gpsinsight"]["last_outcome"] == "SUCCESS"
    assert state["clock"] == rig.stack_now().isoformat()


def test_a_run_refused_by_a_held_lease_is_skipped_until_next_due(rig: Rig) -> None:
    scheduler = rig_scheduler(rig)
    scheduler.tick()
    rig.advance(300)
    now = rig.stack_now()
    held = rig.store.start_leased_run("telematics", "gpsinsight", "other-host:1", now,
                                      timedelta(hours=1))  # fmt: skip
    (report,) = scheduler.tick()
    assert [e["where"] for e in report.errors] == ["lock"]
    slot = scheduler.state()["schedule"]["telematics:gpsinsight"]
    assert slot["last_outcome"] == SKIPPED_BUSY
    assert slot["next_due"] == (now + timedelta(seconds=300)).isoformat()
    assert scheduler.tick() == []  # not retried before it is due again
    assert [r["id"] for r in rig.store.runs()] == [held.run_id]  # no run recorded for it


def test_stop_ends_the_run_at_its_next_safe_point_as_interrupted(rig: Rig) -> None:
    scheduler = rig_scheduler(rig)
    scheduler.tick()
    rig.advance(300)
    # The first Whip Around write is throttled; while the run waits to retry, the engine
    # is told to stop (as Ctrl-C / SIGTERM do), so the retry is never sent.
    rig.fault("whiparound", method="POST", path="/api/public/v4/assets/*", first=1,
              status=429, retry_after=2)  # fmt: skip

    def sleep(seconds: float) -> None:
        rig.waits.append(seconds)
        scheduler.stop.set()

    (telematics,) = [s for s in scheduler.schedules if s.name == "telematics"]
    engine = telematics.run.__self__  # type: ignore[attr-defined]
    engine.sleep = sleep
    engine.concurrency = 1  # one write at a time: none other is under way when it stops
    (report,) = scheduler.tick()
    assert rig.waits == [2.0]
    assert any("interrupted at a safe point" in e["message"] for e in report.errors)
    assert report.writes == 0
    (run,) = rig.store.runs()
    assert run["outcome"] == INTERRUPTED and run["finished_at"] is not None
    assert run["report"]["outcome"] == INTERRUPTED
    assert rig.store.cursor("gpsinsight", "history") is None  # R5: no cursor saved
    lease = rig.store.lease("telematics", "gpsinsight")
    assert lease is not None and lease["holder"] is None  # released for the next run
    assert scheduler.state()["schedule"]["telematics:gpsinsight"]["last_outcome"] == INTERRUPTED
    assert scheduler.tick() == []  # stopping: nothing more starts


# -- the command ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fleetsim_engine_serves_healthz_and_stops_on_sigterm(tmp_path: Any) -> None:
    port = _free_port()
    env = {**os.environ, "FLEETSIM_DB_URL": f"sqlite:///{tmp_path / 'engine.db'}",
           "FLEETSIM_ENGINE_PORT": str(port), "FLEETSIM_TELEMATICS_INTERVAL": "60"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetsim.cli", "engine"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        body: dict[str, Any] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except requests.RequestException:
                time.sleep(0.05)  # waiting for the process to bind, not for a schedule
        assert body["status"] == "ok", body
        assert body["scheduler"]["running"] is True
        assert body["scheduler"]["pipelines"] == [
            {"name": "drivers", "interval_s": 86400.0},
            {"name": "driver-sync-setting", "interval_s": 300.0},
            {"name": "telematics", "interval_s": 60.0},
        ]
        assert body["scheduler"]["applier"]["running"] is True
        runs = requests.get(f"http://127.0.0.1:{port}/api/runs", timeout=5).json()
        assert runs == {"runs": []}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stdout is not None
        assert f"fleetsim engine on http://127.0.0.1:{port}" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_an_engine_whose_starting_process_died_stops_by_itself(tmp_path: Any) -> None:
    # `fleetsim serve` names itself in FLEETSIM_ENGINE_PARENT_PID; a pid that is not the
    # engine's parent stands for a serve that was SIGKILLed (the engine was re-parented).
    port = _free_port()
    env = {**os.environ, "FLEETSIM_DB_URL": f"sqlite:///{tmp_path / 'engine.db'}",
           "FLEETSIM_ENGINE_PORT": str(port), "FLEETSIM_TELEMATICS_INTERVAL": "0",
           "FLEETSIM_ENGINE_PARENT_PID": str(os.getpid() + 1_000_000)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetsim.cli", "engine"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_parent_gone_reads_the_variable_serve_sets() -> None:
    assert parent_gone({}) is False
    assert parent_gone({"FLEETSIM_ENGINE_PARENT_PID": str(os.getppid())}) is False
    assert parent_gone({"FLEETSIM_ENGINE_PARENT_PID": str(os.getppid() + 1_000_000)}) is True
