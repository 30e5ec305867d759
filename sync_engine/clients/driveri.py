"""Netradyne Driveri: client credentials -> bearer tokens, and the tenant's drivers.

Tokens are shared with every other user of the API client (the official SDK, another engine):
Driveri allows two active ones, so this client lists the active tokens first and reuses the one
that lives longest, and mints one only when none is active (R9). A 401 costs one refresh and
one retry; one refresh runs at a time. Writes are never repeated blindly: when an answer is
lost the target is read back, and the write counts as done when it already shows it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from ..model import DRIVERI_ACTIVE, DriveriDriver
from .base import (
    AuthError,
    BaseClient,
    Outcome,
    Page,
    Reply,
    RetriableError,
    UnconfirmedWrite,
    VendorError,
    json_body,
    parse_retry_after,
    whole_listing,
)

PAGE_LIMIT = 200  # the most Driveri pages (docs/vendors.md §2.5)
TOKEN_LIMIT = "TOKEN_LIMIT"
DRIVER_NOT_FOUND = "DRIVER_NOT_FOUND"
DRIVER_ALREADY_EXISTS = "DRIVER_ALREADY_EXISTS"
COMPARED = {"firstName": "first_name", "lastName": "last_name", "email": "email"}


def message_code(exc: VendorError) -> str | None:
    """Driveri's ``messageCode`` of a failed call (TOKEN_LIMIT, DRIVER_NOT_FOUND, ...)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    code = error.get("messageCode") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class DriveriClient(BaseClient):
    """One Driveri API client (client id + secret) working on one tenant."""

    vendor = "driveri"

    def __init__(
        self, base_url: str, client_id: str, client_secret: str, tenant: str, **kwargs: Any
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.client_id = client_id
        self.tenant = tenant
        self._client_secret = client_secret
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self.tokens_minted = 0  # POST /v1/auth/token calls that issued a token
        self.refreshes = 0  # tokens replaced after a 401

    def __repr__(self) -> str:  # never show the secret or a token
        return f"DriveriClient({self.base_url!r}, client_id={self.client_id!r})"

    def secrets(self) -> tuple[str | None, ...]:
        """The client secret, the Basic credential built from it and the current token."""
        return (self._client_secret, self._basic, self._token)

    def classify(self, response: requests.Response) -> Reply:
        """The HTTP status is the truth; ``error.messageCode`` says which refusal it is."""
        body = json_body(response)
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(body, dict):
                return Reply(Outcome.RETRIABLE, status, None, "answer is not the JSON envelope")
            return Reply(Outcome.OK, status, body)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        text = str(error.get("message") or response.reason or "error")
        code = error.get("messageCode")
        message = f"{code}: {text}" if code else text
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (401, 403):
            outcome = Outcome.AUTH
        elif status == 429 or status >= 500:
            outcome = Outcome.RETRIABLE  # a per-minute quota: waiting it out is the fix
        else:
            outcome = Outcome.FATAL
        return Reply(outcome, status, body, message, retry_after)

    # -- tokens (R9) -------------------------------------------------------------------------

    def _bearer(self, stale: str | None = None) -> str:
        """The token to use: the one held, or (none held, or it is the ``stale`` one that
        met a 401) an active one of the client's, or a new one. Threads that meet the same
        401 refresh once between them."""
        with self._token_lock:
            if self._token is None or self._token == stale:
                if stale is not None:
                    self.refreshes += 1
                self._token = self._obtain(stale)
            return self._token

    def _obtain(self, stale: str | None) -> str:
        # The caller holds ``_token_lock``.
        reused = self._reusable(stale)
        if reused is not None:
            return reused
        try:
            reply = self._basic_call("POST", "v1/auth/token", read=False)
        except UnconfirmedWrite:
            reply = None  # it may have been issued: the listing says
        except VendorError as exc:
            if message_code(exc) != TOKEN_LIMIT:
                raise
            reply = None  # two active already (another user minted meanwhile): reuse one
        if reply is not None:
            self.tokens_minted += 1
            return str(reply.body["data"]["accessToken"])
        reused = self._reusable(stale)
        if reused is None:
            raise self._raise(
                AuthError(self.vendor, "v1/auth/token", None, "no access token available")
            )
        return reused

    def _reusable(self, stale: str | None) -> str | None:
        """The active token that expires last, other than ``stale``."""
        data = self._basic_call("GET", "v1/auth/tokens", read=True).body.get("data")
        tokens = [
            t
            for t in (data if isinstance(data, list) else [])
            if isinstance(t, dict) and t.get("accessToken") and t.get("accessToken") != stale
        ]
        if not tokens:
            return None
        return str(max(tokens, key=lambda t: int(t.get("expiresOn") or 0))["accessToken"])

    def _basic_call(self, method: str, path: str, *, read: bool) -> Reply:
        headers = {"Authorization": f"Basic {self._basic}"}
        return self.send(method, path, read=read, headers=headers)

    def _call(
        self,
        method: str,
        path: str,
        *,
        read: bool,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Reply:
        """A tenant call with the bearer token; a 401 refreshes the token once and repeats
        the call once (a 401 is answered before anything is done, so a write is safe)."""
        full = f"v1/tenants/{quote(self.tenant, safe='')}/{path}"
        token = self._bearer()
        try:
            return self._send_bearer(method, full, token, read=read, params=params, json=json)
        except AuthError as exc:
            if exc.status != 401:
                raise
        token = self._bearer(stale=token)
        return self._send_bearer(method, full, token, read=read, params=params, json=json)

    def _send_bearer(
        self, method: str, path: str, token: str, *, read: bool, params: Any, json: Any
    ) -> Reply:
        headers = {"Authorization": f"bearer {token}"}
        return self.send(method, path, read=read, params=params, json=json, headers=headers)

    # -- drivers -----------------------------------------------------------------------------

    def drivers(self, show_all: bool = True) -> list[DriveriDriver]:
        """Every driver of the tenant (soft-deleted ones too with ``show_all``), paged by 200,
        from a walk during which the listing held still (see ``whole_listing``)."""

        def walk() -> Iterator[Page]:
            offset = 0
            while True:
                body = self._call(
                    "GET", "drivers", read=True,
                    params={"offset": offset, "limit": PAGE_LIMIT, "showAll": _flag(show_all)},
                ).body  # fmt: skip
                data = body.get("data") if isinstance(body.get("data"), dict) else {}
                rows = [r for r in data.get("drivers") or [] if isinstance(r, dict)]
                total = int(body.get("totalCount") or 0)
                yield Page([d for d in map(_driver, rows) if d is not None], len(rows), total)
                offset += len(rows)
                if not rows or offset >= total:
                    return

        return whole_listing(self.vendor, "drivers", walk, lambda d: d.driver_id)

    def driver(self, driver_id: str) -> DriveriDriver | None:
        """One driver by its exact driverId (soft-deleted ones too); None when there is none."""
        try:
            body = self._call("GET", "driver", read=True, params={"driverId": driver_id}).body
        except VendorError as exc:
            if exc.status == 404 and message_code(exc) == DRIVER_NOT_FOUND:
                return None
            raise
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        rows = [r for r in data.get("drivers") or [] if isinstance(r, dict)]
        return _driver(rows[0]) if rows else None

    def create(
        self,
        driver_id: str,
        fields: dict[str, Any],
        reinstate: bool = False,
        after_lost: bool = False,
    ) -> str:
        """Add a driver (``reinstate``: bring back a soft-deleted one of that id). A lost
        answer is settled by reading the driver back; a 409 after a lost answer (this one's,
        or an earlier one's: ``after_lost``) is success when the driver already matches."""
        body = {"driverId": driver_id, **fields}
        params = {"reinstateDriver": "true"} if reinstate else None
        try:
            return _message(self._call("POST", "drivers", read=False, params=params, json=body))
        except (UnconfirmedWrite, RetriableError) as exc:
            if _refused(exc):
                raise
            if self._settled(exc, driver_id, fields, active=True):
                return "already done"
            return self._create_again(driver_id, body, params, fields)
        except VendorError as exc:
            if after_lost and message_code(exc) == DRIVER_ALREADY_EXISTS:
                if self._shows(driver_id, fields, active=True):
                    return "already done"
            raise

    def _create_again(
        self, driver_id: str, body: dict[str, Any], params: dict[str, Any] | None,
        fields: dict[str, Any],
    ) -> str:  # fmt: skip
        """The one repeat of a create whose answer was lost and that is not there yet."""
        try:
            return _message(self._call("POST", "drivers", read=False, params=params, json=body))
        except VendorError as exc:
            if message_code(exc) == DRIVER_ALREADY_EXISTS and self._shows(
                driver_id, fields, active=True
            ):
                return "already done"
            raise

    def update(self, driver_id: str, fields: dict[str, Any]) -> str:
        """A partial update of one driver; a new ``driverId`` among ``fields`` renames it,
        ``status`` 3 soft-deletes it. A lost answer is settled by reading the driver back
        (under its new id for a rename) and repeating the update once if it is not there."""
        path = f"drivers/{quote(driver_id, safe='')}"  # "/" too: the id is the rest of the path
        try:
            return _message(self._call("PUT", path, read=False, json=fields))
        except (UnconfirmedWrite, RetriableError) as exc:
            if _refused(exc):
                raise
            if self._settled(exc, str(fields.get("driverId") or driver_id), fields):
                return "already done"
            return _message(self._call("PUT", path, read=False, json=fields))

    def _settled(
        self, lost: VendorError, driver_id: str, fields: dict[str, Any], active: bool = False
    ) -> bool:
        """After a write's answer was lost: whether the driver shows it. When even that read
        fails, the write's own failure is raised: its outcome stays unknown."""
        try:
            return self._shows(driver_id, fields, active)
        except VendorError:
            raise lost from None

    def _shows(self, driver_id: str, fields: dict[str, Any], active: bool = False) -> bool:
        """Whether the driver exists and holds every compared field of ``fields`` (the
        phone cannot be compared: Driveri never returns it)."""
        found = self.driver(driver_id)
        if found is None:
            return False
        wanted_status = fields.get("status", DRIVERI_ACTIVE if active else None)
        if wanted_status is not None and found.status != wanted_status:
            return False
        return all(
            (fields[wire] or "") == (getattr(found, attr) or "")
            for wire, attr in COMPARED.items()
            if wire in fields
        )


def _refused(exc: VendorError) -> bool:
    """A 429 that outlived the retries: the write was refused, not done. Any other
    transient failure of a write (a dropped connection, a 5xx, a garbled answer) leaves its
    outcome unknown."""
    return exc.status == 429


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _message(reply: Reply) -> str:
    data = reply.body.get("data") if isinstance(reply.body, dict) else None
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def _driver(row: dict[str, Any]) -> DriveriDriver | None:
    driver_id = row.get("driverId")
    if not isinstance(driver_id, str) or not driver_id:
        return None
    status = row.get("status")
    return DriveriDriver(
        driver_id=driver_id,
        first_name=str(row.get("firstName") or ""),
        last_name=str(row.get("lastName") or ""),
        email=row.get("email") if isinstance(row.get("email"), str) else None,
        status=status if isinstance(status, int) else DRIVERI_ACTIVE,
    )
