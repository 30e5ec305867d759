"""The one error type Whip Around handlers raise; routes render it in Laravel's shape."""

from __future__ import annotations

GIVEN_DATA_INVALID = "The given data was invalid."
UNAUTHENTICATED = "Unauthenticated."
NEEDS_INTEGRATION_KEY = (
    "This action is unauthorized. Telematics writes need an integration API key, "
    "not a personal one."
)


class ApiError(Exception):
    """An error answer: HTTP ``status``, Laravel ``message`` and, for 422, ``errors``."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, list[str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        """``{message}``, or ``{message, errors}`` for a validation failure."""
        if self.errors is None:
            return {"message": self.message}
        return {"message": self.message, "errors": self.errors}


def invalid(errors: dict[str, list[str]]) -> ApiError:
    """A 422 naming each bad field, as Laravel's validator answers."""
    return ApiError(422, GIVEN_DATA_INVALID, errors)
