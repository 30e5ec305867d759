"""Is a whole HTTP/1.1 request buffered yet? Decided from bytes alone, without blocking.

The serving worker (:mod:`fleetsim.worker`) reads every request in its poller, a few
kilobytes at a time as they arrive, and hands a connection to a thread only once
:class:`RequestScanner` says the request is complete (or can be answered at once): a stalled
or slow client then costs a buffer, never a thread. The scanner follows the framing rules
gunicorn's parser applies (RFC 9112): one optional leading CRLF, a head ending in CRLF CRLF,
then a body framed by ``Content-Length`` or ``Transfer-Encoding: chunked``. Anything it cannot
frame is handed on as it is, for gunicorn's parser to refuse from the buffer.
"""

from __future__ import annotations

import enum

# A chunk-size line (hex digits and extensions) and a trailer section, as gunicorn bounds them.
MAX_CHUNK_LINE = 8190
MAX_TRAILERS = 64 * 1024


class Scan(enum.Enum):
    """What the buffered bytes amount to."""

    EMPTY = "empty"  # nothing of a request yet (an idle connection)
    PARTIAL = "partial"  # a request has begun and is still arriving
    COMPLETE = "complete"  # a whole request (head and body) is buffered
    MALFORMED = "malformed"  # the head can never be framed: gunicorn refuses it from the buffer
    HEAD_TOO_LARGE = "head too large"  # no end of head within the head limit
    BODY_TOO_LARGE = "body too large"  # the body is (or would grow) over the body limit
    BAD_BODY = "bad body"  # the head is fine, the chunked framing of the body is not


HANDOFF = frozenset({Scan.COMPLETE, Scan.MALFORMED, Scan.BODY_TOO_LARGE, Scan.BAD_BODY})


