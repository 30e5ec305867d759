"""GPS Insight API v2 on the wire: ``/v2/{class}/{method}[/{format}]``, GET or form POST.

One RPC dispatcher serves every method (class and method case-insensitive, a trailing slash
or a ``/json`` format segment allowed). It reads the parameters (a POST form wins over the
query string), checks ``reference_tag``, opens the caller's session from ``session_token``
(or its alias ``token``), loads the method's schema and runs the method's view: each
operation in :data:`OPERATIONS` names its view, schema and statuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request

from mock_vendors._common.errors import VendorError
from mock_vendors._common.routing import Operation, cached_json, vendor_view

from . import driver_schemas as ds
from . import envelope, motion
from . import schemas as s
from .backend import GpsInsightBackend as Backend
from .catalogue import METHODS, is_catalogued
from .errors import bad_request, invalid, not_emulated, not_found
from .methods import describe, served_services
from .params import NUL_RULE

LOGIN, LOGOUT, HEARTBEAT = "userauth/login", "userauth/logout", "heartbeat/beat"
REPEAT = "heartbeat/repeat"
SESSIONLESS = frozenset({LOGIN, HEARTBEAT, REPEAT})
"""The methods that need no session; every other one answers 403 without a live one."""
SESSION = (200, 400, 403, 429)
SESSION_404 = (200, 400, 403, 404, 429)


@dataclass(slots=True)
class Call:
    """One call as the dispatcher read it: the session token, the caller's user (empty for
    a method that needs no session), the method's typed parameters and the answer's head."""

    token: str | None
    user: dict[str, Any]
    args: dict[str, Any]
    head: envelope.Head


MethodView = Callable[[Backend, Call], Response]


def register_routes(app: Flask) -> None:
    """Mount the RPC dispatcher on a vendor app."""
    app.add_url_rule(
        "/v2/<path:rest>",
        "gpsinsight_rpc",
        vendor_view(dispatch),
        methods=["GET", "POST"],
        strict_slashes=False,
    )


def dispatch(backend: Backend, rest: str) -> Response:
    """Run one API method and answer in the ``{head, data, errors}`` envelope."""
    cls, name, fmt = envelope.method_name(rest)
    values = request.args.to_dict()
    if request.method == "POST":
        values.update(request.form.to_dict())  # a form body wins over the query string
    token = values.get("session_token") or values.get("token") or None
    tag = values.get("reference_tag") or None
    brand = current_app.config["FLEETSIM_BRAND"]
    head = g.gpsi_head = envelope.Head(f"{cls}/{name}", tag, brand, backend.now)
    try:
        response = _run(backend, head, fmt, token, values)
    except VendorError:
        # The journal names the App Token behind the session of a refused call too.
        g.fleetsim_app_token_id = backend.app_id_of(token)
        raise
    g.fleetsim_app_token_id = head.session.get("app_id") if head.session else None
    return response


def _run(
    backend: Backend,
    head: envelope.Head,
    fmt: str | None,
    token: str | None,
    values: dict[str, str],
) -> Response:
    if head.tag is not None:
        if "\x00" in head.tag:
            head.tag = None  # never echoed back
            raise invalid("reference_tag", NUL_RULE)
        if len(head.tag) > envelope.MAX_REFERENCE_TAG:
            raise invalid("reference_tag", f"at most {envelope.MAX_REFERENCE_TAG} characters")
    op = _BY_METHOD.get(head.method) if fmt != "?" else None
    if op is None:
        if fmt != "?" and is_catalogued(head.method):
            raise not_emulated(head.method)
        raise not_found(f"Method not found: {head.method}")
    if fmt not in (None, "json"):
        raise bad_request(f"Unsupported format: {fmt} (only json is served)")
    user: dict[str, Any] = {}
    if op.name not in SESSIONLESS:
        if op.name == LOGOUT:
            head.session = backend.session_of(token)  # its head names it even if refused
        caller = backend.authenticate(token)
        head.session, user = caller.session, caller.user
    args = s.load(op.query, values)  # type: ignore[arg-type]
    view: MethodView = op.view
    return view(backend, Call(token, user, args, head))


# -- the methods' views -------------------------------------------------------------------


def _answer(method: Callable[..., Any]) -> MethodView:
    """A view answering what one backend method returns for the caller and parameters."""

    def view(backend: Backend, call: Call) -> Response:
        return envelope.ok(call.head, method(backend, call.user, **call.args))

    view.__name__, view.__doc__ = method.__name__, method.__doc__  # the doc: its notes
    return view


def _login(backend: Backend, call: Call) -> Response:
    """``userauth/login``: set up an authorized session from a username and its App Token
    or password; the answer's token is the session_token of every other call."""
    data = backend.login(**call.args)
    call.head.session = backend.session_of(data["token"])  # the head shows the new session
    return envelope.ok(call.head, data)


