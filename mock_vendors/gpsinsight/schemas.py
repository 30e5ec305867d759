"""Every API method's parameters as a marshmallow schema, worded as GPS Insight words errors.

Parameter names are the official PHP client's (its docblocks, generated from the live API's
``{service}/methods``); a name the emulator used before is kept as an alias. Field order is
the order the platform checks them in: when several parameters are bad, the first is the one
reported. Each field's ``description`` is what ``{service}/methods`` answers for it.
``session_token`` and ``reference_tag`` belong to every call and are read by the RPC
dispatcher (routes.py), not here. The field types and ``load()`` live in ``params``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError, post_load, validates_schema

from .errors import missing_text
from .params import (
    MAX_TEXT,
    Columns,
    Date,
    ExecTime,
    Flag,
    Integer,
    NoParameters,
    Number,
    Param,
    load,
)
from .rows import DETAIL_COLUMNS, IDENTITY_COLUMNS

__all__ = ["NoParameters", "load"]  # the base schema and load() live in params, used from here

NOTHING_TO_UPDATE = missing_text("a field to update")
VEHICLE = "Vehicle id, vin, serial_number, name or partial name (first to match)"
VEHICLE_OPTIONAL = f"{VEHICLE}, optional: every visible vehicle"
GROUP = "vehicle group name, group_id, or partial group name"
DATE = "return data for this date (optional)"
START = "start of a date span (optional)"
END = "end date for a date span (optional)"
TIMEZONE = "(US/Pacific, US/Arizona, US/Mountain, US/Central, US/Eastern, Europe/London, UTC, etc)"


class TimeZone(Param):
    """An IANA time zone name the host knows (US/Arizona, America/Phoenix, UTC...)."""

    default_error_messages = {"unknown": "unknown time zone"}

    def read(self, text: str) -> str:
        try:
            ZoneInfo(text.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise self.make_error("unknown") from None
        return text.strip()


# -- sessions and App Tokens -----------------------------------------------------------


class Login(NoParameters):
    """``userauth/login``: a username and its App Token or password."""

    username = Param(required=True, description="the user's login name")
    app_token = Param(description="an App Token of the user (instead of the password)")
    password = Param(description="the user's password (instead of an App Token)")
    user_context = Param(
        description="(optional) username of the account user the session acts as (Master only)"
    )

    @validates_schema
    def _a_secret(self, data: dict[str, Any], **_: Any) -> None:
        if data["app_token"] is None and data["password"] is None:
            raise ValidationError(missing_text("app_token or password"))


class AppCreate(NoParameters):
    """``apiapp/create``: a new App Token for yourself or (Master) another user."""

    app_name = Param(required=True, max_length=MAX_TEXT, description="Identifier for the app token")
    username = Param(description="(optional) Username to whom the app token will be assigned")
    description = Param(load_default="", description="Description of the app token")


class AppUpdate(NoParameters):
    """``apiapp/update``: (de)activate, rotate, rename (blank renames to blank), reassign."""

    app_token = Param(required=True, description="the App Token to update")
    active = Flag(description="1 to activate, 0 to deactivate (optional)")
    new_app_token = Flag(description="(optional) 1 replaces the token with a new one")
    app_name = Param(blank_is_value=True, description="(optional)")
    description = Param(blank_is_value=True, description="(optional)")
    username = Param(description="(optional) the user the token belongs to (Master only)")


# -- vehicles ----------------------------------------------------------------------------


class FleetOrVehicle(NoParameters):
    """The visible fleet, or the one vehicle named (id, VIN, serial or label)."""

    vehicle = Param(description=VEHICLE_OPTIONAL)


class OneVehicle(NoParameters):
    """The one vehicle the method acts on."""

    vehicle = Param(required=True, description=VEHICLE)


class VehicleList(FleetOrVehicle):
    """``vehicle/list``: ``detail`` selects detail columns (``details`` is its older name)."""

    detail = Columns(
        columns=DETAIL_COLUMNS,
        always=IDENTITY_COLUMNS,
        description="specify individual columns to return (comma-separated) or 1 for all "
        "(optional)",
    )
    details = Columns(columns=DETAIL_COLUMNS, always=IDENTITY_COLUMNS, alias_of="detail")
    filter_group = Param(description=f"{GROUP}: only its vehicles (optional)")


class VehicleLocation(FleetOrVehicle):
    """``vehicle/location``."""

    last_exec_time = ExecTime(
        description="return only new vehicle data since last call (MST, optional)"
    )
    extended = Flag(
        no_effect=True, description="show extra information about the vehicle (optional)"
    )


class VehicleWindow(FleetOrVehicle):
    """``vehicle/runtime`` and ``vehicle/dtc``: a time window, today by default (what the
    three dates make together is ``timefmt.window``'s to say: it needs the account's zone)."""

    date = Date(description=DATE)
    start = Date(description=START)
    end = Date(description=END)


class VehicleHistory(VehicleWindow):
    """``vehicle/history``: the window of one vehicle (at most 7 days)."""

    vehicle = Param(required=True, description=VEHICLE)
    location_detail = Flag(
        no_effect=True,
        description="show geocoded street address and landmark, if found (optional)",
    )
    inputs = Flag(no_effect=True, description="show input state and definition (optional)")


class Changes(NoParameters):
    """A method that changes fields: at least one change must be given. The stored fields it
    sets (``CHANGES``) reach the backend together as ``changes``, the given ones in field
    order; ``ALSO_CHANGES`` count as a change but stay parameters of their own."""

    CHANGES: tuple[str, ...] = ()
    ALSO_CHANGES: tuple[str, ...] = ()

    @validates_schema
    def _a_change(self, data: dict[str, Any], **_: Any) -> None:
        if all(data[key] is None for key in (*self.CHANGES, *self.ALSO_CHANGES)):
            raise ValidationError(NOTHING_TO_UPDATE)

    @post_load
    def _bundle(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        changes = {key: value for key in self.CHANGES if (value := data.pop(key)) is not None}
        return {**data, "changes": changes}


def settable_text(description: str = "(optional)", **kw: Any) -> Param:
    """Text a write sets (blank sets it blank), at most ``MAX_TEXT`` characters."""
    return Param(blank_is_value=True, max_length=MAX_TEXT, description=description, **kw)


class VehicleUpdate(OneVehicle, Changes):
    """``vehicle/update``: identity text (blank sets a field blank), model year, sizes,
    odometer (at ``timestamp``, now by default) and lifetime engine hours."""

    CHANGES = (
        "vin", "label", "make", "model", "ref_id", "license_state", "license_number",
        "fuel_type", "country", "model_year", "color", "fuel_capacity", "engine_size",
        "idle_gph", "icon",
    )  # fmt: skip
    ALSO_CHANGES = ("odometer", "runtime")

    vin = settable_text()
    label = settable_text("(optional) Label assigned to the vehicle")
    make = settable_text()
    model = settable_text()
    ref_id = settable_text("External reference ID for the vehicle (does not display in interface)")
    license_state = settable_text()
    license_number = settable_text()
    fuel_type = settable_text("(optional) U=Unleaded, D=Diesel, N=N/A, E=Electric")
    country = settable_text()
    model_year = Integer(minimum=1900, maximum=2100, description="(optional)")
    odometer = Number(minimum=0, description="(optional) In miles")
    color = settable_text()
    fuel_capacity = Number(minimum=0, description="(optional) In gallons")
    engine_size = Number(minimum=0, description="(optional) In liters")
    idle_gph = Number(minimum=0, description="(optional) Idle gallons per hour used")
    icon = settable_text("id group id, label, style or partial label or style (optional)")
    runtime = Number(minimum=0, description="(optional) In hours")
    timestamp = Date(description="(optional) timestamp to apply to odometer waypoint")


class VehicleOdometer(OneVehicle):
    """``vehicle/setodometerwaypoint``: the odometer reading at a time (now by default)."""

    odometer = Number(required=True, minimum=0, description="in miles")
    timestamp = Date(description="the time at which to place the new entry (optional)")


# -- users and groups --------------------------------------------------------------------


class ActingUser(NoParameters):
    """Yourself, or (for the Master User) another user of the account."""

    username = Param(description="(optional) another user of the account (Master only)")


def _profile(**kw: Any) -> Param:
    """A profile field (blank counts as absent), at most ``MAX_TEXT`` characters."""
    return Param(max_length=MAX_TEXT, description="(optional)", **kw)


class UserUpdate(ActingUser, Changes):
    """``user/update``: profile and password (``first_name``/``last_name`` are the older
    names of ``firstname``/``lastname``)."""

    CHANGES = (
        "address", "city", "country", "email", "first_name", "last_name", "phone", "state",
        "timezone", "password",
    )  # fmt: skip

    username = Param(description="Username for the user to be updated (optional: yourself)")
    address = _profile()
    city = _profile()
    country = _profile()
    email = _profile()
    first_name = _profile(data_key="firstname")
    last_name = _profile(data_key="lastname")
    phone = _profile()
    state = _profile()
    timezone = TimeZone(max_length=MAX_TEXT, description=TIMEZONE)
    password = Param(description="(optional) a new password")
    first_name_alias = _profile(data_key="first_name", alias_of="firstname")
    last_name_alias = _profile(data_key="last_name", alias_of="lastname")


class GroupVehicles(NoParameters):
    """A method on one visible vehicle group (``group`` is the older name of
    ``vehicle_group``)."""

    vehicle_group = Param(required=True, description=GROUP)
    group = Param(alias_of="vehicle_group")


class GroupList(NoParameters):
    """``vehiclegroup/list``: the visible groups, filtered."""

    minimum_count = Integer(
        minimum=0,
        description="show only vehicle groups with a minimum number of vehicles (optional)",
    )
    nonzero = Flag(
        description="show only vehicle groups with one or more member vehicles (optional)"
    )
    vehicle_group = Param(description=f"(optional) show a single group: {GROUP}")
    include_members = Flag(description="(optional) include members of each group")


class GroupLocation(GroupVehicles):
    """``vehiclegroup/location``."""

    last_exec_time = ExecTime(
        description="return only new vehicle data since last call (MST, optional)"
    )


class GroupWindow(GroupVehicles):
    """``vehiclegroup/runtime``: a group and a time window (today by default)."""

    date = Date(description=DATE)
    start = Date(description=START)
    end = Date(description=END)


class GroupSpan(GroupVehicles):
    """``vehiclegroup/dtc``: a group and a span (today by default)."""

    start = Date(description="Start date including hours and minutes if desired (optional)")
    end = Date(description="End date including hours and minutes if desired (optional)")


# -- trips, VINs, the heartbeat ------------------------------------------------------------


class Trips(OneVehicle):
    """``vehicle/trips``: the trips of one vehicle that began in a span (at most 31 days)."""

    start = Date(description=START)
    end = Date(description=END)
    include_points = Flag(description="Obtain all gps related to a returned trip")
    snap = Flag(no_effect=True, description="Snap GPS points to a road")
    include_landmarks = Flag(no_effect=True, description="Include landmarks")


class VinDecode(NoParameters):
    """``vin/decode``."""

    vin = Param(required=True, max_length=MAX_TEXT, description="the VIN to decode")


class Repeat(NoParameters):
    """``heartbeat/repeat``."""

    word = Param(required=True, max_length=MAX_TEXT, description="the word to repeat")
