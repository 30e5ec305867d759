"""Reports derived from the duty cycle: ``vehicle/distance``, ``vehicle/trips`` and
``vehicle/lifetimeutilization``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. Everything follows from
``motion``: a trip is one drive period (40 minutes, a fix a minute, the last one at ignition
off), and the miles are the odometer's, so every report agrees with ``vehicle/history``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import motion
from .motion import num
from .rows import identity
from .timefmt import DateArg, gmt_iso, local_text, window

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

MAX_TRIP_DAYS = 31


class TripService(_Core):
    """Distances, trips and lifetime statistics of the caller's vehicles."""

    def vehicle_distance(
        self,
        user: dict[str, Any],
        *,
        vehicle: str | None,
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """``vehicle/distance``: per vehicle, its first and last fix in the window and the
        miles between them; vehicles without a fix in the window are left out."""
        fleet = self.fleet_or_vehicle(user, vehicle)
        now, tz = self.now(), self.tz
        lo, hi = window(date, start, end, tz=tz, now=now)
        last_possible = min(now, hi - 0.001)  # the window's end is exclusive
        rows = []
        for v in fleet:
            first = next(motion.fix_times(v, lo, last_possible), None)
            if first is None:
                continue
            last = motion.latest_fix_time(v, last_possible)
            a, b = motion.fix_at(v, first), motion.fix_at(v, last)
            start_miles, end_miles = round(a["odometer"], 1), round(b["odometer"], 1)
            rows.append(
                {
                    **identity(v),
                    "start_fix_time": local_text(first, tz),
                    "start_latitude": a["latitude"],
                    "start_longitude": a["longitude"],
                    "start_odometer": start_miles,
                    "end_fix_time": local_text(last, tz),
                    "end_latitude": b["latitude"],
                    "end_longitude": b["longitude"],
                    "end_odometer": end_miles,
                    "distance": round(end_miles - start_miles, 1),
                }
            )
        return rows

    def vehicle_trips(
        self,
        user: dict[str, Any],
        *,
        vehicle: str,
        start: DateArg | None,
        end: DateArg | None,
        include_points: bool | None,
    ) -> list[dict[str, Any]]:
        """``vehicle/trips``: every trip of one vehicle that began in the window (today by
        default, at most 31 days); a trip still under way is ``in_progress``."""
        v = self.resolve_vehicle(user, vehicle)
        now, tz = self.now(), self.tz
        lo, hi = window(None, start, end, tz=tz, now=now, max_days=MAX_TRIP_DAYS)
        driver = self.driver_of(v)
        rows = []
        for begin, finish in motion.drives(v, lo, min(hi, now + 0.001)):
            in_progress = finish > now
            stop = motion.latest_fix_time(v, now) if in_progress else finish
            fixes = list(motion.fix_times(v, begin, stop))
            a, b = motion.fix_at(v, begin), motion.fix_at(v, stop)
            row = {
                **identity(v),
                "driver_id": v.get("driver_id") if driver else None,
                "driver_first_name": driver.get("firstname"),
                "driver_last_name": driver.get("lastname"),
                "trip_start": local_text(begin, tz),
                "trip_end": local_text(stop, tz),
                "trip_start_gmt": gmt_iso(begin),
                "trip_end_gmt": gmt_iso(stop),
                "duration": round((stop - begin) / 3600, 2),
                "distance": round(b["odometer"] - a["odometer"], 1),
                "latitude_start": a["latitude"],
                "longitude_start": a["longitude"],
                "latitude_end": b["latitude"],
                "longitude_end": b["longitude"],
                "max_speed": a["max_speed"],
                "avg_speed": a["avg_speed"],
                "points": len(fixes),
                "in_progress": 1 if in_progress else 0,
            }
            if include_points:
                row["gps"] = [_point(v, ts) for ts in fixes]
            rows.append(row)
        return rows

    def vehicle_lifetimeutilization(
        self, user: dict[str, Any], *, vehicle: str | None
    ) -> list[dict[str, Any]]:
        """``vehicle/lifetimeutilization``: run days, run, stop and idle minutes, miles and
        speeds over each vehicle's life, from its lifetime engine hours and duty cycle."""
        now = self.now()
        rows = []
        for v in self.fleet_or_vehicle(user, vehicle):
            hours = motion.lifetime_engine_hours(v, now)
            since = motion.in_service_since(v)
            speed = num(v.get("speed_mph"))
            run_minutes = round(hours * 60)
            rows.append(
                {
                    "id": v.get("id"),
                    "vin": v.get("vin"),
                    "run_days": math.ceil(max(now - since, 0) / 86_400) if hours > 0 else 0,
                    "run_minutes": run_minutes,
                    "stop_minutes": max(round((now - since) / 60) - run_minutes, 0),
                    "idle_minutes": 0,  # the duty cycle never idles: driving, then parked
                    "miles_driven": round(hours * speed, 1),
                    "max_mph": int(speed) + 8 if hours > 0 else 0,
                    "avg_mph": int(speed) if hours > 0 else 0,
                }
            )
        return rows


def _point(v: dict[str, Any], ts: float) -> dict[str, Any]:
    fix = motion.fix_at(v, ts)
    return {
        "fix_time_gmt": gmt_iso(ts),
        "latitude": fix["latitude"],
        "longitude": fix["longitude"],
        "heading": fix["heading"],
        "inst_speed": fix["inst_speed"],
        "odometer": round(fix["odometer"], 1),
    }
