"""Driveri's inputs as marshmallow schemas: camelCase wire names are ``data_key``.

Each ``load_*`` function turns a failed load into a 400 ``INVALID_REQUEST`` worded as Driveri
words it. Query parameters answer with the first bad parameter ("limit must be between 1 and
200"); driver bodies name every bad field ("firstName: Not a valid string.").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from fixtures.driveri import DRIVER_STATUSES

from .errors import bad_request

MAX_TEXT = 255
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_BULK = 500
TRUE_WORDS = {"true", "1"}
FALSE_WORDS = {"false", "0"}
# marshmallow's message for an absent driverId or firstName. Driveri reports every other bad
# field first, and an absent name in the same words as a blank one ("driverId is required"),
# so this message is filtered out and the load goes on without the name.
ABSENT = "absent"
NON_EMPTY = "a non-empty array is required"
# Text never holds a NUL: refused in every text field of a body and every text query parameter
# (the contract's text properties carry NO_NUL_PATTERN, or NOT_BLANK_PATTERN where blank is
# refused too).
NUL = "\x00"
HAS_NUL = "Must not contain a NUL character."
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


# -- driver bodies ----------------------------------------------------------------------


def _no_nul(value: str) -> None:
    if NUL in value:
        raise ValidationError(HAS_NUL)


TEXT_RULES: list[Callable[[Any], Any]] = [validate.Length(max=MAX_TEXT), _no_nul]


def _text(key: str) -> fields.String:
    return fields.String(data_key=key, allow_none=True, validate=TEXT_RULES)


class JsonBool(fields.Boolean):
    """``true`` or ``false`` as JSON sends them: the SDK's ``Optional[bool]`` never sends
    ``0``, ``1``, ``1.0`` or ``"yes"``, which marshmallow's own Boolean would take."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _name(key: str, *, required: bool) -> fields.String:
    """driverId or firstName: required on an add, optional on an edit; blank is refused later."""
    return fields.String(
        data_key=key,
        allow_none=True,
        required=required,
        validate=TEXT_RULES,
        error_messages={"required": ABSENT},
    )


class GroupSchema(Schema):
    """``{"name": ..., "action": "ADD" | "REMOVE"}`` as the SDK's GroupRequest sends it."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_TEXT), _no_nul])
    action = fields.String(load_default="ADD", validate=validate.OneOf(["ADD", "REMOVE"]))


class EditDriverSchema(Schema):
    """The SDK's EditDriverRequest: every field optional; unknown fields are ignored (the
    SDK's ``setPassword``, ``password`` and ``driverPreferences`` among them: never stored).
    Types are the SDK model's, strictly: text is a JSON string, ``enableDriveriApp`` a JSON
    boolean, ``authorizedToDrive`` and ``status`` JSON integers (never a boolean or ``1.0``).
    """

    class Meta:
        unknown = EXCLUDE

    driver_id = _name("driverId", required=False)
    first_name = _name("firstName", required=False)
    last_name = _text("lastName")
    phone = _text("phone")
    email = _text("email")
    licence_number = _text("licenceNumber")
    license_country = _text("licenseCountry")
    license_state = _text("licenseState")
    user_name = _text("userName")
    enable_driveri_app = JsonBool(data_key="enableDriveriApp", allow_none=True)
    authorized_to_drive = fields.Integer(
        data_key="authorizedToDrive", allow_none=True, strict=True, validate=validate.Range(0, 1)
    )
    group = fields.Nested(GroupSchema, allow_none=True)
    status = fields.Integer(
        allow_none=True, strict=True, validate=validate.OneOf(list(DRIVER_STATUSES))
    )


class AddDriverSchema(EditDriverSchema):
    """The SDK's AddDriverRequest: driverId and firstName required. ``status`` is validated
    as on an edit and then dropped (a new driver is always Active)."""

    driver_id = _name("driverId", required=True)
    first_name = _name("firstName", required=True)


class BulkDriversSchema(Schema):
    """``{"drivers": [...]}``: 1 to 500 items, each loaded as an add on its own."""

    class Meta:
        unknown = EXCLUDE

    drivers = fields.List(
        fields.Raw(allow_none=True),
        required=True,
        validate=[
            validate.Length(min=1, error=NON_EMPTY),
            validate.Length(max=MAX_BULK, error=f"at most {MAX_BULK} drivers per request"),
        ],
        error_messages={"required": NON_EMPTY, "null": NON_EMPTY, "invalid": NON_EMPTY},
    )


ADD_DRIVER = AddDriverSchema()
EDIT_DRIVER = EditDriverSchema()
BULK_DRIVERS = BulkDriversSchema()
WIRE_NAMES = {name: f.data_key or name for name, f in EDIT_DRIVER.fields.items()}


def load_new_driver(body: Any) -> dict[str, Any]:
    """An add body (or one bulk item) as the wire fields it carries; 400 for a bad one."""
    wire = _load_driver(ADD_DRIVER, body)
    for key in ("driverId", "firstName"):
        if not str(wire.get(key) or "").strip():
            raise bad_request(f"{key} is required")
    wire.pop("status", None)
    return wire


def load_driver_edit(body: Any) -> dict[str, Any]:
    """An edit body as the wire fields it carries; 400 for a bad one."""
    wire = _load_driver(EDIT_DRIVER, body)
    # An edit may leave these out, but not blank them: every driver keeps an id and a first
    # name.
    for key in ("driverId", "firstName"):
        if key in wire and not str(wire[key] or "").strip():
            raise bad_request(f"{key} must not be blank")
    # The SDK drops None fields before it sends a body, so a null status can only mean "no
    # status": it leaves the driver's status as it is (every driver keeps one).
    if "status" in wire and wire["status"] is None:
        del wire["status"]
    return wire


def load_bulk(body: Any) -> list[Any]:
    """The items of a bulk add, not yet loaded (each succeeds or fails on its own)."""
    try:
        loaded = BULK_DRIVERS.load(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        raise bad_request(_describe(exc.messages)) from None
    return loaded["drivers"]  # type: ignore[no-any-return]


def _load_driver(schema: Schema, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    try:
        loaded = schema.load(body)
    except ValidationError as exc:
        problems = {k: v for k, v in exc.messages.items() if v != [ABSENT]}  # type: ignore[union-attr]
        if problems:
            raise bad_request(_describe(problems)) from None
        loaded = exc.valid_data  # only required fields are absent: load_new_driver says which
    return {WIRE_NAMES[k]: v for k, v in loaded.items()}


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            text = "; ".join(value) if isinstance(value, list) else _describe(value)
            parts.append(f"{key}: {text}")  # marshmallow keys errors by data_key
        return ", ".join(parts)
    return str(messages)


# -- query strings ----------------------------------------------------------------------


class QueryInt(fields.Field):
    """An integer query parameter within ``lo..hi``."""

    def __init__(self, lo: int, hi: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lo, self.hi = lo, hi

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValidationError(f"{self.data_key} must be an integer") from None
        if not self.lo <= number <= self.hi:
            raise ValidationError(f"{self.data_key} must be between {self.lo} and {self.hi}")
        return number


class QueryFlag(fields.Field):
    """A boolean query parameter: true/false/1/0 in any letter case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        lowered = str(value).strip().lower()
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
        raise ValidationError(f"{self.data_key} must be true or false")


