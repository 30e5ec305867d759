"""Whip Around assets: CRUD by id, and the telematics writes (mileage, engine hours, location)
addressed by id or by VIN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fixtures.providers import make_faker
from fixtures.units import KM_PER_MILE

from .errors import asset_not_found, vin_not_found, vin_shared
from .indexes import Indexes, changed
from .schemas import UNITS, Page
from .wire import normalise_vin, path_id

CONVERTED_DECIMALS = 3
ASSET_FIELDS = (
    "id", "name", "vin", "make", "model", "year", "odometer", "odometer_unit", "engine_hours",
    "location", "is_out_of_service", "team",
)  # fmt: skip
WRITABLE_ASSET_FIELDS = (
    "name", "vin", "make", "model", "year", "odometer", "odometer_unit", "engine_hours",
    "is_out_of_service", "team",
)  # fmt: skip


def asset_row(asset: dict[str, Any]) -> dict[str, Any]:
    """An asset as served (state-only fields, such as when mileage was recorded, left out)."""
    return {name: asset.get(name) for name in ASSET_FIELDS}


def convert_distance(value: float, from_unit: str, to_unit: str) -> float:
    """A distance from ``from_unit`` into ``to_unit`` (mi | km); unknown units pass through."""
    if from_unit == to_unit or from_unit not in UNITS or to_unit not in UNITS:
        return value
    factor = KM_PER_MILE if to_unit == "km" else 1 / KM_PER_MILE
    return round(value * factor, CONVERTED_DECIMALS)


class Assets:
    """Mixin of :class:`~.backend.WhipAroundBackend`: the assets and their telematics writes.

    Lookups (``find_asset``, ``resolve_asset``) turn a path into an asset id, so a view can
    answer 404 / 409 before it looks at the body; every other method takes that id and
    returns the asset as served.
    """

    state: dict[str, Any]
    indexes: Callable[[], Indexes]  # the backend's, like the two below
    now_text: Callable[[], str]
    touch: Callable[[], None]

    def find_asset(self, ref: str) -> int:
        """``assets/{id}``: the id of an asset named by its numeric id; 404 otherwise."""
        asset_id = path_id(ref)
        if asset_id is None or asset_id not in self.indexes().assets:
            raise asset_not_found(ref)
        return asset_id

    def resolve_asset(self, ref: str) -> int:
        """``assets/{idOrVin}``: all digits = the asset id, otherwise a VIN compared with
        whitespace removed and upper-cased; 404 when unknown, 409 when the VIN is shared."""
        if path_id(ref) is not None:
            return self.find_asset(ref)
        vin = normalise_vin(ref)
        ids = self.indexes().by_vin.get(vin, []) if vin else []
        if not ids:
            raise vin_not_found(vin or ref.strip())
        if len(ids) > 1:
            raise vin_shared(vin, ids)
        return ids[0]

    def list_assets(self, *, page: Page) -> dict[str, Any]:
        """``GET assets``: one page, in id order."""
        items, pagination = page.slice(self.state["assets"])
        return {"data": [asset_row(a) for a in items], "pagination": pagination}

    def read_asset(self, asset_id: int) -> dict[str, Any]:
        """``GET assets/{id}``."""
        return asset_row(self.indexes().assets[asset_id])

    def create_asset(
        self,
        *,
        name: str,
        vin: str | None = None,
        make: str | None = None,
        model: str | None = None,
        year: int | None = None,
        odometer: float = 0,
        odometer_unit: str = "mi",
        engine_hours: float | None = None,
        is_out_of_service: bool = False,
        team: str | None = None,
    ) -> dict[str, Any]:
        """``POST assets``: a new asset with the next id."""
        idx = self.indexes()
        asset_id = idx.next_asset_id
        idx.next_asset_id += 1
        self.state.setdefault("sequences", {})["asset"] = idx.next_asset_id
        asset = {
            "id": asset_id,
            "name": name,
            "vin": vin,
            "make": make,
            "model": model,
            "year": year,
            "odometer": odometer,
            "odometer_unit": odometer_unit,
            "engine_hours": engine_hours,
            "location": None,
            "is_out_of_service": is_out_of_service,
            "team": team,
        }
        self.state["assets"].append(asset)
        idx.assets[asset_id] = asset
        idx.add_vin(asset)
        self.touch()
        return asset_row(asset)

    def update_asset(self, asset_id: int, **changes: Any) -> dict[str, Any]:
        """``PATCH assets/{id}``: only the fields given (``ASSET_PATCH``'s names). A new
        ``odometer_unit`` without an ``odometer`` converts the reading, since the distance
        travelled did not change."""
        idx = self.indexes()
        asset = idx.assets[asset_id]
        changes = {k: changes[k] for k in WRITABLE_ASSET_FIELDS if k in changes}
        new_unit = changes.get("odometer_unit")
        old_unit = asset.get("odometer_unit")
        if new_unit is not None and "odometer" not in changes and new_unit != old_unit:
            odometer = asset.get("odometer")
            if isinstance(odometer, int | float) and not isinstance(odometer, bool):
                changes["odometer"] = convert_distance(odometer, str(old_unit), new_unit)
        different = changed(asset, changes)
        if different:
            if "vin" in different:
                idx.drop_vin(asset)
            asset.update(different)
            if "vin" in different:
                idx.add_vin(asset)
            self.touch()
        return asset_row(asset)

    def delete_asset(self, asset_id: int) -> None:
        """``DELETE assets/{id}``: the asset goes; its defects stay, as history [assumed]."""
        idx = self.indexes()
        asset = idx.assets.pop(asset_id)
        assets = self.state["assets"]
        del assets[next(i for i, a in enumerate(assets) if a is asset)]
        idx.drop_vin(asset)
        self.touch()

    def shift_assets(self, *, delete: int, insert: int, key: str) -> None:
        """A ``mutate`` fault after a page of ``GET assets``: the first ``delete`` assets of
        the listing go (real deletes), then ``insert`` new valid assets, seeded by ``key``,
        take the head of the listing with the next ids, so every later page shifts."""
        for row in self.list_assets(page=Page(1, delete))["data"] if delete else []:
            self.delete_asset(row["id"])
        assets = self.state["assets"]
        for n in range(insert):
            fake = make_faker(f"{key}:whiparound:inserted-asset:{n}")
            spec = fake.vehicle_spec()
            self.create_asset(
                name=f"{spec['make']} inserted {n + 1}",
                vin=spec["vin"],
                make=spec["make"],
                model=spec["model"],
                year=spec["model_year"],
                odometer=round(fake.random.uniform(1_000, 90_000), 1),
            )
            assets.insert(n, assets.pop())  # create_asset appended it

    # -- telematics ----------------------------------------------------------------------

    def post_mileage(
        self, asset_id: int, *, reading: float, unit: str, recorded_at: str | None = None
    ) -> dict[str, Any]:
        """Store a mileage reading in the asset's own unit, as posted even when lower."""
        asset = self.indexes().assets[asset_id]
        asset["odometer"] = convert_distance(reading, unit, str(asset.get("odometer_unit")))
        asset["odometer_recorded_at"] = recorded_at or self.now_text()
        self.touch()
        return asset_row(asset)

    def post_engine_hours(
        self, asset_id: int, *, reading: float, recorded_at: str | None = None
    ) -> dict[str, Any]:
        """Store an engine-hours reading, as posted."""
        asset = self.indexes().assets[asset_id]
        asset["engine_hours"] = reading
        asset["engine_hours_recorded_at"] = recorded_at or self.now_text()
        self.touch()
        return asset_row(asset)

    def post_location(
        self,
        asset_id: int,
        *,
        latitude: float,
        longitude: float,
        recorded_at: str | None = None,
    ) -> dict[str, Any]:
        """Store the asset's latest location, as posted."""
        asset = self.indexes().assets[asset_id]
        asset["location"] = {
            "latitude": latitude,
            "longitude": longitude,
            "recorded_at": recorded_at or self.now_text(),
        }
        self.touch()
        return asset_row(asset)
