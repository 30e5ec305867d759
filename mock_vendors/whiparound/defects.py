"""Whip Around defects: DTC reports that repeat an open defect instead of duplicating it,
manual defects, the status workflow and the filtered list."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .errors import UNKNOWN_ASSET_ID, defect_not_found, invalid
from .indexes import Indexes, changed, whole
from .schemas import Page
from .wire import path_id, stored_ts

REFERENCE_BASE = 1000  # defect 1 is FA-1001 [assumed]
DEFAULT_STATUS = "New"
DEFAULT_PRIORITY = "medium"  # [assumed]
WALKAROUND_DEFECTS = ("Cracked mirror", "Tire tread low", "Wiper blade torn", "Lamp out")
DEFECT_FIELDS = (
    "id", "reference", "asset_id", "name", "description", "status", "priority", "source",
    "dtc_code", "repeated_times", "created_at", "updated_at",
)  # fmt: skip


def defect_row(defect: dict[str, Any]) -> dict[str, Any]:
    """A defect as served."""
    return {name: defect.get(name) for name in DEFECT_FIELDS}


class Defects:
    """Mixin of :class:`~.backend.WhipAroundBackend`: the defects and the DTC reports.

    ``find_defect`` turns a path into a defect id (404 before the body is looked at); every
    other method returns defects as served.
    """

    state: dict[str, Any]
    indexes: Callable[[], Indexes]  # the backend's, like the two below
    now_text: Callable[[], str]
    touch: Callable[[], None]

    def report_dtc(
        self,
        asset_id: int,
        *,
        dtc_code: str,
        description: str | None = None,
        occurred_at: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """A DTC seen on an asset: the open defect for that asset and code counts one more
        repeat, or a new defect starts. Returns (defect, created)."""
        idx = self.indexes()
        now = self.now_text()
        occurred = occurred_at or now
        open_ids = idx.open_dtc.get((asset_id, dtc_code))
        if open_ids:
            defect = idx.defects[open_ids[0]]
            defect["repeated_times"] = whole(defect.get("repeated_times"), 1) + 1
            defect["updated_at"] = now
            defect["last_occurred_at"] = occurred
            self.touch()
            return defect_row(defect), False
        defect = self._new_defect(
            asset_id=asset_id,
            name=f"DTC {dtc_code}",
            description=description,
            status=DEFAULT_STATUS,
            priority=DEFAULT_PRIORITY,
            source="dtc",
            dtc_code=dtc_code,
            now=now,
        )
        defect["last_occurred_at"] = occurred
        return defect_row(defect), True

    def find_defect(self, ref: str) -> int:
        """``defects/{id}``: the id of a defect named by its numeric id; 404 otherwise."""
        defect_id = path_id(ref)
        if defect_id is None or defect_id not in self.indexes().defects:
            raise defect_not_found(ref)
        return defect_id

    def list_defects(
        self,
        *,
        page: Page,
        asset_id: int | None = None,
        status: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
    ) -> dict[str, Any]:
        """``GET defects``: filtered by asset, status and a half-open creation window
        (``created_after`` inclusive, ``created_before`` exclusive [assumed]), in id order."""
        after = stored_ts(created_after)
        before = stored_ts(created_before)

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

        defects = self.state["defects"]
        unfiltered = asset_id is None and status is None and after is None and before is None
        items, pagination = page.slice(defects if unfiltered else [d for d in defects if keep(d)])
        return {"data": [defect_row(d) for d in items], "pagination": pagination}

    def create_defect(
        self,
        *,
        asset_id: int,
        name: str,
        description: str | None = None,
        status: str = DEFAULT_STATUS,
        priority: str = DEFAULT_PRIORITY,
        dtc_code: str | None = None,
    ) -> dict[str, Any]:
        """``POST defects``: a manual defect on an existing asset (422 if there is none)."""
        if asset_id not in self.indexes().assets:
            raise invalid({"asset_id": [UNKNOWN_ASSET_ID]})
        defect = self._new_defect(
            asset_id=asset_id,
            name=name,
            description=description,
            status=status,
            priority=priority,
            source="manual",
            dtc_code=dtc_code or None,
            now=self.now_text(),
        )
        return defect_row(defect)

    def update_defect(self, defect_id: int, **changes: Any) -> dict[str, Any]:
        """``PATCH defects/{id}``: the fields given (``DEFECT_PATCH``'s names); ``updated_at``
        moves only on a change."""
        idx = self.indexes()
        defect = idx.defects[defect_id]
        different = changed(defect, changes)
        if different:
            idx.drop_open(defect)
            defect.update(different)
            defect["updated_at"] = self.now_text()
            idx.add_open(defect)
            self.touch()
        return defect_row(defect)

    def shift_defects(self, *, filters: dict[str, Any], delete: int, insert: int, key: str) -> None:
        """A ``mutate`` fault after a page of ``GET defects`` with ``filters``: the first
        ``delete`` defects of that listing go (real deletes), then ``insert`` manual defects,
        seeded by ``key`` and matching the asset and status filters, take its head (manual,
        so they never pose as a DTC the engine reports)."""
        listed = self.list_defects(**filters, page=Page(1, delete))["data"] if delete else []
        idx = self.indexes()
        for row in listed:
            defect = idx.defects.pop(row["id"])
            idx.drop_open(defect)
            self.state["defects"].remove(defect)
        if listed:
            self.touch()
        rng = random.Random(f"{key}:whiparound:inserted-defect")
        asset_ids = sorted(idx.assets)
        wanted = filters.get("asset_id")
        if wanted is not None:
            asset_ids = [wanted] if wanted in idx.assets else []
        defects = self.state["defects"]
        for n in range(insert if asset_ids else 0):
            self._new_defect(
                asset_id=rng.choice(asset_ids),
                name=rng.choice(WALKAROUND_DEFECTS),
                description=None,
                status=filters.get("status") or DEFAULT_STATUS,
                priority=DEFAULT_PRIORITY,
                source="manual",
                dtc_code=None,
                now=self.now_text(),
            )
            defects.insert(n, defects.pop())  # _new_defect appended it

    def _new_defect(self, *, now: str, **fields: Any) -> dict[str, Any]:
        """Store a new defect with the next id and reference, seen once at ``now``."""
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
        self.touch()
        return defect
