"""Whip Around public API v4 state and behaviour, in plain Python (no Flask here).

The state is one JSON-native dict (``keys``, ``assets``, ``defects``, ``sequences``), so a dump
is the state itself and a restore takes an edited dump verbatim. Every mutation bumps
``version``. Lookups go through indexes derived from the state (keys, assets by id and by
normalised VIN, defects by id, open DTC defects by asset and code): they are rebuilt when the
version moves past them (a restore), and the backend's own writes keep them current in place,
so a write costs O(1) and never scans every defect. Serialised collection pages are cached by
version.
"""

from __future__ import annotations

import copy
import threading
from bisect import insort
from collections.abc import Callable
from typing import Any

import orjson

from mock_vendors._common.clock import VirtualClock

from .errors import NEEDS_INTEGRATION_KEY, UNAUTHENTICATED, ApiError, invalid
from .schemas import (
    OPEN_STATUSES,
    UNITS,
    Page,
    canonical_code,
    format_time,
    normalise_vin,
    stored_ts,
)

KM_PER_MILE = 1.609344
STATE_KEYS = ("keys", "assets", "defects")
KEY_TYPES = ("integration", "personal")
FIRST_ASSET_ID = 7001
FIRST_DEFECT_ID = 1
REFERENCE_BASE = 1000  # defect 1 is FA-1001 [assumed]
DEFAULT_PRIORITY = "medium"  # [assumed]
CONVERTED_DECIMALS = 3
MAX_ID_DIGITS = 18
CACHE_LIMIT = 4096
ASSET_FIELDS = (
    "id", "name", "vin", "make", "model", "year", "odometer", "odometer_unit", "engine_hours",
    "location", "is_out_of_service", "team",
)  # fmt: skip
DEFECT_FIELDS = (
    "id", "reference", "asset_id", "name", "description", "status", "priority", "source",
    "dtc_code", "repeated_times", "created_at", "updated_at",
)  # fmt: skip
WRITABLE_ASSET_FIELDS = (
    "name", "vin", "make", "model", "year", "odometer", "odometer_unit", "engine_hours",
    "is_out_of_service", "team",
)  # fmt: skip
OpenKey = tuple[int, str]


def asset_row(asset: dict[str, Any]) -> dict[str, Any]:
    """An asset as served (state-only fields, such as when mileage was recorded, left out)."""
    return {name: asset.get(name) for name in ASSET_FIELDS}


def defect_row(defect: dict[str, Any]) -> dict[str, Any]:
    """A defect as served."""
    return {name: defect.get(name) for name in DEFECT_FIELDS}


def key_id(key: dict[str, Any]) -> str:
    """The journal's non-secret name for an API key (its ``name``, never the key)."""
    return str(key.get("name") or f"{key.get('type', 'unknown')} key")


def convert_distance(value: float, from_unit: str, to_unit: str) -> float:
    """A distance from ``from_unit`` into ``to_unit`` (mi | km); unknown units pass through."""
    if from_unit == to_unit or from_unit not in UNITS or to_unit not in UNITS:
        return value
    factor = KM_PER_MILE if to_unit == "km" else 1 / KM_PER_MILE
    return round(value * factor, CONVERTED_DECIMALS)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(value: Any, default: int) -> int:
    return value if _is_id(value) else default


