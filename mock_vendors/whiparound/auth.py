"""Whip Around API keys: which key an ``x-api-key`` value is, and what its type may do.

Integration keys may do everything; personal keys everything but the telematics writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import needs_integration_key, unauthenticated
from .indexes import Indexes


class ApiKeys:
    """Mixin of :class:`~.backend.WhipAroundBackend`: the key checks, over its key index."""

    indexes: Callable[[], Indexes]  # the backend's

    def authenticate(self, api_key: str | None) -> dict[str, Any]:
        """The key row of an ``x-api-key`` value; 401 when there is none or it is unknown."""
        key = self.indexes().keys.get(api_key) if api_key else None
        if key is None:
            raise unauthenticated()
        return key


def require_integration(key: Mapping[str, Any]) -> None:
    """403 unless ``key`` is an integration key (telematics writes need one)."""
    if key.get("type") != "integration":
        raise needs_integration_key()


def key_id(key: Mapping[str, Any]) -> str:
    """The journal's non-secret name for an API key (its ``name``, never the key)."""
    return str(key.get("name") or f"{key.get('type', 'unknown')} key")
