"""The webhook delivery worker: posts the queued events of one vendor app's backend.

One daemon thread per app, started when an event is queued (``wake``) and gone once nothing
is left to deliver, when the app is garbage (it holds the app's runtime by weak reference
only) or on :meth:`Delivery.stop`. A reset or restore gives the runtime a new backend; the
worker reads the current one on every round, so an old backend's queue is never posted.

Each round takes, under the backend's lock, the head event of every running webhook that is
due, then posts them with the lock released: one event at a time per webhook, in order,
the next only after a 2xx. Every attempt is signed afresh with the host's wall clock
(``X-GPSI-Timestamp``) and recorded in the vendor's journal as an outbound entry. Plain
``http.client``: no proxy, no redirect followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import hmac
import http.client
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mock_vendors._common.app import VendorRuntime

ATTEMPT_TIMEOUT_S = 5.0
IDLE_CHECK_S = 1.0
"""Longest the worker sleeps between looks, so a dropped app or a stop is seen soon."""
USER_AGENT = "fleetsim-gpsinsight-webhooks/1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the secret."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, event_id: str, body: bytes, wall_now: float) -> dict[str, str]:
    """The headers of one attempt, signed at ``wall_now`` (host epoch seconds)."""
    timestamp = str(int(wall_now))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GPSI-Event-Id": event_id,
        "X-GPSI-Timestamp": timestamp,
        "X-GPSI-Signature": signature(secret, timestamp, body),
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST ``body`` to ``url``; the answer's status (OSError when there is none)."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=timeout_s)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read()  # the answer's body is not used, but the exchange is completed
        return response.status
    finally:
        conn.close()


class Delivery:
    """The delivery worker of one vendor app (``runtime`` is bound after the app is built)."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        timeout_s: float = ATTEMPT_TIMEOUT_S,
        sender: Callable[[str, bytes, dict[str, str], float], int] = post,
    ) -> None:
        self.wall = wall
        self.timeout_s = timeout_s
        self.sender = sender
        self._runtime: Callable[[], VendorRuntime | None] = lambda: None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending = False  # woken since the worker last looked at the queues
        self._wakeup = threading.Event()
        self._stopped = False

    def bind(self, runtime: VendorRuntime) -> None:
        """Deliver for ``runtime`` (held weakly: the worker never keeps an app alive)."""
        self._runtime = weakref.ref(runtime)

    def wake(self) -> None:
        """Something was queued (or resumed): start the worker if it is not running."""
        with self._lock:
            if self._stopped:
                return
            self._pending = True
            self._wakeup.set()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="gpsinsight-webhook-delivery", daemon=True
                )
                self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker for good (tests; an app being dropped) and wait for it."""
        with self._lock:
            self._stopped = True
            self._wakeup.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        with self._lock:
            return self._thread is not None

    # -- the thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._round():
                pass
        finally:
            with self._lock:
                self._thread = None

    def _round(self) -> bool:
        """One look at the queues; False when the worker should end."""
        with self._lock:
            if self._stopped:
                return False
            self._pending = False
            self._wakeup.clear()
        runtime = self._runtime()
        if runtime is None:
            return False
        backend: Any = runtime.backend
        journal = runtime.journal
        clock = runtime.stack.clock
        del runtime  # no strong reference across the posting and the wait
        with backend.lock:
            jobs = backend.webhook_due(self.wall())
            next_due = None if jobs else backend.webhook_next_due()
        for job in jobs:
            current = self._runtime()
            if current is None or current.backend is not backend:
                return True  # reset or dropped meanwhile: the old backend's events are not sent
            del current
            self._attempt(backend, journal, clock, job)
        if jobs:
            return True
        with self._lock:
            if next_due is None and not self._pending:
                return False  # nothing to deliver: the next wake() starts a new worker
        wait = IDLE_CHECK_S if next_due is None else next_due - self.wall()
        if wait > 0:
            self._wakeup.wait(min(wait, IDLE_CHECK_S))
        return True

    def _attempt(self, backend: Any, journal: Any, clock: Any, job: dict[str, Any]) -> None:
        body = str(job["body"]).encode("utf-8")
        headers = signed_headers(str(job["secret"]), str(job["event_id"]), body, self.wall())
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = self.sender(str(job["url"]), body, headers, self.timeout_s)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # The exception's class only: its text can carry the URL, whose query may hold
            # the receiver's own secrets.
            error = type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        journal.record_outbound(
            clock.now(),
            str(job["url"]),
            status,
            latency_ms,
            event_id=str(job["event_id"]),
            attempt=int(job["attempt"]),
            error=error if error is not None else (None if _ok(status) else f"HTTP {status}"),
        )
        with backend.lock:
            backend.webhook_attempted(job["id"], job["event_id"], _ok(status), self.wall())


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300
