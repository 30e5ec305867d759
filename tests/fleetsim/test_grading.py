"""Resilience grading (issue 11 §3): hand-made journals for each check passing and failing,
the faults replayed to tell what each request met, and one graded real run of the engine
under a 429 storm with Retry-After (tests/engine_rig.py)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from engine_rig import Rig, rig_fixture  # noqa: F401  (fixture)

from fleetsim.grading import BLIND_CREATE, RETRY_AFTER, TOKEN_CAP, grade, grade_stack
from helpers import T0
from sync_engine.engine import Engine

DRIVERS = "/v1/tenants/demo-fleet/drivers"
DTC = "/api/public/v4/assets/7001/dtc-defects"


def entry(
    seconds: float, method: str, path: str, status: int, client: str = "c1", **extra: Any
) -> dict[str, Any]:
    """A journal entry ``seconds`` after T0, as the control plane lists it."""
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    return {"at": at, "method": method, "path": path, "status": status, "latency_ms": 1.0,
            "app_token_id": client, **extra}  # fmt: skip


def messages(journals: dict[str, list[dict[str, Any]]], check: str, **kw: Any) -> list[str]:
    return [f.message for f in grade(journals, **kw).findings if f.check == check]


# -- waited at least Retry-After ---------------------------------------------------------------


def test_a_retry_no_sooner_than_retry_after_passes() -> None:
    journal = [
        entry(0, "GET", "/api/public/v4/assets", 429, retry_after=2),
        entry(0.1, "GET", "/api/public/v4/defects", 200),  # another request meanwhile: fine
        entry(2, "GET", "/api/public/v4/assets", 200),
    ]
    result = grade({"whiparound": journal})
    assert (result.passed(), result.graded[RETRY_AFTER]) == (True, 1)


def test_a_retry_sooner_than_retry_after_fails_and_says_how_soon() -> None:
    journal = [
        entry(0, "GET", "/api/public/v4/assets", 503, retry_after=2),
        entry(0.5, "GET", "/api/public/v4/assets", 200),
    ]
    assert messages({"whiparound": journal}, RETRY_AFTER) == [
        "GET /api/public/v4/assets answered 503 with Retry-After 2s, retried after 0.5s"
    ]


def test_retry_after_comes_from_the_fault_that_fired_as_the_header_said_it() -> None:
    # Retry-After 1.5 is sent as "2" (whole seconds, rounded up): 1.6 s later is too soon.
    fault = {"id": "f1", "method": "GET", "path": "/v2/vehicle/list", "status": 429,
             "retry_after": 1.5, "first": 1, "seen": 2, "fired": 1}  # fmt: skip
    journal = [
        entry(0, "POST", "/v2/vehicle/list", 200),  # another method: the fault does not see it
        entry(1, "GET", "/v2/vehicle/list", 429),
        entry(2.6, "GET", "/v2/vehicle/list", 200),
    ]
    assert messages({"gpsinsight": journal}, RETRY_AFTER, faults={"gpsinsight": [fault]}) == [
        "GET /v2/vehicle/list answered 429 with Retry-After 2s, retried after 1.6s"
    ]


def test_faults_the_journal_does_not_fully_cover_are_noted_and_not_graded() -> None:
    fault = {"id": "f1", "path": "*", "status": 429, "retry_after": 5, "first": 1, "seen": 9,
             "fired": 3}  # fmt: skip
    journal = [entry(0, "GET", "/a", 429), entry(0.1, "GET", "/a", 200)]
    result = grade({"driveri": journal}, {"driveri": [fault]})
    assert (result.passed(), result.graded[RETRY_AFTER]) == (True, 0)
    assert result.notes == [
        "driveri: the journal does not cover fault f1's whole life (replayed 2/1, listed 9/3): "
        "its effects are not graded"
    ]


# -- never blindly re-sent a create -------------------------------------------------------------


def test_a_create_repeated_without_a_read_after_a_dropped_answer_fails() -> None:
    journal = [
        entry(0, "POST", DRIVERS, 200, fault_effect="drop"),
        entry(1, "POST", DRIVERS, 409),  # the same driverId: it had landed
    ]
    assert messages({"driveri": journal}, BLIND_CREATE) == [
        f"POST {DRIVERS} repeated without a read after the create of "
        f"{T0.isoformat()} ran unanswered (answered 409)"
    ]


def test_a_create_repeated_after_reading_the_target_passes() -> None:
    journal = [
        entry(0, "POST", DRIVERS, 200, fault_effect="drop"),
        entry(0.5, "GET", "/v1/tenants/demo-fleet/driver", 404),
        entry(1, "POST", DRIVERS, 200),
    ]
    result = grade({"driveri": journal})
    assert (result.passed(), result.graded[BLIND_CREATE]) == (True, 1)


def test_another_create_on_the_same_path_is_not_a_repeat() -> None:
    # A 503 after commit, then a new defect for another code of that asset (201: created).
    fault = {"id": "f1", "method": "POST", "path": "*/dtc-defects", "status": 503,
             "after": True, "first": 1, "seen": 2, "fired": 1}  # fmt: skip
    journal = [entry(0, "POST", DTC, 503), entry(1, "POST", DTC, 201)]
    result = grade({"whiparound": journal}, {"whiparound": [fault]})
    assert (result.passed(), result.graded[BLIND_CREATE]) == (True, 1)
    journal[1]["status"] = 200  # the open defect raised: the same code posted again
    assert not grade({"whiparound": journal}, {"whiparound": [fault]}).passed(BLIND_CREATE)


def test_body_digests_tell_identical_creates_apart_when_the_journal_has_them() -> None:
    first = entry(0, "POST", DRIVERS, 503, fault_effect="after", body_sha256="aa")
    other = entry(1, "POST", DRIVERS, 409, body_sha256="bb")  # another driver, refused
    assert grade({"driveri": [first, other]}).passed()
    same = entry(2, "POST", DRIVERS, 200, body_sha256="aa")
    assert not grade({"driveri": [first, other, same]}).passed(BLIND_CREATE)


# -- never exceeded the token cap ---------------------------------------------------------------


def test_two_live_tokens_pass_and_a_third_within_the_lifetime_fails() -> None:
    issue = "/v1/auth/token"
    two = [entry(0, "POST", issue, 200), entry(10, "POST", issue, 200)]
    result = grade({"driveri": two}, token_ttl_s=3600)
    assert (result.passed(), result.graded[TOKEN_CAP]) == (True, 2)
    third = [*two, entry(20, "POST", issue, 200)]
    assert messages({"driveri": third}, TOKEN_CAP) == ["3 active tokens, more than the cap of 2"]
    expired = [*two, entry(3601, "POST", issue, 200)]  # the first one expired by then
    assert grade({"driveri": expired}, token_ttl_s=3600).passed()
    revoked = [
        *two,
        entry(15, "DELETE", "/v1/auth/token/revoke", 200),
        entry(20, "POST", issue, 200),
    ]
    assert grade({"driveri": revoked}).passed()


def test_a_token_refused_for_the_cap_fails() -> None:
    journal = [entry(0, "POST", "/v1/auth/token", 400)]
    assert messages({"driveri": journal}, TOKEN_CAP) == [
        "asked for a token beyond the cap of 2 (refused: TOKEN_LIMIT)"
    ]


def test_tokens_of_different_clients_are_counted_apart() -> None:
    journal = [entry(n, "POST", "/v1/auth/token", 200, client=f"c{n % 2}") for n in range(4)]
    assert grade({"driveri": journal}).passed()


def test_a_fault_replay_that_disagrees_with_a_recorded_status_is_noted_and_not_graded() -> None:
    fault = {"id": "f1", "path": "/a", "status": 503, "retry_after": 5, "seen": 1, "fired": 1}
    journal = [entry(0, "GET", "/a", 200)]  # the fault would have answered 503
    result = grade({"driveri": journal}, {"driveri": [fault]})
    assert result.notes == [
        f"driveri: fault f1 replayed onto GET /a at {T0.isoformat()}, which was answered 200, "
        "not 503: faults not graded"
    ]


# -- a real run ---------------------------------------------------------------------------------


def storm(rig: Rig) -> None:
    """A 429 storm on Whip Around's asset listing, registered on a clean journal."""
    for vendor in ("gpsinsight", "whiparound"):
        rig.http.delete(f"{rig.base}/{vendor}/_mock/journal").raise_for_status()
    rig.fault("whiparound", method="GET", path="/api/public/v4/assets", status=429,
              retry_after=2, first=3)  # fmt: skip


def test_a_real_run_under_a_429_storm_waits_retry_after_and_grades_clean(rig: Rig) -> None:
    clock = rig.app.stack.clock
    engine = Engine(rig.store, clock=clock.now, sleep=clock.advance, rng=random.Random(1))
    storm(rig)
    (report,) = engine.sync_telematics()
    assert report.outcome == "SUCCESS", report.errors
    result = grade_stack(rig.base)
    assert result.passed(), result.render()
    assert result.graded[RETRY_AFTER] == 3 and result.notes == []


def test_a_run_whose_waits_the_stack_never_saw_is_graded_as_too_soon(rig: Rig) -> None:
    storm(rig)  # the rig's sleeper only records: the retries land at the same virtual instant
    assert rig.sync().outcome == "SUCCESS"
    result = grade_stack(rig.base)
    assert not result.passed(RETRY_AFTER)
    assert len(result.findings) == 3 and rig.sleeper.waits == [2.0, 2.0, 2.0]
