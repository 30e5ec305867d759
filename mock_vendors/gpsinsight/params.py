"""The parameter types every GPS Insight schema is built from, its base schema and ``load()``.

Parameters are strings on the wire (query string or form); a blank one counts as absent
unless a field says otherwise, and unknown ones are ignored. A text parameter holding a NUL
character is refused (naming it) before anything else looks at it. A field's ``description``
(metadata) is what ``{service}/methods`` says about the parameter; an ``alias_of`` field is an
older wire name kept working for the parameter it names (see :class:`NoParameters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from marshmallow.exceptions import SCHEMA

from .errors import DATE_RULE, bad_request, invalid, missing
from .timefmt import DateArg, parse_mst, read_date

MAX_TEXT = 128
REQUIRED = "required"  # a field's message for "absent"; load() words it as the platform does
NUL_RULE = "must not contain a NUL character"
TRUE_WORDS = frozenset({"1", "true", "yes"})
FALSE_WORDS = frozenset({"0", "false", "no"})


class Param(fields.Field):
    """A parameter as text. ``blank_is_value`` keeps an empty string as a value (a field
    set to blank) instead of reading it as absent; ``description`` documents it (the
    ``methods`` answer); ``alias_of`` makes it an older name of another parameter;
    ``no_effect`` marks one the client documents that changes nothing here (it is read and
    checked, then dropped before the backend sees the parameters).

    A field's error messages are the rule the value broke; :func:`load` names the parameter.
    """

    default_error_messages = {
        "required": REQUIRED,
        "too_long": "at most {max_length} characters",
        "nul": NUL_RULE,
    }

    def __init__(
        self,
        *,
        required: bool = False,
        blank_is_value: bool = False,
        max_length: int | None = None,
        description: str = "",
        alias_of: str | None = None,
        no_effect: bool = False,
        **kwargs: Any,
    ) -> None:
        if not required:
            kwargs.setdefault("load_default", None)
        metadata = {"description": description, "alias_of": alias_of, "no_effect": no_effect}
        super().__init__(required=required, metadata=metadata, **kwargs)
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
        if "\x00" in text:
            raise self.make_error("nul")
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
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
        raise self.make_error("invalid")


class Columns(Param):
    """A column selector: 1 (every column), 0 (none) or a comma-separated list of names.

    Loads to the selected names in ``columns`` order (an empty tuple for none); ``always``
    names columns every row has anyway, accepted and ignored."""

    default_error_messages = {
        "unknown": "unknown column(s) {names}; use 1, 0 or a comma-separated list of {known}",
    }

    def __init__(
        self, *, columns: tuple[str, ...], always: tuple[str, ...] = (), **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.columns, self.always = columns, always

    def read(self, text: str) -> tuple[str, ...]:
        lowered = text.strip().lower()
        if lowered in TRUE_WORDS:
            return self.columns
        if lowered in FALSE_WORDS:
            return ()
        names = [part.strip() for part in lowered.split(",") if part.strip()]
        unknown = [n for n in names if n not in self.columns and n not in self.always]
        if unknown or not names:
            shown = ", ".join(repr(n) for n in unknown) or repr(text)
            raise self.make_error("unknown", names=shown, known=", ".join(self.columns))
        return tuple(c for c in self.columns if c in names)


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

    An ``alias_of`` field is an older wire name of another parameter: its value is used when
    the parameter itself is absent (the parameter wins when both are given, and the alias is
    still checked), errors name the name the caller used, and the loaded data holds the
    parameter only. A ``no_effect``
    field is checked and then left out of the loaded data.
    """

    class Meta:
        unknown = EXCLUDE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wire_names = frozenset(f.data_key or name for name, f in self.load_fields.items())
        self.aliases: dict[str, str] = {}  # alias wire name -> parameter wire name
        self.dropped: tuple[str, ...] = ()  # attributes left out of the loaded data
        for name, field in self.load_fields.items():
            target = field.metadata.get("alias_of")
            if target:
                self.aliases[field.data_key or name] = target
            if target or field.metadata.get("no_effect"):
                self.dropped += (name,)
        try:
            self.defaults: dict[str, Any] | None = self.load({})
        except ValidationError:
            self.defaults = None

    def load(self, data: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Load with aliases folded into the parameters they name."""
        if self.aliases:
            data = dict(data)
            for alias, target in self.aliases.items():
                # With the parameter given too, the alias stays to be checked under its own
                # name (an over-long one is still a 400), then it is dropped unused.
                if alias in data and data.get(target) in (None, ""):
                    data[target] = data.pop(alias)
        loaded = super().load(data, **kwargs)
        for attr in self.dropped:
            loaded.pop(attr, None)
        return loaded

    def wire_name_used(self, name: str, values: Mapping[str, str]) -> str:
        """The name the caller gave parameter ``name`` under (an alias, if it used one)."""
        if values.get(name) in (None, ""):
            for alias, target in self.aliases.items():
                if target == name and alias in values:
                    return alias
        return name


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
        name = schema.wire_name_used(name, values)
        raise (missing(name) if text == REQUIRED else invalid(name, text)) from None
