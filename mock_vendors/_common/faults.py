"""Faults as data: which requests they match and what they do to them.

A fault's ``path`` is a glob over the path under the vendor's mount, exactly as the journal
records it (``/api/public/v4/assets/7001/mileage`` on Whip Around, not ``/assets/...``); a glob
that can match none of the vendor's routes is refused when the fault is added
(:func:`unmatched_route`), since it would be accepted and then never fire.
"""

from __future__ import annotations

import fnmatch
import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

MAX_MUTATION = 1000


class MutateSchema(Schema):
    """``mutate``: records deleted from and inserted at the head of a paged listing."""

    insert = fields.Integer(load_default=0, validate=validate.Range(0, MAX_MUTATION))
    delete = fields.Integer(load_default=0, validate=validate.Range(0, MAX_MUTATION))

    @validates_schema
    def _changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("insert") and not data.get("delete"):
            raise ValidationError('give "insert" and/or "delete": how many records (1 or more)')


class FaultSpecSchema(Schema):
    """The body of ``POST /_mock/faults``; unknown keys are refused so typos are not ignored."""

    method = fields.String(load_default=None)
    path = fields.String(load_default="*")
    probability = fields.Float(load_default=None, validate=validate.Range(0, 1))
    seed = fields.Integer(load_default=0)
    skip = fields.Integer(load_default=0, validate=validate.Range(min=0))
    first = fields.Integer(load_default=None, validate=validate.Range(min=1))
    every = fields.Integer(load_default=None, validate=validate.Range(min=1))
    status = fields.Integer(load_default=None, validate=validate.Range(400, 599))
    retry_after = fields.Float(load_default=None, validate=validate.Range(min=0))
    latency_ms = fields.Integer(load_default=None, validate=validate.Range(0, 60_000))
    body = fields.String(load_default=None, validate=validate.OneOf(["malformed", "truncated"]))
    drop = fields.Boolean(load_default=False)
    after = fields.Boolean(load_default=False)  # a status fault applied after the request ran
    expire_session = fields.Boolean(load_default=False)
    # A paged listing shifts right after a page of it was answered (see docs/vendors.md).
    mutate = fields.Nested(MutateSchema, load_default=None)

    @validates_schema
    def _has_effect(self, data: dict[str, Any], **_: Any) -> None:
        effects = ("status", "latency_ms", "body", "mutate")
        if not any(data.get(k) is not None for k in effects) and not (
            data.get("drop") or data.get("expire_session")
        ):
            raise ValidationError(
                "a fault needs an effect: status, latency_ms, body, drop, expire_session or mutate"
            )


