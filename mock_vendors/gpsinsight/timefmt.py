"""GPS Insight's date formats: MST server time, account-local fix times, and date parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DATE_RULE, bad_request, invalid, missing

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
# A naive date outside these bounds is out of range in every zone (UTC offsets in use run
# from -12 to +14 hours; an hour of margin each way). Inside them, the few hours next to
# each end are in range or not depending on the account's zone: to_epoch() decides those.
NAIVE_BOUNDS = (datetime(1969, 12, 31, 11), datetime(3000, 1, 1, 15))


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


def local_text(ts: float, tz: str) -> str:
    """A report time in the account's zone as the platform prints it: ``Aug 1 2015 15:20:07``
    (``vehicle/distance``, ``vehicle/trips``)."""
    t = datetime.fromtimestamp(ts, zone(tz))
    return f"{t:%b} {t.day} {t.year} {t:%H:%M:%S}"


def gmt_iso(ts: float) -> str:
    """ISO-8601 in UTC with an explicit ``+00:00``."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


def local_iso(ts: float, tz: str) -> str:
    """ISO-8601 with the account zone's offset (DTC ``first``/``last``)."""
    return datetime.fromtimestamp(ts, zone(tz)).isoformat()


@dataclass(frozen=True, slots=True)
class DateArg:
    """A date parameter as given: Unix epoch seconds, or a naive date-time that still needs
    the account's time zone (``whole_day`` when it named a day without a time)."""

    epoch: float | None = None
    naive: datetime | None = None
    whole_day: bool = False


def read_date(text: str) -> DateArg:
    """Read a date parameter: ``YYYY-MM-DD`` or ``M/D/YYYY`` (either with `` HH:MM:SS``), or
    Unix epoch seconds. Raises ValueError for anything else.

    A naive date well outside 1970..2999 is refused here already; the exact bounds depend on
    the account's zone and are checked by :func:`to_epoch`.
    """
    text = text.strip()
    if _EPOCH.match(text):
        return DateArg(epoch=_in_range(float(text)))
    for fmt, whole_day in _DATE_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not NAIVE_BOUNDS[0] <= naive < NAIVE_BOUNDS[1]:
            raise ValueError("date out of range")
        return DateArg(naive=naive, whole_day=whole_day)
    raise ValueError(text)


def to_epoch(date: DateArg, tz: str) -> float:
    """Epoch seconds of a date parameter in the account's zone; ValueError if out of range."""
    if date.naive is None:
        return date.epoch or 0.0
    try:
        return _in_range(date.naive.replace(tzinfo=zone(tz)).timestamp())
    except OverflowError:
        raise ValueError("date out of range") from None


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


def date_param(name: str, date: DateArg, tz: str) -> float:
    """Epoch seconds of the date parameter ``name``; a 400 naming it when out of range."""
    try:
        return to_epoch(date, tz)
    except ValueError:
        raise invalid(name, DATE_RULE) from None


def window(
    date: DateArg | None,
    start: DateArg | None,
    end: DateArg | None,
    *,
    tz: str,
    now: float,
    max_days: float | None = None,
) -> tuple[float, float]:
    """The time window named by ``date`` or ``start``/``end``; today when none is given.

    ``date`` wins over ``start``/``end``; an ``end`` needs a ``start``.
    """
    # Every given parameter is read, in this order, even one that ``date`` then overrides.
    given = (("date", date), ("start", start), ("end", end))
    at = {name: date_param(name, d, tz) for name, d in given if d is not None}
    if date is not None:
        lo, hi = day_bounds(at["date"], tz) if date.whole_day else (at["date"], at["date"] + 86_400)
    elif start is not None or end is not None:
        if start is None:
            raise missing("start")
        lo = at["start"]
        if end is None:
            hi = now
        else:
            hi = day_bounds(at["end"], tz)[1] if end.whole_day else at["end"]
    else:
        lo, hi = day_bounds(now, tz)
    if hi < lo:
        raise invalid("end", "must not be before start")
    if max_days is not None and hi - lo > max_days * 86_400 + 1:
        raise bad_request(f"Invalid date range: at most {max_days:g} days")
    return lo, hi
