"""Resilience grading: how the engine behaved under faults, read from the emulators' request
journals (``/<vendor>/_mock/journal``) and fault lists (``/<vendor>/_mock/faults``).

Three checks, each pass/fail with its findings (docs/verification.md):

- ``waited_retry_after``: after a 429/503 answer carrying Retry-After, the client's next
  request for the same method and path (its retry) came no sooner than Retry-After said.
- ``no_blind_create``: a create that ran but whose client got an error or no answer (a
  status fault with ``after``, a dropped connection, a garbled body) is not followed by an
  identical create from that client without a read of the vendor in between.
- ``token_cap``: no Driveri client ever held more active tokens than the cap (2), and never
  asked for one the vendor refused for the cap.

The grader is pure over the entries (``grade``); ``load`` is the small loader. Journal times
are the stack's virtual clock: the engine's waits show in them only when its sleeps move that
clock (a running stack clock and real sleeps, or a test sleeper that advances it).
"""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests

from mock_vendors._common.errors import retry_after_header
from mock_vendors._common.faults import Fault, FaultSpecSchema, norm_path

RETRY_AFTER, BLIND_CREATE, TOKEN_CAP = "waited_retry_after", "no_blind_create", "token_cap"
CHECKS = (RETRY_AFTER, BLIND_CREATE, TOKEN_CAP)
VENDORS = ("gpsinsight", "wex", "driveri", "whiparound")
THROTTLED = (429, 503)
# The creates the engine makes, and how the vendor answers an identical repeat of one that
# landed: Whip Around raises the open defect (200, a new one is 201: docs/vendors.md §3.5),
# Driveri refuses a driverId that exists (409 DRIVER_ALREADY_EXISTS, §2.6). Without a body
# digest in the journal, that answer is what tells a repeat from another create on the path.
CREATES: dict[str, tuple[str, str, frozenset[int]]] = {
    "whiparound": ("POST", "*/dtc-defects", frozenset({200})),
    "driveri": ("POST", "/v1/tenants/*/drivers", frozenset({409})),
}
TOKEN_PATH = "/v1/auth/token"
REVOKE_GLOB = "/v1/auth/token/revoke*"
TOKEN_LIMIT_STATUS = 400  # Driveri's TOKEN_LIMIT answer (§2.2)
SLACK = timedelta(milliseconds=1)  # the journal's timestamps are ISO text: rounding noise
FAULT_FIELDS = tuple(FaultSpecSchema().fields)
ADMIN_HEADER = "X-Fleetsim-Admin-Key"


@dataclass(frozen=True)
class Request:
    """One journal entry as graded: who asked what, when, the answer, and what a fault did."""

    at: datetime
    method: str
    path: str
    status: int | None
    client: str | None  # the credential's id the vendor recorded (never a secret)
    retry_after: float | None = None  # seconds the answer's Retry-After said
    unanswered: bool = False  # it ran, but its client got an error or no answer
    digest: str | None = None  # the body's digest, when the journal records one


@dataclass(frozen=True)
class Finding:
    """One thing the engine did wrong."""

    check: str
    vendor: str
    at: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"check": self.check, "vendor": self.vendor, "at": self.at, "message": self.message}


@dataclass
class Grade:
    """Findings per check, how many events each check graded, and notes on what could not be
    graded (a check with nothing to grade passes, and ``graded`` says 0)."""

    findings: list[Finding] = field(default_factory=list)
    graded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    notes: list[str] = field(default_factory=list)

    def passed(self, check: str | None = None) -> bool:
        """Whether ``check`` (every check when None) found nothing wrong."""
        return not any(check in (None, f.check) for f in self.findings)

    def checks(self) -> dict[str, dict[str, Any]]:
        """Pass/fail, events graded and findings, per check."""
        return {
            name: {
                "passed": self.passed(name),
                "graded": self.graded[name],
                "findings": sum(1 for f in self.findings if f.check == name),
            }
            for name in CHECKS
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "passed": self.passed(),
            "checks": self.checks(),
            "findings": [f.as_dict() for f in self.findings],
            "notes": list(self.notes),
        }

    def render(self) -> str:
        """For a terminal (and a failing test's message)."""
        lines = [
            f"{name}: {'PASS' if row['passed'] else 'FAIL'} ({row['graded']} graded)"
            for name, row in self.checks().items()
        ]
        lines += [f"  {f.check} {f.vendor} {f.at}: {f.message}" for f in self.findings]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def grade(
    journals: Mapping[str, list[dict[str, Any]]],
    faults: Mapping[str, list[dict[str, Any]]] | None = None,
    *,
    token_ttl_s: float = 3600.0,
    token_cap: int = 2,
) -> Grade:
    """Grade every vendor's journal (in the order recorded) against its fault list."""
    result = Grade()
    for vendor, entries in journals.items():
        seen = requests_of(vendor, entries, (faults or {}).get(vendor, []), result.notes)
        for check, found in (
            (RETRY_AFTER, check_retry_after(vendor, seen)),
            (BLIND_CREATE, check_blind_creates(vendor, seen)),
            (TOKEN_CAP, check_token_cap(vendor, seen, token_ttl_s, token_cap)),
        ):
            graded, findings = found
            result.graded[check] += graded
            result.findings.extend(findings)
    return result


