"""The one HTTP client core: session, timeouts, retry policy, and response classification.

Vendors differ in how they say "ok" (GPS Insight says it inside a 200's envelope), so each
client supplies ``classify``; everything else -- waiting, retrying, raising -- happens here,
once. Exceptions carry the vendor's message and the path, never a query string or a body,
so no token or key can leak through them.
"""

from __future__ import annotations

import abc
import email.utils
import enum
import os
import random
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests

DEFAULT_TIMEOUT = (3.05, 30.0)  # connect, read (seconds): every call has both


class Outcome(enum.Enum):
    """How a response is to be treated."""

    OK = "ok"
    RETRIABLE = "retriable"
    AUTH = "auth"
    QUOTA = "quota"
    FATAL = "fatal"


class VendorError(Exception):
    """A call that did not succeed; ``kind`` says why, ``status`` is the vendor's code."""

    kind = Outcome.FATAL

    def __init__(
        self, vendor: str, path: str, status: int | None, message: str, body: Any = None
    ) -> None:
        super().__init__(f"{vendor} {path}: {status or 'no response'} {message}".strip())
        self.vendor = vendor
        self.integration: str | None = None  # set by the client that raised it
        self.path = path
        self.status = status
        self.message = message
        self.body = body


class RetriableError(VendorError):
    """A transient failure that outlived the retries."""

    kind = Outcome.RETRIABLE


class AuthError(VendorError):
    """Credentials or session refused."""

    kind = Outcome.AUTH


class QuotaError(VendorError):
    """A quota that retrying will not fix within this run."""

    kind = Outcome.QUOTA


class UnconfirmedWrite(VendorError):
    """A write whose outcome is unknown (the connection dropped): check before repeating it."""

    kind = Outcome.RETRIABLE


ERRORS: dict[Outcome, type[VendorError]] = {
    Outcome.RETRIABLE: RetriableError,
    Outcome.AUTH: AuthError,
    Outcome.QUOTA: QuotaError,
    Outcome.FATAL: VendorError,
}


@dataclass
class RetryPolicy:
    """Capped exponential backoff with jitter, never shorter than the server's Retry-After."""

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    max_wait_s: float = 300.0  # a longer Retry-After ends the call; a later run resumes
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        backoff = min(self.cap_s, self.base_s * 2**attempt)
        jittered = backoff * (0.5 + self.rng.random() / 2)
        return max(jittered, retry_after or 0.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: an integer, a fractional number, or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", value):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class Reply:
    """A classified response: the outcome, the parsed body and the vendor's message."""

    outcome: Outcome
    status: int
    body: Any
    message: str = ""
    retry_after: float | None = None


class BaseClient(abc.ABC):
    """Session, timeouts and retries for one vendor; subclasses supply ``classify``."""

    vendor = "vendor"

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or _session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.requests_made = 0
        self.integration: str | None = None  # the integration this client serves (reports)
        self.retries = 0  # requests repeated after a transient failure or a 429
        self.waited_s = 0.0  # seconds slept before those repeats
        self.quota_hits = 0  # 429 answers received (retried or not)
        self._stats = threading.Lock()

    def stats(self) -> dict[str, Any]:
        """Requests, retries, seconds waited and 429s so far (for the run report)."""
        with self._stats:
            return {
                "integration": self.integration,
                "requests": self.requests_made,
                "retries": self.retries,
                "waited_s": round(self.waited_s, 3),
                "quota_hits": self.quota_hits,
            }

    def _wait(self, seconds: float) -> None:
        with self._stats:
            self.retries += 1
            self.waited_s += seconds
        self.sleep(seconds)

    def _raise(self, error: VendorError) -> VendorError:
        error.integration = self.integration
        return error

    @abc.abstractmethod
    def classify(self, response: requests.Response) -> Reply:
        """Sort a response into ok / retriable / auth / quota / fatal (per vendor)."""

    def secrets(self) -> tuple[str | None, ...]:
        """The credentials this client holds (per vendor), redacted from every error."""
        return ()

    def redact(self, text: str) -> str:
        """``text`` with every secret of this client replaced (a vendor may echo one, R8)."""
        for secret in self.secrets():
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def send(
        self,
        method: str,
        path: str,
        *,
        read: bool,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One logical call. Reads are retried on transient failures; writes are not
        repeated when their outcome is unknown (the caller checks the target first)."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempt = 0
        while True:
            with self._stats:
                self.requests_made += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = f"connection failed: {type(exc).__name__}"
                if not read:
                    raise self._raise(UnconfirmedWrite(self.vendor, path, None, failure)) from None
                if attempt + 1 >= self.retry.attempts:
                    raise self._raise(RetriableError(self.vendor, path, None, failure)) from None
                self._wait(self.retry.delay(attempt, None))
                attempt += 1
                continue
            reply = self.classify(response)
            if reply.status == 429:
                with self._stats:
                    self.quota_hits += 1
            if reply.outcome is Outcome.OK:
                return reply
            if (
                reply.outcome is Outcome.RETRIABLE
                and attempt + 1 < self.retry.attempts
                and (read or reply.status == 429)
                and (reply.retry_after or 0.0) <= self.retry.max_wait_s
            ):
                # A 429 means the write was refused, not done: repeating it is safe.
                self._wait(self.retry.delay(attempt, reply.retry_after))
                attempt += 1
                continue
            raise self._raise(
                ERRORS[reply.outcome](
                    self.vendor, path, reply.status, self.redact(reply.message), reply.body
                )
            )


T = TypeVar("T")
MAX_WALKS = 3  # reads of a paged listing before a listing that will not hold still is an error


@dataclass(frozen=True)
class Page:
    """One page of a listing: its parsed items, how many rows it had (garbled ones included)
    and the listing's total as that page reported it."""

    items: list[Any]
    rows: int
    total: int


def whole_listing(
    vendor: str, path: str, walk: Callable[[], Iterator[Page]], key: Callable[[T], Hashable]
) -> list[T]:
    """Every item of a paged listing, read from a walk during which the listing held still.

    Records added or removed between two page fetches shift the pages: an offset or a page
    number then skips records that were never removed, or repeats some. A walk is trusted
    only when every page reported the same total, the rows add up to it and no item came
    twice; otherwise the listing is read again, up to MAX_WALKS times. One that never holds
    still is a failed read (R6: absence is concluded only from a listing read whole), never
    a short or doubled list.
    """
    for _ in range(MAX_WALKS):
        found: dict[Hashable, T] = {}
        totals: set[int] = set()
        rows = repeated = 0
        for page in walk():
            totals.add(page.total)
            rows += page.rows
            for item in page.items:
                repeated += key(item) in found
                found[key(item)] = item
        if len(totals) <= 1 and rows == next(iter(totals), 0) and not repeated:
            return list(found.values())
    raise RetriableError(
        vendor, path, None, f"the listing changed while it was read {MAX_WALKS} times"
    )


def _session() -> requests.Session:
    """A session that reads proxy and CA settings from the environment once, not per call
    (requests re-scans every environment variable on each request otherwise)."""
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(urllib.request.getproxies())
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


def parse_time(value: Any) -> datetime | None:
    """A vendor's ISO-8601 time (``Z`` or an offset) in UTC; None when absent or garbled."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def json_body(response: requests.Response) -> Any:
    """The parsed JSON body, or None when it is not JSON (a truncated or HTML answer)."""
    try:
        return response.json()
    except ValueError:
        return None
