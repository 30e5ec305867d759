"""Whip Around's error texts, in Laravel's words, and the VendorErrors it answers with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mock_vendors._common.errors import VendorError

GIVEN_DATA_INVALID = "The given data was invalid."
UNAUTHENTICATED = "Unauthenticated."
NEEDS_INTEGRATION_KEY = (
    "This action is unauthorized. Telematics writes need an integration API key, "
    "not a personal one."
)
NOT_JSON_TYPE = "The request body must be sent as JSON, with Content-Type: application/json."
NOT_JSON = "The request body must be valid JSON."
NOT_AN_OBJECT = "The request body must be a JSON object."
UNKNOWN_ASSET_ID = "The selected asset id is invalid."
SERVER_ERROR = "Server Error"
# Laravel's texts for the statuses the framework (or an injected fault) answers with.
FAULT_MESSAGES = {
    429: "Too Many Attempts.",
    500: SERVER_ERROR,
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def invalid(fields: Mapping[str, list[str]]) -> VendorError:
    """A 422 naming each bad field, as Laravel's validator answers."""
    return VendorError(422, GIVEN_DATA_INVALID, fields=fields)


def invalid_body(message: str) -> VendorError:
    """A 422 on the request body as a whole (not JSON, not an object)."""
    return invalid({"body": [message]})


def unauthenticated() -> VendorError:
    """401: no ``x-api-key``, or one the account does not have."""
    return VendorError(401, UNAUTHENTICATED)


def needs_integration_key() -> VendorError:
    """403: a personal key on a telematics write."""
    return VendorError(403, NEEDS_INTEGRATION_KEY)


def asset_not_found(ref: str) -> VendorError:
    """404 for ``assets/{id}``."""
    return VendorError(404, f"Asset {ref.strip()} not found.")


def vin_not_found(vin: str) -> VendorError:
    """404 for ``assets/{idOrVin}`` when no asset has the VIN."""
    return VendorError(404, f"No asset has VIN {vin}.")


def vin_shared(vin: str, asset_ids: Iterable[int]) -> VendorError:
    """409 for ``assets/{idOrVin}`` when the VIN names more than one asset."""
    ids = list(asset_ids)
    listed = ", ".join(str(i) for i in ids)
    return VendorError(
        409,
        f"VIN {vin} is shared by {len(ids)} assets ({listed}); "
        "address the asset by its id instead.",
    )


def defect_not_found(ref: str) -> VendorError:
    """404 for ``defects/{id}``."""
    return VendorError(404, f"Defect {ref.strip()} not found.")


def route_not_found(path: str) -> str:
    """Laravel's text for a path no route matches (``path`` without its leading slash)."""
    return f"The route {path} could not be found."


def method_not_supported(method: str, path: str, allowed: Iterable[str]) -> str:
    """Laravel's text for a method the route does not take."""
    return (
        f"The {method} method is not supported for route {path}. "
        f"Supported methods: {', '.join(allowed)}."
    )
