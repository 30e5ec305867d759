"""The rows GPS Insight answers with, built from stored records (plain functions, no state)."""

from __future__ import annotations

import math
from typing import Any

from . import motion
from .motion import num
from .timefmt import gmt_iso, local_fix_text, local_iso, mst_sql

DTC_REPORT_INTERVAL_S = 3600
STREETS = (
    "Main St", "Oak Ave", "Maple Dr", "Industrial Pkwy", "Commerce Blvd", "Cedar Ln",
    "Washington St", "Airport Rd", "Lincoln Ave", "Broadway", "Mill Rd", "Park Ave",
    "Elm St", "Highland Dr", "River Rd", "Center St", "Depot St", "Freight Way",
)  # fmt: skip


IDENTITY_COLUMNS = ("id", "vin", "label", "serial_number")
"""The four fields that name a vehicle, first in every vehicle row."""
DETAIL_COLUMNS = (
    "make", "model", "model_year", "odometer", "license_state", "license_number", "ref_id",
    "fuel_type", "country",
)  # fmt: skip
"""The columns ``vehicle/list`` adds on request (``detail``), in the order it sends them."""


def identity(v: dict[str, Any]) -> dict[str, Any]:
    """The four fields that name a vehicle, first in every vehicle row."""
    return {
        "id": v.get("id"),
        "vin": v.get("vin"),
        "label": v.get("label"),
        "serial_number": v.get("serial_number"),
    }


def vehicle_row(v: dict[str, Any], columns: tuple[str, ...], now: float) -> dict[str, Any]:
    """A ``vehicle/list`` row with the detail ``columns`` asked for (odometer at ``now``)."""
    row = identity(v)
    for column in columns:
        if column == "odometer":
            row["odometer"] = round(motion.odometer_at(v, now), 1)
        else:
            row[column] = v.get(column)
    return row


def user_row(u: dict[str, Any]) -> dict[str, Any]:
    """A ``user/list`` row (never the password)."""
    return {
        "id": u.get("id"),
        "username": u.get("username"),
        "first_name": u.get("first_name"),
        "last_name": u.get("last_name"),
        "email": u.get("email"),
        "master": bool(u.get("master")),
        "vehicle_groups": list(u.get("vehicle_groups") or []),
    }


def fix_row(
    v: dict[str, Any], ts: float, driver: dict[str, Any], tz: str, now: float
) -> dict[str, Any]:
    """A ``vehicle/location`` or ``vehicle/history`` row: the fix taken at ``ts``."""
    fix = motion.fix_at(v, ts)
    return {
        **identity(v),
        "fix_time": local_fix_text(ts, tz),
        "fix_time_mst": mst_sql(ts),
        "fix_time_gmt": gmt_iso(ts),
        # When the answer was made, the same on every row (as the vendor's docs show), so
        # any row's exec_time is a safe last_exec_time for the next poll.
        "exec_time": mst_sql(now),
        "latitude": fix["latitude"],
        "longitude": fix["longitude"],
        "address": _address(v, fix),
        "heading": fix["heading"],
        "ignition": fix["ignition"],
        "inst_speed": fix["inst_speed"],
        "avg_speed": fix["avg_speed"],
        "max_speed": fix["max_speed"],
        "odometer": round(fix["odometer"], 1),
        "driver_id": v.get("driver_id") if driver else None,
        "first_name": driver.get("firstname"),
        "last_name": driver.get("lastname"),
    }


def dtc_codes(
    v: dict[str, Any], lo: float, hi: float, now: float, tz: str
) -> dict[str, dict[str, Any]]:
    """A vehicle's ``vehicle/dtc`` entry: each code reported in ``[lo, hi)``, keyed by code."""
    merged: dict[str, list[Any]] = {}
    for ep in episodes(v):
        span = reports(ep, lo, hi, now)
        if span is None:
            continue
        code = str(ep.get("code"))
        entry = merged.get(code)
        if entry is None:
            merged[code] = [span[0], span[1], span[2], ep]
        else:
            entry[0], entry[1] = min(entry[0], span[0]), max(entry[1], span[1])
            entry[2] += span[2]
    return {
        code: {
            "mld": 1 if ep.get("mil") else 0,
            "alt": ep.get("description") or "",
            "first": local_iso(first, tz),
            "last": local_iso(last, tz),
            "count": count,
        }
        for code, (first, last, count, ep) in merged.items()
    }


def episodes(v: dict[str, Any]) -> list[dict[str, Any]]:
    """A vehicle's stored DTC episodes that have a code."""
    found = v.get("dtcs")
    if not isinstance(found, list):
        return []
    return [ep for ep in found if isinstance(ep, dict) and ep.get("code")]


def reports(
    ep: dict[str, Any], lo: float, hi: float, now: float
) -> tuple[float, float, int] | None:
    """First, last and count of an episode's hourly reports inside ``[lo, hi)`` up to now."""
    start = num(ep.get("start"))
    end = ep.get("end")
    stop = min(now, hi - 1e-6, num(end) if end is not None else now)
    begin = max(lo, start)
    if stop < begin:
        return None
    k0 = math.ceil((begin - start) / DTC_REPORT_INTERVAL_S)
    k1 = math.floor((stop - start) / DTC_REPORT_INTERVAL_S)
    if k1 < k0:
        return None
    step = DTC_REPORT_INTERVAL_S
    return start + k0 * step, start + k1 * step, k1 - k0 + 1


def _address(v: dict[str, Any], fix: dict[str, Any]) -> str:
    number = 100 + int(abs(fix["latitude"]) * 10_000) % 9_000
    street = STREETS[int(abs(fix["longitude"]) * 1_000) % len(STREETS)]
    return f"{number} {street}, {v.get('city') or ''}, {v.get('state') or ''}".strip(", ")
