"""Secrets out of every line the served stack logs (and out of gunicorn's error answers).

gunicorn logs what it could not parse as it came (a request line with ``session_token=`` in
its query, a header block with ``Authorization``), and a traceback may quote a URL. Every
handler of the process formats through :class:`RedactingFormatter`, so whatever a line holds,
the values of secret query/form parameters and of credential headers become
``[redacted]``. The banner's demo credentials are printed, not logged, and stay.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable
from typing import Any

from gunicorn import glogging

MASK = "[redacted]"

# Parameter names that carry a secret: any name containing one of these words
# (session_token, app_token, new_app_token, access_token, client_secret, password,
# new_password, api_key, apikey, ...), plus a few exact short names.
_SECRET_WORDS = (
    r"token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credential|signature|auth"
)
_NAME = rf"[\w.%\[\]-]*?(?:{_SECRET_WORDS})[\w.%\[\]-]*|key"
# name=value in a query string, a form body or free text; the value ends where the URL/form
# field does (or at a quote, a backslash escape or a space).
_PARAM = re.compile(rf"(?i)(?<![\w%.-])({_NAME})(=)([^&\s\"'#;,\\)]*)")
# "name": "value" as JSON or a Python repr writes it.
_KEYED = re.compile(rf"(?i)([\"'](?:{_NAME})[\"']\s*:\s*[\"'])([^\"'\\]*)")
# Credential headers, as raw lines, reprs of header lists or WSGI environ keys.
_HEADER = re.compile(
    r"(?i)\b((?:http_)?(?:proxy[-_])?authorization|(?:http_)?x[-_]api[-_]key"
    r"|(?:http_)?x[-_]fleetsim[-_]admin[-_]key|(?:http_)?(?:set-)?cookie)"
    r"([\"']?\s*[:=,]\s*[\"']?)([^\"'\r\n\\]*)"
)
# A bearer or basic credential on its own.
_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{6,})")


def redact(text: str) -> str:
    """``text`` with every secret value replaced by ``[redacted]``."""
    if "=" in text:
        text = _PARAM.sub(lambda m: m.group(1) + m.group(2) + (MASK if m.group(3) else ""), text)
    text = _KEYED.sub(lambda m: m.group(1) + MASK, text)
    text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return _SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("latin-1")).encode("latin-1")
    return value


def redacted_error(exc: BaseException) -> BaseException:
    """A copy of ``exc`` whose text attributes and args are redacted (same type, so gunicorn
    picks the same status for it, and its answer and log line echo no secret)."""
    try:
        clone = copy.copy(exc)
        for name, value in list(vars(clone).items()):
            setattr(clone, name, _redact_value(value))
        clone.args = tuple(_redact_value(arg) for arg in exc.args)
        return clone
    except Exception:  # an exception that cannot be copied: the original, still redacted in logs
        return exc


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner`` (message, traceback and all), then redacts the whole text."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def redact_handlers(handlers: Iterable[logging.Handler]) -> None:
    """Make every one of ``handlers`` format through :class:`RedactingFormatter`."""
    for handler in handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))


def redact_process_logging(level: int = logging.WARNING) -> None:
    """The app's loggers (``fleetsim.*``, ``werkzeug``, anything propagating to the root)
    write to stderr through a redacting formatter, as does logging's last resort."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
        )
        handler.setLevel(level)
        root.addHandler(handler)
    redact_handlers(root.handlers)
    if logging.lastResort is not None:
        redact_handlers([logging.lastResort])


class RedactingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger (error and access logs) with every handler redacting."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        redact_handlers([*self.error_log.handlers, *self.access_log.handlers])
        redact_process_logging()
