"""BaseClient and the vendor clients against a scripted transport: no network, no sleeping.

Every test mounts a ``ScriptedAdapter`` on the client's session. It answers each request with
the next scripted reply (or raises the next scripted exception) and records what was sent, so
a test can count attempts and inspect the form body. The sleeper only records its waits.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from sync_engine.clients.base import (
    AuthError,
    QuotaError,
    RetriableError,
    RetryPolicy,
    UnconfirmedWrite,
    VendorError,
    parse_retry_after,
)
from sync_engine.clients.gpsinsight import GpsInsightClient
from sync_engine.clients.whiparound import WhipAroundClient
from sync_engine.report import Report

GPS_URL = "https://api.gpsinsight.test"
WA_URL = "https://api.whiparound.test/api/public/v4"
APP_TOKEN = "a1b2c3d4e5f60"
SESSION_A = "5e55100aaaaaaaaaaaaaaaaaaaaaaaa1"
SESSION_B = "5e55100bbbbbbbbbbbbbbbbbbbbbbbb2"
API_KEY = "feedfacefeedfacefeedfacefeedfacefeedface"
SESSION_GONE = "Forbidden (session does not exist)"


# -- the fake transport ---------------------------------------------------------------------


class Scripted:
    """One scripted answer: a status, a body (JSON-able, or raw bytes) and headers."""

    def __init__(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}

    def content(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()


class ScriptedAdapter(BaseAdapter):
    """A transport adapter that plays a script and records every request it was given."""

    def __init__(self, script: list[Scripted | BaseException]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        assert kwargs.get("timeout"), "every call must carry a timeout"
        if not self.script:
            raise AssertionError(f"unscripted request: {request.method} {request.url}")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        response = requests.Response()
        response.status_code = step.status
        response._content = step.content()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **step.headers})
        response.url = request.url or ""
        response.request = request
        response.reason = {200: "OK", 201: "Created"}.get(step.status, "Error")
        return response

    def close(self) -> None:
        """Nothing to close."""

    def form(self, n: int) -> dict[str, str]:
        """The form body of request ``n``, as a flat dict."""
        body = self.sent[n].body or ""
        text = body.decode() if isinstance(body, bytes) else body
        return {k: v[0] for k, v in parse_qs(text).items()}

    def query(self, n: int) -> dict[str, str]:
        """The query string of request ``n``, as a flat dict."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.sent[n].url or "").query).items()}

    def paths(self) -> list[str]:
        """The URL path of every request, in order."""
        return [urlsplit(r.url or "").path for r in self.sent]


