"""GPS Insight API v2 (and Wex Telematics, the same platform): vendor JSON in, model out."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import requests

from ..model import Dtc, Fix, PortalDriver, Vehicle, Vin, canonical_code
from .base import (
    AuthError,
    BaseClient,
    Outcome,
    Reply,
    RetriableError,
    UnconfirmedWrite,
    VendorError,
    json_body,
    parse_retry_after,
    parse_time,
)

SESSION_GONE = "session does not exist"
MAX_HISTORY_WINDOW = timedelta(days=7)


class GpsInsightClient(BaseClient):
    """One account's API user. Calls go as form POSTs so no token ever sits in a URL."""

    vendor = "gpsinsight"

    def __init__(self, base_url: str, username: str, app_token: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.username = username
        self._app_token = app_token
        self._session_token: str | None = None
        self._login_lock = threading.Lock()
        self.logins = 0
        self._webhook_secrets: list[str] = []  # signing secrets sent, redacted like the rest

    def __repr__(self) -> str:  # never show the App Token or the session
        return f"GpsInsightClient({self.base_url!r}, username={self.username!r})"

    def secrets(self) -> tuple[str | None, ...]:
        """The App Token, the current session token and any webhook secret sent."""
        return (self._app_token, self._session_token, *self._webhook_secrets)

    def classify(self, response: requests.Response) -> Reply:
        """The envelope's ``head.status`` is the truth; HTTP status only backs it up."""
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("head"), dict):
            outcome = Outcome.RETRIABLE
            return Reply(outcome, response.status_code, None, "answer is not the JSON envelope")
        if body["head"].get("status") == "OK" and response.status_code < 400:
            return Reply(Outcome.OK, response.status_code, body)
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else {}
        first = first if isinstance(first, dict) else {}
        vendor_code = first.get("code")
        code = vendor_code if isinstance(vendor_code, int) else response.status_code
        message = str(first.get("message") or first.get("error") or "error")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if code == 429:
            outcome = Outcome.QUOTA  # a rolling 24-hour quota: stop, resume in a later run
        elif code in (401, 403):
            outcome = Outcome.AUTH
        elif code >= 500:
            outcome = Outcome.RETRIABLE
        else:
            outcome = Outcome.FATAL
        return Reply(outcome, code, body, message, retry_after)

    # -- session ---------------------------------------------------------------------------

    def login(self) -> None:
        """Open a session with username + App Token."""
        with self._login_lock:
            self._login()

    def _login(self) -> None:
        # The caller holds ``_login_lock``.
        self.logins += 1
        reply = self.send(
            "POST",
            "v2/userauth/login",
            read=True,
            data={"username": self.username, "app_token": self._app_token},
        )
        self._session_token = str(reply.body["data"]["token"])

    def _session(self, expired: str | None = None) -> str | None:
        """The session token, logging in when there is none or it is the ``expired`` one.
        Checking and logging in are one step, so threads that see the same session expire
        log in once between them (R3, R9)."""
        with self._login_lock:
            if self._session_token is None or self._session_token == expired:
                self._login()
            return self._session_token

    def call(self, method: str, **params: Any) -> Any:
        """Call a session-bound method and return ``data``. An expired session costs one
        re-login and one retry (R3); any other refusal is raised."""
        return self._bound(method, params, read=True)

    def write(self, method: str, **params: Any) -> Any:
        """Like ``call``, for a method that must not be repeated when its answer is lost (it
        raises UnconfirmedWrite instead: the caller checks before trying again)."""
        return self._bound(method, params, read=False)

    def _bound(self, method: str, params: dict[str, Any], *, read: bool) -> Any:
        token = self._session()
        try:
            return self._call(method, token, params, read)
        except AuthError as exc:
            # A gone session is refused before the method runs: repeating it is safe.
            if SESSION_GONE not in exc.message:
                raise
            return self._call(method, self._session(expired=token), params, read)

    def _call(
        self, method: str, token: str | None, params: dict[str, Any], read: bool = True
    ) -> Any:
        data = {k: v for k, v in params.items() if v is not None}
        data["session_token"] = token
        return self.send("POST", f"v2/{method}", read=read, data=data).body["data"]

    # -- reads -------------------------------------------------------------------------------

    def vehicles(self) -> list[Vehicle]:
        """Every visible vehicle with its details (the odometer in miles)."""
        rows = self.call("vehicle/list", details=1) or []
        return [
            Vehicle(
                id=str(row.get("id")),
                vin=Vin.parse(row.get("vin")),
                label=str(row.get("label") or ""),
                serial=str(row.get("serial_number") or ""),
                odometer_mi=_number(row.get("odometer")),
            )
            for row in rows
            if isinstance(row, dict)
        ]

    def latest_fixes(self) -> list[Fix]:
        """The newest fix of every visible vehicle."""
        return [f for f in map(_fix, self.call("vehicle/location") or []) if f is not None]

    def history(self, vehicle_id: str, start: datetime, end: datetime) -> list[Fix]:
        """Every fix in ``[start, end)``, fetched in windows of at most 7 days."""
        fixes: list[Fix] = []
        for lo, hi in windows(start, end, MAX_HISTORY_WINDOW):
            rows = self.call(
                "vehicle/history", vehicle=vehicle_id, start=_epoch(lo), end=_epoch(hi)
            )
            fixes.extend(f for f in map(_fix, rows or []) if f is not None and f.at < hi)
        return sorted(fixes, key=lambda f: f.at)

    def dtcs(self, start: datetime, end: datetime, serial_to_id: dict[str, str]) -> list[Dtc]:
        """Codes reported in ``[start, end]``, one per vehicle and code. Rows carry no vehicle
        id, so they are tied to vehicles by device serial."""
        found: list[Dtc] = []
        rows = self.call("vehicle/dtc", start=_epoch(start), end=_epoch(end)) or []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("dtc"), dict):
                continue
            vehicle_id = serial_to_id.get(str(row.get("serial_number")))
            if vehicle_id is None:
                continue
            for code, info in row["dtc"].items():
                first, last = parse_time(info.get("first")), parse_time(info.get("last"))
                if first is None or last is None:
                    continue
                found.append(
                    Dtc(
                        vehicle_id=vehicle_id,
                        code=canonical_code(str(code)),
                        description=str(info.get("alt") or ""),
                        first=first,
                        last=last,
                        count=int(info.get("count") or 0),
                    )
                )
        return found

    # -- drivers (issue 10) -------------------------------------------------------------------

    def drivers(self) -> list[PortalDriver]:
        """Every live driver of the account. Always the whole listing: ``driver/list``'s
        ``driver`` parameter resolves a ref_id before an id, so it never looks up by id."""
        rows = self.call("driver/list") or []
        return [d for d in map(_portal_driver, rows) if d is not None]

    def driver_sync_enabled(self) -> bool:
        """The account's Driver Sync setting (R25). An answer without it is an error, never
        "off" or "on" by guess."""
        data = self.call("driverisync/read")
        if not isinstance(data, dict) or not isinstance(data.get("enabled"), bool):
            raise self._raise(
                VendorError(self.vendor, "v2/driverisync/read", None, "no 'enabled' in the answer")
            )
        return bool(data["enabled"])

    def set_driver_sync(self, enabled: bool) -> bool:
        """Turn Driver Sync on or off (the Master User only); the setting as it now is."""
        data = self.call("driverisync/update", enabled=1 if enabled else 0)
        return bool(data.get("enabled")) if isinstance(data, dict) else enabled

    def webhook_create(self, url: str, name: str, secret: str) -> int:
        """Subscribe ``url`` to the account's driver events, signed with ``secret``; the
        subscription's id. A lost answer is settled by the listing (never a second one)."""
        self._webhook_secrets.append(secret)
        params = {"url": url, "name": name, "type": "driver", "content_type": "json"}
        try:
            data = self.write("webhook/create", secret=secret, **params)
        except (UnconfirmedWrite, RetriableError) as exc:
            for row in self.webhooks():
                if (row.get("url"), row.get("name"), row.get("type")) == (url, name, "driver"):
                    return int(row["id"])
            raise exc from None
        return int(data["id"])

    def webhooks(self) -> list[dict[str, Any]]:
        """The account's webhook subscriptions (their secrets are never listed)."""
        return [row for row in self.call("webhook/list") or [] if isinstance(row, dict)]

    def webhook_delete(self, webhook_id: int) -> None:
        """End a webhook subscription."""
        self.call("webhook/delete", id=webhook_id)