def _logout(backend: Backend, call: Call) -> Response:
    """``userauth/logout``: destroy the authorized session."""
    return envelope.ok(call.head, backend.logout(call.token))


def _heartbeat(backend: Backend, call: Call) -> Response:
    """``heartbeat/beat``: the simplest answer, to test the service with; needs no session."""
    return envelope.ok(call.head, backend.heartbeat())


def _vehicle_list(backend: Backend, call: Call) -> Response:
    """``vehicle/list``: every vehicle the user can see (or one, or one group's), with the
    detail columns asked for."""
    # With the odometer column the answer moves, so it is kept for one fix interval only.
    args = call.args
    moving = "odometer" in (args["detail"] or ())
    bucket = math.floor(backend.now() / motion.FIX_INTERVAL_S) if moving else 0
    key = ("list", call.user.get("username"), *args.values(), bucket)
    return envelope.ok_json(
        call.head, cached_json(key, lambda: backend.vehicle_list(call.user, **args))
    )


def _located(method: Callable[..., Any]) -> MethodView:
    """A location view: fixes fall on one shared minute grid (motion.py), so an answer holds
    for that minute and is cached for it."""

    def view(backend: Backend, call: Call) -> Response:
        bucket = math.floor(backend.now() / motion.FIX_INTERVAL_S)
        args = call.args
        key = (method.__name__, call.user.get("username"), *args.values(), bucket)
        return envelope.ok_json(
            call.head, cached_json(key, lambda: method(backend, call.user, **args))
        )

    view.__name__, view.__doc__ = method.__name__, method.__doc__  # the doc: its notes
    return view


def _methods(service: str) -> MethodView:
    """``{service}/methods``: the service's served methods, generated from ``OPERATIONS``."""

    def view(backend: Backend, call: Call) -> Response:
        return envelope.ok(call.head, describe(OPERATIONS, service))

    view.__name__ = f"{service}_methods"
    view.__doc__ = f"``{service}/methods``: the methods of the {service} service."
    return view


def _op(
    method: str, view: MethodView, query: s.NoParameters, statuses: tuple[int, ...]
) -> Operation:
    return Operation(
        methods=("GET", "POST"),
        path=f"/v2/{method}",
        view=view,
        name=method,
        query=query,
        statuses=statuses,
    )


