"""GPS Insight's error texts, and the small constructors of the ``VendorError`` it answers with.

The envelope's error ``code`` is the HTTP status, so a status and a message are all there is.
"""

from __future__ import annotations

from mock_vendors._common.errors import VendorError

FORBIDDEN_SESSION = "Forbidden (session does not exist)"
FORBIDDEN_LOGIN = "Forbidden (invalid username, password or app token)"
FORBIDDEN_OTHER_USER = "Forbidden (only the Master User may act for another user)"
FORBIDDEN_DRIVERS = (
    "Forbidden (only the Master User or a user with ALL VEHICLES may change drivers)"
)
FORBIDDEN_WEBHOOKS = (
    "Forbidden (only the Master User or a user with ALL VEHICLES may create webhooks)"
)
FORBIDDEN_DRIVER_SYNC = "Forbidden (only the Master User may change the Driver Sync setting)"
TOO_MANY_REQUESTS = "too many requests"
DATE_RULE = "use YYYY-MM-DD, M/D/YYYY (optionally with HH:MM:SS) or Unix epoch seconds"


def bad_request(message: str) -> VendorError:
    """400 with the vendor's own wording."""
    return VendorError(400, message)


def missing_text(name: str) -> str:
    """How the platform says a required parameter (or one of a set) is absent or blank."""
    return f"Missing required parameter: {name}"


def missing(name: str) -> VendorError:
    """400 for a required parameter that is absent or blank."""
    return bad_request(missing_text(name))


def invalid(name: str, rule: str) -> VendorError:
    """400 for a parameter that is there but breaks ``rule``."""
    return bad_request(f"Invalid parameter {name}: {rule}")


def forbidden(message: str = FORBIDDEN_SESSION) -> VendorError:
    """403: no live session, wrong credentials, or acting for another user."""
    return VendorError(403, message)


def not_found(message: str) -> VendorError:
    """404 for a thing the caller cannot see (or an unknown API method)."""
    return VendorError(404, message)


def not_emulated(method: str) -> VendorError:
    """501 for a method of the platform's API (``catalogue.py``) the emulator does not serve,
    told apart from a name that is no method at all (404)."""
    return VendorError(501, f"Method not emulated: {method}")


def too_many_requests(retry_after: float) -> VendorError:
    """429 once the rolling 24-hour quota is spent."""
    return VendorError(429, TOO_MANY_REQUESTS, retry_after=retry_after)
