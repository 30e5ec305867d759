"""Faults as data: which requests they match and what they do to them."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema


class FaultSpecSchema(Schema):
    """The body of ``POST /_mock/faults``; unknown keys are refused so typos are not ignored."""

    method = fields.String(load_default=None)
    path = fields.String(load_default="*")
    probability = fields.Float(load_default=None, validate=validate.Range(0, 1))
    seed = fields.Integer(load_default=0)
    first = fields.Integer(load_default=None, validate=validate.Range(min=1))
    every = fields.Integer(load_default=None, validate=validate.Range(min=1))
    status = fields.Integer(load_default=None, validate=validate.Range(400, 599))
    retry_after = fields.Float(load_default=None, validate=validate.Range(min=0))
    latency_ms = fields.Integer(load_default=None, validate=validate.Range(0, 60_000))
    body = fields.String(load_default=None, validate=validate.OneOf(["malformed", "truncated"]))
    drop = fields.Boolean(load_default=False)
    after = fields.Boolean(load_default=False)  # a status fault applied after the request ran
    expire_session = fields.Boolean(load_default=False)

    @validates_schema
    def _has_effect(self, data: dict[str, Any], **_: Any) -> None:
        effects = ("status", "latency_ms", "body")
        if not any(data.get(k) is not None for k in effects) and not (
            data.get("drop") or data.get("expire_session")
        ):
            raise ValidationError(
                "a fault needs an effect: status, latency_ms, body, drop or expire_session"
            )


@dataclass
class Fault:
    """One registered fault with its own counters and seeded random stream."""

    id: str
    spec: dict[str, Any]
    seen: int = 0
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.spec["seed"])

    def matches(self, method: str, path: str) -> bool:
        """Whether the request's method and mount-relative path fall under this fault."""
        wanted = self.spec["method"]
        if wanted not in (None, "*") and wanted.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(_norm(path), _norm(self.spec["path"]))

    def fires(self) -> bool:
        """Count a matching request and decide, deterministically, whether the fault applies."""
        self.seen += 1
        spec = self.spec
        if spec["first"] is not None and self.seen > spec["first"]:
            return False
        if spec["every"] is not None and self.seen % spec["every"]:
            return False
        if spec["probability"] is not None and self._rng.random() >= spec["probability"]:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict[str, Any]:
        """The fault as JSON, with its counters."""
        return {"id": self.id, **self.spec, "seen": self.seen, "fired": self.fired}


def _norm(path: str) -> str:
    # Vendor paths are case-insensitive and tolerate a trailing slash; so is matching.
    return path.lower().rstrip("/") or "/"


class FaultPlan:
    """The faults registered on one vendor, applied in registration order (first match wins)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        """Register a fault spec already loaded with :class:`FaultSpecSchema`."""
        with self._lock:
            fault = Fault(id=f"f{self._next}", spec=spec)
            self._next += 1
            self._faults.append(fault)
        return fault

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault that applies to this request, if any (counters advance)."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path) and fault.fires():
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        """Every registered fault as JSON."""
        with self._lock:
            return [f.describe() for f in self._faults]

    def remove(self, fault_id: str) -> bool:
        """Remove one fault; False when there was none with that id."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults = []
