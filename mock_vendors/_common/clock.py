"""The virtual clock shared by every emulator of one stack."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


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
        """Jump to ``when`` (naive values are taken as UTC); keeps frozen/running as it was."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            self._anchor = when.astimezone(UTC)
            self._anchor_wall = self._wall()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value) by ``seconds``."""
        with self._lock:
            self._anchor = self.now() + timedelta(seconds=seconds)
            self._anchor_wall = self._wall()

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the clock at its current reading."""
        with self._lock:
            self._anchor = self.now()
            self._anchor_wall = self._wall()
            self._frozen = frozen

    def snapshot(self) -> dict[str, object]:
        """The clock as JSON: ``{"now": ISO-8601, "frozen": bool}``."""
        return {"now": self.now().isoformat(), "frozen": self._frozen}

    def restore(self, snapshot: dict[str, object]) -> None:
        """Put the clock back to a ``snapshot()``."""
        self.set(parse_iso(str(snapshot["now"])))
        self.freeze(bool(snapshot.get("frozen", False)))


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 (``Z`` accepted); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