class Sleeper:
    """Records the waits a client asks for; never sleeps."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def session_with(adapter: ScriptedAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def wa_client(
    script: list[Scripted | BaseException], seed: int = 7, attempts: int = 5
) -> tuple[WhipAroundClient, ScriptedAdapter, Sleeper]:
    adapter, sleeper = ScriptedAdapter(script), Sleeper()
    client = WhipAroundClient(
        WA_URL,
        API_KEY,
        session=session_with(adapter),
        sleep=sleeper,
        retry=RetryPolicy(attempts=attempts, rng=random.Random(seed)),
    )
    return client, adapter, sleeper


def gps_client(
    script: list[Scripted | BaseException], seed: int = 7
) -> tuple[GpsInsightClient, ScriptedAdapter, Sleeper]:
    adapter, sleeper = ScriptedAdapter(script), Sleeper()
    client = GpsInsightClient(
        GPS_URL,
        "acme.api",
        APP_TOKEN,
        session=session_with(adapter),
        sleep=sleeper,
        retry=RetryPolicy(rng=random.Random(seed)),
    )
    return client, adapter, sleeper


# -- canned vendor answers --------------------------------------------------------------------


def gps_ok(data: Any, method: str = "vehicle/list") -> Scripted:
    head = {"status": "OK", "method": method, "context": "acme.api", "brand": "GPS Insight"}
    return Scripted(200, {"head": head, "data": data})


def gps_error(code: int, message: str, http: int | None = None, **headers: str) -> Scripted:
    head = {"status": "ERROR", "method": "vehicle/list", "brand": "GPS Insight"}
    body = {"head": head, "data": None, "errors": [{"code": code, "message": message}]}
    return Scripted(code if http is None else http, body, dict(headers))


def gps_login(token: str = SESSION_A) -> Scripted:
    return gps_ok({"token": token}, "userauth/login")


def wa_page(
    items: list[dict[str, Any]], page: int, last: int, per_page: int = 2, total: int | None = None
) -> Scripted:
    """A page of ``last``; the collection's total is the items' count when it is one page."""
    total = total if total is not None else (len(items) if last == 1 else 5)
    pagination = {"current_page": page, "per_page": per_page, "total": total, "last_page": last}
    return Scripted(200, {"data": items, "pagination": pagination})


def wa_assets_page() -> Scripted:
    return wa_page([{"id": 7001, "name": "Truck", "vin": "1FTFW1E50NFA00001"}], 1, 1)


def wa_error(status: int, message: str, **headers: str) -> Scripted:
    return Scripted(status, {"message": message}, dict(headers))


def location_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "id": "CA4531009036",
        "vin": "1FTFW1E50NFA00001",
        "label": "Ford 0001",
        "serial_number": "4531009036",
        "fix_time": "3/10/26 10:27:10 AM",
        "fix_time_gmt": "2026-03-10T17:27:10+00:00",
        "latitude": 33.4484,
        "longitude": -112.074,
        "ignition": "on",
        "odometer": "48211.4",
    }
    row.update(overrides)
    return row


def expected_delays(seed: int, count: int, base: float = 0.5, cap: float = 30.0) -> list[float]:
    """What a fresh ``Random(seed)`` gives for the backoff of attempts 0 .. count - 1."""
    rng = random.Random(seed)
    return [min(cap, base * 2**n) * (0.5 + rng.random() / 2) for n in range(count)]


# -- RetryPolicy and Retry-After --------------------------------------------------------------


def test_backoff_doubles_with_seeded_jitter_between_half_and_full() -> None:
    policy = RetryPolicy(rng=random.Random(11))
    delays = [policy.delay(n, None) for n in range(5)]
    assert delays == expected_delays(11, 5)
    for n, delay in enumerate(delays):
        assert 0.25 * 2**n <= delay <= 0.5 * 2**n


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=30.0, rng=random.Random(3))
    assert all(15.0 <= policy.delay(n, None) <= 30.0 for n in range(6, 40))


def test_same_seed_gives_same_waits() -> None:
    a, b = RetryPolicy(rng=random.Random(5)), RetryPolicy(rng=random.Random(5))
    assert [a.delay(n, None) for n in range(6)] == [b.delay(n, None) for n in range(6)]


def test_backoff_never_shorter_than_retry_after() -> None:
    policy = RetryPolicy(rng=random.Random(1))
    assert policy.delay(0, 12.0) == 12.0


def test_retry_after_integer_is_seconds() -> None:
    assert parse_retry_after("120") == 120.0


def test_retry_after_fractional_is_seconds() -> None:
    assert parse_retry_after(" 1.5 ") == 1.5


def test_retry_after_http_date_is_seconds_from_now() -> None:
    now = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
    header = email.utils.format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now) == 90.0


def test_retry_after_in_the_past_or_garbage_means_no_wait() -> None:
    now = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
    past = email.utils.format_datetime(now - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# -- BaseClient.send: reads ---------------------------------------------------------------------


def test_read_retried_on_5xx_with_seeded_backoff_until_it_succeeds() -> None:
    client, adapter, sleeper = wa_client(
        [wa_error(503, "Service Unavailable"), wa_error(502, "Bad Gateway"), wa_assets_page()]
    )
    assets = client.assets()
    assert [a.id for a in assets] == [7001]
    assert len(adapter.sent) == 3
    assert sleeper.waits == expected_delays(7, 2)


@pytest.mark.parametrize(
    ("failure", "attempts", "message"),
    [
        (wa_error(503, "Service Unavailable"), 5, "whiparound assets: 503 Service Unavailable"),
        (
            requests.ConnectionError("refused"),
            4,
            "whiparound assets: no response connection failed: ConnectionError",
        ),
    ],
    ids=["503 answers", "refused connections"],
)
def test_read_gives_up_after_the_attempt_limit_with_a_retriable_error(
    failure: Scripted | BaseException, attempts: int, message: str
) -> None:
    client, adapter, sleeper = wa_client([failure] * attempts, attempts=attempts)
    with pytest.raises(RetriableError) as caught:
        client.assets()
    assert str(caught.value) == message
    assert len(adapter.sent) == attempts
    assert len(sleeper.waits) == attempts - 1


def test_read_retried_on_malformed_json() -> None:
    client, adapter, sleeper = wa_client([Scripted(200, b'{"data": [{"id": 70'), wa_assets_page()])
    assert [a.id for a in client.assets()] == [7001]
    assert len(adapter.sent) == 2
    assert len(sleeper.waits) == 1


def test_read_of_malformed_json_gives_up_with_a_clear_message() -> None:
    client, adapter, _ = wa_client([Scripted(200, b"<html>gateway</html>")] * 3, attempts=3)
    with pytest.raises(RetriableError) as caught:
        client.assets()
    assert "answer is not JSON" in str(caught.value)
    assert len(adapter.sent) == 3


def test_read_retried_on_connection_errors_then_succeeds() -> None:
    client, adapter, sleeper = wa_client(
        [requests.ConnectionError("reset"), requests.ReadTimeout("slow"), wa_assets_page()]
    )
    assert [a.id for a in client.assets()] == [7001]
    assert len(adapter.sent) == 3
    assert sleeper.waits == expected_delays(7, 2)


def test_r4_read_waits_at_least_an_integer_retry_after() -> None:
    client, _, sleeper = wa_client(
        [wa_error(429, "Too Many Attempts.", **{"Retry-After": "7"}), wa_assets_page()]
    )
    client.assets()
    assert len(sleeper.waits) == 1
    assert sleeper.waits[0] >= 7.0


def test_r4_read_waits_at_least_a_fractional_retry_after() -> None:
    client, _, sleeper = wa_client(
        [wa_error(503, "Service Unavailable", **{"Retry-After": "1.5"}), wa_assets_page()]
    )
    client.assets()
    assert sleeper.waits[0] >= 1.5


def test_r4_read_waits_at_least_an_http_date_retry_after() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    header = email.utils.format_datetime(when, usegmt=True)
    client, _, sleeper = wa_client(
        [wa_error(503, "Service Unavailable", **{"Retry-After": header}), wa_assets_page()]
    )
    client.assets()
    assert 110.0 <= sleeper.waits[0] <= 120.0


# -- BaseClient.send: writes --------------------------------------------------------------------


def test_r4_write_not_repeated_after_a_connection_error() -> None:
    client, adapter, sleeper = wa_client([requests.ConnectionError("connection reset")])
    with pytest.raises(UnconfirmedWrite) as caught:
        client.post_location(7001, 33.4, -112.0, datetime(2026, 3, 10, 17, 0, tzinfo=UTC))
    assert str(caught.value) == (
        "whiparound assets/7001/location: no response connection failed: ConnectionError"
    )
    assert len(adapter.sent) == 1
    assert sleeper.waits == []


def test_r4_write_not_repeated_after_a_read_timeout() -> None:
    client, adapter, _ = wa_client([requests.ReadTimeout("no answer in 30 s")])
    with pytest.raises(UnconfirmedWrite) as caught:
        client.post_dtc_defect(7001, "P0420", "Catalyst", datetime(2026, 3, 10, tzinfo=UTC))
    assert "connection failed: ReadTimeout" in str(caught.value)
    assert len(adapter.sent) == 1


def test_r4_write_not_repeated_after_a_5xx() -> None:
    client, adapter, sleeper = wa_client([wa_error(500, "Server Error")])
    with pytest.raises(RetriableError) as caught:
        client.post_mileage(7001, 48211.44, "mi", datetime(2026, 3, 10, 17, 0, tzinfo=UTC))
    assert str(caught.value) == "whiparound assets/7001/mileage: 500 Server Error"
    assert len(adapter.sent) == 1
    assert sleeper.waits == []


def test_r4_write_refused_with_429_is_retried_after_retry_after() -> None:
    created = {"data": {"id": 9001, "asset_id": 7001, "dtc_code": "P0420", "status": "New"}}
    client, adapter, sleeper = wa_client(
        [wa_error(429, "Too Many Attempts.", **{"Retry-After": "3"}), Scripted(201, created)]
    )
    defect = client.post_dtc_defect(7001, "p0420", "Catalyst", datetime(2026, 3, 10, tzinfo=UTC))
    assert (defect.id, defect.code, defect.status) == (9001, "P0420", "New")
    assert len(adapter.sent) == 2
    assert adapter.sent[0].body == adapter.sent[1].body
    assert len(sleeper.waits) == 1 and sleeper.waits[0] >= 3.0


def test_write_posts_whole_second_utc_times() -> None:
    client, adapter, _ = wa_client([Scripted(200, {"data": {"id": 7001}})])
    at = datetime(2026, 3, 10, 10, 27, 10, 654321, tzinfo=UTC)
    client.post_mileage(7001, 48211.44, "km", at)
    assert json.loads(adapter.sent[0].body or b"{}") == {
        "value": 48211.4,
        "unit": "km",
        "recorded_at": "2026-03-10T10:27:10Z",
    }


# -- GPS Insight --------------------------------------------------------------------------------


def test_r3_gps_insight_200_with_error_status_is_an_error() -> None:
    client, _, sleeper = gps_client(
        [gps_login(), gps_error(400, "Invalid parameter vehicle: not found", http=200)]
    )
    with pytest.raises(VendorError) as caught:
        client.vehicles()
    assert caught.value.kind.value == "fatal"
    assert (
        str(caught.value) == "gpsinsight v2/vehicle/list: 400 Invalid parameter vehicle: not found"
    )
    assert sleeper.waits == []


def test_r3_gps_insight_200_without_envelope_is_not_success() -> None:
    client, adapter, _ = gps_client([gps_login()] + [Scripted(200, {"vehicles": []})] * 5)
    with pytest.raises(RetriableError) as caught:
        client.vehicles()
    assert "answer is not the JSON envelope" in str(caught.value)
    assert len(adapter.sent) == 6


def test_r3_gps_insight_error_text_under_error_key_is_used() -> None:
    head = {"status": "ERROR", "method": "vehicle/list"}
    body = {"head": head, "data": None, "errors": [{"code": 400, "error": "Unsupported format"}]}
    client, _, _ = gps_client([gps_login(), Scripted(400, body)])
    with pytest.raises(VendorError) as caught:
        client.vehicles()
    assert caught.value.message == "Unsupported format"


def test_r3_gps_insight_logs_in_once_and_calls_with_the_session_in_the_form_body() -> None:
    client, adapter, _ = gps_client([gps_login(), gps_ok([]), gps_ok([], "vehicle/location")])
    client.vehicles()
    client.latest_fixes()
    assert client.logins == 1
    assert adapter.paths() == [
        "/v2/userauth/login",
        "/v2/vehicle/list",
        "/v2/vehicle/location",
    ]
    assert all(r.method == "POST" and "?" not in (r.url or "") for r in adapter.sent)
    assert adapter.form(0) == {"username": "acme.api", "app_token": APP_TOKEN}
    assert adapter.form(1)["session_token"] == SESSION_A


def test_r3_expired_session_costs_exactly_one_relogin_and_one_retry() -> None:
    client, adapter, sleeper = gps_client(
        [
            gps_login(SESSION_A),
            gps_error(403, SESSION_GONE),
            gps_login(SESSION_B),
            gps_ok([location_row()], "vehicle/location"),
        ]
    )
    fixes = client.latest_fixes()
    assert [f.vehicle_id for f in fixes] == ["CA4531009036"]
    assert client.logins == 2
    assert adapter.paths() == [
        "/v2/userauth/login",
        "/v2/vehicle/location",
        "/v2/userauth/login",
        "/v2/vehicle/location",
    ]
    assert adapter.form(1)["session_token"] == SESSION_A
    assert adapter.form(3)["session_token"] == SESSION_B
    assert sleeper.waits == []


def test_r3_second_consecutive_expired_session_is_raised() -> None:
    client, adapter, _ = gps_client(
        [
            gps_login(SESSION_A),
            gps_error(403, SESSION_GONE),
            gps_login(SESSION_B),
            gps_error(403, SESSION_GONE),
        ]
    )
    with pytest.raises(AuthError) as caught:
        client.latest_fixes()
    assert str(caught.value) == f"gpsinsight v2/vehicle/location: 403 {SESSION_GONE}"
    assert client.logins == 2
    assert len(adapter.sent) == 4


def test_r3_forbidden_other_than_session_gone_is_raised_without_relogin() -> None:
    client, adapter, _ = gps_client(
        [gps_login(), gps_error(403, "Forbidden (vehicle outside your groups)")]
    )
    with pytest.raises(AuthError) as caught:
        client.vehicles()
    assert caught.value.message == "Forbidden (vehicle outside your groups)"
    assert client.logins == 1
    assert len(adapter.sent) == 2


def test_r3_refused_login_is_an_auth_error_with_the_vendor_message() -> None:
    message = "Forbidden (invalid username, password or app token)"
    client, adapter, sleeper = gps_client([gps_error(403, message)])
    with pytest.raises(AuthError) as caught:
        client.login()
    assert str(caught.value) == f"gpsinsight v2/userauth/login: 403 {message}"
    assert len(adapter.sent) == 1
    assert sleeper.waits == []


def test_r4_gps_insight_429_is_a_quota_error_without_relogin_or_sleep() -> None:
    client, adapter, sleeper = gps_client(
        [gps_login(), gps_error(429, "too many requests", **{"Retry-After": "3600"})]
    )
    with pytest.raises(QuotaError) as caught:
        client.vehicles()
    assert str(caught.value) == "gpsinsight v2/vehicle/list: 429 too many requests"
    assert client.logins == 1
    assert len(adapter.sent) == 2
    assert sleeper.waits == []


def test_r4_gps_insight_429_on_login_is_a_quota_error() -> None:
    client, adapter, sleeper = gps_client([gps_error(429, "too many requests")])
    with pytest.raises(QuotaError):
        client.login()
    assert len(adapter.sent) == 1
    assert sleeper.waits == []


def test_r4_gps_insight_read_retried_on_500_envelope() -> None:
    client, adapter, sleeper = gps_client(
        [gps_login(), gps_error(500, "Internal server error"), gps_ok([])]
    )
    assert client.vehicles() == []
    assert len(adapter.sent) == 3
    assert len(sleeper.waits) == 1


def test_gps_insight_string_odometer_becomes_miles() -> None:
    client, _, _ = gps_client([gps_login(), gps_ok([location_row()], "vehicle/location")])
    (fix,) = client.latest_fixes()
    assert fix.odometer_mi == 48211.4
    assert (fix.latitude, fix.longitude) == (33.4484, -112.074)


def test_gps_insight_fix_time_with_offset_becomes_utc() -> None:
    row = location_row(fix_time_gmt="2026-03-10T10:27:10-07:00")
    client, _, _ = gps_client([gps_login(), gps_ok([row], "vehicle/location")])
    (fix,) = client.latest_fixes()
    assert fix.at == datetime(2026, 3, 10, 17, 27, 10, tzinfo=UTC)
    assert fix.at.utcoffset() == timedelta(0)


def test_gps_insight_fix_without_time_or_coordinates_is_dropped() -> None:
    rows = [location_row(fix_time_gmt=None), location_row(latitude=None), location_row()]
    client, _, _ = gps_client([gps_login(), gps_ok(rows, "vehicle/location")])
    assert len(client.latest_fixes()) == 1


def test_gps_insight_vehicle_details_become_model_vehicles() -> None:
    rows = [
        {"id": "CA1", "vin": " 1ftfw1e50 nfa00001", "label": "Ford 0001",
         "serial_number": "1", "odometer": "1200.5"},
        {"id": "CA2", "vin": None, "label": "Ford 0002", "serial_number": "2", "odometer": None},
    ]  # fmt: skip
    client, adapter, _ = gps_client([gps_login(), gps_ok(rows)])
    first, second = client.vehicles()
    assert adapter.form(1)["details"] == "1"
    assert (first.id, first.vin.key, first.odometer_mi) == ("CA1", "1FTFW1E50NFA00001", 1200.5)
    assert second.vin.placeholder and second.odometer_mi is None


def test_gps_insight_keyed_dtc_object_becomes_one_dtc_per_code_in_utc() -> None:
    rows = [
        {
            "vin": "1FTFW1E50NFA00001",
            "serial_number": "4531009036",
            "dtc": {
                "p0420": {
                    "mld": True,
                    "alt": "Catalyst efficiency below threshold",
                    "first": "2026-03-09T08:00:00-07:00",
                    "last": "2026-03-10T10:15:00-07:00",
                    "count": 4,
                },
                "SPN 3031  FMI 9": {
                    "alt": "Aftertreatment tank temperature",
                    "first": "2026-03-10T01:00:00+00:00",
                    "last": "2026-03-10T02:00:00+00:00",
                    "count": 2,
                },
            },
        },
        {"serial_number": "999", "dtc": {"P0300": {"first": "2026-03-10T01:00:00+00:00",
                                                    "last": "2026-03-10T01:00:00+00:00"}}},
    ]  # fmt: skip
    client, _, _ = gps_client([gps_login(), gps_ok(rows, "vehicle/dtc")])
    start, end = datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)
    dtcs = client.dtcs(start, end, {"4531009036": "CA4531009036"})
    assert [(d.vehicle_id, d.code, d.count) for d in dtcs] == [
        ("CA4531009036", "P0420", 4),
        ("CA4531009036", "SPN 3031 FMI 9", 2),
    ]
    assert dtcs[0].description == "Catalyst efficiency below threshold"
    assert dtcs[0].first == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert dtcs[0].last == datetime(2026, 3, 10, 17, 15, tzinfo=UTC)
    assert dtcs[0].last.tzinfo is UTC


def test_gps_insight_history_is_fetched_in_windows_of_at_most_seven_days() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=10)
    inside = location_row(fix_time_gmt="2026-03-05T00:00:00+00:00", odometer=100.0)
    late = location_row(fix_time_gmt="2026-03-11T00:00:00+00:00", odometer=200.0)
    client, adapter, _ = gps_client(
        [gps_login(), gps_ok([inside], "vehicle/history"), gps_ok([late], "vehicle/history")]
    )
    fixes = client.history("CA4531009036", start, end)
    windows = [(int(adapter.form(n)["start"]), int(adapter.form(n)["end"])) for n in (1, 2)]
    assert windows == [
        (int(start.timestamp()), int((start + timedelta(days=7)).timestamp())),
        (int((start + timedelta(days=7)).timestamp()), int(end.timestamp())),
    ]
    assert [f.odometer_mi for f in fixes] == [100.0]  # the fix at ``end`` is not in [start, end)


# -- Whip Around --------------------------------------------------------------------------------


def test_whip_around_reads_every_page() -> None:
    pages = [
        wa_page([{"id": 7001, "vin": "A"}, {"id": 7002, "vin": "B"}], 1, 3),
        wa_page([{"id": 7003, "vin": "C"}, {"id": 7004, "vin": "D"}], 2, 3),
        wa_page([{"id": 7005, "vin": "E", "odometer": 12.5, "odometer_unit": "km"}], 3, 3),
    ]
    client, adapter, _ = wa_client(pages)
    assets = client.assets()
    assert [a.id for a in assets] == [7001, 7002, 7003, 7004, 7005]
    assert [adapter.query(n)["page"] for n in range(3)] == ["1", "2", "3"]
    assert assets[-1].odometer == 12.5 and assets[-1].odometer_unit == "km"


def test_r6_a_listing_that_shifted_between_pages_is_read_again_whole() -> None:
    shifted = [  # an asset added at the head after page 1: page 2 repeats 7002, total 6
        wa_page([{"id": 7001}, {"id": 7002}], 1, 3),
        wa_page([{"id": 7002}, {"id": 7003}], 2, 3, total=6),
        wa_page([{"id": 7004}, {"id": 7005}], 3, 3, total=6),
    ]
    held = [
        wa_page([{"id": 7000}, {"id": 7001}], 1, 3, total=6),
        wa_page([{"id": 7002}, {"id": 7003}], 2, 3, total=6),
        wa_page([{"id": 7004}, {"id": 7005}], 3, 3, total=6),
    ]
    client, adapter, _ = wa_client(shifted + held)
    assert [a.id for a in client.assets()] == [7000, 7001, 7002, 7003, 7004, 7005]
    assert len(adapter.sent) == 6


def test_r6_a_listing_that_never_holds_still_is_a_failed_read_not_a_short_list() -> None:
    walk = [
        wa_page([{"id": 7001}, {"id": 7002}], 1, 2, total=4),
        wa_page([{"id": 7004}], 2, 2, total=3),  # 7003 removed meanwhile: a page shifted
    ]
    client, _, _ = wa_client(walk * 3)
    with pytest.raises(RetriableError, match="the listing changed while it was read 3 times"):
        client.assets()


def test_whip_around_sends_the_key_in_the_header_never_the_url() -> None:
    client, adapter, _ = wa_client([wa_assets_page()])
    client.assets()
    assert adapter.sent[0].headers["x-api-key"] == API_KEY
    assert API_KEY not in (adapter.sent[0].url or "")


def test_whip_around_defects_keep_only_dtc_defects_with_canonical_codes() -> None:
    rows = [
        {"id": 1, "asset_id": 7001, "dtc_code": "spn 3031 fmi 9", "status": "New",
         "repeated_times": 2, "updated_at": "2026-03-10T17:00:00Z"},
        {"id": 2, "asset_id": 7001, "dtc_code": None, "status": "New"},
    ]  # fmt: skip
    client, adapter, _ = wa_client([wa_page(rows, 1, 1)])
    (defect,) = client.defects(asset_id=7001)
    assert adapter.query(0)["asset_id"] == "7001"
    assert (defect.code, defect.repeated_times, defect.is_open) == ("SPN 3031 FMI 9", 2, True)
    assert defect.updated_at == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def test_whip_around_401_is_an_auth_error_with_the_vendor_message() -> None:
    client, adapter, sleeper = wa_client([wa_error(401, "Unauthenticated.")])
    with pytest.raises(AuthError) as caught:
        client.assets()
    assert str(caught.value) == "whiparound assets: 401 Unauthenticated."
    assert len(adapter.sent) == 1
    assert sleeper.waits == []


def test_whip_around_403_is_an_auth_error_with_the_vendor_message() -> None:
    message = "This action requires an integration API key."
    client, _, _ = wa_client([wa_error(403, message)])
    with pytest.raises(AuthError) as caught:
        client.post_location(7001, 1.0, 2.0, datetime(2026, 3, 10, tzinfo=UTC))
    assert caught.value.message == message
    assert caught.value.status == 403


def test_whip_around_422_is_fatal_and_not_retried() -> None:
    body = {
        "message": "The latitude field must be between -90 and 90.",
        "errors": {"latitude": ["The latitude field must be between -90 and 90."]},
    }
    client, adapter, sleeper = wa_client([Scripted(422, body)])
    with pytest.raises(VendorError) as caught:
        client.post_location(7001, 91.0, 2.0, datetime(2026, 3, 10, tzinfo=UTC))
    assert type(caught.value) is VendorError
    assert str(caught.value) == (
        "whiparound assets/7001/location: 422 The latitude field must be between -90 and 90."
    )
    assert caught.value.body["errors"]["latitude"]
    assert len(adapter.sent) == 1
    assert sleeper.waits == []


def test_whip_around_404_read_is_fatal_and_not_retried() -> None:
    client, adapter, _ = wa_client([wa_error(404, "The route assets could not be found.")])
    with pytest.raises(VendorError) as caught:
        client.assets()
    assert caught.value.message == "The route assets could not be found."
    assert len(adapter.sent) == 1


# -- R8: secrets stay out of exceptions, reprs and reports --------------------------------------


def leaked(text: str) -> list[str]:
    return [s for s in (APP_TOKEN, SESSION_A, SESSION_B, API_KEY) if s in text]


def raised_by(call: Any) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call()
    return caught.value


def every_text(exc: VendorError, client: Any) -> Iterator[str]:
    report = Report("telematics", "gpsinsight")
    report.error("read", str(exc))
    yield str(exc)
    yield repr(exc)
    yield repr(client)
    yield str(client)
    yield json.dumps(report.as_dict())


def test_r8_gps_insight_client_repr_hides_app_token_and_session() -> None:
    client, _, _ = gps_client([gps_login(SESSION_A)])
    client.login()
    assert repr(client) == f"GpsInsightClient({GPS_URL!r}, username='acme.api')"
    assert leaked(repr(client)) == [] and leaked(str(client)) == []


def test_r8_refused_login_does_not_leak_the_app_token() -> None:
    client, _, _ = gps_client(
        [gps_error(403, "Forbidden (invalid username, password or app token)")]
    )
    exc = raised_by(client.login)
    assert [leaked(text) for text in every_text(exc, client)] == [[]] * 5


def test_r8_expired_session_error_does_not_leak_session_tokens() -> None:
    client, _, _ = gps_client(
        [gps_login(SESSION_A), gps_error(403, SESSION_GONE), gps_login(SESSION_B),
         gps_error(403, SESSION_GONE)]
    )  # fmt: skip
    exc = raised_by(client.vehicles)
    assert [leaked(text) for text in every_text(exc, client)] == [[]] * 5


def test_r8_vendor_message_echoing_the_app_token_is_redacted() -> None:
    client, _, _ = gps_client([gps_error(400, f"Invalid parameter app_token: {APP_TOKEN}")])
    exc = raised_by(client.login)
    assert [leaked(text) for text in every_text(exc, client)] == [[]] * 5
    assert exc.message.startswith("Invalid parameter app_token: ")


def test_r8_vendor_message_echoing_the_session_token_is_redacted() -> None:
    client, _, _ = gps_client(
        [gps_login(SESSION_A), gps_error(400, f"Invalid parameter session_token={SESSION_A}")]
    )
    exc = raised_by(client.vehicles)
    assert [leaked(text) for text in every_text(exc, client)] == [[]] * 5


def test_r8_connection_failure_does_not_leak_the_app_token() -> None:
    boom = requests.ConnectionError(f"POST {GPS_URL}/v2/userauth/login app_token={APP_TOKEN}")
    client, _, _ = gps_client([boom] * 5)
    exc = raised_by(client.login)
    assert [leaked(text) for text in every_text(exc, client)] == [[]] * 5


def test_r8_whip_around_errors_and_repr_hide_the_api_key() -> None:
    client, _, _ = wa_client([wa_error(401, f"Unauthenticated: key {API_KEY} unknown")])
    exc = raised_by(client.assets)
    assert repr(client) == f"WhipAroundClient({WA_URL!r})"
    assert [leaked(text) for text in every_text(exc, client)] == [[]] * 5


# -- R3 / R9: one re-login at a time, whatever the threads ------------------------------------


class SessionAdapter(BaseAdapter):
    """Thread-safe GPS Insight stand-in: each login opens a new session; calls made with the
    first session answer 403 (it expired), calls with any later one succeed."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.tokens: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body or ""
        form = {
            k: v[0] for k, v in parse_qs(body if isinstance(body, str) else body.decode()).items()
        }
        if urlsplit(request.url or "").path.endswith("userauth/login"):
            with self.lock:
                self.tokens.append(f"{len(self.tokens) + 1:032x}")
                step = gps_login(self.tokens[-1])
        elif form.get("session_token") == self.tokens[0]:
            step = gps_error(403, SESSION_GONE)
        else:
            step = gps_ok([location_row()], "vehicle/location")
        response = requests.Response()
        response.status_code = step.status
        response._content = step.content()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""


