"""``{service}/methods`` (what the official client's generator reads) and the catalogue of the
platform's methods: served, not emulated (501) or no method at all (404)."""

from __future__ import annotations

import pytest
from gpsinsight_helpers import assert_error, call, ok, post

from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)
from mock_vendors.gpsinsight.catalogue import API_NAMES, CATALOGUE, METHODS
from mock_vendors.gpsinsight.routes import OPERATIONS, SESSIONLESS

SERVED = {op.name for op in OPERATIONS}
SERVICES = sorted({name.split("/")[0] for name in SERVED})
DESCRIBED = sorted(name for name in SERVED if not name.endswith(f"/{METHODS}"))

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


def served_of(service: str) -> list[str]:
    """The served methods of a service (its own ``methods`` aside), in table order."""
    return [
        name
        for name in (op.name for op in OPERATIONS)
        if name.split("/")[0] == service and name in DESCRIBED
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_service_methods_lists_exactly_its_served_methods(client, login, vendor, service):
    described = ok(call(client, vendor, f"{service}/{METHODS}", login(vendor)))
    assert [m["name"] for m in described] == [API_NAMES[name] for name in served_of(service)]
    assert all(set(m) == {"name", "notes", "param"} and m["notes"] for m in described)


def test_vehicle_methods_reads_as_the_clients_docblocks(client, login, vendor):
    described = {m["name"]: m for m in ok(call(client, vendor, "vehicle/methods", login(vendor)))}
    assert described["getDriver"]["param"] == [
        "vehicle: Vehicle id, vin, serial_number, name or partial name (first to match)"
    ]
    assert described["getDriver"]["notes"] == "The vehicle's assigned driver, [] when it has none."
    names = [line.split(":")[0] for line in described["list"]["param"]]
    assert names == ["vehicle", "detail", "filter_group"]  # the alias details is left out
    trips = described["trips"]["param"]
    assert "include_points: Obtain all gps related to a returned trip (optional)" in trips


@pytest.mark.parametrize("name", DESCRIBED)
def test_every_served_method_is_described_with_its_schemas_parameters(client, login, vendor, name):
    service = name.split("/")[0]
    op = next(o for o in OPERATIONS if o.name == name)
    described = {
        m["name"]: m for m in ok(call(client, vendor, f"{service}/{METHODS}", login(vendor)))
    }
    wire = [
        f.data_key or attr
        for attr, f in op.query.load_fields.items()  # type: ignore[union-attr]
        if not f.metadata.get("alias_of")
    ]
    assert [line.split(":")[0] for line in described[API_NAMES[name]]["param"]] == wire


def test_service_methods_needs_a_session(client, vendor):
    assert_error(call(client, vendor, "vehicle/methods"), 403, "session does not exist")


@pytest.mark.parametrize(
    "path",
    ["alert/list", "Vehicle/ScoreCard", "drivergroup/methods", "alert/read", "vin/basicinfo"],
)
@pytest.mark.parametrize("via", ["get", "post"])
def test_a_catalogued_method_that_is_not_served_answers_501(client, vendor, path, via):
    send = call if via == "get" else post
    response = send(client, vendor, path)
    assert_error(response, 501, f"Method not emulated: {path.lower()}")


@pytest.mark.parametrize("path", ["nothing/list", "vehicle/nosuch", "foo/methods", "vehicle"])
def test_a_name_that_is_no_method_answers_404(client, vendor, path):
    assert_error(call(client, vendor, path), 404, "Method not found")


def test_every_catalogued_method_is_served_or_answers_501_never_404(client, vendor):
    wrong = []
    for service, names in CATALOGUE.items():
        for name in (*names, METHODS):
            method = f"{service}/{name.lower()}"
            status = call(client, vendor, method).status_code
            expected = {200, 400} if method in SESSIONLESS else {403}
            if status not in (expected if method in SERVED else {501}):
                wrong.append((method, status))
    assert wrong == []
