"""Driveri drivers: list, find, add (or reinstate), edit (partial; rename; status), and the
tenant configuration. Methods take already validated arguments (driver fields under their
wire names, as :mod:`.schemas` loads them) and return plain data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fixtures.driveri import (
    DRIVER_FIELDS,
    DRIVER_STATUSES,
    STATUS_ACTIVE,
    STATUS_DELETED,
    default_group,
    driver_record,
)
from fixtures.providers import make_faker

from .errors import bad_request, conflict, not_found


class Drivers:
    """Mixin of :class:`~.backend.DriveriBackend`: the tenant's drivers."""

    state: dict[str, Any]
    _by_id: dict[str, dict[str, Any]]  # driverId -> record, kept by the backend
    touch: Callable[[], None]
    now_ms: Callable[[], int]

    def list_drivers(
        self,
        *,
        offset: int,
        limit: int,
        show_all: bool,
        from_date: int | None,
        to_date: int | None,
        states: set[int] | None,
        group: str | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of drivers and the total that match the filters."""
        matches = []
        for d in self.state["drivers"]:
            if not isinstance(d, dict):
                continue
            status = d.get("status")
            if status == STATUS_DELETED and not show_all:
                continue
            if states is not None and status not in states:
                continue
            updated = d.get("updatedDate") or 0
            if from_date is not None and updated < from_date:
                continue
            if to_date is not None and updated > to_date:
                continue
            if group is not None and _group_name(d) != group:
                continue
            matches.append(d)
        return [public_driver(d) for d in matches[offset : offset + limit]], len(matches)

    def shift_drivers(self, *, filters: dict[str, Any], delete: int, insert: int, key: str) -> None:
        """A ``mutate`` fault after a page of ``GET drivers`` with ``filters``: the first
        ``delete`` drivers of that listing are removed outright (a soft delete would leave a
        ``showAll`` listing, the engine's, where it was), then ``insert`` new active drivers,
        seeded by ``key``, take the head of the listing, so every later page shifts."""
        listing = {**filters, "offset": 0, "limit": delete}
        gone = {str(d["driverId"]) for d in self.list_drivers(**listing)[0]} if delete else set()
        drivers = self.state["drivers"]
        drivers[:] = [d for d in drivers if not _listed_in(d, gone)]
        for driver_id in gone:
            self._by_id.pop(driver_id, None)
        now = self.now_ms()
        for n in range(insert):
            profile = make_faker(f"{key}:driveri:inserted-driver:{n}").driver_profile()
            driver_id = profile["driveri_driver_id"]
            while driver_id in self._by_id:  # seeded ids may meet an existing one
                driver_id += "X"
            driver = driver_record(
                driver_id,
                created_ms=now,
                first_name=profile["firstname"],
                last_name=profile["lastname"],
                email=profile["email"],
            )
            drivers.insert(n, driver)
            self._by_id[driver_id] = driver
        if gone or insert:
            self.touch()

    def find_driver(
        self,
        driver_id: str | None = None,
        email: str | None = None,
        user_name: str | None = None,
    ) -> dict[str, Any]:
        """A driver by id, else email, else userName (soft-deleted ones included); 404 if none."""
        if driver_id is not None:
            found = self._by_id.get(driver_id)
        else:
            key, wanted = ("email", email) if email is not None else ("userName", user_name)
            found = next(
                (
                    d
                    for d in self.state["drivers"]
                    if isinstance(d, dict) and str(d.get(key) or "").lower() == str(wanted).lower()
                ),
                None,
            )
        if found is None:
            raise not_found("Driver not found", "DRIVER_NOT_FOUND")
        return public_driver(found)

    def add_driver(self, fields: dict[str, Any], *, reinstate: bool) -> dict[str, str]:
        """Create a driver from validated wire fields (driverId and firstName among them), or
        with ``reinstate`` revive a soft-deleted one with that id."""
        driver_id = str(fields["driverId"])
        existing = self._by_id.get(driver_id)
        now = self.now_ms()
        if existing is not None:
            if not reinstate or existing.get("status") != STATUS_DELETED:
                raise conflict(f"Driver with driverId '{driver_id}' already exists")
            candidate = {**existing, **_stored(fields), "status": STATUS_ACTIVE}
            _check_licence(candidate)
            existing.update(candidate)
            existing["updatedDate"] = now
            self.touch()
            return {"message": "Driver reinstated successfully"}
        driver = {**driver_record(driver_id, created_ms=now), **_stored(fields)}
        _check_licence(driver)
        self.state["drivers"].append(driver)
        self._by_id[driver_id] = driver
        self.touch()
        return {"message": "Driver added successfully"}

    def edit_driver(self, driver_id: str, fields: dict[str, Any]) -> dict[str, str]:
        """Partial update from validated wire fields: absent ones are untouched; a new
        driverId renames the driver; a soft-deleted driver can only be reinstated through
        its status."""
        driver = self._by_id.get(driver_id)
        if driver is None:
            raise not_found("Driver not found", "DRIVER_NOT_FOUND")
        status = fields.get("status")
        if driver.get("status") == STATUS_DELETED and status in (None, STATUS_DELETED):
            raise bad_request(
                "A deleted driver can only be reinstated: set status to 1 (Active) or 2"
            )
        new_id = fields.get("driverId")
        if new_id is not None and new_id != driver_id and new_id in self._by_id:
            raise conflict(f"Driver with driverId '{new_id}' already exists")
        candidate = {**driver, **_stored(fields)}
        _check_licence(candidate)
        driver.update(candidate)
        driver["updatedDate"] = self.now_ms()
        if new_id is not None and new_id != driver_id:
            del self._by_id[driver_id]
            self._by_id[str(new_id)] = driver
        self.touch()
        return {"message": "Driver updated successfully"}

    def configurations(self) -> dict[str, Any]:
        """The tenant configuration, with the driver status codes."""
        return {
            "configuration": {
                "driverStatus": [
                    {"status": code, "description": text} for code, text in DRIVER_STATUSES.items()
                ],
                # Keyed as the SDK's AuthorizedToDriveStatus model reads it.
                "authorizedToDriveStatus": [
                    {"authorizedToDrive": 0, "description": "Not authorized"},
                    {"authorizedToDrive": 1, "description": "Authorized"},
                ],
            }
        }


def public_driver(driver: dict[str, Any]) -> dict[str, Any]:
    """The driver as Driveri returns it (no phone)."""
    return {key: driver.get(key) for key in DRIVER_FIELDS}


def _listed_in(driver: Any, ids: set[str]) -> bool:
    return isinstance(driver, dict) and str(driver.get("driverId")) in ids


def _group_name(driver: dict[str, Any]) -> str | None:
    group = driver.get("group")
    if isinstance(group, dict):
        return group.get("groupUniqueName") or group.get("groupName")
    return str(group) if group is not None else None


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Request fields as stored: a group request becomes the group object Driveri returns."""
    stored = dict(fields)
    if "group" in stored:
        group = stored["group"]
        if group is None or group.get("action") == "REMOVE":
            stored["group"] = default_group()
        else:
            name = group["name"]
            stored["group"] = {"groupName": name, "groupUniqueName": name.lower()}
    return stored


def _check_licence(driver: dict[str, Any]) -> None:
    """A licence number needs country and state, and country or state needs a number: a rule
    on the merged record, so an edit can complete a licence over the stored fields."""
    number = bool(driver.get("licenceNumber"))
    country = bool(driver.get("licenseCountry"))
    state = bool(driver.get("licenseState"))
    if number and not (country and state):
        raise bad_request("licenseCountry and licenseState are required with licenceNumber")
    if (country or state) and not number:
        raise bad_request("licenceNumber is required with licenseCountry and licenseState")
