"""Whip Around request bodies and query strings: marshmallow schemas with Laravel's messages.

Every field reports its own error in Laravel's words ("The value field is required."), keyed by
its wire name, so a 422 names each bad field. As Laravel's default middleware does, free text
is trimmed and a blank string counts as null; enums, numbers and datetimes are taken exactly as
sent. Unknown fields are ignored, as Laravel ignores them. Collection queries load as a
:class:`Page`. The wire values themselves (date-times, codes) are ``wire.py``'s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

from .errors import invalid
from .wire import BLANKS, NUL, WIRE_TIME_EXAMPLE, canonical_code, format_time, parse_wire_time

UNITS = ("mi", "km")
STATUSES = ("New", "In Progress", "Completed", "No Correction Needed")
OPEN_STATUSES = frozenset(STATUSES[:2])
PRIORITIES = ("low", "medium", "high")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_PAGE = 2_147_483_647
MAX_ID = 2_147_483_647
MAX_READING = 1_000_000_000  # odometer and engine-hour ceiling [assumed], a DB column's range
TEXT_MAX = 255
DESCRIPTION_MAX = 10_000
CODE_MAX = 32
INT_TEXT_RE = re.compile(r"^[+-]?\d+$", re.ASCII)


def _attribute(name: str) -> str:
    # Laravel names a field in its messages with underscores turned into spaces.
    return name.replace("_", " ")


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


# -- fields --------------------------------------------------------------------------------


class LaravelField(fields.Field):
    """A field whose messages are Laravel's and name the field (``{attr}``)."""

    default_error_messages = {
        "required": "The {attr} field is required.",
        "null": "The {attr} field is required.",
    }

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:
        """The message for ``key`` with the field's wire name filled in."""
        return super().make_error(key, attr=_attribute(self.data_key or self.name or ""), **kwargs)


