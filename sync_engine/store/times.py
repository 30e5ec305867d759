"""Times in and out of the store: some databases (SQLite) drop the zone, so every time read
back is made UTC-aware here, once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC time (a naive one is taken to be UTC already)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
