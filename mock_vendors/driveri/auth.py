"""Driveri's credential checks: Basic client credentials, bearer access tokens, the tenant
check and the per-client quota.

The header parsers take the ``Authorization`` header's value (a string), never the request.
:class:`OAuthMixin` is the OAuth part of the backend: API clients live in the state, access
tokens beside it (secrets and short-lived, so never dumped). Dead tokens (expired or revoked)
are forgotten whenever a token is issued, so the table holds at most the live tokens and
those that died since the last issue. An ``accessTokenId`` carries a MAC of the client it was
issued to, so revoking a forgotten token by id still answers as revoking a revoked one does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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
TOKEN_REVOKED = "Access token revoked successfully"
TOKEN_ID_MAC_BYTES = 8  # the second half of an accessTokenId's 16 UUID bytes
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
    token_id_key: bytes  # signs accessTokenIds; in memory only, never dumped or answered
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

    def purge_tokens(self) -> None:
        """Forget every expired or revoked token: none is listed, counted or accepted any
        more, and revoking one by id answers the same without it (:meth:`revoke_by_id`)."""
        now = self.now_ms()
        dead = [key for key, t in self.tokens.items() if t["revoked"] or t["expiresOn"] <= now]
        for key in dead:
            del self.tokens[key]

    def issue_token(self, client: dict[str, Any]) -> dict[str, Any]:
        """A new access token; at most two active per client (400 TOKEN_LIMIT after). Dead
        tokens are purged first: the table only grows here, so it stays bounded."""
        client_id = str(client.get("client_id"))
        self.purge_tokens()
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
            "accessTokenId": self._new_token_id(client_id),
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
        return {"message": TOKEN_REVOKED}

    def revoke_by_id(self, client: dict[str, Any], token_id: str) -> dict[str, str]:
        """Revoke one of the client's tokens by its id; 404 for an unknown id or another
        client's. A token already purged (it had expired or been revoked) answers as a
        revoked one does: its id still carries the MAC of this client."""
        client_id = str(client.get("client_id"))
        for token in self.tokens.values():
            if token["accessTokenId"] == token_id and token["client_id"] == client_id:
                return self.revoke(token)
        if self._issued_to(client_id, token_id):
            return {"message": TOKEN_REVOKED}
        raise not_found("Access token not found", "TOKEN_NOT_FOUND")

    def _new_token_id(self, client_id: str) -> str:
        """A UUID (version 4): eight random bytes, then a MAC of them and the client id."""
        head = uuid.uuid4().bytes[:TOKEN_ID_MAC_BYTES]
        return str(uuid.UUID(bytes=head + self._token_id_mac(client_id, head), version=4))

    def _issued_to(self, client_id: str, token_id: str) -> bool:
        """Whether ``token_id`` is, character for character, an id issued to the client."""
        if not token_id.isascii():
            return False
        try:
            head = uuid.UUID(token_id).bytes[:TOKEN_ID_MAC_BYTES]
        except ValueError:
            return False
        mac = self._token_id_mac(client_id, head)
        expected = str(uuid.UUID(bytes=head + mac, version=4))
        return hmac.compare_digest(expected.encode(), token_id.encode())

    def _token_id_mac(self, client_id: str, head: bytes) -> bytes:
        message = client_id.encode("utf-8", "surrogatepass") + b"\x00" + head
        digest = hmac.new(self.token_id_key, message, hashlib.sha256).digest()
        return digest[:TOKEN_ID_MAC_BYTES]

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
