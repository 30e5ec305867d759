"""Users: ``user/*``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. A user sees itself
and its groups; the Master User sees the whole account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fixtures.world import ALL_VEHICLES

from .rows import user_row, vehicle_row

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object


class UserService(_Core):
    """The account's users, their profiles and the vehicle groups they are given."""

    def user_list(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """``user/list``: every user for the Master User, yourself otherwise."""
        return [user_row(u) for u in self.users_seen_by(user)]

    def user_listusers(self, user: dict[str, Any]) -> list[str]:
        """``user/listusers``: usernames as a simple list (every user for the Master User,
        yourself otherwise)."""
        return [str(u.get("username")) for u in self.users_seen_by(user)]

    def user_read(self, user: dict[str, Any], *, username: str | None) -> list[dict[str, Any]]:
        """``user/read``: one user's name, as a one-element array."""
        whose = self.acting_user(user, username)
        return [
            {
                "username": whose.get("username"),
                "fname": whose.get("first_name"),
                "lname": whose.get("last_name"),
            }
        ]

    def user_listvehiclegroups(
        self, user: dict[str, Any], *, username: str | None
    ) -> list[dict[str, Any]]:
        """``user/listvehiclegroups``: the groups a user is given, each with the number of
        vehicles that user sees in it."""
        whose = self.acting_user(user, username)
        rows = []
        for name in whose.get("vehicle_groups") or []:
            if name == ALL_VEHICLES or name in self.state["groups"]:
                row = self.group_row(whose, name)
                rows.append({k: row[k] for k in ("group_id", "label", "vehicle_count")})
        return rows

    def user_listvehicles(
        self, user: dict[str, Any], *, username: str | None
    ) -> list[dict[str, Any]]:
        """``user/listvehicles``: the vehicles a user can see."""
        whose = self.acting_user(user, username)
        return [vehicle_row(v, (), 0) for v in self.visible_vehicles(whose)]

    def user_update(
        self, user: dict[str, Any], *, username: str | None, changes: dict[str, str]
    ) -> str:
        """``user/update``: password and profile; App Tokens are not affected."""
        self.acting_user(user, username).update(changes)
        self.touch()
        return "User updated"