class QueryStates(fields.Field):
    """Comma-separated status codes, e.g. ``1,2``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> set[int]:
        try:
            return {int(s) for s in str(value).split(",") if s.strip()}
        except ValueError:
            raise ValidationError(f"{self.data_key} must be comma separated status codes") from None


class QueryText(fields.Field):
    """A text query parameter, taken as sent but never with a NUL character."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(value)
        if NUL in text:
            raise ValidationError(f"{self.data_key} must not contain a NUL character")
        return text


class QuerySchema(Schema):
    """A query string: the first value of each parameter; a blank one counts as absent."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _drop_blanks(self, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v != ""}


class DriverListQuery(QuerySchema):
    """``GET drivers``: paging and filters (fields in the order Driveri checks them)."""

    offset = QueryInt(0, 10**9, data_key="offset", load_default=0)
    limit = QueryInt(1, MAX_LIMIT, data_key="limit", load_default=DEFAULT_LIMIT)
    states = QueryStates(data_key="state", load_default=None)
    show_all = QueryFlag(data_key="showAll", load_default=False)
    from_date = QueryInt(0, 10**15, data_key="fromDate", load_default=None)
    to_date = QueryInt(0, 10**15, data_key="toDate", load_default=None)
    group = QueryText(data_key="group", load_default=None)


class DriverDetailQuery(QuerySchema):
    """``GET driver``: one of driverId, email or userName (tried in that order)."""

    driver_id = QueryText(data_key="driverId", load_default=None)
    email = QueryText(data_key="email", load_default=None)
    user_name = QueryText(data_key="userName", load_default=None)


class AddDriverQuery(QuerySchema):
    """``POST drivers``: ``reinstateDriver`` revives a soft-deleted driver with that id."""

    reinstate = QueryFlag(data_key="reinstateDriver", load_default=False)


LIST_QUERY = DriverListQuery()
DETAIL_QUERY = DriverDetailQuery()
ADD_QUERY = AddDriverQuery()


def load_query(schema: Schema, args: Mapping[str, Any]) -> dict[str, Any]:
    """A query string loaded with ``schema``; 400 naming the first bad parameter."""
    try:
        return schema.load(args)  # type: ignore[no-any-return]
    except ValidationError as exc:
        messages = exc.messages
        first = next(iter(messages.values())) if isinstance(messages, dict) else messages
        raise bad_request(str(first[0] if isinstance(first, list) else first)) from None


def load_detail_query(args: Mapping[str, Any]) -> dict[str, Any]:
    """The detail lookup's keys; 400 when none of them is given."""
    query = load_query(DETAIL_QUERY, args)
    if not any(query.values()):
        raise bad_request("One of driverId, email or userName is required")
    return query
