"""The gunicorn worker `fleetsim serve` runs: one process, a poller that reads every request,
a pool of threads that only ever run whole requests.

Stock gthread gives a thread to a connection as soon as it is readable and lets the thread
block reading the rest of the request: eight clients that send half a request (or trickle one)
hold all eight threads, and the stack stops answering anyone. Here the main thread's poller
reads heads and bodies non-blockingly into a per-connection buffer
(:class:`~fleetsim.httpscan.RequestScanner`) and queues a connection for a thread only once a
whole request is buffered, or once it can be answered at once (a body over the limit, a
framing gunicorn refuses). A thread parses from that buffer and never waits on a client to
send; its writes are bounded by a send timeout. Everything a connection costs while its
client is slow or silent is a file descriptor and a buffer:

- a partial request must be complete within ``request_timeout_s`` of its first byte (else
  408 and close); an idle kept-alive connection closes after gunicorn's ``keepalive``;
- a head over 64 KiB answers 431; a body over ``max_body_bytes`` is refused before it is
  read: the request goes to the app flagged in ``environ["fleetsim.refuse"]`` (the vendor's
  own 413) with an empty ``wsgi.input``, and the connection closes;
- at the connection limit (or out of file descriptors) the connection nearest its deadline
  among those waiting in the poller is closed to make room: waiting clients never lock
  everyone else out;
- closing is graceful without blocking anyone: the write side is shut and what the client
  still sends is drained by the poller for up to two seconds.

A thread that has just answered waits up to 2 ms for the same client's next request and
serves it too when it is whole (fewer thread hops under load), unless other connections are
queued for a thread.
"""

from __future__ import annotations

import errno
import heapq
import io
import itertools
import resource
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from fleetsim.conn import (
    CLOSE,
    CLOSED,
    CONTINUE,
    HEAD_TOO_LARGE_ANSWER,
    KEEP,
    LINGER,
    POLLER,
    REQUEST_TIMEOUT_ANSWER,
    THREAD,
    StackConn,
)
from fleetsim.httpscan import HANDOFF, Scan
from fleetsim.worker_threads import RequestThreads
from mock_vendors._common.limits import REFUSE_ENVIRON_KEY
from mock_vendors._common.stack import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY

DEFAULT_REQUEST_TIMEOUT_S = 10.0


