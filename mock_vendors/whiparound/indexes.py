"""Lookups derived from the Whip Around state: keys, assets by id and by VIN, defects by id,
open DTC defects by asset and code, and the next ids.

The backend builds them from the state after a restore and keeps them current in place on its
own writes, so a write costs O(1) and never scans every defect.
"""

from __future__ import annotations

from bisect import insort
from typing import Any, TypeGuard

from .schemas import OPEN_STATUSES
from .wire import canonical_code, normalise_vin

FIRST_ASSET_ID = 7001
FIRST_DEFECT_ID = 1
OpenKey = tuple[int, str]
_ABSENT = object()


def is_id(value: Any) -> TypeGuard[int]:
    """An integer that is not a bool (JSON ``true`` is not an id)."""
    return isinstance(value, int) and not isinstance(value, bool)


def whole(value: Any, default: int) -> int:
    """``value`` if it is an integer, else ``default`` (an edited dump may hold anything)."""
    return value if is_id(value) else default


def changed(row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The ``values`` that differ from ``row`` (a field the row lacks always differs)."""
    return {k: v for k, v in values.items() if row.get(k, _ABSENT) != v}


def open_key(defect: dict[str, Any]) -> OpenKey | None:
    """(asset id, code) of an open defect that carries a DTC code; None for any other."""
    if defect.get("status") not in OPEN_STATUSES:
        return None
    code = canonical_code(defect.get("dtc_code"))
    asset_id = defect.get("asset_id")
    if not code or not is_id(asset_id):
        return None
    return asset_id, code


class Indexes:
    """Lookups derived from one version of the state."""

    def __init__(self, state: dict[str, Any], version: int) -> None:
        self.version = version
        self.keys: dict[str, dict[str, Any]] = {}
        for row in state["keys"]:
            if isinstance(row, dict) and isinstance(row.get("key"), str) and row["key"]:
                self.keys.setdefault(row["key"], row)
        self.assets: dict[int, dict[str, Any]] = {a["id"]: a for a in state["assets"]}
        self.by_vin: dict[str, list[int]] = {}
        for asset in state["assets"]:
            self.add_vin(asset)
        self.defects: dict[int, dict[str, Any]] = {d["id"]: d for d in state["defects"]}
        self.open_dtc: dict[OpenKey, list[int]] = {}
        for defect in state["defects"]:
            self.add_open(defect)
        sequences = state.get("sequences") or {}
        self.next_asset_id = max(
            whole(sequences.get("asset"), 0), max(self.assets, default=FIRST_ASSET_ID - 1) + 1
        )
        self.next_defect_id = max(
            whole(sequences.get("defect"), 0),
            max(self.defects, default=FIRST_DEFECT_ID - 1) + 1,
        )

    def add_vin(self, asset: dict[str, Any]) -> None:
        """Index an asset under its normalised VIN (an asset without one is not indexed)."""
        vin = normalise_vin(asset.get("vin"))
        if vin:
            self.by_vin.setdefault(vin, []).append(asset["id"])

    def drop_vin(self, asset: dict[str, Any]) -> None:
        """Forget an asset under its current normalised VIN."""
        vin = normalise_vin(asset.get("vin"))
        ids = self.by_vin.get(vin)
        if ids and asset["id"] in ids:
            ids.remove(asset["id"])
            if not ids:
                del self.by_vin[vin]

    def add_open(self, defect: dict[str, Any]) -> None:
        """Index a defect that is open and carries a DTC code (oldest first per key)."""
        key = open_key(defect)
        if key is not None:
            insort(self.open_dtc.setdefault(key, []), defect["id"])

    def drop_open(self, defect: dict[str, Any]) -> None:
        """Forget a defect under the key its current fields give."""
        key = open_key(defect)
        ids = self.open_dtc.get(key) if key is not None else None
        if ids and defect["id"] in ids:
            ids.remove(defect["id"])
            if not ids:
                del self.open_dtc[key]  # type: ignore[arg-type]
