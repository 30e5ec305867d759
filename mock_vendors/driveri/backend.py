"""Driveri state in plain Python (no Flask): the tenant, its API clients and its drivers.

State is one JSON-native dict (tenant, clients, drivers) so a dump is the state itself.
Access tokens are kept beside it (see :mod:`.auth`), never dumped: they are secrets and
short-lived. The behaviour is one mixin per service: OAuth clients and tokens (``auth.py``)
and drivers (``drivers.py``).
"""

from __future__ import annotations

import base64
import copy
import secrets
from typing import Any

from mock_vendors._common.clock import VirtualClock
from mock_vendors._common.state import StateBackend

from .auth import OAuthMixin
from .drivers import Drivers


class DriveriBackend(OAuthMixin, Drivers, StateBackend):
    """One Driveri deployment: its tenant, API clients, access tokens and drivers."""

    SHAPE = {"tenant": object, "clients": list, "drivers": list}

    def __init__(
        self,
        world: dict[str, Any],
        clock: VirtualClock,
        *,
        token_ttl_s: float = 3600.0,
        rate_per_minute: int = 0,
    ) -> None:
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self.rate_per_minute = rate_per_minute
        super().__init__(
            {
                "tenant": world["tenant"],
                "clients": copy.deepcopy(world["clients"]),
                "drivers": copy.deepcopy(world["drivers"]),
            }
        )
        self.tokens = {}
        self.token_id_key = secrets.token_bytes(32)
        self._calls = {}
        self.restored()

    # -- control plane -------------------------------------------------------------------

    def credentials(self) -> dict[str, Any]:
        """The API clients, with the Basic token the SDK's ``from_basic_token`` takes."""
        with self.lock:
            return {
                "clients": [
                    {
                        "client_id": c.get("client_id"),
                        "client_secret": c.get("client_secret"),
                        "tenant": c.get("tenant"),
                        "basic_token": base64.b64encode(
                            f"{c.get('client_id')}:{c.get('client_secret')}".encode()
                        ).decode(),
                    }
                    for c in self.state["clients"]
                    if isinstance(c, dict)
                ]
            }

    def restored(self) -> None:
        """Index drivers by id: kept current in place by add and rename, rebuilt only when a
        restore swaps the state."""
        self._by_id: dict[str, dict[str, Any]] = {
            str(d.get("driverId")): d for d in self.state["drivers"] if isinstance(d, dict)
        }
