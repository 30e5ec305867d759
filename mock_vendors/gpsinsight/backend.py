"""GPS Insight API v2 state and behaviour, in plain Python (no Flask here).

The state is one JSON-native dict, so a dump is the state itself and a restore takes an edited
dump verbatim. Sessions are kept beside it, never in a dump: they are secrets and short-lived.
Serialised answers are cached by state version, which every mutation bumps.
"""

from __future__ import annotations

import copy
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from mock_vendors._common.clock import VirtualClock

from . import motion
from .errors import FORBIDDEN_SESSION, ApiError
from .schemas import MAX_HISTORY_DAYS, Params
from .timefmt import (
    gmt_iso,
    local_fix_text,
    local_iso,
    local_sql,
    mst_sql,
    parse_mst,
)

ALL_VEHICLES = "ALL VEHICLES"
QUOTA_WINDOW_S = 86_400
DTC_REPORT_INTERVAL_S = 3600
STATE_KEYS = ("account", "users", "apps", "groups", "vehicles", "drivers")
STREETS = (
    "Main St", "Oak Ave", "Maple Dr", "Industrial Pkwy", "Commerce Blvd", "Cedar Ln",
    "Washington St", "Airport Rd", "Lincoln Ave", "Broadway", "Mill Rd", "Park Ave",
    "Elm St", "Highland Dr", "River Rd", "Center St", "Depot St", "Freight Way",
)  # fmt: skip
UPDATABLE_VEHICLE_TEXT = (
    "vin", "label", "make", "model", "ref_id", "license_state", "license_number",
    "fuel_type", "country",
)  # fmt: skip


@dataclass(frozen=True)
class Raw:
    """An answer's ``data`` already serialised to JSON bytes (served from the cache)."""

    body: bytes


@dataclass
class Ctx:
    """Who is calling: the session's user (None only for methods that need no session)."""

    user: dict[str, Any]
    session: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """A registered API method."""

    handler: Callable[[GpsInsightBackend, Ctx, Params], Any]
    needs_session: bool = True


