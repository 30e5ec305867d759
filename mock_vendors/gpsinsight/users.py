"""Users and vehicle groups: ``user/*`` and ``vehiclegroup/*``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. A user sees itself
and its groups; the Master User sees the whole account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fixtures.world import ALL_VEHICLES

from .errors import not_found
from .rows import user_row, vehicle_row

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object


class UserService(_Core):
    """The account's users and the vehicle groups they see."""

    def user_list(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """``user/list``: every user for the Master User, yourself otherwise."""
        users = self.state["users"].values() if user.get("master") else [user]
        return [user_row(u) for u in users if isinstance(u, dict)]

    def user_listvehicles(
        self, user: dict[str, Any], *, username: str | None
    ) -> list[dict[str, Any]]:
        """``user/listvehicles``: the vehicles a user can see."""
        whose = self.acting_user(user, username)
        return [vehicle_row(v, False, 0) for v in self.visible_vehicles(whose)]

    def user_update(
        self, user: dict[str, Any], *, username: str | None, changes: dict[str, str]
    ) -> str:
        """``user/update``: password and profile; App Tokens are not affected."""
        self.acting_user(user, username).update(changes)
        self.touch()
        return "User updated"

    def vehiclegroup_list(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """``vehiclegroup/list``: the groups the user may see, with their sizes."""
        rows = []
        for name in self.visible_groups(user):
            if name == ALL_VEHICLES:
                count = len(self.visible_vehicles(user))
            else:
                count = len(self.state["groups"].get(name) or [])
            rows.append({"name": name, "vehicle_count": count})
        return rows

    def vehiclegroup_listvehicles(
        self, user: dict[str, Any], *, group: str
    ) -> list[dict[str, Any]]:
        """``vehiclegroup/listvehicles``: one visible group's vehicles."""
        if group not in self.visible_groups(user):
            raise not_found("Vehicle group not found")
        if group == ALL_VEHICLES:
            fleet = self.visible_vehicles(user)
        else:
            ids = {str(i) for i in self.state["groups"].get(group) or []}
            fleet = [v for v in self.visible_vehicles(user) if str(v.get("id")) in ids]
        return [vehicle_row(v, False, 0) for v in fleet]
