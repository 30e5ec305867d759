"""`fleetsim engine`'s webhook events applier (R26): woken by the receiver, retried every
tick while a lease is busy, never stopped by one failure, stopped with the scheduler."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.engine_applier import Applier, pending_pairings
from fleetsim.engine_service import StoppableEngine, build_scheduler
from helpers import T0, wait_until
from sync_engine.report import Report
from sync_engine.store import Store


def paired_store() -> Store:
    store = Store("sqlite://")
    store.save_pairing("driveri", "gpsinsight", "acme", T0)
    return store


def fake_applier(pending: list[str], results: list[Any], tick_s: float = 3600.0) -> Applier:
    """An applier whose apply pops ``results`` (a Report, None, or an exception to raise) and
    records the names it was called with on ``applier.calls``."""
    calls: list[str] = []

    def apply(name: str) -> Report | None:
        calls.append(name)
        result = results.pop(0) if results else Report("drivers", name)
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    applier = Applier(apply, lambda: list(pending), tick_s=tick_s)
    applier.calls = calls  # type: ignore[attr-defined]
    return applier


def test_the_applier_applies_the_pending_pairings_when_woken_and_stops_on_shutdown() -> None:
    pending: list[str] = []
    applier = fake_applier(pending, [])
    applier.start()
    try:
        wait_until(lambda: applier.passes == 1, "the first pass, at start")
        assert applier.calls == []  # type: ignore[attr-defined]
        pending.append("driveri")
        applier.wake()  # what the receiver does once an event is stored
        wait_until(lambda: applier.calls == ["driveri"], "one call")  # type: ignore[attr-defined]
        assert applier.state()["running"] is True
    finally:
        applier.shutdown(timeout=5)
    assert applier.thread is not None and not applier.thread.is_alive()
    assert applier.state()["running"] is False


def test_a_busy_lease_is_retried_on_the_next_tick_without_a_wake() -> None:
    applier = fake_applier(["driveri"], [None, None], tick_s=0.01)
    applier.start()
    try:
        wait_until(lambda: len(applier.calls) >= 3, "three calls")  # type: ignore[attr-defined]
    finally:
        applier.shutdown(timeout=5)
    assert applier.failures == 0 and applier.last_error is None


def test_an_apply_that_raises_is_logged_without_its_secret_and_the_applier_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = RuntimeError("Driveri refused client_secret=cs-SECRET-42 at /v1/auth/token")
    applier = fake_applier(["driveri", "driveri-eu"], [boom])
    with caplog.at_level("WARNING", logger="fleetsim.engine"):
        reports = applier.drain()
    assert [r.integration for r in reports] == ["driveri-eu"]  # the other pairing still ran
    assert applier.failures == 1 and applier.last_error is not None
    assert "cs-SECRET-42" not in applier.last_error and "cs-SECRET-42" not in caplog.text
    assert "RuntimeError" in caplog.text
    assert len(applier.drain()) == 2 and applier.failures == 0  # the next pass: all well


def test_pending_pairings_are_those_whose_portal_has_events_waiting() -> None:
    store = paired_store()
    assert pending_pairings(store) == []
    store.inbox_add("ev-1", "gpsinsight", "driver.created", portal_id=1, version=1,
                    payload={}, now=T0)  # fmt: skip
    store.inbox_add("ev-2", "wex", "driver.created", portal_id=1, version=1, payload={}, now=T0)
    assert pending_pairings(store) == ["driveri"]
    store.inbox_mark("ev-1", "APPLIED", T0)
    assert pending_pairings(store) == []


def test_build_scheduler_wires_the_applier_to_the_engine_and_the_scheduler_stop() -> None:
    scheduler = build_scheduler(paired_store(), lambda: T0, env={})
    applier = scheduler.applier
    assert applier is not None and applier.stop is scheduler.stop
    assert applier.apply.__func__ is StoppableEngine.run_driver_events  # type: ignore[attr-defined]
    assert applier.pending() == []
    scheduler.start()
    try:
        wait_until(lambda: applier.state()["running"], "the applier running")
    finally:
        scheduler.shutdown(timeout=5)
    assert not applier.state()["running"] and scheduler.state()["applier"]["passes"] >= 1