class FaultRecordSchema(FaultSpecSchema):
    """A fault as ``GET /faults`` lists it, counters included (the items of ``PUT /faults``)."""

    id = fields.String(required=True, validate=validate.Regexp(r"^f[1-9][0-9]{0,8}$"))
    seen = fields.Integer(load_default=0, validate=validate.Range(0, 10**7))
    fired = fields.Integer(load_default=0, validate=validate.Range(min=0))

    @validates_schema
    def _fired_when_seen(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("fired", 0) > data.get("seen", 0):
            raise ValidationError("a fault cannot have fired more often than it was seen")


class FaultListSchema(Schema):
    """``PUT /faults``: the whole fault plan, as ``GET /faults`` listed it."""

    faults = fields.List(fields.Nested(FaultRecordSchema), required=True)

    @validates_schema
    def _ids_once(self, data: dict[str, Any], **_: Any) -> None:
        ids = [f["id"] for f in data.get("faults", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("every fault id must appear once", "faults")


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

    def matches(self, method: str, path: str, paged: bool = False) -> bool:
        """Whether the request's method and mount-relative path fall under this fault; a
        mutation only ever sees requests for a page of a paged list (``paged``)."""
        if self.spec["mutate"] is not None and not paged:
            return False
        wanted = self.spec["method"]
        if wanted not in (None, "*") and wanted.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(norm_path(path), norm_path(self.spec["path"]))

    def fires(self) -> bool:
        """Count a matching request and decide, deterministically, whether the fault applies.

        The first ``skip`` matching requests pass untouched and do not count for the rest:
        ``first``, ``every`` and ``probability`` see request ``skip + 1`` as their first, so
        ``{"skip": 10, "first": 3}`` fails requests 11 to 13 and ``{"skip": 10, "every": 2}``
        requests 12, 14, ... The seeded random stream is only drawn from after the skip.
        """
        self.seen += 1
        spec = self.spec
        n = self.seen - spec["skip"]
        if n <= 0:
            return False
        if spec["first"] is not None and n > spec["first"]:
            return False
        if spec["every"] is not None and n % spec["every"]:
            return False
        if spec["probability"] is not None and self._rng.random() >= spec["probability"]:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict[str, Any]:
        """The fault as JSON, with its counters."""
        return {"id": self.id, **self.spec, "seen": self.seen, "fired": self.fired}


def norm_path(path: str) -> str:
    """A path or path glob as faults and the journal filter compare them: vendor paths are
    case-insensitive and tolerate a trailing slash, so matching ignores both."""
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

    def pick(self, method: str, path: str, paged: bool = False) -> Fault | None:
        """The fault that applies to this request, if any (counters advance); ``paged`` when
        the request asks for a page of a paged list."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, paged) and fault.fires():
                    return fault
        return None

    def restore(self, records: list[dict[str, Any]]) -> None:
        """Replace the plan with ``records`` loaded by :class:`FaultRecordSchema`: same ids,
        same counters, and each seeded random stream where it stood (replayed ``seen``
        times), so the restored plan fires exactly as the saved one would have."""
        faults = []
        for record in records:
            spec = {k: v for k, v in record.items() if k not in ("id", "seen", "fired")}
            fault = Fault(id=record["id"], spec=spec)
            for _ in range(record["seen"]):
                fault.fires()
            fault.fired = record["fired"]
            faults.append(fault)
        with self._lock:
            self._faults = faults
            self._next = max((int(f.id[1:]) for f in faults), default=0) + 1

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


# -- can a fault's glob match one of the vendor's routes? ------------------------------------
#
# Both sides become token lists over single characters: a glob's ``*`` / ``?`` / ``[...]``
# and a Flask rule's ``<var>`` (one or more characters but ``/``) or ``<path:var>`` (one or
# more of any). Two lists overlap when some path matches both, which a walk over pairs of
# positions decides exactly for literals and closely enough for classes.

Char = tuple[Any, ...]  # ("lit", c) | ("any",) | ("seg",) | ("set", chars, negated)
Token = tuple[bool, Char]  # (repeats zero or more times, what one character may be)
ANY: Char = ("any",)
SEG: Char = ("seg",)
_VARIABLE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>")


@dataclass(frozen=True)
class Route:
    """One vendor route as a fault sees it: the Flask rule and the methods it takes."""

    rule: str
    methods: frozenset[str]
    endpoint: str


def vendor_routes(rules: Iterable[Any], control_prefix: str) -> list[Route]:
    """The vendor's own routes from a Flask url_map (no control plane, no static files)."""
    return [
        Route(r.rule, frozenset(r.methods or ()), r.endpoint)
        for r in rules
        if r.endpoint != "static" and not r.rule.startswith(control_prefix)
    ]


def unmatched_route(spec: dict[str, Any], routes: list[Route], vendor: str) -> str | None:
    """Why a fault's method and path glob can match none of ``routes``; None when one can."""
    method = (spec.get("method") or "*").upper()
    pattern = glob_tokens(norm_path(spec["path"]))
    for route in routes:
        if method in ("*", *route.methods) and tokens_meet(pattern, rule_tokens(route.rule)):
            return None
    taking = "" if method == "*" else f" taking {method}"
    return (
        f"'{spec['path']}' can match no {vendor} route{taking}: a fault's path is the path "
        f"under /{vendor}, as the journal shows it, and {vendor}'s routes are under "
        + " or ".join(route_prefixes(routes))
    )


def unmatched_list(spec: dict[str, Any], lists: list[Route], vendor: str) -> str | None:
    """Why a mutation fault can match none of the vendor's paged ``lists``; None when one can."""
    method = (spec.get("method") or "GET").upper()
    pattern = glob_tokens(norm_path(spec["path"]))
    if method in ("*", "GET") and any(tokens_meet(pattern, rule_tokens(r.rule)) for r in lists):
        return None
    names = ", ".join(f"GET {r.rule}" for r in lists) or f"{vendor} has none"
    return f"a mutation needs a paged list: {method} '{spec['path']}' can match none ({names})"


def route_prefixes(routes: list[Route]) -> list[str]:
    """The literal start every route shares (``/api/public/v4/``), else each first segment."""
    heads = [r.rule.split("<", 1)[0].rsplit("/", 1)[0].strip("/").split("/") for r in routes]
    common: list[str] = []
    for parts in zip(*heads, strict=False):
        if len(set(parts)) != 1 or not parts[0]:
            break
        common.append(parts[0])
    if common:
        return ["/" + "/".join(common) + "/"]
    return sorted({f"/{h[0]}/" for h in heads if h and h[0]})


def glob_tokens(glob: str) -> list[Token]:
    """An fnmatch glob as tokens (``[`` without its ``]`` is a literal, as in fnmatch)."""
    tokens: list[Token] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            tokens.append((True, ANY))
        elif c == "?":
            tokens.append((False, ANY))
        elif c == "[" and (end := _class_end(glob, i)) is not None:
            body = glob[i:end]
            negated = body.startswith("!")
            tokens.append((False, ("set", _class_chars(body[negated:]), negated)))
            i = end + 1
        else:
            tokens.append((False, ("lit", c)))
    return tokens


def rule_tokens(rule: str) -> list[Token]:
    """A Flask rule as tokens: a variable is one or more characters (``/`` only for path)."""
    tokens: list[Token] = []
    at = 0
    for match in _VARIABLE.finditer(rule):
        tokens += [(False, ("lit", c)) for c in rule[at : match.start()].lower()]
        one = ANY if match.group(1) == "path" else SEG
        tokens += [(False, one), (True, one)]
        at = match.end()
    tail = rule[at:].lower()
    tokens += [(False, ("lit", c)) for c in (tail.rstrip("/") if at else norm_path(tail))]
    return tokens


def tokens_meet(left: list[Token], right: list[Token]) -> bool:
    """Whether some path matches both token lists."""
    todo, seen = [(0, 0)], set()
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i][0]:
            todo.append((i + 1, j))  # the repeat matches nothing more
        if j < len(right) and right[j][0]:
            todo.append((i, j + 1))
        if i < len(left) and j < len(right) and _chars_meet(left[i][1], right[j][1]):
            todo.append((i + (not left[i][0]), j + (not right[j][0])))  # one character
    return False


def _class_end(glob: str, start: int) -> int | None:
    j = start + (start < len(glob) and glob[start] == "!")
    j += j < len(glob) and glob[j] == "]"  # a leading ] is a member, as in fnmatch
    end = glob.find("]", j)
    return None if end < 0 else end


def _class_chars(body: str) -> frozenset[str]:
    chars: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars.update(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    return frozenset(chars)


def _accepts(char: Char, c: str) -> bool:
    kind = char[0]
    if kind == "lit":
        return bool(char[1] == c)
    if kind == "seg":
        return c != "/"
    if kind == "set":
        return (c in char[1]) != char[2]
    return True


def _chars_meet(a: Char, b: Char) -> bool:
    if a[0] == "lit":
        return _accepts(b, a[1])
    if b[0] == "lit":
        return _accepts(a, b[1])
    if a[0] == "set" and b[0] == "set" and not a[2] and not b[2]:
        return bool(a[1] & b[1])
    for one, other in ((a, b), (b, a)):  # a segment character is anything but /
        if one[0] == "seg" and other[0] == "set" and not other[2] and other[1] <= {"/"}:
            return False
    return True
