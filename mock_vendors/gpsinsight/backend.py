"""GPS Insight API v2 state and behaviour, in plain Python (no Flask here).

The state is one JSON-native dict, so a dump is the state itself and a restore takes an edited
dump verbatim. Sessions are kept beside it, never in a dump: they are secrets and short-lived.
:class:`BackendCore` holds the state and who may see what; each of the platform's services is
a mixin module (``auth``, ``vehicles``, ``trips``, ``users``, ``groups``, ``vin``, ``drivers``,
``driversync``, ``webhooks``)
composed into :class:`GpsInsightBackend`.
A new service is a new mixin module, its schemas and its rows in ``routes.OPERATIONS``.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from typing import Any

from fixtures.world import ALL_VEHICLES
from mock_vendors._common.cache import VersionedCache
from mock_vendors._common.clock import VirtualClock
from mock_vendors._common.state import StateBackend

from .auth import AuthService
from .drivers import DriverService
from .driversync import KEY as DRIVER_SYNC
from .driversync import DriverSyncService, default_setting
from .errors import FORBIDDEN_OTHER_USER, forbidden, not_found
from .groups import GroupService
from .trips import TripService
from .users import UserService
from .vehicles import VehicleService
from .vin import VinService
from .webhooks import BACKOFF_S, PLATFORM_TYPES, QUEUE_CAP, WebhookService, empty_webhooks
from .webhooks import DRIVER_TYPE as DRIVER_WEBHOOK
from .webhooks import KEY as WEBHOOKS

GROUP_ID_BASE = 1_012_000


class BackendCore(StateBackend):
    """The state, its lock and version, the control plane's view of it, and visibility."""

    SHAPE = {
        "account": dict, "users": dict, "apps": dict, "groups": dict,
        "vehicles": list, "drivers": list,
    }  # fmt: skip

    def __init__(
        self,
        world: dict[str, Any],
        clock: VirtualClock,
        *,
        session_ttl_hours: float = 24.0,
        daily_quota: int = 0,
        webhook_types: tuple[str, ...] = (),
    ) -> None:
        self.clock = clock
        self.session_ttl_s = session_ttl_hours * 3600
        self.daily_quota = daily_quota
        super().__init__(_initial_state(copy.deepcopy(world)))
        self.sessions: dict[str, dict[str, Any]] = {}
        # (expires_at, token) in login order: what the purge at each login walks (auth.py).
        self.session_expiry: deque[tuple[float, str]] = deque()
        self._derived = VersionedCache()  # indexes over the state, rebuilt per version
        # Webhooks (webhooks.py): the brand's extra types, and knobs tests turn down.
        self.webhook_types = (*PLATFORM_TYPES, *webhook_types, DRIVER_WEBHOOK)
        self.webhook_queue_cap = QUEUE_CAP
        self.webhook_backoff_s = BACKOFF_S
        self.wake_delivery: Callable[[], None] = lambda: None  # the app's worker, once set

    def driver_changed(self, kind: str, driver: dict[str, Any]) -> None:
        """Hook: a driver was created, updated or deleted (webhooks.py queues its events)."""

    # -- control plane -------------------------------------------------------------------

    def credentials(self) -> dict[str, Any]:
        """Every user with its first active App Token, for README, tests and QA."""
        with self.lock:
            users = []
            for user in self.state["users"].values():
                app: tuple[str | None, dict[str, Any]] = next(
                    (
                        (token, a)
                        for token, a in self.state["apps"].items()
                        if a.get("username") == user.get("username") and a.get("active")
                    ),
                    (None, {}),
                )
                users.append(
                    {
                        "username": user.get("username"),
                        "password": user.get("password"),
                        "app_token": app[0],
                        "app_token_id": app[1].get("id"),
                        "master": bool(user.get("master")),
                        "vehicle_groups": list(user.get("vehicle_groups") or []),
                    }
                )
            return {"accounts": [{"name": self.state["account"].get("name"), "users": users}]}

    def now(self) -> float:
        """Virtual time, epoch seconds."""
        return self.clock.timestamp()

    @property
    def tz(self) -> str:
        """The account's time zone."""
        return str(self.state["account"].get("timezone") or "America/Phoenix")

    def heartbeat(self) -> str:
        """``heartbeat/beat``: alive; needs no session (the documentation's ``"beat"``)."""
        return "beat"

    def heartbeat_repeat(self, user: dict[str, Any], *, word: str) -> str:
        """``heartbeat/repeat``: the word, parroted back; needs no session."""
        return word

    # -- visibility ----------------------------------------------------------------------

    def visible_groups(self, user: dict[str, Any]) -> list[str]:
        """Group names the user may see (the Master User and ALL VEHICLES users see all)."""
        groups = self.state["groups"]
        mine = user.get("vehicle_groups") or []
        if user.get("master") or ALL_VEHICLES in mine:
            return [ALL_VEHICLES, *groups]
        return [g for g in mine if g in groups]

    def visible_vehicles(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """The user's vehicles, in fleet order; never one outside its groups."""

        def build() -> list[dict[str, Any]]:
            names = self.visible_groups(user)
            index = self._vehicle_index()
            if ALL_VEHICLES in names:
                return list(index.values())
            ids = {str(i) for g in names for i in self.state["groups"].get(g) or []}
            return [v for key, v in index.items() if key in ids]

        return self._derived.get(self.version, ("visible", user.get("username")), build)

    def resolve_vehicle(self, user: dict[str, Any], ref: str) -> dict[str, Any]:
        """A ``vehicle`` parameter, as the client documents it: the first visible vehicle to
        match by id, then VIN, serial, label, then partial label (letter case ignored)."""
        wanted = ref.strip().lower()
        fleet = self.visible_vehicles(user)
        if wanted:
            for key in ("id", "vin", "serial_number", "label"):
                for v in fleet:
                    if str(v.get(key) or "").lower() == wanted:
                        return v
            for v in fleet:
                if wanted in str(v.get("label") or "").lower():
                    return v
        raise not_found("Vehicle not found")

    def fleet_or_vehicle(self, user: dict[str, Any], ref: str | None) -> list[dict[str, Any]]:
        """The user's whole fleet, or just the vehicle ``ref`` names."""
        if ref is None:
            return self.visible_vehicles(user)
        return [self.resolve_vehicle(user, ref)]

    def acting_user(self, user: dict[str, Any], username: str | None) -> dict[str, Any]:
        """The ``username`` parameter's user: yourself, or anyone of the account if Master."""
        if username is None or username == user.get("username"):
            return user
        if not user.get("master"):
            raise forbidden(FORBIDDEN_OTHER_USER)
        other = self.state["users"].get(username)
        if not isinstance(other, dict):
            raise not_found("User not found")
        return other

    def group_ids(self) -> dict[str, int]:
        """Every group's numeric id: ``ALL VEHICLES`` first, then the account's groups in
        order, counting up from :data:`GROUP_ID_BASE` [assumed: the world has no ids]."""
        return self._derived.get(
            self.version,
            ("group_ids",),
            lambda: {
                name: GROUP_ID_BASE + n
                for n, name in enumerate(dict.fromkeys([ALL_VEHICLES, *self.state["groups"]]))
            },
        )

    def resolve_group(self, user: dict[str, Any], ref: str) -> str:
        """A vehicle group parameter: the first visible group to match by id, then name,
        then partial name (letter case ignored); 404 for anything the user cannot see."""
        wanted = ref.strip().lower()
        names = self.visible_groups(user)
        if wanted:
            ids = self.group_ids()
            for test in (
                lambda name: str(ids.get(name)) == wanted,
                lambda name: name.lower() == wanted,
                lambda name: wanted in name.lower(),
            ):
                for name in names:
                    if test(name):
                        return name
        raise not_found("Vehicle group not found")

    def group_vehicles(self, user: dict[str, Any], name: str) -> list[dict[str, Any]]:
        """The vehicles of a visible group the user sees, in fleet order."""
        fleet = self.visible_vehicles(user)
        if name == ALL_VEHICLES:
            return fleet
        ids = {str(i) for i in self.state["groups"].get(name) or []}
        return [v for v in fleet if str(v.get("id")) in ids]

    def vehicle_groups_of(self, user: dict[str, Any], v: dict[str, Any]) -> list[str]:
        """The visible groups a vehicle belongs to (``ALL VEHICLES`` for users who see it)."""
        vid = str(v.get("id"))
        return [
            name
            for name in self.visible_groups(user)
            if name == ALL_VEHICLES or vid in {str(i) for i in self.state["groups"].get(name) or []}
        ]

    def group_row(self, user: dict[str, Any], name: str) -> dict[str, Any]:
        """A group as the platform lists it: id, label and how many vehicles the user sees
        in it (``name`` repeats the label, the emulator's older field)."""
        return {
            "group_id": self.group_ids()[name],
            "label": name,
            "name": name,
            "vehicle_count": len(self.group_vehicles(user, name)),
        }

    def users_seen_by(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        """Every user of the account for the Master User; only the caller otherwise."""
        if not user.get("master"):
            return [user]
        return [u for u in self.state["users"].values() if isinstance(u, dict)]

    def driver_of(self, v: dict[str, Any]) -> dict[str, Any]:
        """The vehicle's current driver record, ``{}`` when it has none (or a deleted one)."""
        return self._drivers_by_id().get(str(v.get("driver_id")), {})

    def _vehicle_index(self) -> dict[str, dict[str, Any]]:
        return self._derived.get(
            self.version,
            ("index",),
            lambda: {str(v.get("id")): v for v in self.state["vehicles"] if isinstance(v, dict)},
        )

    def _drivers_by_id(self) -> dict[str, dict[str, Any]]:
        return self._derived.get(
            self.version,
            ("drivers",),
            lambda: {
                str(d.get("id")): d
                for d in self.state["drivers"]
                if isinstance(d, dict) and not d.get("deleted")
            },
        )


class GpsInsightBackend(
    AuthService,
    GroupService,
    VehicleService,
    TripService,
    UserService,
    VinService,
    DriverService,
    DriverSyncService,
    WebhookService,
    BackendCore,
):
    """One GPS Insight-platform vendor (GPS Insight or Wex): its accounts and behaviour."""


def _initial_state(world: dict[str, Any]) -> dict[str, Any]:
    users: dict[str, Any] = {}
    apps: dict[str, Any] = {}
    for n, user in enumerate(world["users"], start=1):
        token = user.pop("app_token")
        apps[token] = {
            "id": f"app-{n}",
            "app_name": user.pop("app_name"),
            "description": "Created with the demo world",
            "username": user["username"],
            "active": True,
        }
        users[user["username"]] = user
    return {
        "account": world["account"],
        "users": users,
        "apps": apps,
        "groups": world["groups"],
        "vehicles": world["vehicles"],
        "drivers": world["drivers"],
        "quota_log": {},
        DRIVER_SYNC: default_setting(),
        WEBHOOKS: empty_webhooks(),
    }
