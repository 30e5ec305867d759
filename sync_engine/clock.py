"""The engine's clock: real time in production, or a fleetsim stack's virtual clock.

Which clock the engine runs on is a *clock spec*:

- ``real`` (the default): the host's UTC time.
- ``stack:<base url>``, or just ``<base url>`` (``http://`` or ``https://``): the virtual clock
  of the fleetsim stack served at that base URL, read over HTTP from its control plane at
  ``<base url>/gpsinsight/_mock/clock`` (``{"now": ISO-8601, "frozen": bool}``). The base URL
  is the stack's, not a vendor's: ``stack:http://127.0.0.1:8100``.

The spec comes from ``FLEETSIM_ENGINE_CLOCK`` when it is set (an override for one command),
else from the store's ``engine_clock`` setting (``make run``'s demo activation records the
stack there with the integrations, so every command against that store follows the stack),
else ``real``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from .store import Store

ENV_VAR = "FLEETSIM_ENGINE_CLOCK"
SETTING = "engine_clock"
REAL = "real"
CLOCK_PATH = "/gpsinsight/_mock/clock"

# (url, timeout in seconds) -> the control plane's JSON answer; raises on any failure.
Getter = Callable[[str, float], Mapping[str, Any]]


class ClockConfigError(ValueError):
    """A clock spec that is neither ``real``, ``stack:<url>`` nor an http(s) URL."""


def real_clock() -> datetime:
    """The host's time, in UTC."""
    return datetime.now(UTC)


def parse_spec(spec: str) -> str | None:
    """The stack base URL a clock spec names, or None for real time (ClockConfigError when
    the spec is not one)."""
    text = spec.strip()
    if text.lower() == REAL:
        return None
    url = text[len("stack:") :] if text.lower().startswith("stack:") else text
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ClockConfigError(
            f"{ENV_VAR} must be 'real', 'stack:<base url>' or an http(s) base URL, not {spec!r}"
        )
    return url.rstrip("/")


def stack_spec(base_url: str) -> str:
    """The clock spec of the stack served at ``base_url``."""
    return f"stack:{base_url.rstrip('/')}"


def record_clock(store: Store, spec: str) -> None:
    """Record (after checking it) the clock every command against ``store`` runs on."""
    parse_spec(spec)
    store.save_setting(SETTING, spec.strip())


def _http_get(url: str, timeout_s: float) -> Mapping[str, Any]:
    response = requests.get(url, timeout=timeout_s)
    response.raise_for_status()
    body: Mapping[str, Any] = response.json()
    return body


class StackClock:
    """A fleetsim stack's virtual clock, read over HTTP.

    A reading is fetched at most once per ``refresh_s`` (of the host's monotonic clock);
    between fetches a running stack clock is interpolated with the monotonic clock, and a
    frozen one is returned as read. A failed fetch never raises: the last reading is advanced
    by the monotonic time since it was taken (before any reading succeeded, the host's time
    stands in), and the next fetch is tried ``refresh_s`` later. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        get: Getter = _http_get,
        monotonic: Callable[[], float] = time.monotonic,
        refresh_s: float = 1.0,
        timeout_s: float = 2.0,
        fallback: Callable[[], datetime] = real_clock,
    ) -> None:
        self.url = base_url.rstrip("/") + CLOCK_PATH
        self.get = get
        self.monotonic = monotonic
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self.fallback = fallback
        self.failures = 0
        self._lock = threading.Lock()
        self._reading: tuple[datetime, bool, float] | None = None  # (now, frozen, monotonic)
        self._tried_at: float | None = None

    def __repr__(self) -> str:
        return f"StackClock({self.url!r})"

    def __call__(self) -> datetime:
        with self._lock:
            tick = self.monotonic()
            if self._tried_at is None or tick - self._tried_at >= self.refresh_s:
                self._tried_at = tick
                try:
                    self._reading = (*_parse(self.get(self.url, self.timeout_s)), tick)
                    return self._reading[0]
                except Exception:  # noqa: BLE001 - any failure: keep going on the last reading
                    self.failures += 1
                    if self._reading is not None:  # still frozen? unknown: it runs on
                        self._reading = (self._reading[0], False, self._reading[2])
            if self._reading is None:
                return self.fallback()
            when, frozen, at = self._reading
            return when if frozen else when + timedelta(seconds=tick - at)


def _parse(body: Mapping[str, Any]) -> tuple[datetime, bool]:
    now, frozen = body["now"], body["frozen"]
    if not isinstance(now, str) or not isinstance(frozen, bool):
        raise ValueError("not a clock reading")
    when = datetime.fromisoformat(now)
    if when.tzinfo is None:
        raise ValueError("a clock reading without a time zone")
    return when.astimezone(UTC), frozen


def engine_clock(store: Store, env: Mapping[str, str] | None = None) -> Callable[[], datetime]:
    """The engine's clock for ``store``: ``FLEETSIM_ENGINE_CLOCK`` from ``env`` (default
    ``os.environ``) when set, else the store's recorded choice, else real time. Returns
    ``real_clock`` or a ``StackClock``; raises ClockConfigError for a spec that is not one."""
    env = os.environ if env is None else env
    spec = env.get(ENV_VAR, "").strip() or store.setting(SETTING) or REAL
    base = parse_spec(spec)
    return real_clock if base is None else StackClock(base)
