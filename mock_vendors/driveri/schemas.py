"""Driver request bodies: marshmallow keeps Driveri's camelCase on the wire."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

STATUS_ACTIVE, STATUS_INACTIVE, STATUS_DELETED = 1, 2, 3
DRIVER_STATUSES = {
    STATUS_ACTIVE: "Active",
    STATUS_INACTIVE: "Inactive",
    STATUS_DELETED: "Deleted",
}
MAX_TEXT = 255


def _text(key: str) -> fields.String:
    return fields.String(data_key=key, allow_none=True, validate=validate.Length(max=MAX_TEXT))


class GroupSchema(Schema):
    """``{"name": ..., "action": "ADD" | "REMOVE"}`` as the SDK's GroupRequest sends it."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))
    action = fields.String(load_default="ADD", validate=validate.OneOf(["ADD", "REMOVE"]))


class DriverBodySchema(Schema):
    """Fields a driver add or edit may carry; unknown fields are ignored, never a 400."""

    class Meta:
        unknown = EXCLUDE

    driver_id = fields.String(
        data_key="driverId", allow_none=True, validate=validate.Length(max=MAX_TEXT)
    )
    first_name = _text("firstName")
    last_name = _text("lastName")
    phone = _text("phone")
    email = _text("email")
    licence_number = _text("licenceNumber")
    license_country = _text("licenseCountry")
    license_state = _text("licenseState")
    user_name = _text("userName")
    enable_driveri_app = fields.Boolean(data_key="enableDriveriApp", allow_none=True)
    authorized_to_drive = fields.Integer(
        data_key="authorizedToDrive", allow_none=True, strict=True, validate=validate.Range(0, 1)
    )
    group = fields.Nested(GroupSchema, allow_none=True)
    status = fields.Integer(
        allow_none=True, strict=True, validate=validate.OneOf(list(DRIVER_STATUSES))
    )


_SCHEMA = DriverBodySchema()
WIRE_NAMES = {name: f.data_key or name for name, f in _SCHEMA.fields.items()}


def load_driver_body(body: Any, *, creating: bool) -> dict[str, Any]:
    """Validate a driver body; returns the fields it carries under their wire names.

    Raises ValueError with a message naming every bad field.
    """
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    try:
        loaded = _SCHEMA.load(body)
    except ValidationError as exc:
        raise ValueError(_describe(exc.messages)) from None
    wire = {WIRE_NAMES[k]: v for k, v in loaded.items()}
    if creating:
        for key in ("driverId", "firstName"):
            if not str(wire.get(key) or "").strip():
                raise ValueError(f"{key} is required")
        wire.pop("status", None)
    else:
        # An edit may leave these out, but not blank them: every driver keeps an id, a first
        # name and a status.
        for key in ("driverId", "firstName"):
            if key in wire and not str(wire[key] or "").strip():
                raise ValueError(f"{key} must not be blank")
        if "status" in wire and wire["status"] is None:
            raise ValueError("status must be one of 1, 2, 3")
    return wire


def check_licence(driver: dict[str, Any]) -> None:
    """A licence number needs country and state, and country or state needs a number."""
    number = bool(driver.get("licenceNumber"))
    country = bool(driver.get("licenseCountry"))
    state = bool(driver.get("licenseState"))
    if number and not (country and state):
        raise ValueError("licenseCountry and licenseState are required with licenceNumber")
    if (country or state) and not number:
        raise ValueError("licenceNumber is required with licenseCountry and licenseState")


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            text = "; ".join(value) if isinstance(value, list) else _describe(value)
            parts.append(f"{WIRE_NAMES.get(key, key)}: {text}")
        return ", ".join(parts)
    return str(messages)
