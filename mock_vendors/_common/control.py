"""The control plane, ``/_mock/*``, identical on every vendor and kept out of their contracts.

Every input is a marshmallow schema: unknown fields are refused (a typo must not be ignored),
and a bad body answers 400 ``{"error": ..., "fields": {name: [messages]}}``.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from flask import Blueprint, Response, current_app, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from .clock import ClockRangeError, parse_iso, parse_snapshot
from .contracts import served_contract
from .faults import FaultListSchema, FaultSpecSchema, unmatched_list, unmatched_route
from .guard import refusal
from .journal import JournalSchema
from .jsonio import dumps, json_response, raw_json_response

if TYPE_CHECKING:
    from .app import VendorRuntime

ADMIN_HEADER = "X-Fleetsim-Admin-Key"
MAX_VEHICLES = 20_000

control = Blueprint("fleetsim_control", __name__)


class ControlError(Exception):
    """A refused control-plane call: ``{"error": message[, "fields": ...]}`` with ``status``."""

    def __init__(self, message: str, status: int = 400, fields: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.fields = fields


# -- strict JSON fields (marshmallow's own accept "1", 1.0 and true where a number is meant) ---


class JsonInt(fields.Integer):
    """A JSON integer, never a boolean, a float or a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class JsonNumber(fields.Float):
    """A finite JSON number, never a boolean or a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class JsonBool(fields.Boolean):
    """``true`` or ``false``, nothing that merely looks like one."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class IsoDateTime(fields.Field):
    """An ISO-8601 date-time (``Z`` accepted; naive is UTC)."""

    default_error_messages = {"invalid": "Not an ISO-8601 date-time."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_iso(str(value))
        except ValueError:
            raise self.make_error("invalid") from None


# -- schemas -----------------------------------------------------------------------------


class SeedSchema(Schema):
    """``POST /seed``: regenerate the world (every field optional, kept when absent)."""

    seed = JsonInt(validate=validate.Range(min=0))
    vehicles = JsonInt(validate=validate.Range(0, MAX_VEHICLES))
    wex_vehicles = JsonInt(validate=validate.Range(0, MAX_VEHICLES))
    dtcs_per_vehicle = JsonNumber(validate=validate.Range(0, 10))
    scenario = fields.String(allow_none=True, validate=validate.Length(max=200))


class ClockSchema(Schema):
    """``POST /clock``: ``advance`` (seconds), ``set`` (ISO-8601) and/or ``freeze``."""

    advance = JsonNumber()
    set = IsoDateTime()
    freeze = JsonBool()

    @validates_schema
    def _has_a_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError('give "advance" (seconds), "set" (ISO-8601) and/or "freeze"')


class StateSchema(Schema):
    """``POST /state``: a dump from ``GET /state`` (possibly edited)."""

    class Meta:
        unknown = EXCLUDE

    vendor = fields.String(allow_none=True)
    state = fields.Dict(required=True)
    clock = fields.Dict(allow_none=True)


class JournalQuerySchema(Schema):
    """``GET /journal`` filters."""

    class Meta:
        unknown = EXCLUDE

    method = fields.String()
    path = fields.String()
    since = IsoDateTime()


SEED = SeedSchema()
CLOCK = ClockSchema()
STATE = StateSchema()
JOURNAL_QUERY = JournalQuerySchema()
FAULT = FaultSpecSchema()
FAULT_LIST = FaultListSchema()
JOURNAL = JournalSchema()


def _load(schema: Schema, what: str, data: Any = None) -> dict[str, Any]:
    """``data`` (the JSON body when None) loaded with ``schema``; ControlError otherwise."""
    data = _json_body(what) if data is None else data
    if not isinstance(data, dict):
        raise ControlError(f"invalid {what}: the body must be a JSON object")
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise ControlError(f"invalid {what}", fields=exc.messages) from None


def _json_body(what: str) -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ControlError(f"invalid {what}: the body is not JSON") from None


def _runtime() -> VendorRuntime:
    return current_app.extensions["fleetsim"]  # type: ignore[no-any-return]


# -- hooks -------------------------------------------------------------------------------


@control.before_request
def _check_caller() -> None:
    """Loopback Host and Origin only; JSON bodies only (see :mod:`.guard`)."""
    settings = _runtime().stack.settings
    refused = refusal(
        request.method,
        request.host,
        request.headers.get("Origin"),
        request.mimetype,
        bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", ""),
        (settings.host or "", *settings.allowed_hosts),
    )
    if refused is not None:
        raise ControlError(refused[1], refused[0])


@control.before_request
def _check_admin_key() -> Response | None:
    expected = _runtime().stack.settings.admin_key
    if not expected:
        return None
    given = request.headers.get(ADMIN_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ControlError(f"missing or wrong {ADMIN_HEADER} header", 401)
    return None


@control.errorhandler(ControlError)
def _refused(exc: ControlError) -> Response:
    body: dict[str, Any] = {"error": exc.message}
    if exc.fields is not None:
        body["fields"] = exc.fields
    return json_response(body, exc.status)


# -- endpoints ---------------------------------------------------------------------------


@control.post("/reset")
def reset() -> Response:
    """Back to the freshly seeded world: no faults, empty journal."""
    _runtime().reset()
    return json_response({"reset": True})


@control.post("/seed")
def seed() -> Response:
    """Regenerate the whole stack's world (every vendor) from a seed and sizes."""
    values = _load(SEED, "seed")
    stack = _runtime().stack
    named = "scenario" in values
    scenario = values.pop("scenario", None)
    stack.reseed(**values)
    if named:
        stack.name_scenario(scenario)
    settings = stack.settings
    return json_response(
        {
            "seed": settings.seed,
            "vehicles": settings.vehicles,
            "wex_vehicles": settings.wex_vehicles,
        }
    )


@control.get("/seed")
def get_seed() -> Response:
    """What the stack's world was generated from, and the scenario it holds (if any)."""
    settings = _runtime().stack.settings
    return json_response(
        {
            "seed": settings.seed,
            "vehicles": settings.vehicles,
            "wex_vehicles": settings.wex_vehicles,
            "dtcs_per_vehicle": settings.dtcs_per_vehicle,
            "scenario": settings.scenario,
        }
    )


@control.get("/state")
def dump_state() -> Response:
    """This vendor's state and the clock, as a JSON document QA can attach to a bug."""
    runtime = _runtime()
    document = {
        "vendor": runtime.key,
        "clock": runtime.stack.clock.snapshot(),
        "state": runtime.backend.dump(),
    }
    return raw_json_response(dumps(document, sort_keys=True))


@control.post("/state")
def restore_state() -> Response:
    """Put back a dump (possibly edited); the state is taken verbatim once its shape holds."""
    runtime = _runtime()
    body = _load(STATE, 'dump: expected {"state": {...}} from GET /_mock/state')
    if body.get("vendor") not in (None, runtime.key):
        raise ControlError(f"this dump is of '{body['vendor']}', not '{runtime.key}'")
    clock = None
    if body.get("clock"):
        try:  # checked before anything is restored, so a bad clock restores nothing
            clock = parse_snapshot(body["clock"])
        except ClockRangeError as exc:
            raise ControlError("invalid dump clock", fields={"clock": [exc.message]}) from None
    try:
        runtime.backend.restore(body["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ControlError(f"state does not have the shape of a dump: {exc}") from None
    if clock is not None:
        runtime.stack.clock.change(when=clock[0], frozen=clock[1])
    return json_response({"restored": True})


@control.get("/credentials")
def credentials() -> Response:
    """The vendor's demo credentials (for README steps, tests and QA)."""
    return json_response(_runtime().backend.credentials())


@control.get("/faults")
def list_faults() -> Response:
    """Every registered fault with its counters."""
    return json_response({"faults": _runtime().faults.list()})


@control.post("/faults")
def add_fault() -> Response:
    """Register a fault (see :class:`FaultSpecSchema`); a path no route can match is refused."""
    runtime = _runtime()
    spec = _load(FAULT, "fault")
    problem = _never_fires(runtime, spec)
    if problem is not None:
        raise ControlError("invalid fault", fields={"path": [problem]})
    return json_response({"id": runtime.faults.add(spec).id}, 201)


def _never_fires(runtime: VendorRuntime, spec: dict[str, Any]) -> str | None:
    """Why a fault could never fire on this vendor (no route, or no paged list to mutate)."""
    problem = unmatched_route(spec, runtime.routes, runtime.key)
    if problem is None and spec["mutate"] is not None:
        lists = [r for r in runtime.routes if r.endpoint in runtime.spec.paged_lists]
        problem = unmatched_list(spec, lists, runtime.key)
    return problem


@control.put("/faults")
def restore_faults() -> Response:
    """Replace the plan with one ``GET /faults`` listed, counters included (a replay bundle)."""
    runtime = _runtime()
    records = _load(FAULT_LIST, 'fault plan: expected {"faults": [...]} from GET /_mock/faults')
    for n, record in enumerate(records["faults"]):
        problem = _never_fires(runtime, record)
        if problem is not None:
            raise ControlError("invalid fault plan", fields={"faults": {n: {"path": [problem]}}})
    runtime.faults.restore(records["faults"])
    return json_response({"restored": len(records["faults"])})


@control.delete("/faults")
def clear_faults() -> Response:
    """Remove every fault."""
    _runtime().faults.clear()
    return json_response({"deleted": True})


@control.delete("/faults/<fault_id>")
def delete_fault(fault_id: str) -> Response:
    """Remove one fault by id."""
    if not _runtime().faults.remove(fault_id):
        raise ControlError(f"no fault '{fault_id}'", 404)
    return json_response({"deleted": True})


@control.get("/clock")
def get_clock() -> Response:
    """The stack's virtual clock."""
    return json_response(_runtime().stack.clock.snapshot())


@control.post("/clock")
def set_clock() -> Response:
    """Set, advance and/or freeze the stack's virtual clock (in that order)."""
    values = _load(CLOCK, "clock change")
    clock = _runtime().stack.clock
    try:  # all or nothing: a change that would leave the range changes nothing
        clock.change(
            when=values.get("set"), seconds=values.get("advance"), frozen=values.get("freeze")
        )
    except ClockRangeError as exc:
        raise ControlError("invalid clock change", fields={exc.field: [exc.message]}) from None
    return json_response(clock.snapshot())


@control.get("/openapi.json")
def openapi() -> Response:
    """The vendor's pinned contract, its ``servers`` set to this mount (for schemathesis)."""
    runtime = _runtime()
    try:
        document = served_contract(runtime.key, request.host_url.rstrip("/") + request.script_root)
    except FileNotFoundError:
        raise ControlError(
            "the contracts are not installed: serve from the repository (pip install -e .)", 404
        ) from None
    return raw_json_response(dumps(document))


@control.get("/journal")
def journal() -> Response:
    """The vendor's request journal, filtered by method, path glob and virtual time."""
    query = _load(JOURNAL_QUERY, "journal query", request.args.to_dict())
    entries = _runtime().journal.query(query.get("method"), query.get("path"), query.get("since"))
    return json_response({"entries": entries})


@control.put("/journal")
def restore_journal() -> Response:
    """Replace every entry with the ones ``GET /journal`` listed (a replay bundle)."""
    body = _json_body("journal")
    _load(JOURNAL, 'journal: expected {"entries": [...]} from GET /_mock/journal', body)
    _runtime().journal.restore(body["entries"])
    return json_response({"restored": len(body["entries"])})


@control.delete("/journal")
def clear_journal() -> Response:
    """Forget every journal entry."""
    _runtime().journal.clear()
    return json_response({"deleted": True})
