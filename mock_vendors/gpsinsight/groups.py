"""Vehicle groups: ``vehiclegroup/*``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. A group is named by id,
name or partial name among the caller's visible groups (``resolve_group``); the reports of a
group are the vehicle reports (``vehicles.py``) of its visible vehicles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .rows import vehicle_row
from .timefmt import DateArg

if TYPE_CHECKING:
    from .vehicles import VehicleService as _Core
else:
    _Core = object


class GroupService(_Core):
    """The vehicle groups a user sees, their members, users and reports."""

    def vehiclegroup_list(
        self,
        user: dict[str, Any],
        *,
        minimum_count: int | None,
        nonzero: bool | None,
        vehicle_group: str | None,
        include_members: bool | None,
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/list``: the groups the user may see (or the one named), with their
        sizes; ``minimum_count`` and ``nonzero`` leave small ones out."""
        names = (
            self.visible_groups(user)
            if vehicle_group is None
            else [self.resolve_group(user, vehicle_group)]
        )
        least = max(minimum_count or 0, 1 if nonzero else 0)
        rows = []
        for name in names:
            row = self.group_row(user, name)
            if row["vehicle_count"] < least:
                continue
            if include_members:
                row["members"] = [vehicle_row(v, (), 0) for v in self.group_vehicles(user, name)]
            rows.append(row)
        return rows

    def vehiclegroup_listvehicles(
        self, user: dict[str, Any], *, vehicle_group: str
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/listvehicles``: one visible group's vehicles."""
        name = self.resolve_group(user, vehicle_group)
        return [vehicle_row(v, (), 0) for v in self.group_vehicles(user, name)]

    def vehiclegroup_read(
        self, user: dict[str, Any], *, vehicle_group: str
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/read``: one group, as a one-element array."""
        row = self.group_row(user, self.resolve_group(user, vehicle_group))
        return [{k: row[k] for k in ("group_id", "label", "vehicle_count")}]

    def vehiclegroup_listmembers(
        self, user: dict[str, Any], *, vehicle_group: str
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/listmembers``: the client's older name of ``listvehicles``."""
        return self.vehiclegroup_listvehicles(user, vehicle_group=vehicle_group)

    def vehiclegroup_listusers(
        self, user: dict[str, Any], *, vehicle_group: str
    ) -> list[dict[str, str]]:
        """``vehiclegroup/listusers``: the users given the group (the Master User sees them
        all, anyone else only itself)."""
        name = self.resolve_group(user, vehicle_group)
        return [
            {"username": str(u.get("username"))}
            for u in self.users_seen_by(user)
            if name in (u.get("vehicle_groups") or [])
        ]

    def vehiclegroup_location(
        self, user: dict[str, Any], *, vehicle_group: str, last_exec_time: float | None
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/location``: ``vehicle/location`` for the group's vehicles."""
        fleet = self.group_vehicles(user, self.resolve_group(user, vehicle_group))
        return self.location_rows(fleet, last_exec_time)

    def vehiclegroup_runtime(
        self,
        user: dict[str, Any],
        *,
        vehicle_group: str,
        date: DateArg | None,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/runtime``: ``vehicle/runtime`` for the group's vehicles."""
        fleet = self.group_vehicles(user, self.resolve_group(user, vehicle_group))
        return self.runtime_rows(fleet, date, start, end)

    def vehiclegroup_dtc(
        self,
        user: dict[str, Any],
        *,
        vehicle_group: str,
        start: DateArg | None,
        end: DateArg | None,
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/dtc``: ``vehicle/dtc`` for the group's vehicles."""
        fleet = self.group_vehicles(user, self.resolve_group(user, vehicle_group))
        return self.dtc_rows(fleet, None, start, end)
