"""Whip Around public API v4 state and behaviour, in plain Python (no Flask here).

The state is one JSON-native dict (``keys``, ``assets``, ``defects``, ``sequences``), so a dump
is the state itself and a restore takes an edited dump verbatim. Every mutation bumps
``version``. Lookups go through :class:`~.indexes.Indexes` derived from the state: they are
rebuilt when the version moves past them (a restore), and the backend's own writes keep them
current in place. The behaviour is one mixin per service: API keys (``auth.py``), assets and
their telematics writes (``assets.py``), defects and DTC reports (``defects.py``).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from mock_vendors._common.clock import VirtualClock

from .assets import Assets
from .auth import ApiKeys
from .defects import Defects
from .indexes import Indexes, is_id
from .wire import format_time

STATE_KEYS = ("keys", "assets", "defects")
KEY_TYPES = ("integration", "personal")


class WhipAroundBackend(ApiKeys, Assets, Defects):
    """One Whip Around account: its API keys, assets and defects, and the rules on them."""

    def __init__(self, world: dict[str, Any], clock: VirtualClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.version = 0
        self._indexes: Indexes | None = None
        state = copy.deepcopy(world)
        _check_shape(state)
        self.state = state
        idx = self.indexes()
        state["sequences"] = {"asset": idx.next_asset_id, "defect": idx.next_defect_id}

    # -- control plane -------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A deep copy of the state."""
        with self.lock:
            return copy.deepcopy(self.state)

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the state with a dump, verbatim, after checking its shape and ids."""
        _check_shape(state)
        with self.lock:
            self.state = state
            self._touch(rebuild=True)

    def credentials(self) -> dict[str, Any]:
        """Every API key with its type and name, for README, tests and QA."""
        with self.lock:
            return {
                "keys": [
                    {"key": k.get("key"), "type": k.get("type"), "name": k.get("name")}
                    for k in self.state["keys"]
                    if isinstance(k, dict)
                ]
            }

    # -- versions and indexes ------------------------------------------------------------

    def _touch(self, *, rebuild: bool = False) -> None:
        """Record a mutation. The backend's own writes have updated the indexes in place, so
        they move to the new version; a restore (``rebuild``) drops them."""
        self.version += 1
        if self._indexes is not None:
            if rebuild:
                self._indexes = None
            else:
                self._indexes.version = self.version

    def indexes(self) -> Indexes:
        """The indexes of the current state version (rebuilt only after a restore)."""
        idx = self._indexes
        if idx is None or idx.version != self.version:
            idx = self._indexes = Indexes(self.state, self.version)
        return idx

    def now_text(self) -> str:
        """Now on the virtual clock, as the vendor writes datetimes."""
        return format_time(self.clock.now())


def _check_shape(state: Any) -> None:
    """A state (or a dump to restore) must have its lists, and every row an integer id."""
    if not isinstance(state, dict):
        raise ValueError("the state must be a JSON object")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"missing key(s): {', '.join(missing)}")
    for name in STATE_KEYS:
        if not isinstance(state[name], list):
            raise ValueError(f"'{name}' must be a JSON array")
    for row in state["keys"]:
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            raise ValueError("every key must be an object with a string 'key'")
        if row.get("type") not in KEY_TYPES:
            raise ValueError(f"a key's 'type' must be one of {', '.join(KEY_TYPES)}")
    for name in ("assets", "defects"):
        seen: set[int] = set()
        for row in state[name]:
            if not isinstance(row, dict) or not is_id(row.get("id")):
                raise ValueError(f"every entry of '{name}' must be an object with an integer id")
            if row["id"] in seen:
                raise ValueError(f"'{name}' has id {row['id']} twice")
            seen.add(row["id"])
    sequences = state.get("sequences")
    if sequences is not None and not isinstance(sequences, dict):
        raise ValueError("'sequences' must be a JSON object")
