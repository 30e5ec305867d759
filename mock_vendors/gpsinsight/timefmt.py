"""GPS Insight's date formats: MST server time, account-local fix times, and date parameters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# "MST" on this platform is fixed UTC-7 all year (America/Phoenix has no daylight saving).
MST = timezone(timedelta(hours=-7), "MST")

_DATE_FORMATS = (
    ("%Y-%m-%d %H:%M:%S", False),
    ("%Y-%m-%d", True),
    ("%m/%d/%Y %H:%M:%S", False),
    ("%m/%d/%Y", True),
)
_EPOCH = re.compile(r"^\d{9,11}(\.\d+)?$")
# Dates outside this range are refused as bad input rather than overflowing date arithmetic.
MIN_TS = 0.0
MAX_TS = 32_503_680_000.0  # 3000-01-01


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """An IANA zone, falling back to America/Phoenix for a name the host does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("America/Phoenix")


def mst_text(ts: float) -> str:
    """Server time as the envelope's head shows it: ``May 21 2014 10:47:38``."""
    return datetime.fromtimestamp(ts, MST).strftime("%b %d %Y %H:%M:%S")


def mst_sql(ts: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in MST (``fix_time_mst``, ``exec_time``)."""
    return datetime.fromtimestamp(ts, MST).strftime("%Y-%m-%d %H:%M:%S")


def local_sql(ts: float, tz: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the account's zone (``diagnostic/list`` dates)."""
    return datetime.fromtimestamp(ts, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def local_fix_text(ts: float, tz: str) -> str:
    """The portal's local fix time: ``8/14/15 7:27:10 AM``."""
    t = datetime.fromtimestamp(ts, zone(tz))
    hour = t.hour % 12 or 12
    return (
        f"{t.month}/{t.day}/{t.year % 100:02d} {hour}:{t.minute:02d}:{t.second:02d} "
        f"{'AM' if t.hour < 12 else 'PM'}"
    )


def gmt_iso(ts: float) -> str:
    """ISO-8601 in UTC with an explicit ``+00:00``."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


def local_iso(ts: float, tz: str) -> str:
    """ISO-8601 with the account zone's offset (DTC ``first``/``last``)."""
    return datetime.fromtimestamp(ts, zone(tz)).isoformat()


def parse_date(text: str, tz: str) -> tuple[float, bool]:
    """Parse a date parameter into epoch seconds; the flag says it named a whole day.

    Accepts ``YYYY-MM-DD``, ``M/D/YYYY`` (either with `` HH:MM:SS``) in the account zone,
    and Unix epoch seconds. Raises ValueError for anything else.
    """
    text = text.strip()
    if _EPOCH.match(text):
        return _in_range(float(text)), False
    for fmt, whole_day in _DATE_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        try:
            return _in_range(naive.replace(tzinfo=zone(tz)).timestamp()), whole_day
        except OverflowError:
            raise ValueError(text) from None
    raise ValueError(text)


def _in_range(ts: float) -> float:
    if not MIN_TS <= ts < MAX_TS:
        raise ValueError("date out of range")
    return ts


def parse_mst(text: str) -> float:
    """Parse an ``exec_time`` value (MST) or epoch seconds back into epoch seconds."""
    text = text.strip()
    if _EPOCH.match(text):
        return _in_range(float(text))
    return _in_range(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=MST).timestamp())


def day_bounds(ts: float, tz: str) -> tuple[float, float]:
    """Start and end (exclusive) of the account-local day containing ``ts``."""
    local = datetime.fromtimestamp(ts, zone(tz))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=1, hours=2)).replace(hour=0)  # safe across DST changes
    return start.timestamp(), end.timestamp()
