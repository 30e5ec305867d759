"""The engine's clock (sync_engine/clock.py): real time, or a stack's clock read over HTTP,
cached and interpolated with an injected monotonic source (no real sleeps), and the store's
recorded choice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import T0, make_stack_app, served
from sync_engine.clock import (
    ENV_VAR,
    SETTING,
    ClockConfigError,
    StackClock,
    engine_clock,
    parse_spec,
    real_clock,
    record_clock,
)
from sync_engine.store import Store

BASE = "http://127.0.0.1:8100"


class FakeStack:
    """A control plane answering clock readings, counting fetches; ``down`` makes it fail."""

    def __init__(self, now: datetime, frozen: bool = False) -> None:
        self.now, self.frozen, self.down = now, frozen, False
        self.fetches: list[tuple[str, float]] = []

    def get(self, url: str, timeout_s: float) -> Mapping[str, Any]:
        self.fetches.append((url, timeout_s))
        if self.down:
            raise ConnectionError("connection refused")
        return {"now": self.now.isoformat(), "frozen": self.frozen}


class Ticks:
    """A monotonic source the test moves by hand."""

    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def stack_clock(stack: FakeStack, ticks: Ticks) -> StackClock:
    return StackClock(BASE, get=stack.get, monotonic=ticks, fallback=lambda: T0 - timedelta(days=9))


def test_a_running_stack_clock_is_fetched_once_a_second_and_interpolated_between() -> None:
    stack, ticks = FakeStack(T0), Ticks()
    clock = stack_clock(stack, ticks)
    assert clock() == T0
    stack.now = T0 + timedelta(hours=5)  # the stack moved; the cache has not expired yet
    ticks.value += 0.25
    assert clock() == T0 + timedelta(seconds=0.25)
    ticks.value += 0.5
    assert clock() == T0 + timedelta(seconds=0.75)
    assert stack.fetches == [(f"{BASE}/gpsinsight/_mock/clock", 2.0)]
    ticks.value += 0.25  # a second after the first fetch: read again
    assert clock() == T0 + timedelta(hours=5)
    assert len(stack.fetches) == 2


def test_a_frozen_stack_clock_is_returned_as_read() -> None:
    stack, ticks = FakeStack(T0, frozen=True), Ticks()
    clock = stack_clock(stack, ticks)
    assert clock() == T0
    ticks.value += 0.9
    assert clock() == T0
    stack.now = T0 + timedelta(days=1)
    ticks.value += 0.1
    assert clock() == T0 + timedelta(days=1)
    assert len(stack.fetches) == 2


def test_a_failed_fetch_advances_the_last_reading_by_monotonic_time_and_never_raises() -> None:
    stack, ticks = FakeStack(T0, frozen=True), Ticks()
    clock = stack_clock(stack, ticks)
    assert clock() == T0
    stack.down = True
    ticks.value += 3
    assert clock() == T0 + timedelta(seconds=3)
    ticks.value += 0.5  # not retried within the second, still advancing
    assert clock() == T0 + timedelta(seconds=3.5)
    assert (len(stack.fetches), clock.failures) == (2, 1)
    stack.down, stack.now = False, T0 + timedelta(days=2)
    ticks.value += 0.5
    assert clock() == T0 + timedelta(days=2)


def test_a_stack_unreachable_from_the_start_falls_back_until_it_answers() -> None:
    stack, ticks = FakeStack(T0), Ticks()
    stack.down = True
    clock = stack_clock(stack, ticks)
    assert clock() == T0 - timedelta(days=9)
    stack.down = False
    ticks.value += 1
    assert clock() == T0


@pytest.mark.parametrize(
    "body", [{"now": "yesterday", "frozen": True}, {"now": "2026-03-10T17:30:00"}, {}]
)
def test_a_malformed_reading_counts_as_a_failed_fetch(body: dict[str, Any]) -> None:
    ticks = Ticks()
    clock = StackClock(BASE, get=lambda _u, _t: body, monotonic=ticks, fallback=lambda: T0)
    assert clock() == T0
    assert clock.failures == 1


@pytest.mark.parametrize(
    ("spec", "base"),
    [
        ("real", None),
        (" REAL ", None),
        ("stack:http://127.0.0.1:8100/", "http://127.0.0.1:8100"),
        ("https://qa.example/fleetsim", "https://qa.example/fleetsim"),
    ],
)
def test_clock_specs(spec: str, base: str | None) -> None:
    assert parse_spec(spec) == base


@pytest.mark.parametrize("spec", ["stack", "stack:", "virtual", "stack:ftp://x", "http://"])
def test_a_clock_spec_that_is_not_one_is_refused_by_name(spec: str) -> None:
    with pytest.raises(ClockConfigError) as info:
        parse_spec(spec)
    assert str(info.value) == (
        f"{ENV_VAR} must be 'real', 'stack:<base url>' or an http(s) base URL, not {spec!r}"
    )


def test_engine_clock_is_real_time_by_default() -> None:
    store = Store("sqlite://")
    clock = engine_clock(store, env={})
    assert clock is real_clock
    assert abs(clock() - datetime.now(UTC)) < timedelta(seconds=5)


def test_engine_clock_follows_the_recorded_stack_and_the_variable_overrides_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    record_clock(Store(url), "stack:http://127.0.0.1:8100/")
    store = Store(url)  # a reopened store keeps the choice
    assert store.setting(SETTING) == "stack:http://127.0.0.1:8100/"
    recorded = engine_clock(store, env={})
    assert isinstance(recorded, StackClock)
    assert recorded.url == f"{BASE}/gpsinsight/_mock/clock"
    assert engine_clock(store, env={ENV_VAR: "real"}) is real_clock
    other = engine_clock(store, env={ENV_VAR: "http://127.0.0.1:9/"})
    assert (
        isinstance(other, StackClock) and other.url == "http://127.0.0.1:9/gpsinsight/_mock/clock"
    )
    with pytest.raises(ClockConfigError):
        engine_clock(store, env={ENV_VAR: "tomorrow"})


def test_a_store_made_before_settings_existed_gains_the_table_on_open(tmp_path: Path) -> None:
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url)
    with sqlalchemy.create_engine(url).begin() as conn:
        conn.exec_driver_sql("DROP TABLE settings")
    store = Store(url)
    assert store.setting(SETTING) is None
    store.save_setting(SETTING, "real")
    store.save_setting(SETTING, "stack:http://x")
    assert store.setting(SETTING) == "stack:http://x"


def test_record_clock_refuses_a_bad_spec_and_records_nothing() -> None:
    store = Store("sqlite://")
    with pytest.raises(ClockConfigError):
        record_clock(store, "stack:")
    assert store.setting(SETTING) is None


def test_a_stack_clock_reads_a_served_stack_over_http() -> None:
    app = make_stack_app(vehicles=2, wex_vehicles=1)
    with served(app) as base:
        ticks = Ticks()
        clock = StackClock(base, monotonic=ticks)
        assert clock() == T0
        app.stack.clock.change(seconds=86400)
        ticks.value += 1
        assert clock() == T0 + timedelta(days=1)
