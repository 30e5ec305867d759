"""How a vehicle moves: a deterministic function of its record and the virtual time.

Each vehicle runs a duty cycle (drive 40 minutes, park 20) around a loop near its home city,
reporting a fix every minute while the ignition is on. Odometer, position, heading and engine
hours all follow from the driving seconds accumulated, so they never go backwards and any
two requests at the same virtual time agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

CYCLE_S = 3600
DRIVE_S = 2400
FIX_INTERVAL_S = 60
MILES_PER_DEGREE_LAT = 69.0


def driving_seconds(vehicle: dict[str, Any], ts: float) -> float:
    """Seconds of driving accumulated from the epoch to ``ts`` (monotonic in ``ts``)."""
    t = ts - _phase(vehicle)
    cycles, into = divmod(t, CYCLE_S)
    return cycles * DRIVE_S + min(into, DRIVE_S)


def odometer_at(vehicle: dict[str, Any], ts: float) -> float:
    """Odometer in miles at ``ts``: the last waypoint plus the miles driven since."""
    miles_per_s = num(vehicle.get("speed_mph")) / 3600
    since = driving_seconds(vehicle, ts) - driving_seconds(
        vehicle, num(vehicle.get("odometer_base_at"))
    )
    return max(0.0, num(vehicle.get("odometer_base")) + miles_per_s * since)


def engine_hours_between(vehicle: dict[str, Any], start: float, end: float) -> float:
    """Engine hours run between two instants."""
    return max(0.0, driving_seconds(vehicle, end) - driving_seconds(vehicle, start)) / 3600


def lifetime_engine_hours(vehicle: dict[str, Any], ts: float) -> float:
    """Engine hours over the vehicle's life at ``ts``: its base reading plus the hours run
    since the base was taken (``runtime_base_at``, else the odometer's base time)."""
    base_at = vehicle.get("runtime_base_at")
    if base_at is None:
        base_at = vehicle.get("odometer_base_at")
    return num(vehicle.get("runtime_base_hours")) + engine_hours_between(vehicle, num(base_at), ts)


def drives(vehicle: dict[str, Any], start: float, end: float) -> Iterator[tuple[float, float]]:
    """Every drive period (ignition on to ignition off, ``DRIVE_S`` long) that begins in
    ``[start, end)``, as (begin, end) in time order: the trips of the duty cycle."""
    phase = _phase(vehicle)
    t = phase + math.ceil((start - phase) / CYCLE_S) * CYCLE_S
    while t < end:
        yield t, t + DRIVE_S
        t += CYCLE_S


def in_service_since(vehicle: dict[str, Any]) -> float:
    """When the vehicle's lifetime engine hours would have started at its duty cycle: the
    base reading's time less the wall time it takes to run that many hours."""
    base_at = vehicle.get("runtime_base_at")
    if base_at is None:
        base_at = vehicle.get("odometer_base_at")
    hours = max(num(vehicle.get("runtime_base_hours")), 0.0)
    return num(base_at) - hours * 3600 * CYCLE_S / DRIVE_S


def latest_fix_time(vehicle: dict[str, Any], ts: float) -> float:
    """The time of the newest fix at or before ``ts``: on the minute while driving, else the
    ignition-off report at the end of the last drive."""
    phase = _phase(vehicle)
    cycle_start = phase + math.floor((ts - phase) / CYCLE_S) * CYCLE_S
    into = ts - cycle_start
    if into < DRIVE_S:
        return cycle_start + math.floor(into / FIX_INTERVAL_S) * FIX_INTERVAL_S
    return cycle_start + DRIVE_S


def fix_times(vehicle: dict[str, Any], start: float, end: float) -> Iterator[float]:
    """Every fix time in ``[start, end]``, in order (for ``vehicle/history``)."""
    phase = _phase(vehicle)
    t = phase + math.ceil((start - phase) / FIX_INTERVAL_S) * FIX_INTERVAL_S
    while t <= end:
        into = (t - phase) % CYCLE_S
        if into <= DRIVE_S:
            yield t
            t += FIX_INTERVAL_S
        else:
            t += CYCLE_S - into  # skip the parked part of the cycle


def fix_at(vehicle: dict[str, Any], ts: float) -> dict[str, Any]:
    """Position, heading, speeds, ignition and odometer of the fix taken at ``ts``."""
    speed = num(vehicle.get("speed_mph"))
    radius = max(num(vehicle.get("route_radius_mi")), 0.1)
    driven_miles = speed / 3600 * driving_seconds(vehicle, ts)
    angle = (driven_miles / radius) % (2 * math.pi)
    home_lat = num(vehicle.get("home_latitude"))
    home_lon = num(vehicle.get("home_longitude"))
    lat = home_lat + radius / MILES_PER_DEGREE_LAT * math.sin(angle)
    lon_scale = MILES_PER_DEGREE_LAT * max(math.cos(math.radians(home_lat)), 0.01)
    lon = home_lon + radius / lon_scale * math.cos(angle)
    # Moving counter-clockwise round the loop: north component cos, east component -sin.
    heading = (math.degrees(math.atan2(-math.sin(angle), math.cos(angle))) + 360) % 360
    into = (ts - _phase(vehicle)) % CYCLE_S
    driving = into < DRIVE_S
    return {
        "latitude": round(lat, 6),
        "longitude": round(lon, 6),
        "heading": int(round(heading)) % 360,
        "ignition": "on" if driving else "off",
        "inst_speed": int(speed) if driving else 0,
        "avg_speed": int(speed * 0.8),
        "max_speed": int(speed) + 8,
        "odometer": odometer_at(vehicle, ts),
    }


def _phase(vehicle: dict[str, Any]) -> float:
    # Kept on the minute so every vehicle's fixes share one grid: a location answer then
    # stays valid for the whole minute, which is what lets the routes cache it.
    return num(vehicle.get("phase_s")) // FIX_INTERVAL_S * FIX_INTERVAL_S


def num(value: Any) -> float:
    """A stored number as a float, 0.0 when it is not one."""
    # Restored dumps are taken verbatim; a field QA blanked must not turn into a 500.
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
