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
from typing import Any

from mock_vendors._common.clock import VirtualClock
from mock_vendors._common.state import StateBackend

from .assets import Assets
from .auth import ApiKeys
from .defects import Defects
from .indexes import Indexes, is_id
from .wire import format_time

KEY_TYPES = ("integration", "personal")


class WhipAroundBackend(ApiKeys, Assets, Defects, StateBackend):
    """One Whip Around account: its API keys, assets and defects, and the rules on them."""

    SHAPE = {"keys": list, "assets": list, "defects": list}

    def __init__(self, world: dict[str, Any], clock: VirtualClock) -> None:
        state = copy.deepcopy(world)
        self.check_shape(state)
        super().__init__(state)
        self.clock = clock
        self._indexes: Indexes | None = None
        idx = self.indexes()
        state["sequences"] = {"asset": idx.next_asset_id, "defect": idx.next_defect_id}

    # -- control plane -------------------------------------------------------------------

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

    def touch(self) -> None:
        """Record a mutation. The backend's own writes have updated the indexes in place, so
        they move to the new version."""
        super().touch()
        if self._indexes is not None:
            self._indexes.version = self.version

    def restored(self) -> None:
        """A restore swapped the state: the indexes are rebuilt on next use."""
        self._indexes = None

    def indexes(self) -> Indexes:
        """The indexes of the current state version (rebuilt only after a restore)."""
        idx = self._indexes
        if idx is None or idx.version != self.version:
            idx = self._indexes = Indexes(self.state, self.version)
        return idx

    def now_text(self) -> str:
        """Now on the virtual clock, as the vendor writes datetimes."""
        return format_time(self.clock.now())

    def check_state(self, state: dict[str, Any]) -> None:
        """Every key a string with a known type; every asset and defect an integer id, once."""
        _check_rows(state)


def _check_rows(state: dict[str, Any]) -> None:
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
