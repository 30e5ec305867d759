"""The control plane, ``/_mock/*``, identical on every vendor and kept out of their contracts."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import orjson
from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError

from .clock import parse_iso
from .jsonio import dumps, json_response, raw_json_response

if TYPE_CHECKING:
    from .app import VendorRuntime

ADMIN_HEADER = "X-Fleetsim-Admin-Key"


def _runtime() -> VendorRuntime:
    return current_app.extensions["fleetsim"]


def _bad(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


def _json_body() -> Any:
    raw = request.get_data()
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _Invalid()


class _Invalid:
    """Marks a body that is not JSON."""


def _int_field(body: dict[str, Any], name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum}")
    return value


def control_blueprint() -> Blueprint:
    """Build the ``/_mock`` blueprint; it reads the vendor runtime from the current app."""
    bp = Blueprint("fleetsim_control", __name__)

    @bp.before_request
    def _check_admin_key() -> Response | None:
        expected = _runtime().stack.settings.admin_key
        if not expected:
            return None
        given = request.headers.get(ADMIN_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return _bad(f"missing or wrong {ADMIN_HEADER} header", 401)
        return None

    @bp.post("/reset")
    def reset() -> Response:
        _runtime().reset()
        return json_response({"reset": True})

    @bp.post("/seed")
    def seed() -> Response:
        body = _json_body()
        if not isinstance(body, dict):
            return _bad('body must be a JSON object like {"seed": 7, "vehicles": 50}')
        unknown = set(body) - {"seed", "vehicles", "wex_vehicles", "dtcs_per_vehicle"}
        if unknown:
            return _bad(f"unknown field(s): {', '.join(sorted(unknown))}")
        try:
            values = {
                "seed": _int_field(body, "seed", 0),
                "vehicles": _int_field(body, "vehicles", 0),
                "wex_vehicles": _int_field(body, "wex_vehicles", 0),
            }
        except ValueError as exc:
            return _bad(str(exc))
        rate = body.get("dtcs_per_vehicle")
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 10:
                return _bad("'dtcs_per_vehicle' must be a number from 0 to 10")
            values["dtcs_per_vehicle"] = float(rate)
        if (values["vehicles"] or 0) > 20_000 or (values["wex_vehicles"] or 0) > 20_000:
            return _bad("at most 20000 vehicles per account")
        stack = _runtime().stack
        stack.reseed(**values)
        settings = stack.settings
        return json_response(
            {
                "seed": settings.seed,
                "vehicles": settings.vehicles,
                "wex_vehicles": settings.wex_vehicles,
            }
        )

    @bp.get("/state")
    def dump_state() -> Response:
        runtime = _runtime()
        document = {
            "vendor": runtime.key,
            "clock": runtime.stack.clock.snapshot(),
            "state": runtime.backend.dump(),
        }
        return raw_json_response(dumps(document, sort_keys=True))

    @bp.post("/state")
    def restore_state() -> Response:
        runtime = _runtime()
        body = _json_body()
        if not isinstance(body, dict) or not isinstance(body.get("state"), dict):
            return _bad('body must be a dump from GET /_mock/state: {"state": {...}, ...}')
        if body.get("vendor") not in (None, runtime.key):
            return _bad(f"this dump is of '{body['vendor']}', not '{runtime.key}'")
        try:
            runtime.backend.restore(body["state"])
            if isinstance(body.get("clock"), dict):
                runtime.stack.clock.restore(body["clock"])
        except (KeyError, TypeError, ValueError) as exc:
            return _bad(f"state does not have the shape of a dump: {exc}")
        return json_response({"restored": True})

    @bp.get("/credentials")
    def credentials() -> Response:
        return json_response(_runtime().backend.credentials())

    @bp.get("/faults")
    def list_faults() -> Response:
        return json_response({"faults": _runtime().faults.list()})

    @bp.post("/faults")
    def add_fault() -> Response:
        body = _json_body()
        try:
            fault = _runtime().faults.add(body if not isinstance(body, _Invalid) else None)
        except ValidationError as exc:
            return json_response({"error": "invalid fault", "fields": exc.messages}, 400)
        return json_response({"id": fault.id}, 201)

    @bp.delete("/faults")
    def clear_faults() -> Response:
        _runtime().faults.clear()
        return json_response({"deleted": True})

    @bp.delete("/faults/<fault_id>")
    def delete_fault(fault_id: str) -> Response:
        if not _runtime().faults.remove(fault_id):
            return _bad(f"no fault '{fault_id}'", 404)
        return json_response({"deleted": True})

    @bp.get("/clock")
    def get_clock() -> Response:
        return json_response(_runtime().stack.clock.snapshot())

    @bp.post("/clock")
    def set_clock() -> Response:
        clock = _runtime().stack.clock
        body = _json_body()
        if not isinstance(body, dict) or not body.keys() & {"advance", "set", "freeze"}:
            return _bad(
                'body must have "advance" (seconds), "set" (ISO-8601) and/or "freeze" (bool)'
            )
        unknown = set(body) - {"advance", "set", "freeze"}
        if unknown:
            return _bad(f"unknown field(s): {', '.join(sorted(unknown))}")
        advance, when, freeze = body.get("advance"), body.get("set"), body.get("freeze")
        if advance is not None and (
            isinstance(advance, bool) or not isinstance(advance, int | float)
        ):
            return _bad("'advance' must be a number of seconds")
        if freeze is not None and not isinstance(freeze, bool):
            return _bad("'freeze' must be true or false")
        if when is not None:
            try:
                clock.set(parse_iso(str(when)))
            except ValueError:
                return _bad("'set' must be an ISO-8601 date-time")
        if advance is not None:
            clock.advance(float(advance))
        if freeze is not None:
            clock.freeze(freeze)
        return json_response(clock.snapshot())

    @bp.get("/journal")
    def journal() -> Response:
        since = request.args.get("since")
        try:
            since_at = parse_iso(since) if since else None
        except ValueError:
            return _bad("'since' must be an ISO-8601 date-time")
        entries = _runtime().journal.query(
            request.args.get("method"), request.args.get("path"), since_at
        )
        return json_response({"entries": entries})

    @bp.delete("/journal")
    def clear_journal() -> Response:
        _runtime().journal.clear()
        return json_response({"deleted": True})

    return bp
