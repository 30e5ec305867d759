"""Driveri state and behaviour in plain Python (no Flask): clients, tokens, drivers.

State is one JSON-native dict (tenant, clients, drivers) so a dump is the state itself.
Access tokens are kept beside it, never dumped: they are secrets and short-lived.
"""

from __future__ import annotations

import copy
import hmac
import secrets
import threading
import uuid
from typing import Any

from mock_vendors._common.clock import VirtualClock

from .errors import DriveriError, bad_request, conflict, not_found
from .schemas import (
    DRIVER_STATUSES,
    STATUS_ACTIVE,
    STATUS_DELETED,
    check_licence,
    load_driver_body,
)

MAX_ACTIVE_TOKENS = 2
TOKEN_SCOPE = "drivers:read drivers:write configurations:read"
STATE_KEYS = ("tenant", "clients", "drivers")
# The driver object Driveri returns; phone is kept but, as on the real API, never returned.
DRIVER_FIELDS = (
    "driverId", "firstName", "lastName", "status", "createdDate", "updatedDate",
    "licenceNumber", "licenseCountry", "licenseState", "userName", "email", "group",
    "enableDriveriApp", "authorizedToDrive", "linkedUserName",
)  # fmt: skip
RATE_WINDOW_S = 60.0


class DriveriBackend:
    """One Driveri deployment: its tenant, API clients, access tokens and drivers."""

    def __init__(
        self,
        world: dict[str, Any],
        clock: VirtualClock,
        *,
        token_ttl_s: float = 3600.0,
        rate_per_minute: int = 0,
    ) -> None:
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self.rate_per_minute = rate_per_minute
        self.lock = threading.RLock()
        self.tokens: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, list[float]] = {}
        self.state: dict[str, Any] = {
            "tenant": world["tenant"],
            "clients": copy.deepcopy(world["clients"]),
            "drivers": copy.deepcopy(world["drivers"]),
        }
        self._reindex()

    # -- control plane -------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A deep copy of the state (access tokens excluded)."""
        with self.lock:
            return copy.deepcopy(self.state)

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the state with a dump, verbatim; only its top-level shape is checked."""
        missing = [k for k in STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"missing key(s): {', '.join(missing)}")
        if not isinstance(state["drivers"], list) or not isinstance(state["clients"], list):
            raise ValueError("'drivers' and 'clients' must be JSON arrays")
        with self.lock:
            self.state = state
            self._reindex()

    def credentials(self) -> dict[str, Any]:
        """The API clients, with the Basic token the SDK's ``from_basic_token`` takes."""
        import base64

        with self.lock:
            return {
                "clients": [
                    {
                        "client_id": c.get("client_id"),
                        "client_secret": c.get("client_secret"),
                        "tenant": c.get("tenant"),
                        "basic_token": base64.b64encode(
                            f"{c.get('client_id')}:{c.get('client_secret')}".encode()
                        ).decode(),
                    }
                    for c in self.state["clients"]
                    if isinstance(c, dict)
                ]
            }

    def _reindex(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {
            str(d.get("driverId")): d for d in self.state["drivers"] if isinstance(d, dict)
        }

    def now_ms(self) -> int:
        """Virtual time in epoch milliseconds."""
        return int(self.clock.timestamp() * 1000)

    # -- auth ----------------------------------------------------------------------------

    def client_for_basic(self, client_id: str, client_secret: str) -> dict[str, Any]:
        """The API client behind Basic credentials; 401 when they are wrong."""
        for client in self.state["clients"]:
            if (
                isinstance(client, dict)
                and client.get("client_id") == client_id
                and hmac.compare_digest(
                    str(client.get("client_secret", "")).encode(), client_secret.encode()
                )
            ):
                return client
        raise DriveriError(401, "Invalid client credentials", "UNAUTHORIZED")

    def _active_tokens(self, client_id: str) -> list[dict[str, Any]]:
        now = self.now_ms()
        return [
            t
            for t in self.tokens.values()
            if t["client_id"] == client_id and not t["revoked"] and t["expiresOn"] > now
        ]

    def issue_token(self, client: dict[str, Any]) -> dict[str, Any]:
        """A new access token; at most two active per client (400 TOKEN_LIMIT after)."""
        client_id = str(client.get("client_id"))
        if len(self._active_tokens(client_id)) >= MAX_ACTIVE_TOKENS:
            raise DriveriError(
                400,
                f"At most {MAX_ACTIVE_TOKENS} active access tokens are allowed per API key; "
                "revoke one or reuse an active token",
                "TOKEN_LIMIT",
            )
        now = self.now_ms()
        token = {
            "accessToken": secrets.token_urlsafe(32),
            "tokenType": "Bearer",
            "expiresOn": now + int(self.token_ttl_s * 1000),
            "scope": TOKEN_SCOPE,
            "accessTokenId": str(uuid.uuid4()),
            "createdOn": now,
            "client_id": client_id,
            "revoked": False,
        }
        self.tokens[token["accessToken"]] = token
        return _public_token(token)

    def list_tokens(self, client: dict[str, Any]) -> list[dict[str, Any]]:
        """The client's unexpired, unrevoked tokens."""
        return [_public_token(t) for t in self._active_tokens(str(client.get("client_id")))]

    def bearer(self, access_token: str) -> dict[str, Any]:
        """The live token record for a bearer token; 401 when missing, expired or revoked."""
        token = self.tokens.get(access_token)
        if token is None or token["revoked"] or token["expiresOn"] <= self.now_ms():
            raise DriveriError(401, "Access token is invalid, expired or revoked", "UNAUTHORIZED")
        return token

    def expire_token(self, access_token: str) -> None:
        """Expire a bearer token at once (the ``expire_session`` fault)."""
        with self.lock:
            token = self.tokens.get(access_token)
            if token is not None:
                token["expiresOn"] = min(token["expiresOn"], self.now_ms())

    def revoke(self, token: dict[str, Any]) -> dict[str, str]:
        """Revoke a token."""
        token["revoked"] = True
        return {"message": "Access token revoked successfully"}

    def revoke_by_id(self, client: dict[str, Any], token_id: str) -> dict[str, str]:
        """Revoke one of the client's tokens by its id; 404 for an unknown id."""
        for token in self.tokens.values():
            if token["accessTokenId"] == token_id and token["client_id"] == client.get("client_id"):
                return self.revoke(token)
        raise not_found("Access token not found", "TOKEN_NOT_FOUND")

    def client_of(self, token: dict[str, Any]) -> dict[str, Any]:
        """The API client a token was issued to."""
        for client in self.state["clients"]:
            if isinstance(client, dict) and client.get("client_id") == token["client_id"]:
                return client
        raise DriveriError(401, "Access token is invalid, expired or revoked", "UNAUTHORIZED")

    def check_tenant(self, token: dict[str, Any], tenant: str) -> None:
        """404 for an unknown tenant, 403 for someone else's."""
        if tenant != self.state["tenant"]:
            raise not_found(f"Tenant '{tenant}' not found", "TENANT_NOT_FOUND")
        if self.client_of(token).get("tenant") != tenant:
            raise DriveriError(403, "Access to this tenant is not allowed", "FORBIDDEN")

    def charge_rate(self, client_id: str) -> None:
        """Count a call against the client's per-minute quota (when one is set)."""
        if self.rate_per_minute <= 0:
            return
        now = self.clock.timestamp()
        calls = [t for t in self._calls.get(client_id, []) if t > now - RATE_WINDOW_S]
        if len(calls) >= self.rate_per_minute:
            wait = max(1.0, calls[0] + RATE_WINDOW_S - now)
            self._calls[client_id] = calls
            raise DriveriError(429, "Too many requests", "TOO_MANY_REQUESTS", wait)
        calls.append(now)
        self._calls[client_id] = calls

    # -- drivers -------------------------------------------------------------------------

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

    def find_driver(
        self, driver_id: str | None, email: str | None, user_name: str | None
    ) -> dict[str, Any]:
        """A driver by id, email or userName (soft-deleted ones included); 404 if none."""
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

    def add_driver(self, body: Any, *, reinstate: bool) -> dict[str, str]:
        """Create a driver, or with ``reinstate`` revive a soft-deleted one with that id."""
        try:
            fields = load_driver_body(body, creating=True)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        driver_id = str(fields["driverId"])
        existing = self._by_id.get(driver_id)
        now = self.now_ms()
        if existing is not None:
            if not reinstate or existing.get("status") != STATUS_DELETED:
                raise conflict(f"Driver with driverId '{driver_id}' already exists")
            candidate = {**existing, **_stored(fields), "status": STATUS_ACTIVE}
            _validate_licence(candidate)
            existing.update(candidate)
            existing["updatedDate"] = now
            return {"message": "Driver reinstated successfully"}
        driver = {
            "driverId": driver_id,
            "firstName": None,
            "lastName": None,
            "status": STATUS_ACTIVE,
            "createdDate": now,
            "updatedDate": now,
            "licenceNumber": None,
            "licenseCountry": None,
            "licenseState": None,
            "userName": None,
            "email": None,
            "phone": None,
            "group": {"groupName": "Default", "groupUniqueName": "default"},
            "enableDriveriApp": False,
            "authorizedToDrive": 1,
            "linkedUserName": None,
            **_stored(fields),
        }
        _validate_licence(driver)
        self.state["drivers"].append(driver)
        self._by_id[driver_id] = driver
        return {"message": "Driver added successfully"}

    def add_bulk(self, body: Any) -> dict[str, Any]:
        """Add drivers one by one: each succeeds or fails on its own."""
        drivers = body.get("drivers") if isinstance(body, dict) else None
        if not isinstance(drivers, list) or not drivers:
            raise bad_request("drivers: a non-empty array is required")
        if len(drivers) > 500:
            raise bad_request("drivers: at most 500 drivers per request")
        results = []
        for item in drivers:
            driver_id = item.get("driverId") if isinstance(item, dict) else None
            driver_id = driver_id if isinstance(driver_id, str) else None  # echoed as a string
            try:
                message = self.add_driver(item, reinstate=False)["message"]
                results.append({"driverId": driver_id, "status": 200, "message": message})
            except DriveriError as exc:
                results.append(
                    {"driverId": driver_id, "status": exc.status, "message": exc.message}
                )
        added = sum(1 for r in results if r["status"] == 200)
        return {"message": f"{added} of {len(results)} drivers added", "results": results}

    def edit_driver(self, driver_id: str, body: Any) -> dict[str, str]:
        """Partial update: absent fields are untouched; a new driverId renames the driver;
        a soft-deleted driver can only be reinstated through its status."""
        driver = self._by_id.get(driver_id)
        if driver is None:
            raise not_found("Driver not found", "DRIVER_NOT_FOUND")
        try:
            fields = load_driver_body(body, creating=False)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        status = fields.get("status")
        if driver.get("status") == STATUS_DELETED and status in (None, STATUS_DELETED):
            raise bad_request(
                "A deleted driver can only be reinstated: set status to 1 (Active) or 2"
            )
        new_id = fields.get("driverId")
        if new_id is not None and new_id != driver_id and new_id in self._by_id:
            raise conflict(f"Driver with driverId '{new_id}' already exists")
        candidate = {**driver, **_stored(fields)}
        _validate_licence(candidate)
        driver.update(candidate)
        driver["updatedDate"] = self.now_ms()
        if new_id is not None and new_id != driver_id:
            del self._by_id[driver_id]
            self._by_id[str(new_id)] = driver
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


def _public_token(token: dict[str, Any]) -> dict[str, Any]:
    return {
        k: token[k]
        for k in ("accessToken", "tokenType", "expiresOn", "scope", "accessTokenId", "createdOn")
    }


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
            stored["group"] = {"groupName": "Default", "groupUniqueName": "default"}
        else:
            name = group["name"]
            stored["group"] = {"groupName": name, "groupUniqueName": name.lower()}
    return stored


def _validate_licence(driver: dict[str, Any]) -> None:
    try:
        check_licence(driver)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