# -- what each entry was ---------------------------------------------------------------------


def requests_of(
    vendor: str, entries: list[dict[str, Any]], faults: list[dict[str, Any]], notes: list[str]
) -> list[Request]:
    """The vendor's inbound requests, each with what its fault did to it. Entries that say
    it themselves (``retry_after``, ``fault_effect``, ``body_sha256``) are taken at their
    word; otherwise the listed faults are replayed over the journal with the emulator's own
    matching (first match wins, the same counters and seeded draws) and the replay is
    trusted only if it agrees with every recorded status and each fault's counters."""
    inbound = [e for e in entries if e.get("direction") != "out"]
    fired = _replay(vendor, inbound, faults, notes)
    found = []
    for entry, fault in zip(inbound, fired, strict=True):
        spec = fault.spec if fault is not None else {}
        retry_after = entry.get("retry_after")
        if retry_after is None and spec.get("retry_after") and spec.get("status"):
            retry_after = float(retry_after_header(spec["retry_after"]))  # what was sent
        effect = entry.get("fault_effect")
        unanswered = effect in ("after", "drop", "body") or bool(
            (spec.get("status") and spec.get("after")) or spec.get("drop") or spec.get("body")
        )
        found.append(
            Request(
                at=datetime.fromisoformat(entry["at"]),
                method=str(entry["method"]).upper(),
                path=norm_path(str(entry["path"])),
                status=entry.get("status"),
                client=entry.get("app_token_id"),
                retry_after=float(retry_after) if retry_after is not None else None,
                unanswered=unanswered,
                digest=entry.get("body_sha256"),
            )
        )
    return found


def _replay(
    vendor: str, entries: list[dict[str, Any]], faults: list[dict[str, Any]], notes: list[str]
) -> list[Fault | None]:
    """The fault that fired on each entry (None: none), or all None when the replay cannot
    be trusted (a journal cleared or truncated after the faults were added, requests that
    finished out of the order they started in), which ``notes`` then says."""
    nothing: list[Fault | None] = [None] * len(entries)
    if not faults:
        return nothing
    plan = [
        Fault(str(f["id"]), FaultSpecSchema().load({k: f[k] for k in FAULT_FIELDS if k in f}))
        for f in faults
    ]
    fired: list[Fault | None] = []
    for entry in entries:
        method, path = str(entry["method"]), str(entry["path"])
        paged = method.upper() == "GET"  # a mutation fault is only accepted on a paged list
        hit = next((f for f in plan if f.matches(method, path, paged) and f.fires()), None)
        if hit is not None and hit.spec.get("status") and hit.spec["status"] != entry["status"]:
            notes.append(
                f"{vendor}: fault {hit.id} replayed onto {method} {path} at {entry['at']}, "
                f"which was answered {entry['status']}, not {hit.spec['status']}: faults not "
                "graded"
            )
            return nothing
        fired.append(hit)
    for fault, listed in zip(plan, faults, strict=True):
        if (fault.seen, fault.fired) != (listed.get("seen"), listed.get("fired")):
            notes.append(
                f"{vendor}: the journal does not cover fault {fault.id}'s whole life "
                f"(replayed {fault.seen}/{fault.fired}, listed {listed.get('seen')}/"
                f"{listed.get('fired')}): its effects are not graded"
            )
            return nothing
    return fired


# -- the checks ------------------------------------------------------------------------------


def check_retry_after(vendor: str, seen: list[Request]) -> tuple[int, list[Finding]]:
    """(events graded, findings): every throttled answer with a Retry-After against the
    client's next request for the same method and path. Other requests may overlap: the
    engine's requests to other resources run in parallel and each waits for its own answer.
    A request a fault refused before the vendor looked at its credentials has no client
    id: it and the next request of the same method and path are taken to be one client's."""
    graded, findings = 0, []
    after_client: dict[tuple[str | None, str, str], tuple[int, Request]] = {}
    after_any: dict[tuple[str, str], tuple[int, Request]] = {}
    after_unknown: dict[tuple[str, str], tuple[int, Request]] = {}
    for index in range(len(seen) - 1, -1, -1):
        request = seen[index]
        where = (request.method, request.path)
        if request.status in THROTTLED and request.retry_after is not None:
            graded += 1
            if request.client is None:
                retry = after_any.get(where)
            else:
                candidates = [after_client.get((request.client, *where)), after_unknown.get(where)]
                retry = min((c for c in candidates if c is not None), default=None)
            due = request.at + timedelta(seconds=request.retry_after)
            if retry is not None and retry[1].at + SLACK < due:
                waited = (retry[1].at - request.at).total_seconds()
                findings.append(
                    Finding(
                        RETRY_AFTER, vendor, request.at.isoformat(),
                        f"{request.method} {request.path} answered {request.status} with "
                        f"Retry-After {request.retry_after:g}s, retried after {waited:g}s",
                    )
                )  # fmt: skip
        after_any[where] = (index, request)
        if request.client is None:
            after_unknown[where] = (index, request)
        else:
            after_client[(request.client, *where)] = (index, request)
    findings.reverse()
    return graded, findings