NO_PARAMETERS = s.NoParameters()
SERVED: tuple[Operation, ...] = (
    _op(LOGIN, _login, s.Login(), (200, 400, 403, 429)),
    _op(LOGOUT, _logout, NO_PARAMETERS, SESSION),
    _op(HEARTBEAT, _heartbeat, NO_PARAMETERS, (200, 400)),
    _op(REPEAT, _answer(Backend.heartbeat_repeat), s.Repeat(), (200, 400)),
    _op("vehicle/list", _vehicle_list, s.VehicleList(), SESSION_404),
    _op("vehicle/read", _answer(Backend.vehicle_read), s.OneVehicle(), SESSION_404),
    _op("vehicle/location", _located(Backend.vehicle_location), s.VehicleLocation(), SESSION_404),
    _op("vehicle/history", _answer(Backend.vehicle_history), s.VehicleHistory(), SESSION_404),
    _op("vehicle/runtime", _answer(Backend.vehicle_runtime), s.VehicleWindow(), SESSION_404),
    _op("vehicle/dtc", _answer(Backend.vehicle_dtc), s.VehicleWindow(), SESSION_404),
    _op("vehicle/update", _answer(Backend.vehicle_update), s.VehicleUpdate(), SESSION_404),
    _op(
        "vehicle/setodometerwaypoint",
        _answer(Backend.vehicle_setodometerwaypoint),
        s.VehicleOdometer(),
        SESSION_404,
    ),
    _op("vehicle/getdriver", _answer(Backend.vehicle_getdriver), s.OneVehicle(), SESSION_404),
    _op(
        "vehicle/listvehiclegroups",
        _answer(Backend.vehicle_listvehiclegroups),
        s.OneVehicle(),
        SESSION_404,
    ),
    _op(
        "vehicle/lifetimeutilization",
        _answer(Backend.vehicle_lifetimeutilization),
        s.FleetOrVehicle(),
        SESSION_404,
    ),
    _op("vehicle/distance", _answer(Backend.vehicle_distance), s.VehicleWindow(), SESSION_404),
    _op("vehicle/trips", _answer(Backend.vehicle_trips), s.Trips(), SESSION_404),
    _op("diagnostic/list", _answer(Backend.diagnostic_list), s.FleetOrVehicle(), SESSION_404),
    _op("user/list", _answer(Backend.user_list), NO_PARAMETERS, SESSION),
    _op("user/listusers", _answer(Backend.user_listusers), NO_PARAMETERS, SESSION),
    _op("user/read", _answer(Backend.user_read), s.ActingUser(), SESSION_404),
    _op("user/listvehicles", _answer(Backend.user_listvehicles), s.ActingUser(), SESSION_404),
    _op(
        "user/listvehiclegroups",
        _answer(Backend.user_listvehiclegroups),
        s.ActingUser(),
        SESSION_404,
    ),
    _op("user/update", _answer(Backend.user_update), s.UserUpdate(), SESSION_404),
    _op("vehiclegroup/list", _answer(Backend.vehiclegroup_list), s.GroupList(), SESSION_404),
    _op("vehiclegroup/read", _answer(Backend.vehiclegroup_read), s.GroupVehicles(), SESSION_404),
    _op(
        "vehiclegroup/listvehicles",
        _answer(Backend.vehiclegroup_listvehicles),
        s.GroupVehicles(),
        SESSION_404,
    ),
    _op(
        "vehiclegroup/listmembers",
        _answer(Backend.vehiclegroup_listmembers),
        s.GroupVehicles(),
        SESSION_404,
    ),
    _op(
        "vehiclegroup/listusers",
        _answer(Backend.vehiclegroup_listusers),
        s.GroupVehicles(),
        SESSION_404,
    ),
    _op(
        "vehiclegroup/location",
        _located(Backend.vehiclegroup_location),
        s.GroupLocation(),
        SESSION_404,
    ),
    _op("vehiclegroup/dtc", _answer(Backend.vehiclegroup_dtc), s.GroupSpan(), SESSION_404),
    _op(
        "vehiclegroup/runtime", _answer(Backend.vehiclegroup_runtime), s.GroupWindow(), SESSION_404
    ),
    _op("vin/decode", _answer(Backend.vin_decode), s.VinDecode(), SESSION),
    _op("apiapp/create", _answer(Backend.apiapp_create), s.AppCreate(), SESSION_404),
    _op("apiapp/list", _answer(Backend.apiapp_list), NO_PARAMETERS, SESSION),
    _op("apiapp/update", _answer(Backend.apiapp_update), s.AppUpdate(), SESSION_404),
    _op("driver/list", _answer(Backend.driver_list), ds.DriverList(), SESSION_404),
    _op("driver/create", _answer(Backend.driver_create), ds.DriverCreate(), SESSION),
    _op("driver/update", _answer(Backend.driver_update), ds.DriverUpdate(), SESSION_404),
    _op("driver/delete", _answer(Backend.driver_delete), ds.OneDriver(), SESSION_404),
    _op("driverisync/read", _answer(Backend.driverisync_read), NO_PARAMETERS, SESSION),
    _op("driverisync/update", _answer(Backend.driverisync_update), ds.DriverSyncUpdate(), SESSION),
    _op("webhook/create", _answer(Backend.webhook_create), ds.WebhookCreate(), SESSION),
    _op("webhook/list", _answer(Backend.webhook_list), NO_PARAMETERS, SESSION),
    _op("webhook/pause", _answer(Backend.webhook_pause), ds.OneWebhook(), SESSION_404),
    _op("webhook/resume", _answer(Backend.webhook_resume), ds.OneWebhook(), SESSION_404),
    _op("webhook/delete", _answer(Backend.webhook_delete), ds.OneWebhook(), SESSION_404),
)
OPERATIONS: tuple[Operation, ...] = SERVED + tuple(
    _op(f"{service}/{METHODS}", _methods(service), NO_PARAMETERS, SESSION)
    for service in served_services(SERVED)
)
"""Every method of the platform: the dispatcher's table and the contract's drift check."""

_BY_METHOD = {op.name: op for op in OPERATIONS}
