"""No issued secret in any log line of the test run (R8), checked over the whole suite.

Every secret the emulators and the engine issue in this process passes through one of a few
generators: ``secrets.token_hex`` / ``secrets.token_urlsafe`` (session tokens, bearer tokens,
rotated App Tokens, webhook secrets) and Faker's ``hexify`` (the seeded App Tokens, client
secrets and API keys of every world). :func:`install` wraps them so each value they return is
remembered, and puts a handler on the root logger that keeps every record the process logs
(the emulators', the engine's, werkzeug's). At the end of the session :func:`leaks` looks
for any remembered secret in any kept line. Secrets are compared as whole tokens (runs of
the characters they are made of), so scanning stays linear in the size of the logs.

Not covered: output of subprocesses (``fleetsim serve`` and ``fleetsim engine`` started by
tests write to pipes their own tests read and check), and what is printed rather than logged
(the demo banner prints the demo credentials by design).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

from faker.providers import BaseProvider

from fixtures import providers

MIN_SECRET_LENGTH = 13  # the shortest secret issued (a GPS Insight App Token); ids are shorter
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{MIN_SECRET_LENGTH},}}")


class Watch:
    """The secrets issued and the lines logged during the run."""

    def __init__(self) -> None:
        self.issued: set[str] = set()
        self.lines: list[tuple[str, str]] = []  # (logger name, the line as written)
        self._lock = threading.Lock()

    def remember(self, value: Any) -> Any:
        """Note a generated value that may be a secret, and hand it back unchanged."""
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self.issued.add(value)
        return value

    def leaks(self) -> list[tuple[str, str]]:
        """(logger, line with the secret masked) for every kept line holding an issued secret."""
        found = []
        with self._lock:
            # A secret may be issued cut from a longer draw (App Tokens are 13 characters of
            # a 14-character hex draw), so its first 13 characters count as the secret too.
            issued = self.issued | {s[:MIN_SECRET_LENGTH] for s in self.issued}
            lines = list(self.lines)
        for name, line in lines:
            hits = [t for t in _tokens(line) if t in issued]
            if hits:
                masked = line
                for hit in hits:
                    masked = masked.replace(hit, f"<issued secret, {len(hit)} chars>")
                found.append((name, masked))
        return found


def _tokens(line: str) -> set[str]:
    """Every run of secret characters in ``line``, and each of its '-'/'_' separated parts
    (a secret may sit inside a longer run, e.g. after a prefix joined with '-')."""
    runs = set(_TOKEN.findall(line))
    parts = {p for run in runs for p in re.split(r"[-_]", run) if len(p) >= MIN_SECRET_LENGTH}
    return runs | parts


class _Keeper(logging.Handler):
    """Keeps every record the process logs, formatted as a handler would write it."""

    def __init__(self, watch: Watch) -> None:
        super().__init__(logging.NOTSET)
        self.watch = watch
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is not written by anyone either
            return
        with self.watch._lock:
            self.watch.lines.append((record.name, line))


def _wrap(watch: Watch, generate: Callable[..., Any]) -> Callable[..., Any]:
    def issuing(*args: Any, **kwargs: Any) -> Any:
        return watch.remember(generate(*args, **kwargs))

    issuing.__wrapped__ = generate  # type: ignore[attr-defined]
    return issuing


def install(watch: Watch, logger: logging.Logger | None = None) -> Callable[[], None]:
    """Start watching (the records of ``logger``, by default the root logger: every record
    of the process); returns the function that stops it."""
    originals = (secrets.token_hex, secrets.token_urlsafe, BaseProvider.hexify)
    secrets.token_hex = _wrap(watch, originals[0])  # type: ignore[assignment]
    secrets.token_urlsafe = _wrap(watch, originals[1])  # type: ignore[assignment]
    BaseProvider.hexify = _wrap(watch, originals[2])  # type: ignore[method-assign]
    _fresh_fakers()
    keeper = _Keeper(watch)
    target = logger or logging.getLogger()
    target.addHandler(keeper)

    def uninstall() -> None:
        secrets.token_hex, secrets.token_urlsafe = originals[0], originals[1]  # type: ignore[assignment]
        BaseProvider.hexify = originals[2]  # type: ignore[method-assign]
        _fresh_fakers()
        target.removeHandler(keeper)

    return uninstall


def _fresh_fakers() -> None:
    """Forget this thread's cached Faker: a Faker binds its providers' methods when it is
    built, so only one built after the patch calls the watched ``hexify``."""
    providers._local.__dict__.clear()
