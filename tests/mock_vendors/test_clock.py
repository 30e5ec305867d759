"""The virtual clock: frozen, set, advanced, running at real speed from an injected wall."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from werkzeug.test import Client

from mock_vendors._common.clock import ClockRangeError, VirtualClock, parse_iso

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_running_clock_follows_the_wall_at_real_speed() -> None:
    wall = FakeWall()
    clock = VirtualClock(T0, wall=wall)
    wall.now += 90
    assert clock.now() == T0 + timedelta(seconds=90)


def test_frozen_clock_stands_still_while_the_wall_moves() -> None:
    wall = FakeWall()
    clock = VirtualClock(T0, frozen=True, wall=wall)
    wall.now += 3600
    assert clock.now() == T0


def test_advance_moves_a_frozen_clock_and_keeps_it_frozen() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    clock.advance(25 * 3600)
    assert clock.now() == T0 + timedelta(hours=25)
    assert clock.frozen


def test_unfreezing_resumes_from_the_frozen_reading() -> None:
    wall = FakeWall()
    clock = VirtualClock(T0, frozen=True, wall=wall)
    wall.now += 500
    clock.freeze(False)
    wall.now += 10
    assert clock.now() == T0 + timedelta(seconds=10)


def test_set_takes_naive_values_as_utc() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    clock.set(datetime(2030, 5, 6, 7, 8, 9))
    assert clock.now() == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_snapshot_restores_the_same_reading_and_state() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    other = VirtualClock(wall=FakeWall())
    other.restore(clock.snapshot())
    assert other.snapshot() == clock.snapshot() == {"now": T0.isoformat(), "frozen": True}


def test_parse_iso_accepts_z_suffix() -> None:
    assert parse_iso("2026-01-02T03:04:05Z") == T0


# -- the clock's range: 1970-01-01 up to (not including) 3000-01-01 -----------------------


@pytest.mark.parametrize(
    "when",
    [
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(3000, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # overflows UTC
    ],
    ids=["before 1970", "year 3000", "year 1 east of UTC"],
)
def test_set_outside_the_range_is_refused_and_changes_nothing(when: datetime) -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    with pytest.raises(ClockRangeError) as refused:
        clock.set(when)
    assert refused.value.field == "set"
    assert clock.now() == T0


def test_the_ends_of_the_range_can_be_set() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    clock.set(datetime(1970, 1, 1, tzinfo=UTC))
    assert clock.timestamp() == 0
    clock.set(datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert clock.now().year == 2999


@pytest.mark.parametrize("seconds", [1e300, -1e300, math.inf, math.nan, 40_000 * 365 * 86400])
def test_advancing_out_of_the_range_is_refused_and_changes_nothing(seconds: float) -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    with pytest.raises(ClockRangeError) as refused:
        clock.advance(seconds)
    assert refused.value.field == "advance"
    assert clock.now() == T0


def test_a_set_and_advance_that_ends_out_of_range_changes_nothing() -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    with pytest.raises(ClockRangeError):
        clock.change(when=datetime(2999, 12, 31, tzinfo=UTC), seconds=2 * 86400, frozen=False)
    assert clock.now() == T0 and clock.frozen


@pytest.mark.parametrize(
    "snapshot",
    [{"now": "0001-01-01T00:00:00Z"}, {"now": "not a time"}, {"now": 5}, {"frozen": True}],
    ids=["year 1", "not ISO", "a number", "no now"],
)
def test_restoring_a_snapshot_out_of_range_or_shape_is_refused(snapshot: dict) -> None:
    clock = VirtualClock(T0, frozen=True, wall=FakeWall())
    with pytest.raises(ClockRangeError) as refused:
        clock.restore(snapshot)
    assert refused.value.field == "clock"
    assert clock.now() == T0


# -- through the control plane: a 400 naming the field, never a 500 anywhere --------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"advance": 1e300}, "advance"),
        ({"advance": -1e300}, "advance"),
        ({"set": "0001-01-01T00:00:00Z"}, "set"),
        ({"set": "1969-12-31T23:59:59Z"}, "set"),
        ({"set": "3000-01-01T00:00:00Z"}, "set"),
        ({"set": "2999-12-31T23:59:00Z", "advance": 3600}, "advance"),
    ],
)
def test_a_clock_change_out_of_range_is_a_400_naming_the_field(
    client: Client, change: dict, field: str
) -> None:
    before = client.get("/gpsinsight/_mock/clock").json
    response = client.post("/gpsinsight/_mock/clock", json=change)
    assert response.status_code == 400
    assert response.json["error"] == "invalid clock change"
    assert list(response.json["fields"]) == [field]
    assert "1970-01-01" in response.json["fields"][field][0]
    assert client.get("/gpsinsight/_mock/clock").json == before
    beat = client.get("/gpsinsight/v2/heartbeat/beat")
    assert beat.status_code == 200 and beat.json["head"]["status"] == "OK"


def test_a_dump_whose_clock_is_out_of_range_restores_nothing(client: Client) -> None:
    dump = client.get("/wex/_mock/state").json
    clock_before = client.get("/wex/_mock/clock").json
    edited = {**dump, "clock": {"now": "0001-01-01T00:00:00Z", "frozen": True}}
    edited["state"] = {**dump["state"], "vehicles": []}
    response = client.post("/wex/_mock/state", json=edited)
    assert response.status_code == 400
    assert list(response.json["fields"]) == ["clock"]
    assert client.get("/wex/_mock/state").json == dump
    assert client.get("/wex/_mock/clock").json == clock_before


def _auth(client: Client, vendor: str) -> dict[str, Any]:
    """Query parameters and headers a vendor's API needs (and Driveri's tenant)."""
    if vendor in ("gpsinsight", "wex"):
        users = client.get(f"/{vendor}/_mock/credentials").json["accounts"][0]["users"]
        user = next(u for u in users if u["master"])
        login = client.get(
            f"/{vendor}/v2/userauth/login",
            query_string={"username": user["username"], "app_token": user["app_token"]},
        )
        return {"query": {"session_token": login.json["data"]["token"]}, "headers": {}}
    if vendor == "driveri":
        oauth = client.get("/driveri/_mock/credentials").json["clients"][0]
        basic = {"Authorization": f"Basic {oauth['basic_token']}"}
        token = client.post("/driveri/v1/auth/token", headers=basic).json["data"]["accessToken"]
        bearer = {"Authorization": f"Bearer {token}"}
        return {"query": {}, "headers": bearer, "tenant": oauth["tenant"]}
    keys = client.get("/whiparound/_mock/credentials").json["keys"]
    key = next(k["key"] for k in keys if k["type"] == "integration")
    return {"query": {}, "headers": {"x-api-key": key}}


@pytest.mark.parametrize("when", ["1970-01-01T00:00:00Z", "2999-12-31T23:59:59Z"])
@pytest.mark.parametrize("reseed", [False, True], ids=["seeded before", "seeded then"])
def test_at_either_end_of_the_range_no_vendor_answers_500(
    client: Client, when: str, reseed: bool
) -> None:
    assert client.post("/gpsinsight/_mock/clock", json={"set": when}).status_code == 200
    if reseed:
        assert client.post("/gpsinsight/_mock/seed", json={"seed": 9}).status_code == 200
    failures = []
    for vendor in ("gpsinsight", "wex", "driveri", "whiparound"):
        auth = _auth(client, vendor)
        contract = client.get(f"/{vendor}/_mock/openapi.json").json
        base = contract["servers"][0]["url"].removeprefix("http://localhost")
        for template, item in contract["paths"].items():
            path = re.sub(r"\{tenant[^}]*\}", auth.get("tenant", "t"), template)
            path = re.sub(r"\{[^}]+\}", "1", path)
            for method in {"get", "post", "put", "patch", "delete"} & set(item):
                body = {"json": {}} if method in ("post", "put", "patch") else {}
                response = client.open(
                    base + path,
                    method=method.upper(),
                    query_string=auth["query"],
                    headers=auth["headers"],
                    **body,
                )
                if response.status_code >= 500 or response.mimetype != "application/json":
                    failures.append((vendor, method, path, response.status_code))
    assert failures == []