class RequestScanner:
    """The unparsed bytes of one connection and how far they go towards a whole request.

    ``feed()`` appends what the socket gave and rescans only what is new; ``take()`` hands the
    bytes over (to gunicorn's parser) and starts afresh. A buffer never grows beyond the head
    limit plus the body limit (plus chunk framing), since the poller stops reading a
    connection once a scan is anything but PARTIAL or EMPTY.
    """

    def __init__(self, max_body: int, max_head: int = 64 * 1024, max_line: int = 4094) -> None:
        self.max_body = max_body
        self.max_head = max_head
        self.max_line = max_line
        self.buf = bytearray()
        self._reset_request()

    def _reset_request(self) -> None:
        self.status = Scan.EMPTY
        self.head_end = -1  # offset just past the head's CRLF CRLF
        self.end = -1  # offset just past a Content-Length body, when known
        self.chunked = False
        self.chunk_pos = 0  # where the next chunk-size line starts
        self.body_bytes = 0  # chunk data announced so far
        self.expects_continue = False
        self.continue_sent = False

    # -- buffer ------------------------------------------------------------------------

    def feed(self, data: bytes) -> Scan:
        """Append ``data`` and rescan."""
        self.buf += data
        return self.scan()

    def reset(self, data: bytes = b"") -> Scan:
        """Start on a new request whose first bytes (possibly none) are ``data``."""
        self.buf = bytearray(data)
        self._reset_request()
        return self.scan()

    def take(self) -> bytes:
        """Every buffered byte (the request and whatever followed it); the buffer is emptied."""
        data = bytes(self.buf)
        self.buf = bytearray()
        self._reset_request()
        return data

    @property
    def started(self) -> bool:
        """Whether any byte of a request has arrived."""
        return bool(self.buf)

    # -- scanning ----------------------------------------------------------------------

    def scan(self) -> Scan:
        """Classify the buffer (cheaply: only the bytes not yet scanned are looked at)."""
        if self.status not in (Scan.EMPTY, Scan.PARTIAL):
            return self.status
        if self.head_end < 0:
            self.status = self._scan_head()
            if self.status is not Scan.PARTIAL or self.head_end < 0:
                return self.status
        self.status = self._scan_body()
        return self.status

    def _scan_head(self) -> Scan:
        buf = self.buf
        if not buf:
            return Scan.EMPTY
        start = 2 if buf[:2] == b"\r\n" else 0  # gunicorn ignores one empty line first
        if buf[start : start + 2] == b"\r\n" or buf[start : start + 1] == b"\n":
            return Scan.MALFORMED  # an empty request line
        line_end = buf.find(b"\r\n", start)
        if line_end < 0:
            if len(buf) > self.max_head:
                return Scan.HEAD_TOO_LARGE
            if len(buf) - start > self.max_line + 2 or b"\n" in buf:
                return Scan.MALFORMED  # over gunicorn's request-line limit, or a bare LF
            return Scan.PARTIAL
        if line_end - start > self.max_line or b"\n" in buf[start:line_end]:
            return Scan.MALFORMED if line_end <= self.max_head else Scan.HEAD_TOO_LARGE
        end = buf.find(b"\r\n\r\n", line_end)
        if end < 0:
            if len(buf) > self.max_head:
                return Scan.HEAD_TOO_LARGE
            if buf.count(b"\n") != buf.count(b"\r\n"):
                return Scan.MALFORMED  # a bare LF: the head would never end as it is read
            return Scan.PARTIAL
        if end + 4 > self.max_head:
            return Scan.HEAD_TOO_LARGE
        self.head_end = end + 4
        return self._frame(bytes(buf[line_end + 2 : end]).lower(), bytes(buf[start:line_end]))

    def _frame(self, fields: bytes, request_line: bytes) -> Scan:
        """The body's framing from the (lower-cased) header fields."""
        lengths: list[bytes] = []
        codings: list[bytes] = []
        if b"content-length" in fields or b"transfer-encoding" in fields or b"expect" in fields:
            for line in fields.split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.strip()
                if name == b"content-length":
                    lengths.append(value.strip(b" \t"))
                elif name == b"transfer-encoding":
                    codings.extend(v.strip(b" \t") for v in value.split(b","))
                elif name == b"expect" and value.strip(b" \t") == b"100-continue":
                    self.expects_continue = not request_line.endswith(b"HTTP/1.0")
        if codings:
            if lengths or codings[-1] != b"chunked" or codings.count(b"chunked") != 1:
                return Scan.MALFORMED  # gunicorn refuses these framings itself
            self.chunked = True
            self.chunk_pos = self.head_end
            return Scan.PARTIAL
        if not lengths:
            self.end = self.head_end
            return Scan.PARTIAL
        if len(lengths) > 1 or not lengths[0].isdigit():
            return Scan.MALFORMED
        length = int(lengths[0])
        if length > self.max_body:
            return Scan.BODY_TOO_LARGE
        self.end = self.head_end + length
        return Scan.PARTIAL

    def _scan_body(self) -> Scan:
        if not self.chunked:
            return Scan.COMPLETE if len(self.buf) >= self.end else Scan.PARTIAL
        buf = self.buf
        if len(buf) > 2 * self.max_body + self.max_head:
            return Scan.BODY_TOO_LARGE  # mostly framing: tiny chunks by the million
        while True:
            pos = self.chunk_pos
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return Scan.BAD_BODY if len(buf) - pos > MAX_CHUNK_LINE else Scan.PARTIAL
            size_text = bytes(buf[pos:line_end]).split(b";", 1)[0].rstrip(b" \t")
            if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                return Scan.BAD_BODY
            size = int(size_text, 16)
            if size == 0:
                return self._scan_trailers(line_end + 2)
            self.body_bytes += size
            if self.body_bytes > self.max_body:
                return Scan.BODY_TOO_LARGE  # refused before the chunk itself is read
            data_end = line_end + 2 + size
            if len(buf) < data_end + 2:
                self.body_bytes -= size  # counted again once the chunk is whole
                return Scan.PARTIAL
            if buf[data_end : data_end + 2] != b"\r\n":
                return Scan.BAD_BODY
            self.chunk_pos = data_end + 2

    def _scan_trailers(self, start: int) -> Scan:
        buf = self.buf
        if buf[start : start + 2] == b"\r\n":
            return Scan.COMPLETE
        if buf.find(b"\r\n\r\n", start) >= 0:
            return Scan.COMPLETE
        return Scan.BAD_BODY if len(buf) - start > MAX_TRAILERS else Scan.PARTIAL
