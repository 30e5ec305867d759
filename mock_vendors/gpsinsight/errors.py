"""The one error type GPS Insight handlers raise; routes render it in the vendor envelope."""

from __future__ import annotations


class ApiError(Exception):
    """An error answer: ``code`` is both the envelope's error code and the HTTP status."""

    def __init__(self, code: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


FORBIDDEN_SESSION = "Forbidden (session does not exist)"
