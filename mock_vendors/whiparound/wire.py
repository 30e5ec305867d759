"""Whip Around values as they travel: date-times, VINs, DTC codes and path ids, written and
compared.

The schemas accept what these patterns accept, the backend stores what these functions write,
and the contract holds the same patterns, so the three agree on every value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

WIRE_TIME_EXAMPLE = "2026-11-22T15:04:05Z"
# Whole seconds and a zone, years 1900-2099 [assumed], and only days that exist (February 29
# in leap years only), so this pattern alone says what is accepted; the contract holds it too.
WIRE_TIME_PATTERN = (
    r"^((19|20)\d\d-"
    r"((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
    r"|(19(0[48]|[2468][048]|[13579][26])|20([02468][048]|[13579][26]))-02-29)"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
WIRE_TIME_RE = re.compile(WIRE_TIME_PATTERN, re.ASCII)
# What trimming removes: ASCII whitespace only, which JSON Schema's regexes (ECMA-262) and
# Python agree on; the contract says "not blank" with the same class (NOT_BLANK_PATTERN).
BLANKS = " \t\n\r\f\v"
BLANK_RUN_RE = re.compile(f"[{re.escape(BLANKS)}]+")
# Text never holds a NUL character (a 422): every text property of the contract carries
# NO_NUL_PATTERN, or NOT_BLANK_PATTERN where a blank value is refused too.
NUL = "\x00"
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = r"^[^\u0000]*[^ \t\n\r\f\v\u0000][^\u0000]*$"
MAX_ID_DIGITS = 18


def format_time(when: datetime) -> str:
    """A datetime as the vendor writes it: UTC, whole seconds, ``Z`` (2026-11-22T15:04:05Z)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_wire_time(text: str) -> datetime:
    """An ISO-8601 date-time with whole seconds and a zone; ValueError otherwise."""
    if not WIRE_TIME_RE.fullmatch(text):
        raise ValueError(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stored_ts(text: Any) -> float | None:
    """Epoch seconds of a timestamp kept in the state (tolerant: an edited dump may hold any
    ISO-8601 text); None when it is not one."""
    return _parse_stored(text) if isinstance(text, str) else None


@lru_cache(maxsize=65_536)
def _parse_stored(text: str) -> float | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def normalise_vin(value: Any) -> str:
    """A VIN as compared: whitespace removed, upper case ("" for no VIN)."""
    if not isinstance(value, str):
        return ""
    return "".join(value.split()).upper()


def canonical_code(value: Any) -> str:
    """A DTC code as compared and stored: upper case, whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    return BLANK_RUN_RE.sub(" ", value).strip(BLANKS).upper()


def path_id(ref: str) -> int | None:
    """The id a path segment names (ASCII digits, surrounding blanks ignored); None if it
    names none."""
    text = ref.strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)
