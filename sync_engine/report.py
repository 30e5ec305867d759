"""Run reports (R7): counts, a reason for every skip, and the outcome."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SUCCESS, PARTIAL, FAILED = "SUCCESS", "PARTIAL", "FAILED"
EXIT_CODES = {SUCCESS: 0, PARTIAL: 1, FAILED: 2}
COUNTS = (
    "read", "matched", "unmatched", "created", "updated", "unchanged", "skipped",
    "anomalies", "errors",
)  # fmt: skip


@dataclass
class Note:
    """A planned non-write with its reason, as a plan records it: a skip, an anomaly or a
    warning (the three kinds a report keeps apart)."""

    kind: str  # skip | anomaly | warning
    reason: str
    detail: dict[str, Any]


@dataclass
class Report:
    """What one run did. Data-quality skips and anomalies never lower the outcome."""

    pipeline: str
    integration: str
    counts: Counter[str] = field(default_factory=Counter)
    skips: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Per vendor: integration, requests, retries, seconds waited, 429s (quota hits).
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: int = 0
    requests: int = 0  # HTTP requests made to the vendors, retries included
    reads_failed: bool = False
    auth_failed: bool = False
    quota_hit: bool = False
    nothing_read: bool = False

    def skip(self, reason: str, **detail: Any) -> None:
        """A record not written, with its reason (MISSING_VIN, UNMATCHED, ...)."""
        self.counts["skipped"] += 1
        self.skips.append({"reason": reason, **detail})

    def anomaly(self, reason: str, **detail: Any) -> None:
        """A reading refused as implausible (ROLLBACK, IMPLAUSIBLE, ...)."""
        self.counts["anomalies"] += 1
        self.anomalies.append({"reason": reason, **detail})

    def warn(self, reason: str, **detail: Any) -> None:
        """Something worth knowing that changed nothing (an invalid VIN that still matched)."""
        self.warnings.append({"reason": reason, **detail})

    def add_notes(self, notes: list[Note]) -> None:
        """Every note of a plan, each under its kind (skip, anomaly, else warning)."""
        for note in notes:
            if note.kind == "skip":
                self.skip(note.reason, **note.detail)
            elif note.kind == "anomaly":
                self.anomaly(note.reason, **note.detail)
            else:
                self.warn(note.reason, **note.detail)

    def error(
        self, where: str, message: str, integration: str | None = None, **detail: Any
    ) -> None:
        """A failed read or write (the message never carries a secret), labelled with the
        integration it belongs to (this run's own unless another one failed)."""
        self.counts["errors"] += 1
        self.errors.append(
            {"where": where, "integration": integration or self.integration,
             "message": message, **detail}
        )  # fmt: skip

    def failure(self, where: str, exc: Exception, **detail: Any) -> None:
        """A vendor error, labelled with the integration of the client that raised it."""
        self.error(where, str(exc), getattr(exc, "integration", None), **detail)

    def vendor_lines(self) -> list[str]:
        """The per-vendor retry accounting as text lines (for the terminal report)."""
        return [
            f"  {vendor} ({stats.get('integration') or vendor}): requests {stats['requests']}"
            f"  retries {stats['retries']}  waited {stats['waited_s']:g}s"
            f"  quota hits {stats['quota_hits']}"
            for vendor, stats in self.vendors.items()
        ]

    @property
    def outcome(self) -> str:
        """SUCCESS, PARTIAL or FAILED, as R7 defines them."""
        if self.auth_failed or (self.nothing_read and not self.quota_hit):
            return FAILED
        if self.reads_failed or self.quota_hit or self.counts["errors"]:
            return PARTIAL
        return SUCCESS

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "pipeline": self.pipeline,
            "integration": self.integration,
            "outcome": self.outcome,
            "counts": {name: self.counts.get(name, 0) for name in COUNTS},
            "writes": self.writes,
            "requests": self.requests,
            "vendors": self.vendors,
            "skips": self.skips,
            "anomalies": self.anomalies,
            "warnings": self.warnings,
            "errors": self.errors,
        }
