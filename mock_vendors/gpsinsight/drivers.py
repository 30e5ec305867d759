"""Drivers: ``driver/list``, ``driver/create``, ``driver/update``, ``driver/delete``.

A mixin of :class:`~mock_vendors.gpsinsight.backend.GpsInsightBackend`. Every user of the
account reads the drivers; changing them takes the Master User or a user given ALL VEHICLES
[assumed]. Each driver carries ``version``, counted up by every change (output only). A delete
is soft: the row stays in the state, hidden from every answer, and a create that matches it
(same ``ref_id``, or same first and last name when neither has a ``ref_id``) undeletes it.
Each change is handed to ``driver_changed`` (the webhooks' events, ``webhooks.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fixtures.world import ALL_VEHICLES

from .errors import FORBIDDEN_DRIVERS, forbidden, invalid, not_found

if TYPE_CHECKING:
    from .backend import BackendCore as _Core
else:
    _Core = object

DRIVER_COLUMNS = (
    "id", "firstname", "lastname", "ref_id", "email", "phone", "alert_pref", "timezone",
    "driveri_driver_id", "version",
)  # fmt: skip
FIRST_DRIVER_ID = 2001
DUPLICATE_REF_ID = "already used by another driver"


def driver_row(d: dict[str, Any]) -> dict[str, Any]:
    """A driver as ``driver/list`` answers it."""
    return {key: d.get(key) for key in DRIVER_COLUMNS}


def _low(value: Any) -> str:
    return str(value or "").strip().lower()


class DriverService(_Core):
    """The account's drivers: listed by anyone, changed by the Master User or ALL VEHICLES."""

    def live_drivers(self) -> list[dict[str, Any]]:
        """Every driver that is not deleted, in the account's order."""
        return list(self._drivers_by_id().values())

    def resolve_driver(self, ref: str) -> dict[str, Any]:
        """A ``driver`` parameter, in the client's documented order: the first live driver to
        match by ref_id, id, last name, first name, "first last", then partial last and
        partial first name (letter case ignored)."""
        wanted = " ".join(ref.split()).lower()
        crew = self.live_drivers()
        if wanted:
            for test in (
                lambda d: _low(d.get("ref_id")) == wanted,
                lambda d: str(d.get("id")) == wanted,
                lambda d: _low(d.get("lastname")) == wanted,
                lambda d: _low(d.get("firstname")) == wanted,
                lambda d: f"{_low(d.get('firstname'))} {_low(d.get('lastname'))}" == wanted,
                lambda d: wanted in _low(d.get("lastname")),
                lambda d: wanted in _low(d.get("firstname")),
            ):
                for d in crew:
                    if test(d):
                        return d
        raise not_found("Driver not found")

    def driver_list(self, user: dict[str, Any], *, driver: str | None) -> list[dict[str, Any]]:
        """``driver/list``: every driver of the account (or the one ``driver`` names)."""
        if driver is not None:
            return [driver_row(self.resolve_driver(driver))]
        return [driver_row(d) for d in self.live_drivers()]

    def driver_create(
        self,
        user: dict[str, Any],
        *,
        lastname: str,
        firstname: str,
        ref_id: str | None,
        email: str | None,
        phone: str | None,
        alert_pref: int | None,
        timezone: str | None,
        driveri_driver_id: str | None,
    ) -> dict[str, Any]:
        """``driver/create``: a new driver (a deleted one that matches is undeleted)."""
        fields = {
            "lastname": lastname, "firstname": firstname, "ref_id": ref_id, "email": email,
            "phone": phone, "alert_pref": alert_pref, "timezone": timezone,
            "driveri_driver_id": driveri_driver_id,
        }  # fmt: skip
        self._may_change_drivers(user)
        self._ref_id_is_free(ref_id, None)
        given = {key: value for key, value in fields.items() if value is not None}
        old = self._deleted_match(ref_id, firstname, lastname)
        if old is not None:
            old.update(given, deleted=False, version=int(old.get("version") or 0) + 1)
            self.touch()
            self.driver_changed("created", driver_row(old))  # an undelete is a creation
            return {"message": "Driver undeleted", "id": old["id"]}
        ids = [
            d["id"]
            for d in self.state["drivers"]
            if isinstance(d, dict) and isinstance(d.get("id"), int)
        ]
        new = {
            "id": max(ids, default=FIRST_DRIVER_ID - 1) + 1,
            **dict.fromkeys(DRIVER_COLUMNS[1:-1]),
            "alert_pref": 3,  # the client's documented default: email+sms
            **given,
            "version": 1,
            "deleted": False,
        }
        self.state["drivers"].append(new)
        self.touch()
        self.driver_changed("created", driver_row(new))
        return {"message": "Driver added", "id": new["id"]}

    def driver_update(self, user: dict[str, Any], *, driver: str, changes: dict[str, Any]) -> str:
        """``driver/update``: change the fields given of the driver ``driver`` names."""
        self._may_change_drivers(user)
        d = self.resolve_driver(driver)
        if "ref_id" in changes:
            self._ref_id_is_free(changes["ref_id"] or None, d)
        d.update(changes, version=int(d.get("version") or 0) + 1)
        self.touch()
        self.driver_changed("updated", driver_row(d))
        return "Driver updated"

    def driver_delete(self, user: dict[str, Any], *, driver: str) -> str:
        """``driver/delete``: remove the driver (it is kept, hidden, and can be undeleted)."""
        self._may_change_drivers(user)
        d = self.resolve_driver(driver)
        d.update(deleted=True, version=int(d.get("version") or 0) + 1)
        self.touch()
        self.driver_changed("deleted", driver_row(d))
        return "Driver deleted"

    # -- helpers -----------------------------------------------------------------------

    def _may_change_drivers(self, user: dict[str, Any]) -> None:
        if not (user.get("master") or ALL_VEHICLES in (user.get("vehicle_groups") or [])):
            raise forbidden(FORBIDDEN_DRIVERS)

    def _ref_id_is_free(self, ref_id: str | None, owner: dict[str, Any] | None) -> None:
        """A ref_id names one live driver [assumed]: another's is a 400."""
        if ref_id is None:
            return
        for d in self.live_drivers():
            if d is not owner and _low(d.get("ref_id")) == ref_id.strip().lower():
                raise invalid("ref_id", DUPLICATE_REF_ID)

    def _deleted_match(self, ref_id: str | None, first: str, last: str) -> dict[str, Any] | None:
        for d in self.state["drivers"]:
            if not (isinstance(d, dict) and d.get("deleted")):
                continue
            if ref_id is not None:
                if _low(d.get("ref_id")) == ref_id.strip().lower():
                    return d
            elif not d.get("ref_id") and (_low(d.get("firstname")), _low(d.get("lastname"))) == (
                first.strip().lower(),
                last.strip().lower(),
            ):
                return d
        return None