def test_r9_threads_hitting_an_expired_session_together_relogin_once() -> None:
    adapter = SessionAdapter()
    client = GpsInsightClient(
        GPS_URL, "acme.api", APP_TOKEN, session=session_with(adapter), sleep=Sleeper()
    )
    client.login()
    # Hold every re-login until the second thread asks for one too: if the staleness check
    # and the login are not one step, both threads get here and both log in.
    both_asked = threading.Barrier(2, timeout=2)
    first_login = client.login

    def login_when_both_asked() -> None:
        both_asked.wait()
        first_login()

    client.login = login_when_both_asked  # type: ignore[method-assign]
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.latest_fixes())) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(results) == 2
    assert client.logins == 2
    assert len(adapter.tokens) == 2


def test_r4_retry_after_of_infinity_is_not_a_wait() -> None:
    from sync_engine.clients.base import parse_retry_after

    assert parse_retry_after("inf") is None
    assert parse_retry_after("nan") is None


def test_r4_a_retry_after_longer_than_the_longest_wait_ends_the_call_without_waiting() -> None:
    client, adapter, sleeper = wa_client(
        [wa_error(429, "Too Many Attempts.", **{"Retry-After": "86400"}), wa_assets_page()]
    )
    with pytest.raises(RetriableError) as caught:
        client.assets()
    assert caught.value.status == 429
    assert sleeper.waits == []
    assert len(adapter.sent) == 1