def windows(start: datetime, end: datetime, size: timedelta) -> Iterable[tuple[datetime, datetime]]:
    """Consecutive ``[lo, hi)`` windows of at most ``size`` covering ``[start, end)``."""
    lo = start
    while lo < end:
        hi = min(end, lo + size)
        yield lo, hi
        lo = hi


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is no reading


def _fix(row: Any) -> Fix | None:
    if not isinstance(row, dict):
        return None
    at = parse_time(row.get("fix_time_gmt"))
    lat, lon = _number(row.get("latitude")), _number(row.get("longitude"))
    if at is None or lat is None or lon is None:
        return None
    return Fix(
        vehicle_id=str(row.get("id")),
        at=at,
        latitude=lat,
        longitude=lon,
        odometer_mi=_number(row.get("odometer")),  # a string in location, a number in history
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _portal_driver(row: Any) -> PortalDriver | None:
    if not isinstance(row, dict) or not isinstance(row.get("id"), int):
        return None
    version = row.get("version")
    return PortalDriver(
        id=row["id"],
        first_name=str(row.get("firstname") or ""),
        last_name=str(row.get("lastname") or ""),
        email=_text(row.get("email")),
        phone=_text(row.get("phone")),
        ref_id=_text(row.get("ref_id")),
        driveri_id=_text(row.get("driveri_driver_id")),
        version=version if isinstance(version, int) else 0,
    )
