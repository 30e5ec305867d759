"""Secrets out of every logged line: parameter values, credential headers, tracebacks."""

from __future__ import annotations

import logging
import sys

import pytest
from gunicorn.config import Config
from gunicorn.http.errors import InvalidRequestLine

from fleetsim.redact import RedactingFormatter, RedactingLogger, redact, redacted_error

SECRET_NAMES = [
    "session_token",
    "token",
    "app_token",
    "new_app_token",
    "password",
    "new_password",
    "api_key",
    "apikey",
    "client_secret",
    "access_token",
    "refresh_token",
    "secret",
    "key",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_a_secret_parameter_value_is_redacted_wherever_it_sits(name: str) -> None:
    for text in (
        f"GET /v2/vehicle/list?{name}=S3CR3T-1&details=1 HTTP/1.1",
        f"username=acme&{name}=S3CR3T-1",
        f"'{name}': 'S3CR3T-1'",
        f'{{"{name}": "S3CR3T-1"}}',
    ):
        assert "S3CR3T-1" not in redact(text), text
        assert "[redacted]" in redact(text)


def test_names_that_carry_no_secret_keep_their_values() -> None:
    text = "GET /v2/vehicle/list?username=acme.admin&details=1&vehicle=V7&reference_tag=t1"
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer S3CR3T-2",
        "authorization: Basic S3CR3T-2",
        "x-api-key: S3CR3T-2",
        "X-Fleetsim-Admin-Key: S3CR3T-2",
        "[('Authorization', 'Bearer S3CR3T-2'), ('Host', 'h')]",
        "{'HTTP_X_API_KEY': 'S3CR3T-2'}",
        "token was bearer S3CR3T-2 then",
    ],
)
def test_credential_header_values_are_redacted(text: str) -> None:
    assert "S3CR3T-2" not in redact(text)


def test_a_traceback_is_redacted_with_its_message() -> None:
    try:
        raise ValueError("login failed for app_token=S3CR3T-3")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "fleetsim.mock", logging.ERROR, __file__, 1, "GET %s", ("/x?password=S3CR3T-4",), exc_info
    )
    text = RedactingFormatter(logging.Formatter("%(message)s")).format(record)
    assert "ValueError" in text and "S3CR3T" not in text


def test_gunicorns_refusal_is_copied_with_its_text_redacted() -> None:
    refused = redacted_error(InvalidRequestLine("GET /v2/x?session_token=S3CR3T-5"))
    assert isinstance(refused, InvalidRequestLine)
    assert "S3CR3T-5" not in str(refused) and "/v2/x" in str(refused)


def test_gunicorns_error_log_redacts_what_it_writes(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config()
    cfg.set("errorlog", "-")
    cfg.set("loglevel", "warning")
    logger = RedactingLogger(cfg)
    try:
        logger.warning("Invalid request from ip=127.0.0.1: GET /?app_token=S3CR3T-6")
        logged = capsys.readouterr().err
        assert "Invalid request" in logged and "S3CR3T-6" not in logged
    finally:
        for handler in list(logging.getLogger().handlers):
            if isinstance(handler.formatter, RedactingFormatter):
                logging.getLogger().removeHandler(handler)
