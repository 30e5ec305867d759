"""The virtual clock: frozen, set, advanced, running at real speed from an injected wall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mock_vendors._common.clock import VirtualClock, parse_iso

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_running_clock_follows_the_wall_at_real_speed() -> None:
    wall = FakeWall()
    clock = VirtualClock(T0, wall=wall)
    wall.now += 90
    assert clock.now() == T0 + timedelta(seconds=90)


def test_frozen_clock_stands_still_while_the_wall_moves() -> None:
    wall = FakeWall()
    clock = VirtualClock(T0, frozen=True, wall=wall)
    wall.now += 3600
    assert clock.now() == T0


def test_advance_moves_a_frozen_clock_and_keeps_it_frozen() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    clock.advance(25 * 3600)
    assert clock.now() == T0 + timedelta(hours=25)
    assert clock.frozen


def test_unfreezing_resumes_from_the_frozen_reading() -> None:
    wall = FakeWall()
    clock = VirtualClock(T0, frozen=True, wall=wall)
    wall.now += 500
    clock.freeze(False)
    wall.now += 10
    assert clock.now() == T0 + timedelta(seconds=10)


def test_set_takes_naive_values_as_utc() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    clock.set(datetime(2030, 5, 6, 7, 8, 9))
    assert clock.now() == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_snapshot_restores_the_same_reading_and_state() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    other = VirtualClock(wall=FakeWall())
    other.restore(clock.snapshot())
    assert other.snapshot() == clock.snapshot() == {"now": T0.isoformat(), "frozen": True}


def test_parse_iso_accepts_z_suffix() -> None:
    assert parse_iso("2026-01-02T03:04:05Z") == T0