class Text(LaravelField):
    """A JSON string of at most ``max_length`` characters, without a NUL character (refused
    as Laravel's ``not_regex`` rule words it)."""

    default_error_messages = {
        "invalid": "The {attr} field must be a string.",
        "too_long": "The {attr} field must not be greater than {max} characters.",
        "nul": "The {attr} field format is invalid.",
    }

    def __init__(self, *, max_length: int = TEXT_MAX, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        # The length is checked as sent (stricter than Laravel, which trims first), so that
        # the contract's maxLength says exactly what is accepted.
        if len(value) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if NUL in value:
            raise self.make_error("nul")
        # Laravel's TrimStrings and ConvertEmptyStringsToNull: a blank string is null.
        value = value.strip(BLANKS)
        if not value:
            if self.allow_none:
                return None
            raise self.make_error("required")
        return value


class Code(Text):
    """A DTC code, canonicalised (upper case, whitespace collapsed)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        return canonical_code(text) if text is not None else None


class Number(LaravelField):
    """A JSON number (never a string or a boolean), finite, within optional bounds."""

    default_error_messages = {
        "invalid": "The {attr} field must be a number.",
        "min": "The {attr} field must be at least {min}.",
        "max": "The {attr} field must not be greater than {max}.",
        "between": "The {attr} field must be between {min} and {max}.",
    }

    def __init__(
        self, *, minimum: float | None = None, maximum: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _check_type(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        try:
            number = float(value)
        except OverflowError:
            raise self.make_error("invalid") from None
        if not math.isfinite(number):
            raise self.make_error("invalid")
        return number

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        number = self._check_type(value)
        low, high = self.minimum, self.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            if low is not None and high is not None:
                raise self.make_error("between", min=_number_text(low), max=_number_text(high))
            if low is not None:
                raise self.make_error("min", min=_number_text(low))
            raise self.make_error("max", max=_number_text(high))  # type: ignore[arg-type]
        return value if isinstance(value, int) else number


class Integer(Number):
    """A JSON integer within optional bounds."""

    default_error_messages = {"invalid": "The {attr} field must be an integer."}

    def _check_type(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


class QueryInteger(Integer):
    """An integer written in a query string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not INT_TEXT_RE.fullmatch(value):
            raise self.make_error("invalid")
        # Past 30 digits only the sign matters for the bounds, and int() has a digit limit.
        number = int(value) if len(value) <= 30 else (-(10**30) if value[0] == "-" else 10**30)
        return super()._deserialize(number, attr, data, **kwargs)


class Choice(LaravelField):
    """One of a fixed list of strings (compared exactly)."""

    default_error_messages = {"invalid": "The selected {attr} is invalid."}

    def __init__(self, choices: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise self.make_error("invalid")
        return value


class Flag(LaravelField):
    """A JSON boolean."""

    default_error_messages = {"invalid": "The {attr} field must be true or false."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class WireTime(LaravelField):
    """An ISO-8601 date-time with whole seconds; fractional seconds are refused. Loads as the
    vendor's own text (UTC, ``Z``)."""

    default_error_messages = {
        "invalid": (
            "The {attr} field must be an ISO-8601 date-time with whole seconds and a time zone, "
            f"like {WIRE_TIME_EXAMPLE} (fractional seconds are not accepted)."
        )
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return format_time(parse_wire_time(value))
        except (ValueError, OverflowError):
            raise self.make_error("invalid") from None


# -- schemas -------------------------------------------------------------------------------


class LaravelSchema(Schema):
    """Unknown fields are ignored, as Laravel's validator ignores them."""

    class Meta:
        unknown = EXCLUDE


class AssetSchema(LaravelSchema):
    """``POST assets``, and ``PATCH assets/{id}`` as ``ASSET_PATCH`` (partial). ``location`` is
    not writable here: it comes from ``POST assets/{idOrVin}/location``."""

    name = Text(required=True)
    vin = Text(allow_none=True)
    make = Text(allow_none=True)
    model = Text(allow_none=True)
    year = Integer(allow_none=True, minimum=1900, maximum=2100)
    odometer = Number(minimum=0, maximum=MAX_READING)
    odometer_unit = Choice(UNITS)
    engine_hours = Number(allow_none=True, minimum=0, maximum=MAX_READING)
    is_out_of_service = Flag()
    team = Text(allow_none=True)


class MileageSchema(LaravelSchema):
    """``POST assets/{idOrVin}/mileage``."""

    reading = Number(data_key="value", required=True, minimum=0, maximum=MAX_READING)
    unit = Choice(UNITS, required=True)
    recorded_at = WireTime(allow_none=True)


class EngineHoursSchema(LaravelSchema):
    """``POST assets/{idOrVin}/engine-hours``."""

    reading = Number(data_key="value", required=True, minimum=0, maximum=MAX_READING)
    recorded_at = WireTime(allow_none=True)


class LocationSchema(LaravelSchema):
    """``POST assets/{idOrVin}/location``."""

    latitude = Number(required=True, minimum=-90, maximum=90)
    longitude = Number(required=True, minimum=-180, maximum=180)
    recorded_at = WireTime(allow_none=True)


class DtcReportSchema(LaravelSchema):
    """``POST assets/{idOrVin}/dtc-defects`` [assumed body]."""

    dtc_code = Code(data_key="code", required=True, max_length=CODE_MAX)
    description = Text(allow_none=True, max_length=DESCRIPTION_MAX)
    occurred_at = WireTime(allow_none=True)


class DefectCreateSchema(LaravelSchema):
    """``POST defects``: a manual defect (``source`` "manual")."""

    asset_id = Integer(required=True, minimum=1, maximum=MAX_ID)
    name = Text(required=True)
    description = Text(allow_none=True, max_length=DESCRIPTION_MAX)
    status = Choice(STATUSES)
    priority = Choice(PRIORITIES)
    dtc_code = Code(allow_none=True, max_length=CODE_MAX)


class DefectPatchSchema(LaravelSchema):
    """``PATCH defects/{id}``: any of these, all optional."""

    name = Text()
    description = Text(allow_none=True, max_length=DESCRIPTION_MAX)
    status = Choice(STATUSES)
    priority = Choice(PRIORITIES)


class PageQuery(LaravelSchema):
    """``page`` (1-based) and ``limit`` of a collection, loaded as one :class:`Page`."""

    page = QueryInteger(allow_none=True, minimum=1, maximum=MAX_PAGE)
    limit = QueryInteger(allow_none=True, minimum=1)

    @post_load
    def _as_page(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """``page`` becomes the Page (defaults 1 / 50, ``limit`` clamped to 1000)."""
        number = data.pop("page", None) or 1
        limit = data.pop("limit", None) or DEFAULT_LIMIT
        return {**data, "page": Page(page=number, limit=min(limit, MAX_LIMIT))}


class DefectQuery(PageQuery):
    """``GET defects`` filters (there is no updated-since filter)."""

    asset_id = QueryInteger(allow_none=True)
    status = Choice(STATUSES, allow_none=True)
    created_after = WireTime(allow_none=True)
    created_before = WireTime(allow_none=True)


ASSET = AssetSchema()
ASSET_PATCH = AssetSchema(partial=True)
MILEAGE = MileageSchema()
ENGINE_HOURS = EngineHoursSchema()
LOCATION = LocationSchema()
DTC_REPORT = DtcReportSchema()
DEFECT_CREATE = DefectCreateSchema()
DEFECT_PATCH = DefectPatchSchema(partial=True)
PAGE_QUERY = PageQuery()
DEFECT_QUERY = DefectQuery()


def load(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``data`` with ``schema``; a 422 naming every bad field otherwise."""
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        raise invalid({str(k): _as_list(v) for k, v in messages.items()}) from None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


# -- paging --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Which slice of a collection: ``page`` is 1-based, ``limit`` already clamped."""

    page: int = 1
    limit: int = DEFAULT_LIMIT

    def slice(self, items: Sequence[Any]) -> tuple[Sequence[Any], dict[str, int]]:
        """The items of this page and the ``pagination`` object of the answer."""
        total = len(items)
        start = (self.page - 1) * self.limit
        pagination = {
            "current_page": self.page,
            "per_page": self.limit,
            "total": total,
            "last_page": max(1, -(-total // self.limit)),
        }
        return items[start : start + self.limit], pagination
