"""Values built once per state version: the emulators' one cache."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
CACHE_LIMIT = 4096


class VersionedCache:
    """``build()`` once per key while the state version stays the same.

    A backend bumps its ``version`` on every mutation; the first lookup at a new version
    forgets everything built before, so nothing stale is ever served. The cache is bounded:
    past ``limit`` entries it starts again (keys carry request parameters, which a client
    controls). Callers hold the backend's lock, so no lock is needed here.
    """

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self.limit = limit
        self._version: int | None = None
        self._entries: dict[Hashable, object] = {}

    def get(self, version: int, key: Hashable, build: Callable[[], T]) -> T:
        """The value for ``key`` at ``version``, built now if it is not held."""
        if version != self._version:
            self._entries.clear()
            self._version = version
        try:
            return self._entries[key]  # type: ignore[return-value]
        except KeyError:
            pass
        if len(self._entries) >= self.limit:
            self._entries.clear()
        value = self._entries[key] = build()
        return value

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._version = None
