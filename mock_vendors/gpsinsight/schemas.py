"""Request parameters: one reader that turns bad input into a 400 naming the parameter."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ApiError
from .timefmt import day_bounds, parse_date

MAX_HISTORY_DAYS = 7


class Params:
    """Query-string and form parameters of one call (names case-sensitive, values strings)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, name: str, default: str | None = None) -> str | None:
        """A parameter, or ``default`` when absent or blank."""
        value = self.values.get(name)
        return value if value not in (None, "") else default

    def require(self, name: str) -> str:
        """A parameter that must be present and not blank."""
        value = self.get(name)
        if value is None:
            raise ApiError(400, f"Missing required parameter: {name}")
        return value

    def integer(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """An optional whole number within bounds."""
        raw = self.get(name)
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            raise ApiError(400, f"Invalid parameter {name}: expected an integer") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ApiError(400, f"Invalid parameter {name}: out of range")
        return value

    def number(self, name: str, *, minimum: float | None = None) -> float | None:
        """An optional decimal number."""
        raw = self.get(name)
        if raw is None:
            return None
        try:
            value = float(raw.strip())
        except ValueError:
            raise ApiError(400, f"Invalid parameter {name}: expected a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ApiError(400, f"Invalid parameter {name}: expected a number")
        if minimum is not None and value < minimum:
            raise ApiError(400, f"Invalid parameter {name}: must be at least {minimum}")
        return value

    def flag(self, name: str) -> bool | None:
        """An optional 0/1 (true/false) switch."""
        raw = self.get(name)
        if raw is None:
            return None
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes"):
            return True
        if lowered in ("0", "false", "no"):
            return False
        raise ApiError(400, f"Invalid parameter {name}: expected 0 or 1")

    def date(self, name: str, tz: str) -> tuple[float, bool] | None:
        """An optional date parameter as (epoch seconds, names a whole day)."""
        raw = self.get(name)
        if raw is None:
            return None
        try:
            return parse_date(raw, tz)
        except ValueError:
            raise ApiError(
                400,
                f"Invalid parameter {name}: use YYYY-MM-DD, M/D/YYYY (optionally with HH:MM:SS) "
                "or Unix epoch seconds",
            ) from None

    def window(self, tz: str, now: float, *, max_days: float | None = None) -> tuple[float, float]:
        """The time window named by ``date`` or ``start``/``end``; today when none is given."""
        date = self.date("date", tz)
        start = self.date("start", tz)
        end = self.date("end", tz)
        if date is not None:
            lo, hi = day_bounds(date[0], tz) if date[1] else (date[0], date[0] + 86_400)
        elif start is not None or end is not None:
            if start is None:
                raise ApiError(400, "Missing required parameter: start")
            lo = start[0]
            hi = now if end is None else (day_bounds(end[0], tz)[1] if end[1] else end[0])
        else:
            lo, hi = day_bounds(now, tz)
        if hi < lo:
            raise ApiError(400, "Invalid parameter end: must not be before start")
        if max_days is not None and hi - lo > max_days * 86_400 + 1:
            raise ApiError(400, f"Invalid date range: at most {max_days:g} days")
        return lo, hi
