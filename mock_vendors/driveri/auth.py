"""Driveri's credential checks: Basic client credentials, bearer access tokens, the tenant
check and the per-client quota.

The header parsers take the ``Authorization`` header's value (a string), never the request.
:class:`OAuthMixin` is the OAuth part of the backend: API clients live in the state, access
tokens beside it (secrets and short-lived, so never dumped).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from mock_vendors._common.clock import VirtualClock

from .errors import (
    INVALID_TOKEN,
    bad_request,
    forbidden,
    not_found,
    too_many_requests,
    unauthorized,
)

MAX_ACTIVE_TOKENS = 2
TOKEN_SCOPE = "drivers:read drivers:write configurations:read"
RATE_WINDOW_S = 60.0
PUBLIC_TOKEN_FIELDS = (
    "accessToken", "tokenType", "expiresOn", "scope", "accessTokenId", "createdOn",
)  # fmt: skip


def basic_credentials(header: str) -> tuple[str, str]:
    """``(client_id, client_secret)`` from a ``Basic`` header value; 401 when it is not one."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise unauthorized("Basic authentication is required")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("Invalid Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise unauthorized("Invalid Basic credentials")
    return client_id, secret


def bearer_value(header: str) -> str | None:
    """The token of a ``Bearer`` header value (scheme in any letter case), None if there is none."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def bearer_token(header: str) -> str:
    """The token of a ``Bearer`` header value; 401 when there is none."""
    token = bearer_value(header)
    if token is None:
        raise unauthorized("A bearer access token is required")
    return token


class OAuthMixin:
    """API clients, access tokens, the tenant check and the quota of a Driveri backend."""

    state: dict[str, Any]
    clock: VirtualClock
    lock: Any
    version: int
    touch: Callable[[], None]  # the backend's (StateBackend)
    token_ttl_s: float
    rate_per_minute: int
    tokens: dict[str, dict[str, Any]]
    _calls: dict[str, list[float]]

    def now_ms(self) -> int:
        """Virtual time in epoch milliseconds."""
        return int(self.clock.timestamp() * 1000)

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
        raise unauthorized("Invalid client credentials")

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
            raise bad_request(
                f"At most {MAX_ACTIVE_TOKENS} active access tokens are allowed per API key; "
                "revoke one or reuse an active token",
                "TOKEN_LIMIT",
            )
        now = self.now_ms()
        token: dict[str, Any] = {
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
        self.touch()
        return _public_token(token)

    def list_tokens(self, client: dict[str, Any]) -> list[dict[str, Any]]:
        """The client's unexpired, unrevoked tokens."""
        return [_public_token(t) for t in self._active_tokens(str(client.get("client_id")))]

    def bearer(self, access_token: str) -> dict[str, Any]:
        """The live token record for a bearer token; 401 when missing, expired or revoked."""
        token = self.tokens.get(access_token)
        if token is None or token["revoked"] or token["expiresOn"] <= self.now_ms():
            raise unauthorized(INVALID_TOKEN)
        return token

    def expire_token(self, access_token: str) -> None:
        """Expire a bearer token at once (the ``expire_session`` fault)."""
        with self.lock:
            token = self.tokens.get(access_token)
            if token is not None:
                token["expiresOn"] = min(token["expiresOn"], self.now_ms())
                self.touch()

    def revoke(self, token: dict[str, Any]) -> dict[str, str]:
        """Revoke a token."""
        token["revoked"] = True
        self.touch()
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
        raise unauthorized(INVALID_TOKEN)

    def check_tenant(self, token: dict[str, Any], tenant: str) -> None:
        """404 for an unknown tenant, 403 for someone else's."""
        if tenant != self.state["tenant"]:
            raise not_found(f"Tenant '{tenant}' not found", "TENANT_NOT_FOUND")
        if self.client_of(token).get("tenant") != tenant:
            raise forbidden("Access to this tenant is not allowed")

    def charge_rate(self, client_id: str) -> None:
        """Count a call against the client's per-minute quota (when one is set)."""
        # No version bump: the call log is not state any answer is built from (a 429 is
        # raised before anything is), so it must not throw cached answers away.
        if self.rate_per_minute <= 0:
            return
        now = self.clock.timestamp()
        calls = [t for t in self._calls.get(client_id, []) if t > now - RATE_WINDOW_S]
        if len(calls) >= self.rate_per_minute:
            self._calls[client_id] = calls
            raise too_many_requests(max(1.0, calls[0] + RATE_WINDOW_S - now))
        calls.append(now)
        self._calls[client_id] = calls


def _public_token(token: dict[str, Any]) -> dict[str, Any]:
    return {k: token[k] for k in PUBLIC_TOKEN_FIELDS}
