"""Vehicles: ``vehicle/*`` and ``diagnostic/list``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. Every method sees
only the caller's vehicles; ``vehicle`` is an id, VIN, serial, label or partial label (the
first to match).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import motion
from .rows import DETAIL_COLUMNS, dtc_codes, episodes, fix_row, identity, reports, vehicle_row
from .timefmt import DateArg, date_param, local_sql, window

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

MAX_HISTORY_DAYS = 7


class VehicleService(_Core):
    """Where the vehicles are, were, and what they reported; their identity and odometer."""

    def vehicle_list(
        self,
        user: dict[str, Any],
        *,
        vehicle: str | None,
        detail: tuple[str, ...] | None,
        filter_group: str | None,
    ) -> list[dict[str, Any]]:
        """``vehicle/list``: the whole visible fleet (or one vehicle, or one group's), no
        pagination; ``detail`` adds the detail columns it names."""
        fleet = self.fleet_or_vehicle(user, vehicle)
        if filter_group is not None:
            group = self.resolve_group(user, filter_group)
            members = {id(v) for v in self.group_vehicles(user, group)}
            fleet = [v for v in fleet if id(v) in members]
        now = self.now()
        return [vehicle_row(v, detail or (), now) for v in fleet]

    def vehicle_read(self, user: dict[str, Any], *, vehicle: str) -> list[dict[str, Any]]:
        """``vehicle/read``: one vehicle with details, as a one-element array."""
        return [vehicle_row(self.resolve_vehicle(user, vehicle), DETAIL_COLUMNS, self.now())]

    def vehicle_location(
        self, user: dict[str, Any], *, vehicle: str | None, last_exec_time: float | None
    ) -> list[dict[str, Any]]:
        """``vehicle/location``: latest fix of every visible vehicle (or one); incremental
        with ``last_exec_time`` (only fixes newer than it)."""
        return self.location_rows(self.fleet_or_vehicle(user, vehicle), last_exec_time)

    def location_rows(
        self, fleet: list[dict[str, Any]], last_exec_time: float | None
    ) -> list[dict[str, Any]]:
        """The latest fix of each vehicle of ``fleet`` newer than ``last_exec_time``."""
        now, tz = self.now(), self.tz
        rows = []
        for v in fleet:
            fix_ts = motion.latest_fix_time(v, now)
            if last_exec_time is not None and fix_ts <= last_exec_time:
                continue
            row = fix_row(v, fix_ts, self.driver_of(v), tz, now)
            row["odometer"] = f"{row['odometer']:.1f}"  # a string here, as the vendor sends
            rows.append(row)
        return rows

    def vehicle_history(
        self,
        user: dict[str, Any],
        *,
        vehicle: str,
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """``vehicle/history``: every fix in a window of at most 7 days, odometer a number."""
        v = self.resolve_vehicle(user, vehicle)
        now, tz = self.now(), self.tz
        lo, hi = window(date, start, end, tz=tz, now=now, max_days=MAX_HISTORY_DAYS)
        driver = self.driver_of(v)
        return [
            fix_row(v, ts, driver, tz, now)
            for ts in motion.fix_times(v, lo, min(hi, now))
            if ts < hi
        ]

    def vehicle_runtime(
        self,
        user: dict[str, Any],
        *,
        vehicle: str | None,
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """``vehicle/runtime``: engine hours in the window (string) and over the lifetime."""
        fleet = self.fleet_or_vehicle(user, vehicle)
        return self.runtime_rows(fleet, date, start, end)

    def runtime_rows(
        self,
        fleet: list[dict[str, Any]],
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """Each vehicle of ``fleet`` with its engine hours in the window and lifetime."""
        now = self.now()
        lo, hi = window(date, start, end, tz=self.tz, now=now)
        rows = []
        for v in fleet:
            lifetime = motion.lifetime_engine_hours(v, now)
            rows.append(
                {
                    **identity(v),
                    "runtime_hours": f"{motion.engine_hours_between(v, lo, min(hi, now)):.2f}",
                    "runtime_lifetime": round(lifetime, 2),
                }
            )
        return rows

    def vehicle_dtc(
        self,
        user: dict[str, Any],
        *,
        vehicle: str | None,
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """``vehicle/dtc``: codes reported in the window, keyed by code, per vehicle."""
        return self.dtc_rows(self.fleet_or_vehicle(user, vehicle), date, start, end)

    def dtc_rows(
        self,
        fleet: list[dict[str, Any]],
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """The vehicles of ``fleet`` that reported a code in the window, with their codes."""
        now, tz = self.now(), self.tz
        lo, hi = window(date, start, end, tz=tz, now=now)
        rows = []
        for v in fleet:
            codes = dtc_codes(v, lo, hi, now, tz)
            if not codes:
                continue
            driver = self.driver_of(v)
            rows.append(
                {
                    "vin": v.get("vin"),
                    "label": v.get("label"),
                    "serial_number": v.get("serial_number"),
                    "driver_id": v.get("driver_id"),
                    "first_name": driver.get("firstname"),
                    "last_name": driver.get("lastname"),
                    "ref_id": v.get("ref_id"),
                    "dtc": codes,
                }
            )
        return rows

    def diagnostic_list(self, user: dict[str, Any], *, vehicle: str | None) -> list[dict[str, Any]]:
        """``diagnostic/list``: each code the visible fleet ever reported, first and last."""
        fleet = self.fleet_or_vehicle(user, vehicle)
        now, tz = self.now(), self.tz
        seen: dict[str, list[float]] = {}
        for v in fleet:
            for ep in episodes(v):
                # No upper bound but now: a report falling on this very second counts, as
                # it does in vehicle/dtc.
                span = reports(ep, float("-inf"), float("inf"), now)
                if span is None:
                    continue
                entry = seen.setdefault(ep["code"], [span[0], span[1]])
                entry[0], entry[1] = min(entry[0], span[0]), max(entry[1], span[1])
        return [
            {"code": code, "first_date": local_sql(a, tz), "last_date": local_sql(b, tz)}
            for code, (a, b) in sorted(seen.items())
        ]

    def vehicle_getdriver(self, user: dict[str, Any], *, vehicle: str) -> list[dict[str, Any]]:
        """``vehicle/getdriver``: the vehicle's assigned driver, ``[]`` when it has none."""
        driver = self.driver_of(self.resolve_vehicle(user, vehicle))
        if not driver:
            return []
        keys = ("id", "alert_pref", "email", "firstname", "lastname", "phone")
        return [{key: driver.get(key) for key in keys}]

    def vehicle_listvehiclegroups(
        self, user: dict[str, Any], *, vehicle: str
    ) -> list[dict[str, Any]]:
        """``vehicle/listvehiclegroups``: the visible groups the vehicle belongs to."""
        v = self.resolve_vehicle(user, vehicle)
        ids = self.group_ids()
        return [{"group_id": ids[name], "label": name} for name in self.vehicle_groups_of(user, v)]

    def vehicle_update(
        self,
        user: dict[str, Any],
        *,
        vehicle: str,
        changes: dict[str, str | int | float],
        odometer: float | None,
        runtime: float | None,
        timestamp: DateArg | None,
    ) -> str:
        """``vehicle/update``: change identity fields (a VIN, a label), the odometer (a new
        waypoint at ``timestamp``, now by default) or the lifetime engine hours (as of now)."""
        v = self.resolve_vehicle(user, vehicle)
        now = self.now()
        at = now if timestamp is None else date_param("timestamp", timestamp, self.tz)
        v.update(changes)
        if odometer is not None:
            set_odometer(v, odometer, at)
        if runtime is not None:
            v["runtime_base_hours"], v["runtime_base_at"] = runtime, now
        self.touch()
        return "Vehicle updated"

    def vehicle_setodometerwaypoint(
        self, user: dict[str, Any], *, vehicle: str, odometer: float, timestamp: DateArg | None
    ) -> str:
        """``vehicle/setodometerwaypoint``: the odometer reads ``odometer`` miles at a time."""
        v = self.resolve_vehicle(user, vehicle)
        at = self.now() if timestamp is None else date_param("timestamp", timestamp, self.tz)
        set_odometer(v, odometer, at)
        self.touch()
        return "Success"


def set_odometer(v: dict[str, Any], miles: float, at: float) -> None:
    """A new odometer waypoint. The engine hours stay where they were: their base keeps its
    own time (it shared the odometer's until now)."""
    v.setdefault("runtime_base_at", v.get("odometer_base_at"))
    v["odometer_base"], v["odometer_base_at"] = miles, at