def test_r4_r7_a_quota_before_anything_was_read_is_partial_not_failed() -> None:
    report = Report("telematics", "gpsinsight")
    report.quota_hit = True
    report.nothing_read = True
    assert report.outcome == "PARTIAL"


def test_r3_gps_insight_error_envelope_with_a_garbled_errors_field_is_still_an_error() -> None:
    garbled = Scripted(400, {"head": {"status": "ERROR"}, "data": None, "errors": "oops"})
    client, _, _ = gps_client([gps_login(), garbled])
    with pytest.raises(VendorError) as caught:
        client.vehicles()
    assert caught.value.status == 400
    assert caught.value.kind.value == "fatal"


# -- retry accounting (R7: the report counts retries, waits and 429s per vendor) ----------------


def test_stats_count_retries_seconds_waited_and_429s() -> None:
    client, _, sleeper = wa_client(
        [
            wa_error(429, "Too Many Attempts.", **{"Retry-After": "3"}),
            wa_error(503, "Service Unavailable"),
            wa_assets_page(),
        ]
    )
    client.integration = "wa-main"
    client.assets()
    assert client.stats() == {
        "integration": "wa-main",
        "requests": 3,
        "retries": 2,
        "waited_s": round(sum(sleeper.waits), 3),
        "quota_hits": 1,
    }
    assert sleeper.waits[0] >= 3.0


def test_stats_count_a_429_that_is_not_retried_and_errors_carry_the_integration() -> None:
    client, _, sleeper = wa_client([wa_error(429, "Too Many Attempts.", **{"Retry-After": "3600"})])
    client.integration = "wa-main"
    with pytest.raises(VendorError) as caught:
        client.assets()
    assert caught.value.integration == "wa-main"
    assert (client.stats()["retries"], client.stats()["quota_hits"]) == (0, 1)
    assert sleeper.waits == []


def test_report_failure_labels_the_error_with_the_clients_integration() -> None:
    client, _, _ = wa_client([wa_error(503, "Service Unavailable")] * 2, attempts=2)
    client.integration = "wa-main"
    report = Report("telematics", "wex-east")
    with pytest.raises(VendorError) as caught:
        client.assets()
    report.failure("read", caught.value)
    report.error("lock", "busy")
    assert report.as_dict()["errors"] == [
        {"where": "read", "integration": "wa-main",
         "message": "whiparound assets: 503 Service Unavailable"},
        {"where": "lock", "integration": "wex-east", "message": "busy"},
    ]  # fmt: skip
