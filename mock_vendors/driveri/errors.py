"""The one error type Driveri handlers raise; routes render it in the ``{data, error}`` shape."""

from __future__ import annotations

from http import HTTPStatus


class DriveriError(Exception):
    """An error answer: ``status`` is the HTTP status and ``error.status`` alike."""

    def __init__(
        self, status: int, message: str, code: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after

    @property
    def reason(self) -> str:
        """The HTTP reason phrase (Spring puts it under ``error``)."""
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"


def bad_request(message: str) -> DriveriError:
    """400 for a request that fails validation."""
    return DriveriError(400, message, "INVALID_REQUEST")


def not_found(message: str, code: str = "NOT_FOUND") -> DriveriError:
    """404 for an unknown driver, tenant or path."""
    return DriveriError(404, message, code)


def conflict(message: str) -> DriveriError:
    """409 for a duplicate driverId or a rename onto an existing one."""
    return DriveriError(409, message, "DRIVER_ALREADY_EXISTS")
