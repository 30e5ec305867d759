"""The Driver Sync setting: ``driverisync/read`` and ``driverisync/update``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. The account's
"Driveri Driver Sync" switch, off by default: any user of the account reads it, only the
Master User changes it. It lives in the state (``driverisync``), so a dump carries it; a dump
without it restores as off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import FORBIDDEN_DRIVER_SYNC, forbidden
from .timefmt import gmt_iso

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

KEY = "driverisync"


def default_setting() -> dict[str, Any]:
    """The setting of a new account: off, never changed."""
    return {"enabled": False, "changed_at": None}


def check_setting(state: dict[str, Any]) -> None:
    """A dump's setting, when it has one: ``{"enabled": bool, "changed_at": str | null}``."""
    setting = state.get(KEY)
    if setting is None:
        return
    if (
        not isinstance(setting, dict)
        or set(setting) != {"enabled", "changed_at"}
        or not isinstance(setting["enabled"], bool)
        or not isinstance(setting["changed_at"], (str, type(None)))
    ):
        raise ValueError(f'\'{KEY}\' must be {{"enabled": bool, "changed_at": string or null}}')


class DriverSyncService(_Core):
    """The account's Driver Sync switch."""

    def driverisync_read(self, user: dict[str, Any]) -> dict[str, Any]:
        """``driverisync/read``: whether Driver Sync is on, and when it last changed."""
        return dict(self.state.get(KEY) or default_setting())

    def driverisync_update(self, user: dict[str, Any], *, enabled: bool) -> dict[str, Any]:
        """``driverisync/update``: turn Driver Sync on or off (Master User only)."""
        if not user.get("master"):
            raise forbidden(FORBIDDEN_DRIVER_SYNC)
        self.state[KEY] = {"enabled": enabled, "changed_at": gmt_iso(self.now())}
        self.touch()
        return dict(self.state[KEY])

    def check_state(self, state: dict[str, Any]) -> None:
        """The setting's shape, when a dump has it."""
        check_setting(state)
        super().check_state(state)
