"""The request class of a GPS Insight app: a query string or form body that is not UTF-8 is
a 400 in the vendor's envelope, naming the problem.

Werkzeug's own behaviour is to fail on such a query string (an unhandled UnicodeDecodeError,
so a 500) and to drop such a form body silently (``request.form`` comes back empty, so a
call that carried a valid session reads as one without it). Here both raise a
:class:`VendorError` the app renders like any other refusal.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO, Any

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property

from mock_vendors._common.errors import VendorError


def not_utf8(where: str, exc: UnicodeDecodeError) -> VendorError:
    """400 for bytes that are not UTF-8, saying where and which byte."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return VendorError(
        400, f"Malformed {where}: not valid UTF-8 (byte 0x{byte} at offset {exc.start})"
    )


class StrictFormParser(FormDataParser):
    """Parses ``application/x-www-form-urlencoded`` bodies, refusing non-UTF-8 bytes."""

    def _parse_urlencoded(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> Any:
        raw = stream.read()
        try:
            raw.decode()
        except UnicodeDecodeError as exc:
            raise not_utf8("form body", exc) from None
        # Valid UTF-8: Werkzeug's own parsing, from a fresh stream over the same bytes.
        return super()._parse_urlencoded(BytesIO(raw), mimetype, content_length, options)


class StrictRequest(Request):
    """A Flask request whose query string and form body must be UTF-8."""

    form_data_parser_class = StrictFormParser

    @cached_property
    def args(self) -> MultiDict[str, str]:  # type: ignore[override]
        """The query string's parameters; a 400 when it is not UTF-8."""
        try:
            self.query_string.decode()
        except UnicodeDecodeError as exc:
            raise not_utf8("query string", exc) from None
        return super().args