class GpsInsightBackend:
    """One GPS Insight-platform vendor (GPS Insight or Wex): its accounts and behaviour."""

    def __init__(
        self,
        world: dict[str, Any],
        clock: VirtualClock,
        *,
        session_ttl_hours: float = 24.0,
        daily_quota: int = 0,
    ) -> None:
        self.clock = clock
        self.session_ttl_s = session_ttl_hours * 3600
        self.daily_quota = daily_quota
        self.lock = threading.RLock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.version = 0
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.state = _initial_state(copy.deepcopy(world))

    # -- control plane -------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A deep copy of the state (sessions excluded)."""
        with self.lock:
            return copy.deepcopy(self.state)

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the state with a dump, verbatim; only its top-level shape is checked."""
        missing = [k for k in STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"missing key(s): {', '.join(missing)}")
        for key, kind in (("users", dict), ("apps", dict), ("groups", dict), ("vehicles", list)):
            if not isinstance(state[key], kind):
                raise ValueError(f"'{key}' must be a JSON {'object' if kind is dict else 'array'}")
        with self.lock:
            self.state = state
            self._touch()

    def credentials(self) -> dict[str, Any]:
        """Every user with its first active App Token, for README, tests and QA."""
        with self.lock:
            users = []
            for user in self.state["users"].values():
                app = next(
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

    def expire_session(self, token: str | None) -> None:
        """End a session at once (the ``expire_session`` fault)."""
        if token:
            with self.lock:
                self.sessions.pop(token, None)

    # -- sessions and quota --------------------------------------------------------------

    def now(self) -> float:
        """Virtual time, epoch seconds."""
        return self.clock.timestamp()

    def authenticate(self, token: str | None) -> Ctx:
        """The caller of a session token, counting the request; 403 if it is not alive."""
        now = self.now()
        session = self.sessions.get(token) if token else None
        if session is None:
            raise ApiError(403, FORBIDDEN_SESSION)
        if now >= session["expires_at"] or now < session["started_at"] - 1:
            self.sessions.pop(token, None)  # type: ignore[arg-type]
            raise ApiError(403, FORBIDDEN_SESSION)
        user = self.state["users"].get(session["username"])
        if not isinstance(user, dict):
            raise ApiError(403, FORBIDDEN_SESSION)
        self.charge_quota(session["username"], now)
        session["request_count"] += 1
        return Ctx(user=user, session=session)

    def charge_quota(self, username: str, now: float) -> None:
        """Count one request against the user's rolling 24-hour quota (when one is set)."""
        if self.daily_quota <= 0:
            return
        log = self.state.setdefault("quota_log", {}).setdefault(username, [])
        while log and log[0] <= now - QUOTA_WINDOW_S:
            log.pop(0)
        if len(log) >= self.daily_quota:
            raise ApiError(429, "too many requests", max(1.0, log[0] + QUOTA_WINDOW_S - now))
        log.append(now)

    def app_id_of(self, token: str | None) -> str | None:
        """The journal's non-secret id of the App Token behind a session, if any."""
        session = self.sessions.get(token) if token else None
        return session.get("app_id") if session else None

    def login(self, p: Params) -> dict[str, Any]:
        """``userauth/login``: username with an App Token or a password -> session token."""
        username = p.require("username")
        app_token, password = p.get("app_token"), p.get("password")
        if app_token is None and password is None:
            raise ApiError(400, "Missing required parameter: app_token or password")
        user = self.state["users"].get(username)
        app = self.state["apps"].get(app_token) if app_token is not None else None
        if app_token is not None:
            ok = (
                isinstance(user, dict)
                and isinstance(app, dict)
                and app.get("username") == username
                and bool(app.get("active"))
            )
        else:
            ok = isinstance(user, dict) and secrets.compare_digest(
                str(user.get("password", "")).encode(), str(password).encode()
            )
        if not ok:
            raise ApiError(403, "Forbidden (invalid username, password or app token)")
        now = self.now()
        self.charge_quota(username, now)
        token = secrets.token_hex(16)
        self.sessions[token] = {
            "username": username,
            "app_id": app.get("id") if app else None,
            "started_at": now,
            "expires_at": now + self.session_ttl_s,
            "request_count": 1,
        }
        return {"token": token}

    def logout(self, token: str | None) -> str:
        """``userauth/logout``: end the session."""
        self.authenticate(token)
        self.sessions.pop(token, None)  # type: ignore[arg-type]
        return "logged out"

    # -- visibility ----------------------------------------------------------------------

    def _touch(self) -> None:
        self.version += 1
        self._cache.clear()

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        full = (self.version, *key)
        hit = self._cache.get(full)
        if hit is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            hit = self._cache[full] = build()
        return hit

    def _vehicle_index(self) -> dict[str, dict[str, Any]]:
        return self._cached(
            ("index",),
            lambda: {str(v.get("id")): v for v in self.state["vehicles"] if isinstance(v, dict)},
        )

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

        return self._cached(("visible", user.get("username")), build)

    def resolve_vehicle(self, user: dict[str, Any], ref: str) -> dict[str, Any]:
        """A ``vehicle`` parameter: id, VIN, serial, label, then a unique partial label."""
        wanted = ref.strip().lower()
        fleet = self.visible_vehicles(user)
        for key in ("id", "vin", "serial_number", "label"):
            for v in fleet:
                if str(v.get(key) or "").lower() == wanted and wanted:
                    return v
        partial = [v for v in fleet if wanted and wanted in str(v.get("label") or "").lower()]
        if len(partial) == 1:
            return partial[0]
        if len(partial) > 1:
            raise ApiError(400, f"Invalid parameter vehicle: '{ref}' matches several vehicles")
        raise ApiError(404, "Vehicle not found")

    def _vehicles_param(self, ctx: Ctx, p: Params, *, required: bool) -> list[dict[str, Any]]:
        ref = p.require("vehicle") if required else p.get("vehicle")
        if ref is None:
            return self.visible_vehicles(ctx.user)
        return [self.resolve_vehicle(ctx.user, ref)]

    @property
    def tz(self) -> str:
        """The account's time zone."""
        return str(self.state["account"].get("timezone") or "America/Phoenix")

    # -- vehicles ------------------------------------------------------------------------

    def vehicle_list(self, ctx: Ctx, p: Params) -> Raw:
        """``vehicle/list``: the whole visible fleet, no pagination; ``details=1`` adds more."""
        details = bool(p.flag("details"))
        ref = p.get("vehicle")
        fleet = self._vehicles_param(ctx, p, required=False)
        now = self.now()
        bucket = math.floor(now / motion.FIX_INTERVAL_S) if details else 0
        return self._cached(
            ("list", ctx.user.get("username"), ref, details, bucket),
            lambda: Raw(_dumps([_vehicle_row(v, details, now) for v in fleet])),
        )

    def vehicle_read(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``vehicle/read``: one vehicle with details, as a one-element array."""
        v = self.resolve_vehicle(ctx.user, p.require("vehicle"))
        return [_vehicle_row(v, True, self.now())]

    def vehicle_location(self, ctx: Ctx, p: Params) -> Raw:
        """``vehicle/location``: latest fix of every visible vehicle (or one); incremental
        with ``last_exec_time``."""
        ref = p.get("vehicle")
        fleet = self._vehicles_param(ctx, p, required=False)
        raw_last = p.get("last_exec_time")
        try:
            last = parse_mst(raw_last) if raw_last is not None else None
        except ValueError:
            raise ApiError(
                400, "Invalid parameter last_exec_time: use the exec_time of an earlier answer"
            ) from None
        now = self.now()
        bucket = math.floor(now / motion.FIX_INTERVAL_S)

        def build() -> Raw:
            drivers = self._drivers_by_id()
            rows = []
            for v in fleet:
                fix_ts = motion.latest_fix_time(v, now)
                if last is not None and fix_ts <= last:
                    continue
                row = self._fix_row(v, fix_ts, drivers, now)
                row["odometer"] = f"{row['odometer']:.1f}"  # a string here, as the vendor sends
                rows.append(row)
            return Raw(_dumps(rows))

        return self._cached(("location", ctx.user.get("username"), ref, last, bucket), build)

    def vehicle_history(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``vehicle/history``: every fix in a window of at most 7 days, odometer a number."""
        v = self.resolve_vehicle(ctx.user, p.require("vehicle"))
        now = self.now()
        lo, hi = p.window(self.tz, now, max_days=MAX_HISTORY_DAYS)
        drivers = self._drivers_by_id()
        return [
            self._fix_row(v, ts, drivers, now)
            for ts in motion.fix_times(v, lo, min(hi, now))
            if ts < hi
        ]

    def vehicle_runtime(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``vehicle/runtime``: engine hours in the window (string) and over the lifetime."""
        fleet = self._vehicles_param(ctx, p, required=False)
        now = self.now()
        lo, hi = p.window(self.tz, now)
        rows = []
        for v in fleet:
            lifetime = _num(v.get("runtime_base_hours")) + motion.engine_hours_between(
                v, _num(v.get("odometer_base_at")), now
            )
            rows.append(
                {
                    **_identity(v),
                    "runtime_hours": f"{motion.engine_hours_between(v, lo, min(hi, now)):.2f}",
                    "runtime_lifetime": round(lifetime, 2),
                }
            )
        return rows

    def vehicle_dtc(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``vehicle/dtc``: codes reported in the window, keyed by code, per vehicle."""
        fleet = self._vehicles_param(ctx, p, required=False)
        now = self.now()
        lo, hi = p.window(self.tz, now)
        drivers = self._drivers_by_id()
        rows = []
        for v in fleet:
            codes = self._dtc_codes(v, lo, hi, now)
            if not codes:
                continue
            driver = drivers.get(str(v.get("driver_id")), {})
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

    def diagnostic_list(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``diagnostic/list``: each code the visible fleet ever reported, first and last."""
        fleet = self._vehicles_param(ctx, p, required=False)
        now = self.now()
        seen: dict[str, list[float]] = {}
        for v in fleet:
            for ep in _episodes(v):
                # No upper bound but now: a report falling on this very second counts, as
                # it does in vehicle/dtc.
                span = _reports(ep, float("-inf"), float("inf"), now)
                if span is None:
                    continue
                entry = seen.setdefault(ep["code"], [span[0], span[1]])
                entry[0], entry[1] = min(entry[0], span[0]), max(entry[1], span[1])
        return [
            {"code": code, "first_date": local_sql(a, self.tz), "last_date": local_sql(b, self.tz)}
            for code, (a, b) in sorted(seen.items())
        ]

    def vehicle_update(self, ctx: Ctx, p: Params) -> str:
        """``vehicle/update``: change identity fields (a VIN, a label) or the odometer."""
        v = self.resolve_vehicle(ctx.user, p.require("vehicle"))
        changes: dict[str, Any] = {}
        for key in UPDATABLE_VEHICLE_TEXT:
            value = p.values.get(key)
            if value is not None:
                if len(value) > 128:
                    raise ApiError(400, f"Invalid parameter {key}: at most 128 characters")
                changes[key] = value
        year = p.integer("model_year", minimum=1900, maximum=2100)
        if year is not None:
            changes["model_year"] = year
        odometer = p.number("odometer", minimum=0)
        if not changes and odometer is None:
            raise ApiError(400, "Missing required parameter: a field to update")
        v.update(changes)
        if odometer is not None:
            v["odometer_base"], v["odometer_base_at"] = odometer, self.now()
        self._touch()
        return "Vehicle updated"

    def vehicle_setodometerwaypoint(self, ctx: Ctx, p: Params) -> str:
        """``vehicle/setodometerwaypoint``: the odometer reads ``odometer`` miles at a time."""
        v = self.resolve_vehicle(ctx.user, p.require("vehicle"))
        p.require("odometer")
        odometer = p.number("odometer", minimum=0)
        when = p.date("timestamp", self.tz)
        v["odometer_base"] = odometer
        v["odometer_base_at"] = when[0] if when else self.now()
        self._touch()
        return "Success"

    # -- users, groups, app tokens -------------------------------------------------------

    def _user_for(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        """The ``username`` parameter's user: yourself, or anyone of the account if Master."""
        name = p.get("username")
        if name is None or name == ctx.user.get("username"):
            return ctx.user
        if not ctx.user.get("master"):
            raise ApiError(403, "Forbidden (only the Master User may act for another user)")
        user = self.state["users"].get(name)
        if not isinstance(user, dict):
            raise ApiError(404, "User not found")
        return user

    def user_list(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``user/list``: every user for the Master User, yourself otherwise."""
        users = self.state["users"].values() if ctx.user.get("master") else [ctx.user]
        return [_user_row(u) for u in users if isinstance(u, dict)]

    def user_listvehicles(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``user/listvehicles``: the vehicles a user can see."""
        user = self._user_for(ctx, p)
        return [_vehicle_row(v, False, 0) for v in self.visible_vehicles(user)]

    def user_update(self, ctx: Ctx, p: Params) -> str:
        """``user/update``: password and profile; App Tokens are not affected."""
        user = self._user_for(ctx, p)
        changes = {
            k: p.values[k]
            for k in ("password", "first_name", "last_name", "email")
            if p.values.get(k) not in (None, "")
        }
        if not changes:
            raise ApiError(400, "Missing required parameter: a field to update")
        user.update(changes)
        self._touch()
        return "User updated"

    def vehiclegroup_list(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``vehiclegroup/list``: the groups the user may see, with their sizes."""
        rows = []
        for name in self.visible_groups(ctx.user):
            if name == ALL_VEHICLES:
                count = len(self.visible_vehicles(ctx.user))
            else:
                count = len(self.state["groups"].get(name) or [])
            rows.append({"name": name, "vehicle_count": count})
        return rows

    def vehiclegroup_listvehicles(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``vehiclegroup/listvehicles``: one visible group's vehicles."""
        name = p.require("group")
        if name not in self.visible_groups(ctx.user):
            raise ApiError(404, "Vehicle group not found")
        if name == ALL_VEHICLES:
            fleet = self.visible_vehicles(ctx.user)
        else:
            ids = {str(i) for i in self.state["groups"].get(name) or []}
            fleet = [v for v in self.visible_vehicles(ctx.user) if str(v.get("id")) in ids]
        return [_vehicle_row(v, False, 0) for v in fleet]

    def apiapp_create(self, ctx: Ctx, p: Params) -> list[dict[str, str]]:
        """``apiapp/create``: a new App Token for yourself (or, as Master, another user)."""
        app_name = p.require("app_name")
        if len(app_name) > 128:
            raise ApiError(400, "Invalid parameter app_name: at most 128 characters")
        owner = self._user_for(ctx, p)
        token = self._new_app_token()
        self.state["apps"][token] = {
            "id": self._next_app_id(),
            "app_name": app_name,
            "description": p.get("description", "") or "",
            "username": owner.get("username"),
            "active": True,
        }
        self._touch()
        return [{"app_id": token}]

    def apiapp_list(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        """``apiapp/list``: every token of the account for the Master User, yours otherwise."""
        me = ctx.user.get("username")
        return [
            {
                "app_id": token,
                "app_name": app.get("app_name"),
                "app_token": token,
                "description": app.get("description"),
                "username": app.get("username"),
                "active": 1 if app.get("active") else 0,
            }
            for token, app in self.state["apps"].items()
            if ctx.user.get("master") or app.get("username") == me
        ]

    def apiapp_update(self, ctx: Ctx, p: Params) -> list[dict[str, str]]:
        """``apiapp/update``: (de)activate, rotate, rename. Sessions made from a deactivated or
        rotated token end at once."""
        token = p.require("app_token")
        app = self.state["apps"].get(token)
        if not isinstance(app, dict) or not (
            ctx.user.get("master") or app.get("username") == ctx.user.get("username")
        ):
            raise ApiError(404, "App token not found")
        active = p.flag("active")
        rotate = p.flag("new_app_token")
        for key in ("app_name", "description"):
            if p.values.get(key) is not None:
                app[key] = p.values[key]
        ended = False
        if active is not None:
            ended = app.get("active") and not active
            app["active"] = active
        if rotate:
            del self.state["apps"][token]
            token = self._new_app_token()
            self.state["apps"][token] = app
            ended = True
        if ended:
            self._end_sessions_of(app.get("id"))
        self._touch()
        return [{"app_id": token}]

    def _end_sessions_of(self, app_id: Any) -> None:
        for token in [t for t, s in self.sessions.items() if s.get("app_id") == app_id]:
            del self.sessions[token]

    def _new_app_token(self) -> str:
        while True:
            token = secrets.token_hex(7)[:13]
            if token not in self.state["apps"]:
                return token

    def _next_app_id(self) -> str:
        used = {str(a.get("id")) for a in self.state["apps"].values() if isinstance(a, dict)}
        n = len(used) + 1
        while f"app-{n}" in used:
            n += 1
        return f"app-{n}"

    def heartbeat(self, p: Params) -> str:
        """``heartbeat/beat``: alive; needs no session."""
        return "OK"

    # -- rows ----------------------------------------------------------------------------

    def _drivers_by_id(self) -> dict[str, dict[str, Any]]:
        return self._cached(
            ("drivers",),
            lambda: {
                str(d.get("id")): d
                for d in self.state["drivers"]
                if isinstance(d, dict) and not d.get("deleted")
            },
        )

    def _fix_row(
        self, v: dict[str, Any], ts: float, drivers: dict[str, dict[str, Any]], now: float
    ) -> dict[str, Any]:
        fix = motion.fix_at(v, ts)
        driver = drivers.get(str(v.get("driver_id")), {})
        return {
            **_identity(v),
            "fix_time": local_fix_text(ts, self.tz),
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

    def _dtc_codes(
        self, v: dict[str, Any], lo: float, hi: float, now: float
    ) -> dict[str, dict[str, Any]]:
        merged: dict[str, list[Any]] = {}
        for ep in _episodes(v):
            span = _reports(ep, lo, hi, now)
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
                "first": local_iso(first, self.tz),
                "last": local_iso(last, self.tz),
                "count": count,
            }
            for code, (first, last, count, ep) in merged.items()
        }


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
    }


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _identity(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": v.get("id"),
        "vin": v.get("vin"),
        "label": v.get("label"),
        "serial_number": v.get("serial_number"),
    }


def _vehicle_row(v: dict[str, Any], details: bool, now: float) -> dict[str, Any]:
    row = _identity(v)
    if details:
        row.update(
            {
                "make": v.get("make"),
                "model": v.get("model"),
                "model_year": v.get("model_year"),
                "odometer": round(motion.odometer_at(v, now), 1),
                "license_state": v.get("license_state"),
                "license_number": v.get("license_number"),
                "ref_id": v.get("ref_id"),
                "fuel_type": v.get("fuel_type"),
                "country": v.get("country"),
            }
        )
    return row


def _user_row(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": u.get("id"),
        "username": u.get("username"),
        "first_name": u.get("first_name"),
        "last_name": u.get("last_name"),
        "email": u.get("email"),
        "master": bool(u.get("master")),
        "vehicle_groups": list(u.get("vehicle_groups") or []),
    }


def _address(v: dict[str, Any], fix: dict[str, Any]) -> str:
    number = 100 + int(abs(fix["latitude"]) * 10_000) % 9_000
    street = STREETS[int(abs(fix["longitude"]) * 1_000) % len(STREETS)]
    return f"{number} {street}, {v.get('city') or ''}, {v.get('state') or ''}".strip(", ")


def _episodes(v: dict[str, Any]) -> list[dict[str, Any]]:
    episodes = v.get("dtcs")
    if not isinstance(episodes, list):
        return []
    return [ep for ep in episodes if isinstance(ep, dict) and ep.get("code")]


def _reports(
    ep: dict[str, Any], lo: float, hi: float, now: float
) -> tuple[float, float, int] | None:
    """First, last and count of an episode's hourly reports inside ``[lo, hi)`` up to now."""
    start = _num(ep.get("start"))
    end = ep.get("end")
    stop = min(now, hi - 1e-6, _num(end) if end is not None else now)
    begin = max(lo, start)
    if stop < begin:
        return None
    k0 = math.ceil((begin - start) / DTC_REPORT_INTERVAL_S)
    k1 = math.floor((stop - start) / DTC_REPORT_INTERVAL_S)
    if k1 < k0:
        return None
    step = DTC_REPORT_INTERVAL_S
    return start + k0 * step, start + k1 * step, k1 - k0 + 1


METHODS: dict[tuple[str, str], Method] = {
    ("vehicle", "list"): Method(GpsInsightBackend.vehicle_list),
    ("vehicle", "read"): Method(GpsInsightBackend.vehicle_read),
    ("vehicle", "location"): Method(GpsInsightBackend.vehicle_location),
    ("vehicle", "history"): Method(GpsInsightBackend.vehicle_history),
    ("vehicle", "runtime"): Method(GpsInsightBackend.vehicle_runtime),
    ("vehicle", "dtc"): Method(GpsInsightBackend.vehicle_dtc),
    ("vehicle", "update"): Method(GpsInsightBackend.vehicle_update),
    ("vehicle", "setodometerwaypoint"): Method(GpsInsightBackend.vehicle_setodometerwaypoint),
    ("diagnostic", "list"): Method(GpsInsightBackend.diagnostic_list),
    ("user", "list"): Method(GpsInsightBackend.user_list),
    ("user", "listvehicles"): Method(GpsInsightBackend.user_listvehicles),
    ("user", "update"): Method(GpsInsightBackend.user_update),
    ("vehiclegroup", "list"): Method(GpsInsightBackend.vehiclegroup_list),
    ("vehiclegroup", "listvehicles"): Method(GpsInsightBackend.vehiclegroup_listvehicles),
    ("apiapp", "create"): Method(GpsInsightBackend.apiapp_create),
    ("apiapp", "list"): Method(GpsInsightBackend.apiapp_list),
    ("apiapp", "update"): Method(GpsInsightBackend.apiapp_update),
}
"""Session-bound methods; ``userauth/login|logout`` and ``heartbeat/beat`` are routed apart."""
