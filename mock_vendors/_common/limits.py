"""Request bodies over the stack's limit, refused before they are read.

The serving worker (``fleetsim.worker``) never reads a body over
``StackSettings.max_body_bytes``: it hands the request on with
``environ["fleetsim.refuse"] = (status, message)`` and an empty ``wsgi.input``. Every app of
the stack turns that (or a ``Content-Length`` over the limit, under any other server) into a
framework ``HTTPException`` raised before any view runs, so each vendor answers it in its own
error shape and the control plane in its JSON.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

REFUSE_ENVIRON_KEY = "fleetsim.refuse"


def too_large(limit: int) -> RequestEntityTooLarge:
    """The 413 of a body over ``limit`` bytes."""
    return RequestEntityTooLarge(f"The request body is over the limit of {limit} bytes.")


def refusal(
    environ: dict[str, Any], content_length: int | None, limit: int
) -> HTTPException | None:
    """The error to answer before reading this request's body, if any. A body of no declared
    length (chunked, under a server other than ``fleetsim serve``) is read through
    :class:`BoundedInput` instead."""
    refused = environ.get(REFUSE_ENVIRON_KEY)
    if refused is not None:
        status, message = refused
        if status == 413:
            return too_large(limit)
        return BadRequest(f"{message[:1].upper()}{message[1:]}.")
    if content_length is not None and content_length > limit:
        return too_large(limit)
    if content_length is None and "wsgi.input" in environ:
        environ["wsgi.input"] = BoundedInput(environ["wsgi.input"], limit)
    return None


class BoundedInput:
    """``wsgi.input`` that raises the 413 as soon as more than ``limit`` bytes come out of
    it: a streamed body is never read whole, and never silently cut short either (Werkzeug's
    own ``MAX_CONTENT_LENGTH`` stream stops at the limit without saying so)."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._limit:
            raise too_large(self._limit)
        return data

    def read(self, size: int | None = -1) -> bytes:
        """At most ``size`` bytes (all there is when negative); never more than one byte past
        the limit is taken from the stream."""
        room = self._limit - self._read + 1
        if size is not None and size >= 0:
            return self._count(self._stream.read(min(size, room)))
        chunks = []
        while room > 0:
            chunk = self._stream.read(min(room, 64 * 1024))
            if not chunk:
                break
            chunks.append(self._count(chunk))
            room -= len(chunk)
        return b"".join(chunks)

    def readline(self, size: int | None = -1) -> bytes:
        """One line, bounded like :meth:`read`."""
        room = self._limit - self._read + 1
        want = room if size is None or size < 0 else min(size, room)
        return self._count(self._stream.readline(want))

    def __iter__(self) -> Any:
        while line := self.readline():
            yield line
