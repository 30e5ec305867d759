"""Telematics -> Whip Around, end to end: the engine against the emulators on a loopback socket.

Each test gets a small world (12 GPS Insight vehicles) on a frozen virtual clock at T0, served
by werkzeug on 127.0.0.1 (a port of its own), an in-memory store and an engine whose clock is
the stack's and whose sleeper only records. Faults are set through each vendor's control plane;
what the vendors hold afterwards is read back through their own APIs. After every fault
scenario the two whole-engine promises are checked: R2 (matched assets equal what GPS Insight
says) and R17 (at most one open defect per asset and code).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from engine_rig import (  # noqa: F401  (rig: a fixture)
    ENGINE_USER,
    KM_PER_MILE,
    OPEN,
    PLACEHOLDERS,
    WA_DTC_WRITES,
    WA_WRITES,
    Rig,
    code_key,
    parse,
    rig_fixture,
    vin_key,
)

from helpers import (
    T0,
)
from sync_engine.report import EXIT_CODES

# -- a clean world ------------------------------------------------------------------------------


def test_first_sync_succeeds_and_matched_assets_equal_gps_insight(rig: Rig) -> None:
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert report.writes > 0 and report.counts["errors"] == 0
    assert report.counts["read"] == 12
    rig.assert_converged()


def test_first_sync_opens_exactly_one_defect_per_active_dtc_of_a_matched_vehicle(
    rig: Rig,
) -> None:
    report = rig.sync()
    expected = rig.active_dtcs()
    defects = Counter((d["asset_id"], code_key(d["dtc_code"])) for d in rig.defects())
    assert expected, "the demo world always has DTCs active today"
    assert defects == Counter(expected)
    assert report.counts["created"] == len(expected)
    assert all(d["repeated_times"] == 1 and d["status"] == "New" for d in rig.defects())


def test_first_sync_reports_missing_vin_unmatched_and_duplicate_target(rig: Rig) -> None:
    # Vehicle 1 of the world has an asset; its VIN becomes a placeholder at the source.
    blanked = next(v for v in rig.gps("vehicle/list") if v["label"].endswith(" 0001"))
    rig.gps("vehicle/update", vehicle=blanked["id"], vin="N/A")
    report = rig.sync()
    reasons: dict[str, list[dict[str, Any]]] = {}
    for skip in report.skips:
        reasons.setdefault(skip["reason"], []).append(skip)
    assert report.outcome == "SUCCESS"
    assert [s["vehicle"] for s in reasons["MISSING_VIN"]] == [blanked["id"]]
    assert len(reasons["UNMATCHED"]) == 1
    (twin,) = reasons["DUPLICATE_TARGET"]
    assert len(twin["assets"]) == 2
    assert report.counts["unmatched"] == 3
    assert report.counts["matched"] == 12 - 3


def test_unmatched_vehicles_get_no_writes(rig: Rig) -> None:
    report = rig.sync()
    skipped = {
        s["vehicle"] for s in report.skips if s["reason"] in ("UNMATCHED", "DUPLICATE_TARGET")
    }
    twin_assets = {a for s in report.skips for a in s.get("assets", [])}
    written = {int(e["path"].split("/")[5]) for e in rig.journal("whiparound", method="POST")}
    matched_assets = {a["id"] for _, a in rig.matched()}
    assert skipped and twin_assets
    assert written <= matched_assets
    assert not written & twin_assets


def test_r1_second_run_makes_zero_writes(rig: Rig) -> None:
    assert rig.sync().outcome == "SUCCESS"
    rig.clear_journals()
    report = rig.sync()
    assert report.outcome == "SUCCESS"
    assert report.writes == 0
    assert rig.journal("whiparound", method="POST") == []
    assert rig.journal("whiparound", method="PATCH") == []
    assert rig.journal("whiparound", method="DELETE") == []


def test_r17_a_day_later_each_code_keeps_one_open_defect_repeated_twice(rig: Rig) -> None:
    assert rig.sync().outcome == "SUCCESS"
    first = {(d["asset_id"], d["dtc_code"]): d["id"] for d in rig.defects()}
    rig.advance(86_400)
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    after = rig.defects()
    assert {(d["asset_id"], d["dtc_code"]): d["id"] for d in after} == first
    assert [d["repeated_times"] for d in after] == [2] * len(first)
    assert all(d["status"] == "New" for d in after)
    rig.assert_converged()


def test_r2_r15_newest_fix_is_written_even_within_the_resolution_of_the_last_kept(
    rig: Rig,
) -> None:
    # An hour of history, one fix a minute: thinning keeps one point per 5 minutes, but the
    # newest fix must still reach the asset, or a parked vehicle never converges.
    assert rig.sync().outcome == "SUCCESS"
    rig.advance(3600)
    assert rig.sync().outcome == "SUCCESS"
    fixes = {f["id"]: f for f in rig.gps("vehicle/location")}
    stale = [
        vehicle["id"]
        for vehicle, asset in rig.matched()
        if parse(asset["location"]["recorded_at"]) != parse(fixes[vehicle["id"]]["fix_time_gmt"])
    ]
    assert stale == []


def test_r5_cursor_is_saved_after_a_successful_run(rig: Rig) -> None:
    rig.sync()
    assert rig.cursor() == T0.isoformat()


# -- faults --------------------------------------------------------------------------------------


def test_r4_whip_around_429_on_writes_waits_retry_after_and_converges(rig: Rig) -> None:
    rig.fault("whiparound", method="POST", path=WA_WRITES, first=3, status=429, retry_after=2)
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    refused = [e for e in rig.journal("whiparound", method="POST") if e["status"] == 429]
    assert len(refused) == 3
    assert len(rig.sleeper.waits) == 3
    assert all(wait >= 2.0 for wait in rig.sleeper.waits)
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()


def test_r4_5xx_bursts_on_reads_are_retried_and_the_run_converges(rig: Rig) -> None:
    rig.fault("gpsinsight", path="/v2/*", every=3, status=503)
    rig.fault("whiparound", method="GET", path="/api/public/v4/*", every=3, status=502)
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    failed_reads = [e for e in rig.journal("gpsinsight") if e["status"] == 503]
    assert failed_reads and rig.sleeper.waits
    assert len(rig.sleeper.waits) == len(failed_reads) + len(
        [e for e in rig.journal("whiparound", method="GET") if e["status"] == 502]
    )
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()
    assert Counter((d["asset_id"], code_key(d["dtc_code"])) for d in rig.defects()) == Counter(
        rig.active_dtcs()
    )


def test_r3_session_expiring_mid_run_costs_exactly_one_extra_login(rig: Rig) -> None:
    rig.fault("gpsinsight", path="/v2/vehicle/dtc", first=1, expire_session=True)
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert rig.login_count() == 2
    gone = [e for e in rig.journal("gpsinsight", path="/v2/vehicle/dtc") if e["status"] == 403]
    assert len(gone) == 1
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()


def test_r3_session_expiring_during_parallel_history_reads_costs_one_extra_login(
    rig: Rig,
) -> None:
    assert rig.sync().outcome == "SUCCESS"
    rig.advance(3600)
    rig.clear_journals()
    rig.fault("gpsinsight", path="/v2/vehicle/history", first=1, expire_session=True)
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert rig.login_count() == 2
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()


def test_dropped_connection_after_a_defect_was_created_is_not_duplicated(rig: Rig) -> None:
    rig.fault("whiparound", method="POST", path=WA_DTC_WRITES, first=1, drop=True)
    first = rig.sync()
    assert first.outcome == "PARTIAL"
    assert any("connection failed" in e["message"] for e in first.errors), first.errors
    dropped = rig.journal("whiparound", method="POST", path=WA_DTC_WRITES)[0]
    asset_id = int(dropped["path"].split("/")[5])
    rig.clear_faults()
    rig.clear_journals()
    second = rig.sync()
    assert second.outcome == "SUCCESS", second.errors
    assert rig.journal("whiparound", path=f"/api/public/v4/assets/{asset_id}/dtc-defects") == []
    mine = [d for d in rig.defects() if d["asset_id"] == asset_id]
    assert [d["repeated_times"] for d in mine] == [1] * len(mine) and mine
    assert Counter((d["asset_id"], code_key(d["dtc_code"])) for d in rig.defects()) == Counter(
        rig.active_dtcs()
    )
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()


def test_r4_gps_insight_429_ends_the_run_partial_without_sleeping(rig: Rig) -> None:
    rig.fault("gpsinsight", path="/v2/vehicle/dtc", first=1, status=429, retry_after=3600)
    report = rig.sync()
    assert report.outcome == "PARTIAL"
    assert report.quota_hit
    assert report.errors[0]["message"] == "gpsinsight v2/vehicle/dtc: 429 too many requests"
    assert rig.sleeper.waits == []
    assert len(rig.journal("gpsinsight", path="/v2/vehicle/dtc")) == 1
    assert rig.cursor() is None


def test_r4_after_a_gps_insight_429_a_later_run_converges(rig: Rig) -> None:
    rig.fault("gpsinsight", path="/v2/vehicle/dtc", first=1, status=429, retry_after=3600)
    rig.sync()
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()
    assert Counter((d["asset_id"], code_key(d["dtc_code"])) for d in rig.defects()) == Counter(
        rig.active_dtcs()
    )


def test_revoked_app_token_fails_the_run_with_exit_code_2(rig: Rig) -> None:
    assert rig.sync().outcome == "SUCCESS"
    rig.gps("apiapp/update", app_token=rig.gps_user["app_token"], active=0)
    rig.clear_journals()
    report = rig.sync()
    assert report.outcome == "FAILED"
    assert EXIT_CODES[report.outcome] == 2
    assert report.errors[0]["message"] == (
        "gpsinsight v2/userauth/login: 403 Forbidden (invalid username, password or app token)"
    )
    assert rig.journal("whiparound", method="POST") == []
    assert rig.sleeper.waits == []


def test_r8_no_secret_in_the_report_of_a_revoked_token_run(rig: Rig) -> None:
    rig.gps("apiapp/update", app_token=rig.gps_user["app_token"], active=0)
    report = rig.sync()
    stored = rig.store.runs()[0]["report"]
    for text in (json.dumps(report.as_dict()), json.dumps(stored), repr(rig.store)):
        assert [s for s in rig.secrets() if s in text] == []


def test_r5_engine_killed_mid_first_run_converges_without_duplicates(rig: Rig) -> None:
    # The first four writes land; from the fifth on, every write is done but its answer lost.
    rig.fault("whiparound", method="POST", path=WA_WRITES, first=4, latency_ms=0)
    rig.fault("whiparound", method="POST", path=WA_WRITES, drop=True)
    killed = rig.sync()
    assert killed.outcome == "PARTIAL"
    assert killed.writes == 4
    assert rig.cursor() is None
    rig.clear_faults()
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert rig.cursor() == T0.isoformat()
    assert [d["repeated_times"] for d in rig.defects()] == [1] * len(rig.defects())
    assert Counter((d["asset_id"], code_key(d["dtc_code"])) for d in rig.defects()) == Counter(
        rig.active_dtcs()
    )
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()


def test_r5_run_killed_during_history_does_not_advance_the_cursor(rig: Rig) -> None:
    assert rig.sync().outcome == "SUCCESS"
    rig.advance(3600)
    rig.fault("whiparound", method="POST", path=WA_WRITES, first=10, latency_ms=0)
    rig.fault("whiparound", method="POST", path=WA_WRITES, drop=True)
    killed = rig.sync()
    assert killed.outcome == "PARTIAL"
    assert rig.cursor() == T0.isoformat()
    rig.clear_faults()
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert rig.cursor() == (T0 + timedelta(hours=1)).isoformat()
    rig.clear_journals()
    assert rig.sync().writes == 0
    rig.assert_converged()
    rig.assert_one_open_defect_per_code()


def test_r17_dropped_connection_on_a_repeat_post_does_not_repeat_it_again(rig: Rig) -> None:
    assert rig.sync().outcome == "SUCCESS"
    rig.advance(14 * 3600)  # T0 is 10:30 MST: the next vendor day, with less history to post
    rig.fault("whiparound", method="POST", path=WA_DTC_WRITES, first=1, drop=True)
    assert rig.sync().outcome == "PARTIAL"
    rig.clear_faults()
    report = rig.sync()
    assert report.outcome == "SUCCESS", report.errors
    assert [d["repeated_times"] for d in rig.defects()] == [2] * len(rig.defects())
    rig.assert_one_open_defect_per_code()


def test_r15_first_run_posts_history_from_activation_thinned_to_five_minutes(rig: Rig) -> None:
    from sqlalchemy import update

    from sync_engine.store.tables import integrations

    with rig.store.engine.begin() as conn:
        conn.execute(update(integrations).values(activated_at=T0 - timedelta(hours=1)))
    rig.clear_journals()
    assert rig.sync().outcome == "SUCCESS"
    posts = Counter(
        e["path"] for e in rig.journal("whiparound", "POST", "/api/public/v4/assets/*/location")
    )
    # 40 of the last 60 minutes driving, one point per 5 minutes: about 8 per asset.
    assert max(posts.values()) >= 6
    assert all(n <= 13 for n in posts.values())
    assert rig.journal("gpsinsight", path="/v2/vehicle/history")


def test_r1_a_rerun_with_nothing_new_fetches_no_history(rig: Rig) -> None:
    rig.sync()
    rig.clear_journals()
    assert rig.sync().writes == 0
    assert rig.journal("gpsinsight", path="/v2/vehicle/history") == []