def open_key(defect: dict[str, Any]) -> OpenKey | None:
    """(asset id, code) of an open defect that carries a DTC code; None for any other."""
    if defect.get("status") not in OPEN_STATUSES:
        return None
    code = canonical_code(defect.get("dtc_code"))
    asset_id = defect.get("asset_id")
    if not code or not _is_id(asset_id):
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
            _whole(sequences.get("asset"), 0), max(self.assets, default=FIRST_ASSET_ID - 1) + 1
        )
        self.next_defect_id = max(
            _whole(sequences.get("defect"), 0),
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


class WhipAroundBackend:
    """One Whip Around account: its API keys, assets and defects, and the rules on them."""

    def __init__(self, world: dict[str, Any], clock: VirtualClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.version = 0
        self._cache: dict[tuple[Any, ...], Any] = {}
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

    # -- versions, indexes, cache --------------------------------------------------------

    def _touch(self, *, rebuild: bool = False) -> None:
        """Record a mutation. The backend's own writes have updated the indexes in place, so
        they move to the new version; a restore (``rebuild``) drops them."""
        self.version += 1
        self._cache.clear()
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

    def cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """``build()`` once per state version and ``key``."""
        full = (self.version, *key)
        hit = self._cache.get(full)
        if hit is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            hit = self._cache[full] = build()
        return hit

    def now_text(self) -> str:
        """Now on the virtual clock, as the vendor writes datetimes."""
        return format_time(self.clock.now())

    # -- keys ----------------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> dict[str, Any]:
        """The key row of an ``x-api-key`` value; 401 when there is none or it is unknown."""
        key = self.indexes().keys.get(api_key) if api_key else None
        if key is None:
            raise ApiError(401, UNAUTHENTICATED)
        return key

    @staticmethod
    def require_integration(key: dict[str, Any]) -> None:
        """403 unless ``key`` is an integration key (telematics writes need one)."""
        if key.get("type") != "integration":
            raise ApiError(403, NEEDS_INTEGRATION_KEY)

    # -- assets --------------------------------------------------------------------------

    def asset_by_id(self, ref: str) -> dict[str, Any]:
        """``assets/{id}``: an asset by its numeric id; 404 for anything else."""
        asset_id = _path_id(ref)
        asset = self.indexes().assets.get(asset_id) if asset_id is not None else None
        if asset is None:
            raise ApiError(404, f"Asset {ref.strip()} not found.")
        return asset

    def resolve_asset(self, ref: str) -> dict[str, Any]:
        """``assets/{idOrVin}``: all digits = the asset id, otherwise a VIN compared with
        whitespace removed and upper-cased; 404 when unknown, 409 when the VIN is shared."""
        if _path_id(ref) is not None:
            return self.asset_by_id(ref)
        vin = normalise_vin(ref)
        idx = self.indexes()
        ids = idx.by_vin.get(vin, []) if vin else []
        if not ids:
            raise ApiError(404, f"No asset has VIN {vin or ref.strip()!s}.")
        if len(ids) > 1:
            listed = ", ".join(str(i) for i in ids)
            raise ApiError(
                409,
                f"VIN {vin} is shared by {len(ids)} assets ({listed}); "
                "address the asset by its id instead.",
            )
        return idx.assets[ids[0]]

    def list_assets(self, page: Page) -> bytes:
        """``GET assets``: one page, in id order, as the JSON answer."""

        def build() -> bytes:
            items, pagination = page.slice(self.state["assets"])
            return orjson.dumps({"data": [asset_row(a) for a in items], "pagination": pagination})

        return self.cached(("assets", page), build)  # type: ignore[no-any-return]

    def create_asset(self, values: dict[str, Any]) -> dict[str, Any]:
        """``POST assets``: a new asset with the next id."""
        idx = self.indexes()
        asset_id = idx.next_asset_id
        idx.next_asset_id += 1
        self.state.setdefault("sequences", {})["asset"] = idx.next_asset_id
        asset = {
            "id": asset_id,
            "name": values["name"],
            "vin": values.get("vin"),
            "make": values.get("make"),
            "model": values.get("model"),
            "year": values.get("year"),
            "odometer": values.get("odometer", 0),
            "odometer_unit": values.get("odometer_unit", "mi"),
            "engine_hours": values.get("engine_hours"),
            "location": None,
            "is_out_of_service": values.get("is_out_of_service", False),
            "team": values.get("team"),
        }
        self.state["assets"].append(asset)
        idx.assets[asset_id] = asset
        idx.add_vin(asset)
        self._touch()
        return asset

    def update_asset(self, asset: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """``PATCH assets/{id}``: only the fields given. A new ``odometer_unit`` without an
        ``odometer`` converts the reading, since the distance travelled did not change."""
        changes = {k: values[k] for k in WRITABLE_ASSET_FIELDS if k in values}
        new_unit = changes.get("odometer_unit")
        old_unit = asset.get("odometer_unit")
        if new_unit is not None and "odometer" not in changes and new_unit != old_unit:
            odometer = asset.get("odometer")
            if isinstance(odometer, int | float) and not isinstance(odometer, bool):
                changes["odometer"] = convert_distance(odometer, str(old_unit), new_unit)
        changed = {k: v for k, v in changes.items() if asset.get(k, _ABSENT) != v}
        if not changed:
            return asset
        idx = self.indexes()
        if "vin" in changed:
            idx.drop_vin(asset)
        asset.update(changed)
        if "vin" in changed:
            idx.add_vin(asset)
        self._touch()
        return asset

    def delete_asset(self, asset: dict[str, Any]) -> None:
        """``DELETE assets/{id}``: the asset goes; its defects stay, as history [assumed]."""
        idx = self.indexes()
        assets = self.state["assets"]
        position = next(i for i, a in enumerate(assets) if a is asset)
        del assets[position]
        idx.drop_vin(asset)
        del idx.assets[asset["id"]]
        self._touch()

    # -- telematics ----------------------------------------------------------------------

    def post_mileage(
        self, asset: dict[str, Any], reading: float, unit: str, recorded_at: str | None
    ) -> dict[str, Any]:
        """Store a mileage reading in the asset's own unit, as posted even when lower."""
        target = asset.get("odometer_unit")
        asset["odometer"] = convert_distance(reading, unit, str(target))
        asset["odometer_recorded_at"] = recorded_at or self.now_text()
        self._touch()
        return asset

    def post_engine_hours(
        self, asset: dict[str, Any], reading: float, recorded_at: str | None
    ) -> dict[str, Any]:
        """Store an engine-hours reading, as posted."""
        asset["engine_hours"] = reading
        asset["engine_hours_recorded_at"] = recorded_at or self.now_text()
        self._touch()
        return asset

    def post_location(
        self, asset: dict[str, Any], latitude: float, longitude: float, recorded_at: str | None
    ) -> dict[str, Any]:
        """Store the asset's latest location, as posted."""
        asset["location"] = {
            "latitude": latitude,
            "longitude": longitude,
            "recorded_at": recorded_at or self.now_text(),
        }
        self._touch()
        return asset

    def report_dtc(
        self,
        asset: dict[str, Any],
        code: str,
        description: str | None,
        occurred_at: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """A DTC seen on an asset: the open defect for that asset and code counts one more
        repeat, or a new defect starts. Returns (defect, created)."""
        idx = self.indexes()
        now = self.now_text()
        occurred = occurred_at or now
        open_ids = idx.open_dtc.get((asset["id"], code))
        if open_ids:
            defect = idx.defects[open_ids[0]]
            defect["repeated_times"] = _whole(defect.get("repeated_times"), 1) + 1
            defect["updated_at"] = now
            defect["last_occurred_at"] = occurred
            self._touch()
            return defect, False
        defect = self._new_defect(
            {
                "asset_id": asset["id"],
                "name": f"DTC {code}",
                "description": description,
                "status": "New",
                "priority": DEFAULT_PRIORITY,
                "source": "dtc",
                "dtc_code": code,
            },
            now,
        )
        defect["last_occurred_at"] = occurred
        return defect, True

    # -- defects -------------------------------------------------------------------------

    def defect_by_id(self, ref: str) -> dict[str, Any]:
        """``defects/{id}``: a defect by its numeric id; 404 otherwise."""
        defect_id = _path_id(ref)
        defect = self.indexes().defects.get(defect_id) if defect_id is not None else None
        if defect is None:
            raise ApiError(404, f"Defect {ref.strip()} not found.")
        return defect

    def list_defects(self, filters: dict[str, Any], page: Page) -> bytes:
        """``GET defects``: filtered by asset, status and a half-open creation window
        (``created_after`` inclusive, ``created_before`` exclusive [assumed]), in id order, as the
        JSON answer."""
        asset_id = filters.get("asset_id")
        status = filters.get("status")
        after = stored_ts(filters.get("created_after"))
        before = stored_ts(filters.get("created_before"))

        def keep(d: dict[str, Any]) -> bool:
            if asset_id is not None and d.get("asset_id") != asset_id:
                return False
            if status is not None and d.get("status") != status:
                return False
            if after is not None or before is not None:
                created = stored_ts(d.get("created_at"))
                if created is None:
                    return False
                if after is not None and created < after:
                    return False
                if before is not None and created >= before:
                    return False
            return True

        def build() -> bytes:
            defects = self.state["defects"]
            unfiltered = asset_id is None and status is None and after is None and before is None
            matching = defects if unfiltered else [d for d in defects if keep(d)]
            items, pagination = page.slice(matching)
            return orjson.dumps({"data": [defect_row(d) for d in items], "pagination": pagination})

        key = ("defects", asset_id, status, after, before, page)
        return self.cached(key, build)  # type: ignore[no-any-return]

    def create_defect(self, values: dict[str, Any]) -> dict[str, Any]:
        """``POST defects``: a manual defect on an existing asset (422 if there is none)."""
        if values["asset_id"] not in self.indexes().assets:
            raise invalid({"asset_id": ["The selected asset id is invalid."]})
        return self._new_defect(
            {
                "asset_id": values["asset_id"],
                "name": values["name"],
                "description": values.get("description"),
                "status": values.get("status", "New"),
                "priority": values.get("priority", DEFAULT_PRIORITY),
                "source": "manual",
                "dtc_code": values.get("dtc_code") or None,
            },
            self.now_text(),
        )

    def update_defect(self, defect: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """``PATCH defects/{id}``: the fields given; ``updated_at`` moves only on a change."""
        changed = {k: v for k, v in values.items() if defect.get(k, _ABSENT) != v}
        if not changed:
            return defect
        idx = self.indexes()
        idx.drop_open(defect)
        defect.update(changed)
        defect["updated_at"] = self.now_text()
        idx.add_open(defect)
        self._touch()
        return defect

    def _new_defect(self, fields: dict[str, Any], now: str) -> dict[str, Any]:
        idx = self.indexes()
        defect_id = idx.next_defect_id
        idx.next_defect_id += 1
        self.state.setdefault("sequences", {})["defect"] = idx.next_defect_id
        defect = {
            "id": defect_id,
            "reference": f"FA-{REFERENCE_BASE + defect_id}",
            "asset_id": fields["asset_id"],
            "name": fields["name"],
            "description": fields["description"],
            "status": fields["status"],
            "priority": fields["priority"],
            "source": fields["source"],
            "dtc_code": fields["dtc_code"],
            "repeated_times": 1,
            "created_at": now,
            "updated_at": now,
        }
        self.state["defects"].append(defect)
        idx.defects[defect_id] = defect
        idx.add_open(defect)
        self._touch()
        return defect


_ABSENT = object()


def _path_id(ref: str) -> int | None:
    text = ref.strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)


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
            if not isinstance(row, dict) or not _is_id(row.get("id")):
                raise ValueError(f"every entry of '{name}' must be an object with an integer id")
            if row["id"] in seen:
                raise ValueError(f"'{name}' has id {row['id']} twice")
            seen.add(row["id"])
    sequences = state.get("sequences")
    if sequences is not None and not isinstance(sequences, dict):
        raise ValueError("'sequences' must be a JSON object")
