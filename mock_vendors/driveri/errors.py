"""Driveri's error texts and constructors: each returns a VendorError whose code is the
``messageCode`` Driveri puts in its error body."""

from __future__ import annotations

from mock_vendors._common.errors import VendorError

INVALID_TOKEN = "Access token is invalid, expired or revoked"


def bad_request(message: str, code: str = "INVALID_REQUEST") -> VendorError:
    """400 for a request that fails validation (or, with ``TOKEN_LIMIT``, one token too many)."""
    return VendorError(400, message, code=code)


def unauthorized(message: str) -> VendorError:
    """401 for missing, malformed or wrong credentials."""
    return VendorError(401, message, code="UNAUTHORIZED")


def forbidden(message: str) -> VendorError:
    """403 for a tenant that is not the caller's."""
    return VendorError(403, message, code="FORBIDDEN")


def not_found(message: str, code: str = "NOT_FOUND") -> VendorError:
    """404 for an unknown driver, tenant, token or path."""
    return VendorError(404, message, code=code)


def conflict(message: str) -> VendorError:
    """409 for a duplicate driverId or a rename onto an existing one."""
    return VendorError(409, message, code="DRIVER_ALREADY_EXISTS")


def too_many_requests(wait_s: float) -> VendorError:
    """429 once a client's per-minute quota is spent; ``wait_s`` until a call is free again."""
    return VendorError(429, "Too many requests", code="TOO_MANY_REQUESTS", retry_after=wait_s)
