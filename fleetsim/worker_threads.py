"""The pool-thread side of :class:`fleetsim.worker.StackWorker`: serve the request(s) a
connection has buffered, then (for up to 2 ms) the same client's next one."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.http.parser import RequestParser

from fleetsim.conn import CLOSE, KEEP, BufferedUnreader, StackConn
from fleetsim.httpscan import HANDOFF, Scan
from fleetsim.redact import redacted_error


class RequestThreads:
    """Mixed into the worker before gunicorn's ThreadWorker, whose ``handle_request`` and
    ``handle_error`` it uses; runs in the pool's threads only."""

    FOLLOW_UP_WAIT_S = 0.002
    READ_SIZE = 64 * 1024

    cfg: Any
    log: Any
    alive: bool
    tpool: Any
    local: threading.local
    max_body: int
    handle_request: Callable[..., bool]
    handle_error: Callable[..., None]

    def handle(self, conn: StackConn) -> str:
        """Serve the buffered request(s) of ``conn``; runs in a pool thread."""
        try:
            conn.sock.setblocking(True)  # writes block, bounded by SO_SNDTIMEO
            if conn.parser is None:
                conn.initialized = True
                conn.parser = RequestParser(self.cfg, conn.sock, conn.client)
                conn.parser.unreader = BufferedUnreader(conn.sock)
            while True:
                status = conn.scan.status
                conn.parser.unreader.unread(conn.scan.take())
                if not self._serve_one(conn, status) or not self.alive:
                    return CLOSE
                status = conn.scan.reset(conn.parser.unreader.take_buffered())
                if status not in HANDOFF:
                    follow_up = self._read_follow_up(conn)
                    if follow_up is None:
                        return CLOSE
                    status = follow_up
                if status not in HANDOFF or self._others_waiting():
                    return KEEP
        except Exception:
            self.log.exception("Error serving a connection")
            return CLOSE

    def _others_waiting(self) -> bool:
        queue = getattr(self.tpool, "_work_queue", None)
        return bool(queue is not None and not queue.empty())

    def _read_follow_up(self, conn: StackConn) -> Scan | None:
        """Up to 2 ms for the client's next request; None when the client has gone."""
        poll = select.poll()
        poll.register(conn.sock, select.POLLIN)
        if not poll.poll(self.FOLLOW_UP_WAIT_S * 1000):
            return conn.scan.status
        try:
            data = conn.sock.recv(self.READ_SIZE, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return conn.scan.status
        except OSError:
            return None
        if not data:
            return None
        return conn.scan.feed(data)

    def _serve_one(self, conn: StackConn, status: Scan) -> bool:
        """One request from the parser's buffer; whether the connection may serve another."""
        req = None
        try:
            req = next(conn.parser)
        except (StopIteration, NoMoreData):
            return False
        except OSError:
            return False
        except Exception as exc:  # a head gunicorn refuses: its 400/414/431/501 answer
            self.handle_error(req, conn.sock, conn.client, redacted_error(exc))
            return False
        req._expected_100_continue = False  # the poller did invite the body, if at all
        refusal = None
        if status is Scan.BODY_TOO_LARGE:
            refusal = (413, f"the request body is over the limit of {self.max_body} bytes")
        elif status is Scan.BAD_BODY:
            refusal = (400, "the request body's chunked framing is malformed")
        if refusal is not None:
            req.force_close()
        self.local.refusal = refusal
        try:
            keepalive = self.handle_request(req, conn)
        except (StopIteration, OSError):
            return False
        except Exception as exc:
            self.handle_error(req, conn.sock, conn.client, redacted_error(exc))
            return False
        finally:
            self.local.refusal = None
        if not keepalive or refusal is not None:
            return False
        try:
            return bool(conn.parser.finish_body())  # from the buffer: never waits
        except Exception:
            return False