class StackWorker(RequestThreads, ThreadWorker):  # type: ignore[misc]
    """gthread's pool of threads behind a poller that reads whole requests first."""

    READ_SIZE = 64 * 1024
    SEND_TIMEOUT_S = 30
    LINGER_S = 2.0
    LINGER_MAX_BYTES = 16 * 1024 * 1024
    ACCEPTS_PER_EVENT = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conns: set[StackConn] = set()
        self.timers: list[tuple[float, int, StackConn]] = []
        self.ticket = itertools.count()
        self.busy = 0
        self.accept_paused_until = 0.0
        self.local = threading.local()
        self.max_body = DEFAULT_MAX_BODY
        self.request_timeout = DEFAULT_REQUEST_TIMEOUT_S

    # -- set-up --------------------------------------------------------------------------

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app: Any = self.wsgi  # type: ignore[has-type]
        self.max_body = int(getattr(app, "max_body_bytes", DEFAULT_MAX_BODY))
        self.request_timeout = float(getattr(app, "request_timeout_s", DEFAULT_REQUEST_TIMEOUT_S))
        self.wsgi = self._refusing(app)

    def _refusing(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """The app, told (in its environ) when the worker refuses the body of a request."""
        local = self.local

        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            refusal = getattr(local, "refusal", None)
            if refusal is not None:
                environ[REFUSE_ENVIRON_KEY] = refusal
                environ["wsgi.input"] = io.BytesIO()  # the body is never read
            return app(environ, start_response)

        return wsgi

    def init_process(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except (ValueError, OSError):
                pass
        super().init_process()

    # -- the poller's loop -----------------------------------------------------------------

    def run(self) -> None:
        self.poller.register(
            self.method_queue.fileno(), selectors.EVENT_READ, self.method_queue.run_callbacks
        )
        self.set_accept_enabled(True)
        while self.alive:
            self.notify()
            self.wait_for_and_dispatch_events(timeout=self._poll_timeout())
            if not self.is_parent_alive():
                break
            now = time.monotonic()
            self.expire(now)
            if not self._accepting and now >= self.accept_paused_until:
                self.set_accept_enabled(True)
        self._stop()

    def _poll_timeout(self) -> float:
        if not self.timers:
            return 1.0
        return min(1.0, max(0.01, self.timers[0][0] - time.monotonic()))

    def _stop(self) -> None:
        self.set_accept_enabled(False)
        for conn in list(self.conns):
            if conn.state != THREAD:
                self.close(conn)
        give_up = time.monotonic() + self.cfg.graceful_timeout
        while self.busy and time.monotonic() < give_up:
            self.notify()
            self.wait_for_and_dispatch_events(timeout=0.1)
        for conn in list(self.conns):
            self.close(conn)
        self.tpool.shutdown(wait=False)
        self.poller.close()
        self.method_queue.close()
        for listener in self.sockets:
            listener.close()

    def accept(self, listener: socket.socket) -> None:
        for _ in range(self.ACCEPTS_PER_EVENT):
            try:
                sock, client = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    if self.evict_one():
                        continue
                    # Nothing to close: stop accepting for a moment rather than spin.
                    self.set_accept_enabled(False)
                    self.accept_paused_until = time.monotonic() + 0.1
                    return
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue
                raise
            if len(self.conns) >= self.worker_connections:
                self.evict_one()
            sock.setsockopt(
                socket.SOL_SOCKET,
                socket.SO_SNDTIMEO,
                struct.pack("ll", self.SEND_TIMEOUT_S, 0),
            )
            conn = StackConn(self.cfg, sock, client, listener.getsockname(), self.max_body)
            self.conns.add(conn)
            self.wait_in_poller(conn)

    def wait_in_poller(self, conn: StackConn) -> None:
        """Let the poller read ``conn`` until it holds a whole request (or its deadline)."""
        conn.state = POLLER
        now = time.monotonic()
        if conn.scan.started:
            if conn.request_deadline is None:
                conn.request_deadline = now + self.request_timeout
            self._maybe_continue(conn)
            self._set_deadline(conn, conn.request_deadline)
        else:
            conn.request_deadline = None
            self._set_deadline(conn, now + self.cfg.keepalive)
        self._register(conn, self.on_readable)

    def on_readable(self, conn: StackConn, _fileobj: Any = None) -> None:
        try:
            data = conn.sock.recv(self.READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        if not data:
            self.close(conn)  # the client went away (a partial request is abandoned)
            return
        started = conn.scan.started
        status = conn.scan.feed(data)
        if status in HANDOFF:
            self._unregister(conn)
            self.dispatch(conn)
        elif status is Scan.HEAD_TOO_LARGE:
            self.answer_and_close(conn, HEAD_TOO_LARGE_ANSWER)
        else:
            if not started:
                conn.request_deadline = time.monotonic() + self.request_timeout
                self._set_deadline(conn, conn.request_deadline)
            self._maybe_continue(conn)

    def _maybe_continue(self, conn: StackConn) -> None:
        """``Expect: 100-continue``: invite the body once the head is in and acceptable."""
        scan = conn.scan
        if scan.expects_continue and not scan.continue_sent and scan.head_end >= 0:
            scan.continue_sent = True
            try:
                conn.sock.send(CONTINUE)
            except OSError:
                pass

    def dispatch(self, conn: StackConn) -> None:
        """Queue a connection holding a whole request (or an answerable one) for a thread."""
        conn.state = THREAD
        conn.request_deadline = None
        self.busy += 1
        future = self.tpool.submit(self.handle, conn)
        future.add_done_callback(
            lambda fut: self.method_queue.defer(self.finish_request, conn, fut)
        )

    def finish_request(self, conn: StackConn, future: Any) -> None:
        """Back on the main thread: serve on, wait for the next request, or close."""
        self.busy -= 1
        try:
            outcome = future.result() if not future.cancelled() else CLOSE
        except Exception:
            outcome = CLOSE
        if conn.state == CLOSED:
            return
        if outcome != KEEP or not self.alive:
            if self.alive:
                self.linger(conn)
            else:
                self.close(conn)
            return
        try:
            conn.sock.setblocking(False)
        except OSError:
            self.close(conn)
            return
        status = conn.scan.status
        if status in HANDOFF:
            self.dispatch(conn)  # a thread yielded to others with a request already in
        elif status is Scan.HEAD_TOO_LARGE:
            self.answer_and_close(conn, HEAD_TOO_LARGE_ANSWER)
        else:
            self.wait_in_poller(conn)

    # -- deadlines, eviction and closing ---------------------------------------------------

    def _set_deadline(self, conn: StackConn, deadline: float) -> None:
        conn.deadline = deadline
        heapq.heappush(self.timers, (deadline, next(self.ticket), conn))

    def expire(self, now: float) -> None:
        """Close (or answer 408 to) every waiting connection past its deadline."""
        while self.timers and self.timers[0][0] <= now:
            deadline, _, conn = heapq.heappop(self.timers)
            if conn.deadline != deadline or conn.state not in (POLLER, LINGER):
                continue  # superseded by a later deadline, or in a thread
            if conn.state == POLLER and conn.scan.started:
                self.answer_and_close(conn, REQUEST_TIMEOUT_ANSWER)
            else:
                self.close(conn)

    def evict_one(self) -> bool:
        """Close the waiting connection nearest its deadline; False when none is waiting."""
        while self.timers:
            deadline, _, conn = heapq.heappop(self.timers)
            if conn.deadline == deadline and conn.state in (POLLER, LINGER):
                self.close(conn)
                return True
        return False

    def answer_and_close(self, conn: StackConn, answer: bytes) -> None:
        """Send a short answer of the server's own (never blocking), then close."""
        try:
            conn.sock.send(answer)
        except OSError:
            pass
        self.linger(conn)

    def linger(self, conn: StackConn) -> None:
        """Close gracefully: shut the write side, drain what the client still sends."""
        self._unregister(conn)
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(conn)
            return
        conn.state = LINGER
        conn.linger_budget = self.LINGER_MAX_BYTES
        self._set_deadline(conn, time.monotonic() + self.LINGER_S)
        self._register(conn, self.on_linger_readable)

    def on_linger_readable(self, conn: StackConn, _fileobj: Any = None) -> None:
        try:
            data = conn.sock.recv(self.READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.linger_budget -= len(data)
        if not data or conn.linger_budget <= 0:
            self.close(conn)

    def close(self, conn: StackConn) -> None:
        self._unregister(conn)
        conn.state = CLOSED
        self.conns.discard(conn)
        try:
            conn.sock.close()
        except OSError:
            pass

    def _register(self, conn: StackConn, callback: Callable[..., None]) -> None:
        self._unregister(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(callback, conn))
        conn.registered = True

    def _unregister(self, conn: StackConn) -> None:
        if conn.registered:
            conn.registered = False
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
