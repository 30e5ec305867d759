"""Every API method's parameters as a marshmallow schema, worded as GPS Insight words errors.

Parameters are strings on the wire (query string or form); a blank one counts as absent
unless a field says otherwise, and unknown ones are ignored. When several parameters are
bad, the one reported is the first in the schema's field order, which is the order the
platform checks them in. ``session_token`` and ``reference_tag`` belong to every call and
are read by the RPC dispatcher (routes.py), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validates_schema
from marshmallow.exceptions import SCHEMA

from .errors import DATE_RULE, bad_request, invalid, missing, missing_text
from .timefmt import DateArg, parse_mst, read_date

MAX_TEXT = 128
NOTHING_TO_UPDATE = missing_text("a field to update")
REQUIRED = "required"  # a field's message for "absent"; load() words it as the platform does


class Param(fields.Field):
    """A parameter as text. ``blank_is_value`` keeps an empty string as a value (a field
    set to blank) instead of reading it as absent.

    A field's error messages are the rule the value broke; :func:`load` names the parameter.
    """

    default_error_messages = {
        "required": REQUIRED,
        "too_long": "at most {max_length} characters",
    }

    def __init__(
        self,
        *,
        required: bool = False,
        blank_is_value: bool = False,
        max_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not required:
            kwargs.setdefault("load_default", None)
        super().__init__(required=required, **kwargs)
        self.blank_is_value = blank_is_value
        self.max_length = max_length

    def deserialize(
        self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any
    ) -> Any:
        """Blank reads as absent (before the required check), unless it is a value here."""
        if value == "" and not self.blank_is_value:
            value = marshmallow.missing
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = str(value)
        if self.max_length is not None and len(text) > self.max_length:
            raise self.make_error("too_long", max_length=self.max_length)
        return self.read(text)

    def read(self, text: str) -> Any:
        """The typed value of the text (the text itself for a plain parameter)."""
        return text


class Integer(Param):
    """A whole number within optional bounds."""

    default_error_messages = {
        "invalid": "expected an integer",
        "range": "out of range",
    }

    def __init__(
        self, *, minimum: int | None = None, maximum: int | None = None, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def read(self, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise self.make_error("invalid") from None
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise self.make_error("range")
        return value


class Number(Param):
    """A finite decimal number, optionally with a minimum."""

    default_error_messages = {
        "invalid": "expected a number",
        "minimum": "must be at least {minimum}",
    }

    def __init__(self, *, minimum: float | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.minimum = minimum

    def read(self, text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise self.make_error("invalid") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise self.make_error("invalid")
        if self.minimum is not None and value < self.minimum:
            raise self.make_error("minimum", minimum=self.minimum)
        return value


class Flag(Param):
    """A 0/1 switch; true/false and yes/no are read too."""

    default_error_messages = {"invalid": "expected 0 or 1"}

    def read(self, text: str) -> bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes"):
            return True
        if lowered in ("0", "false", "no"):
            return False
        raise self.make_error("invalid")


class Date(Param):
    """A date or date-time in the account's zone, or epoch seconds (see ``timefmt``)."""

    default_error_messages = {"invalid": DATE_RULE}

    def read(self, text: str) -> DateArg:
        try:
            return read_date(text)
        except ValueError:
            raise self.make_error("invalid") from None


class ExecTime(Param):
    """``last_exec_time``: an ``exec_time`` of an earlier answer (MST) or epoch seconds."""

    default_error_messages = {"invalid": "use the exec_time of an earlier answer"}

    def read(self, text: str) -> float:
        try:
            return parse_mst(text)
        except ValueError:
            raise self.make_error("invalid") from None


class NoParameters(Schema):
    """A method that takes nothing but the session; the base of every other schema.

    A schema reads its own fields only (unknown parameters are dropped, no hook looks at
    them), so a call that gives none of them always loads to ``defaults`` (None when such a
    call is refused: a required parameter, or a rule across fields).
    """

    class Meta:
        unknown = EXCLUDE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wire_names = frozenset(f.data_key or name for name, f in self.load_fields.items())
        try:
            self.defaults: dict[str, Any] | None = self.load({})
        except ValidationError:
            self.defaults = None


