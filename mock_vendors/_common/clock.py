"""The virtual clock shared by every emulator of one stack."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

# The range every vendor can render and compute with (epoch seconds, date formats, the
# lifetimes added to "now"): the clock is never set, advanced or restored outside it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # excluded
RANGE_TEXT = "from 1970-01-01T00:00:00Z up to (not including) 3000-01-01T00:00:00Z"
_SPAN_S = (LATEST - EARLIEST).total_seconds()


class ClockRangeError(ValueError):
    """A clock value outside the range; ``field`` names the input that asked for it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def in_range(when: datetime, field: str = "set") -> datetime:
    """``when`` as UTC (naive taken as UTC) when it lies in the clock's range."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except OverflowError:
        raise ClockRangeError(field, f"the clock must stay {RANGE_TEXT}") from None
    if not EARLIEST <= when < LATEST:
        raise ClockRangeError(field, f"the clock must stay {RANGE_TEXT}")
    return when


def advanced(when: datetime, seconds: float, field: str = "advance") -> datetime:
    """``when`` moved by ``seconds`` when that stays in the clock's range."""
    if isinstance(seconds, bool) or not math.isfinite(seconds) or abs(seconds) > _SPAN_S:
        raise ClockRangeError(field, f"advancing by {seconds!r} s leaves the range {RANGE_TEXT}")
    try:
        moved = when + timedelta(seconds=seconds)
    except OverflowError:
        moved = LATEST if seconds > 0 else EARLIEST - timedelta(seconds=1)
    try:
        return in_range(moved, field)
    except ClockRangeError:
        raise ClockRangeError(
            field, f"advancing by {seconds!r} s leaves the range {RANGE_TEXT}"
        ) from None


class VirtualClock:
    """Time as the emulators see it: starts at host time, runs at real speed unless frozen.

    Tests and QA freeze, set or advance it through ``/_mock/clock`` instead of sleeping.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        frozen: bool = False,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._anchor = (start or datetime.fromtimestamp(wall(), UTC)).astimezone(UTC)
        self._anchor_wall = wall()
        self._frozen = frozen

    def now(self) -> datetime:
        """The current virtual time, timezone-aware UTC."""
        if self._frozen:
            return self._anchor
        return self._anchor + timedelta(seconds=self._wall() - self._anchor_wall)

    def timestamp(self) -> float:
        """The current virtual time as Unix epoch seconds."""
        return self.now().timestamp()

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still."""
        return self._frozen

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (naive values are taken as UTC); keeps frozen/running as it was.
        ClockRangeError (field ``set``) outside the range."""
        self.change(when=when)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value) by ``seconds``.
        ClockRangeError (field ``advance``) when that leaves the range."""
        self.change(seconds=seconds)

    def change(
        self,
        *,
        when: datetime | None = None,
        seconds: float | None = None,
        frozen: bool | None = None,
    ) -> None:
        """Set, advance and/or freeze in one step, in that order; nothing changes when the
        result would leave the range (ClockRangeError naming the field at fault)."""
        with self._lock:
            target = in_range(when) if when is not None else self.now()
            if seconds is not None:
                target = advanced(target, seconds)
            self._anchor = target
            self._anchor_wall = self._wall()
            if frozen is not None:
                self._frozen = frozen

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the clock at its current reading."""
        with self._lock:
            self._anchor = self.now()
            self._anchor_wall = self._wall()
            self._frozen = frozen

    def snapshot(self) -> dict[str, object]:
        """The clock as JSON: ``{"now": ISO-8601, "frozen": bool}``."""
        return {"now": self.now().isoformat(), "frozen": self._frozen}

    def restore(self, snapshot: Mapping[str, object]) -> None:
        """Put the clock back to a ``snapshot()`` (ValueError when it is not one in range)."""
        when, frozen = parse_snapshot(snapshot)
        self.change(when=when, frozen=frozen)


def parse_snapshot(snapshot: Mapping[str, object]) -> tuple[datetime, bool]:
    """(time, frozen) of a clock ``snapshot()``; ClockRangeError (field ``clock``) when it is
    not one, or outside the range."""
    if not isinstance(snapshot, Mapping) or not isinstance(snapshot.get("now"), str):
        raise ClockRangeError("clock", 'expected {"now": ISO-8601, "frozen": bool}')
    frozen = snapshot.get("frozen", False)
    if not isinstance(frozen, bool):
        raise ClockRangeError("clock", '"frozen" must be true or false')
    try:
        when = parse_iso(str(snapshot["now"]))
    except ValueError:
        raise ClockRangeError("clock", '"now" is not an ISO-8601 date-time') from None
    return in_range(when, "clock"), frozen


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 (``Z`` accepted); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