def check_blind_creates(vendor: str, seen: list[Request]) -> tuple[int, list[Finding]]:
    """(creates graded, findings): a create that ran unanswered, then an identical create by
    the same client before any read of that vendor by it."""
    if vendor not in CREATES:
        return 0, []
    method, glob, repeat_statuses = CREATES[vendor]
    graded, findings = 0, []
    pending: dict[str | None, dict[str, Request]] = defaultdict(dict)  # client -> path -> it
    for request in seen:
        if request.method == "GET" and not request.path.startswith("/v1/auth"):
            pending[request.client].clear()  # it looked before it leapt
            continue
        if request.method != method or not fnmatch.fnmatchcase(request.path, glob):
            continue
        first = pending[request.client].get(request.path)
        if first is not None:
            same = (
                first.digest == request.digest
                if first.digest and request.digest
                else request.status in repeat_statuses
            )
            if same:
                findings.append(
                    Finding(
                        BLIND_CREATE, vendor, request.at.isoformat(),
                        f"{method} {request.path} repeated without a read after the create "
                        f"of {first.at.isoformat()} ran unanswered (answered {request.status})",
                    )
                )  # fmt: skip
        if request.unanswered:
            graded += 1
            pending[request.client][request.path] = request
    return graded, findings


def check_token_cap(
    vendor: str, seen: list[Request], ttl_s: float, cap: int
) -> tuple[int, list[Finding]]:
    """(tokens graded, findings): per client, the tokens issued and not yet expired, less
    those revoked (the journal does not say which one a revoke named: the oldest is freed,
    the most lenient reading), never more than ``cap``; no issue refused for the cap."""
    if vendor != "driveri":
        return 0, []
    graded, findings = 0, []
    live: dict[str | None, list[datetime]] = defaultdict(list)  # client -> expiry times
    ttl = timedelta(seconds=ttl_s)
    for request in seen:
        tokens = live[request.client]
        tokens[:] = sorted(t for t in tokens if t > request.at)
        if request.method == "DELETE" and fnmatch.fnmatchcase(request.path, REVOKE_GLOB):
            if request.status == 200 and tokens:
                tokens.pop(0)
            continue
        if request.method != "POST" or request.path != TOKEN_PATH:
            continue
        graded += 1
        if request.status == TOKEN_LIMIT_STATUS:
            findings.append(
                Finding(TOKEN_CAP, vendor, request.at.isoformat(),
                        f"asked for a token beyond the cap of {cap} (refused: TOKEN_LIMIT)")
            )  # fmt: skip
        elif request.status == 200:
            tokens.append(request.at + ttl)
            if len(tokens) > cap:
                findings.append(
                    Finding(TOKEN_CAP, vendor, request.at.isoformat(),
                            f"{len(tokens)} active tokens, more than the cap of {cap}")
                )  # fmt: skip
    return graded, findings


# -- the loader ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What ``grade`` takes: every mounted vendor's journal and fault list."""

    journals: dict[str, list[dict[str, Any]]]
    faults: dict[str, list[dict[str, Any]]]


def load(
    base_url: str,
    vendors: tuple[str, ...] = VENDORS,
    *,
    session: requests.Session | None = None,
    admin_key: str | None = None,
) -> Evidence:
    """Read the journals and faults of a served stack (a vendor not mounted is left out).
    The admin key (``FLEETSIM_ADMIN_KEY`` when not given) is sent, never shown."""
    http = session or requests.Session()
    key = admin_key if admin_key is not None else os.environ.get("FLEETSIM_ADMIN_KEY")
    headers = {ADMIN_HEADER: key} if key else {}
    journals: dict[str, list[dict[str, Any]]] = {}
    faults: dict[str, list[dict[str, Any]]] = {}
    for vendor in vendors:
        base = f"{base_url.rstrip('/')}/{vendor}/_mock"
        journal = http.get(f"{base}/journal", headers=headers, timeout=30)
        if journal.status_code == 404:
            continue
        journal.raise_for_status()
        listed = http.get(f"{base}/faults", headers=headers, timeout=30)
        listed.raise_for_status()
        journals[vendor] = list(journal.json()["entries"])
        faults[vendor] = list(listed.json()["faults"])
    return Evidence(journals, faults)


def grade_stack(base_url: str, **options: Any) -> Grade:
    """Load a served stack's journals and faults, and grade them."""
    evidence = load(base_url)
    return grade(evidence.journals, evidence.faults, **options)
