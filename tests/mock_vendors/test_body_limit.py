"""Request bodies over FLEETSIM_MAX_BODY_BYTES: a 413 in every vendor's own error shape,
decided before the body is read (the served worker's refusal is ``fleetsim.refuse``)."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import Client

from helpers import make_stack_app
from mock_vendors._common.stack import StackSettings
from mock_vendors.wsgi import StackApp

LIMIT = 2048
TARGETS = {
    "gpsinsight": "/gpsinsight/v2/vehicle/list",
    "wex": "/wex/v2/vehicle/list",
    "driveri": "/driveri/v1/auth/token",
    "whiparound": "/whiparound/api/public/v4/assets",
    "control plane": "/gpsinsight/_mock/state",
    "root": "/",
}


@pytest.fixture(scope="module")
def limited() -> StackApp:
    return make_stack_app(vehicles=4, wex_vehicles=2, max_body_bytes=LIMIT)


def message_of(target: str, body: dict, status: int) -> str:
    """The error text of ``body``, checked to be in the target's own shape with ``status``."""
    if target in ("gpsinsight", "wex"):
        assert body["head"]["status"] == "ERROR" and body["data"] is None
        assert body["errors"][0]["code"] == status
        return str(body["errors"][0]["message"])
    if target == "driveri":
        assert body["data"] is None and body["error"]["status"] == status
        return str(body["error"]["message"])
    if target == "whiparound":
        assert set(body) == {"message"}
        return str(body["message"])
    assert set(body) == {"error"}  # the control plane and the root app
    return str(body["error"])


@pytest.mark.parametrize("target", TARGETS)
def test_a_content_length_over_the_limit_is_a_413_in_the_targets_shape(
    limited: StackApp, target: str
) -> None:
    response = Client(limited).post(
        TARGETS[target],
        input_stream=io.BytesIO(b"{}"),  # never read: the declared length decides
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(LIMIT + 1)},
    )
    assert response.status_code == 413
    assert f"over the limit of {LIMIT} bytes" in message_of(target, response.json, 413)


@pytest.mark.parametrize("target", TARGETS)
def test_the_served_workers_refusal_is_answered_in_the_targets_shape(
    limited: StackApp, target: str
) -> None:
    response = Client(limited).post(
        TARGETS[target],
        data=b"",
        environ_overrides={"fleetsim.refuse": (400, "the request body's chunked framing is bad")},
    )
    assert response.status_code == 400
    assert "chunked framing is bad" in message_of(target, response.json, 400)


def test_a_chunked_body_stops_being_read_at_the_limit_under_any_server(limited: StackApp) -> None:
    response = Client(limited).post(
        "/gpsinsight/_mock/state",
        input_stream=io.BytesIO(b'{"state": "' + b"a" * (2 * LIMIT) + b'"}'),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert "error" in response.json


def test_a_body_at_the_limit_is_read(limited: StackApp) -> None:
    body = b'{"status": 503, "path": "/v2/' + b"a" * (LIMIT - 43) + b'"}'
    response = Client(limited).post(
        "/gpsinsight/_mock/faults", data=body, content_type="application/json"
    )
    assert len(body) <= LIMIT and response.status_code == 201


def test_the_limit_is_4_mib_unless_set() -> None:
    assert StackSettings.from_env({}).max_body_bytes == 4 * 1024 * 1024
    assert StackSettings.from_env({"FLEETSIM_MAX_BODY_BYTES": "1000"}).max_body_bytes == 1000


@pytest.mark.parametrize("value", ["lots", "0", "-5"])
def test_a_bad_limit_names_its_variable(value: str) -> None:
    with pytest.raises(ValueError, match="FLEETSIM_MAX_BODY_BYTES"):
        StackSettings.from_env({"FLEETSIM_MAX_BODY_BYTES": value})