def load(schema: NoParameters, values: Mapping[str, str]) -> dict[str, Any]:
    """The typed parameters of one call; the first problem found answers 400."""
    # Most calls give none of the method's parameters (a poll with just its session); they
    # all load to the same defaults, worked out once when the schema was made.
    if schema.defaults is not None and schema.wire_names.isdisjoint(values):
        return dict(schema.defaults)
    try:
        return schema.load(values)  # type: ignore[no-any-return]
    except ValidationError as exc:
        # Errors are keyed by wire name, in field order: the first is the one to report.
        name, texts = next(iter(exc.messages.items()))  # type: ignore[union-attr]
        text = str(texts[0])
        if name == SCHEMA:
            raise bad_request(text) from None  # a rule across fields, worded in full
        raise (missing(name) if text == REQUIRED else invalid(name, text)) from None


# -- the methods' schemas (field order = the order the platform checks them in) ----------


class Login(NoParameters):
    """``userauth/login``: a username and its App Token or password."""

    username = Param(required=True)
    app_token = Param()
    password = Param()

    @validates_schema
    def _a_secret(self, data: dict[str, Any], **_: Any) -> None:
        if data["app_token"] is None and data["password"] is None:
            raise ValidationError(missing_text("app_token or password"))


class FleetOrVehicle(NoParameters):
    """The visible fleet, or the one vehicle named (id, VIN, serial or label)."""

    vehicle = Param()


class OneVehicle(NoParameters):
    """The one vehicle the method acts on."""

    vehicle = Param(required=True)


class VehicleList(NoParameters):
    """``vehicle/list``."""

    details = Flag()
    vehicle = Param()


class VehicleLocation(FleetOrVehicle):
    """``vehicle/location``."""

    last_exec_time = ExecTime()


class VehicleWindow(FleetOrVehicle):
    """``vehicle/runtime`` and ``vehicle/dtc``: a time window, today by default (what the
    three dates make together is ``timefmt.window``'s to say: it needs the account's zone)."""

    date = Date()
    start = Date()
    end = Date()


class VehicleHistory(VehicleWindow):
    """``vehicle/history``: the window of one vehicle."""

    vehicle = Param(required=True)


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


class VehicleUpdate(OneVehicle, Changes):
    """``vehicle/update``: identity text (blank sets a field blank), model year, odometer."""

    CHANGES = (
        "vin", "label", "make", "model", "ref_id", "license_state", "license_number",
        "fuel_type", "country", "model_year",
    )  # fmt: skip
    ALSO_CHANGES = ("odometer",)

    vin = Param(blank_is_value=True, max_length=MAX_TEXT)
    label = Param(blank_is_value=True, max_length=MAX_TEXT)
    make = Param(blank_is_value=True, max_length=MAX_TEXT)
    model = Param(blank_is_value=True, max_length=MAX_TEXT)
    ref_id = Param(blank_is_value=True, max_length=MAX_TEXT)
    license_state = Param(blank_is_value=True, max_length=MAX_TEXT)
    license_number = Param(blank_is_value=True, max_length=MAX_TEXT)
    fuel_type = Param(blank_is_value=True, max_length=MAX_TEXT)
    country = Param(blank_is_value=True, max_length=MAX_TEXT)
    model_year = Integer(minimum=1900, maximum=2100)
    odometer = Number(minimum=0)


class VehicleOdometer(OneVehicle):
    """``vehicle/setodometerwaypoint``: the odometer reading at a time (now by default)."""

    odometer = Number(required=True, minimum=0)
    timestamp = Date()


class ActingUser(NoParameters):
    """Yourself, or (for the Master User) another user of the account."""

    username = Param()


class UserUpdate(ActingUser, Changes):
    """``user/update``: password and profile."""

    CHANGES = ("password", "first_name", "last_name", "email")

    password = Param()
    first_name = Param()
    last_name = Param()
    email = Param()


class GroupVehicles(NoParameters):
    """``vehiclegroup/listvehicles``."""

    group = Param(required=True)


class AppCreate(NoParameters):
    """``apiapp/create``: a new App Token for yourself or (Master) another user."""

    app_name = Param(required=True, max_length=MAX_TEXT)
    username = Param()
    description = Param(load_default="")


class AppUpdate(NoParameters):
    """``apiapp/update``: (de)activate, rotate, rename (blank renames to blank)."""

    app_token = Param(required=True)
    active = Flag()
    new_app_token = Flag()
    app_name = Param(blank_is_value=True)
    description = Param(blank_is_value=True)
