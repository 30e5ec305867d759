"""One client connection of :mod:`fleetsim.worker`: its buffer, its state, and the few
answers the worker writes itself (before any request could reach an app)."""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn

from fleetsim.httpscan import RequestScanner

MAX_HEAD = 64 * 1024

# Connection states (where a connection is; only the main thread changes them).
POLLER, THREAD, LINGER, CLOSED = "poller", "thread", "linger", "closed"
# What a thread hands back.
KEEP, CLOSE = "keep", "close"


def _json_answer(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


REQUEST_TIMEOUT_ANSWER = _json_answer(
    408, "Request Timeout", "request timeout: the request did not arrive in time"
)
HEAD_TOO_LARGE_ANSWER = _json_answer(
    431, "Request Header Fields Too Large", "the request head is over 64 KiB"
)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class BufferedUnreader(SocketUnreader):  # type: ignore[misc]
    """gunicorn's socket reader for a thread: the request is buffered already, so a read
    the buffer cannot answer takes what the socket has right now and never waits."""

    def chunk(self, size_hint: int | None = None) -> bytes:
        size = max(self.mxchunk, min(size_hint or 0, self.max_body_chunk))
        try:
            return bytes(self.sock.recv(size, socket.MSG_DONTWAIT))
        except (BlockingIOError, InterruptedError):
            return b""


class StackConn(TConn):  # type: ignore[misc]
    """A client connection with its unparsed bytes and where it currently is."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, max_body: int):
        super().__init__(cfg, sock, client, server)  # leaves the socket non-blocking
        # gunicorn's request-line limit, or (0: unlimited) the head limit.
        self.scan = RequestScanner(max_body, max_line=cfg.limit_request_line or MAX_HEAD)
        self.state = POLLER
        self.registered = False
        self.deadline = 0.0
        self.request_deadline: float | None = None  # set when a request's first byte arrives
        self.linger_budget = 0
