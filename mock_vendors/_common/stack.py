"""One stack: the settings, the virtual clock and the world that every vendor shares."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fixtures.world import build_world

from .clock import VirtualClock

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024

if TYPE_CHECKING:
    from .app import VendorRuntime


@dataclass(frozen=True)
class StackSettings:
    """What a stack is built from; every field has an embedded default."""

    seed: int = 1
    vehicles: int = 50
    wex_vehicles: int = 20
    admin_key: str | None = None
    session_ttl_hours: float = 24.0
    daily_quota: int = 0  # GPS Insight per-user rolling 24 h quota; 0 means off
    driveri_token_ttl_s: float = 3600.0
    driveri_rate_per_minute: int = 0  # Driveri per-client quota; 0 means off
    dtcs_per_vehicle: float | None = None  # active DTCs per vehicle (load tests); None: demo
    journal_limit: int = 50_000  # entries kept per vendor (oldest dropped first)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger request bodies answer 413, unread
    request_timeout_s: float = 10.0  # a served request's head and body must arrive by then
    max_connections: int = 10_000  # open connections served; the stalest waiting one yields
    host: str | None = None  # the address `fleetsim serve` binds (a Host the control plane takes)
    allowed_hosts: tuple[str, ...] = ()  # further Host names the control plane answers
    scenario: str | None = None  # the QA scenario the stack was loaded with (bundles record it)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> StackSettings:
        """Settings from FLEETSIM_* environment variables, then explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, cast in (
            ("seed", int),
            ("vehicles", int),
            ("wex_vehicles", int),
            ("session_ttl_hours", float),
            ("daily_quota", int),
            ("driveri_token_ttl_s", float),
            ("driveri_rate_per_minute", int),
            ("dtcs_per_vehicle", float),
            ("journal_limit", int),
            ("max_body_bytes", int),
            ("request_timeout_s", float),
            ("max_connections", int),
        ):
            raw = env.get(f"FLEETSIM_{name.upper()}")
            if raw:
                try:
                    values[name] = cast(raw)
                except ValueError as exc:
                    raise ValueError(f"FLEETSIM_{name.upper()} must be a number") from exc
        if env.get("FLEETSIM_ADMIN_KEY"):
            values["admin_key"] = env["FLEETSIM_ADMIN_KEY"]
        if env.get("FLEETSIM_HOST"):
            values["host"] = env["FLEETSIM_HOST"]
        if env.get("FLEETSIM_ALLOWED_HOSTS"):
            names = env["FLEETSIM_ALLOWED_HOSTS"].split(",")
            values["allowed_hosts"] = tuple(n.strip() for n in names if n.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """ValueError naming the variable of a setting out of its range."""
        if self.max_body_bytes < 1:
            raise ValueError("FLEETSIM_MAX_BODY_BYTES must be at least 1")
        if not 0 < self.request_timeout_s <= 3600:
            raise ValueError("FLEETSIM_REQUEST_TIMEOUT_S must be over 0 and at most 3600")
        if self.max_connections < 16:
            raise ValueError("FLEETSIM_MAX_CONNECTIONS must be at least 16")


class Stack:
    """Shared by every vendor app of one process: reseeding it reseeds them all consistently."""

    def __init__(self, settings: StackSettings | None = None, clock: VirtualClock | None = None):
        self.settings = settings or StackSettings()
        self.clock = clock or VirtualClock()
        self._lock = threading.RLock()
        self._runtimes: dict[str, VendorRuntime] = {}
        self.world = self._build_world()

    def _build_world(self) -> dict[str, Any]:
        # The world is anchored to the virtual day it was seeded on, so "active today" DTCs
        # are active today, and a frozen clock gives QA the same world every time.
        now = self.clock.now()
        anchor = datetime(now.year, now.month, now.day, tzinfo=UTC)
        return build_world(
            self.settings.seed,
            anchor,
            vehicles=self.settings.vehicles,
            wex_vehicles=self.settings.wex_vehicles,
            dtcs_per_vehicle=self.settings.dtcs_per_vehicle,
        )

    def register(self, runtime: VendorRuntime) -> None:
        """Make a vendor part of this stack (reseeding will reach it)."""
        with self._lock:
            self._runtimes[runtime.key] = runtime

    def name_scenario(self, name: str | None) -> None:
        """Record which scenario the stack holds (None: none); nothing else changes."""
        with self._lock:
            self.settings = replace(self.settings, scenario=name)

    def reseed(self, seed: int | None = None, vehicles: int | None = None, **sizes: float) -> None:
        """Regenerate the world from a new seed and reset every vendor to it."""
        with self._lock:
            changes: dict[str, Any] = {"seed": seed, "vehicles": vehicles, **sizes}
            self.settings = replace(
                self.settings, **{k: v for k, v in changes.items() if v is not None}
            )
            self.world = self._build_world()
            for runtime in self._runtimes.values():
                runtime.reset()
