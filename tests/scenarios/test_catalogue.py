"""Every scenario of the catalogue (fixtures/scenarios/) runs green, in-process on a stack of
its own, and its second run writes nothing; the `fleetsim scenario` commands tell QA what
happened and exit 0 only when every scenario passed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetsim import scenario_cli
from fleetsim.cli import main
from fleetsim.scenario_runner import CATALOGUE, catalogue, load, run_scenario

NAMES = sorted(catalogue())


@pytest.mark.parametrize("name", NAMES)
def test_the_scenario_passes_and_its_second_run_writes_nothing(name: str) -> None:
    lines: list[str] = []
    result = run_scenario(load(name), lines.append)
    assert result.passed, "\n".join(lines)
    assert any(c.where == "second run: writes the targets saw" and c.ok for c in result.checks)


def test_scenario_run_tells_qa_the_description_each_step_the_report_and_the_verdict() -> None:
    result = CliRunner().invoke(main, ["scenario", "run", "missing-vins"])
    assert result.exit_code == 0, result.output
    for text in ("vehicle 1's is null", "1. sync {pipeline: 'telematics'}",
                 "skip MISSING_VIN x3: vehicle 1, vehicle 5, vehicle 6",
                 "ok    skips.MISSING_VIN = 3", "second run (R1", "PASS missing-vins"):  # fmt: skip
        assert text in result.output


def test_scenario_list_names_every_scenario_with_its_description() -> None:
    result = CliRunner().invoke(main, ["scenario", "list"])
    assert result.exit_code == 0, result.output
    assert f"{len(NAMES)} scenarios" in result.output
    assert all(name in result.output for name in NAMES)


def test_scenario_show_prints_the_file_as_written() -> None:
    result = CliRunner().invoke(main, ["scenario", "show", "missing-vins"])
    assert result.exit_code == 0
    assert result.output.strip() == (CATALOGUE / "missing-vins.yaml").read_text().strip()


def test_an_unknown_scenario_is_a_usage_error_naming_it() -> None:
    result = CliRunner().invoke(main, ["scenario", "run", "no-such-case"])
    assert result.exit_code == 2
    assert "no scenario named 'no-such-case'" in result.output


def test_a_failing_expectation_shows_expected_and_actual_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (CATALOGUE / "odometer-rollback.yaml").read_text()
    wrong = text.replace("anomalies: {ROLLBACK: 1}", "anomalies: {ROLLBACK: 2}")
    (tmp_path / "odometer-rollback.yaml").write_text(wrong)
    monkeypatch.setattr(scenario_cli, "catalogue", lambda: catalogue(tmp_path))
    result = CliRunner().invoke(main, ["scenario", "run", "--all"])
    assert result.exit_code == 1
    assert "FAIL  anomalies.ROLLBACK: expected 2, got 1" in result.output
    assert "0/1 scenarios passed" in result.output


def test_run_json_reports_each_failure_with_expected_and_actual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (CATALOGUE / "odometer-rollback.yaml").read_text()
    (tmp_path / "odometer-rollback.yaml").write_text(
        text.replace("outcome: SUCCESS", "outcome: PARTIAL")
    )
    monkeypatch.setattr(scenario_cli, "catalogue", lambda: catalogue(tmp_path))
    result = CliRunner().invoke(main, ["scenario", "run", "odometer-rollback", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    (one,) = doc["scenarios"]
    assert doc["passed"] is False
    assert one["failures"] == [{"where": "outcome", "expected": "PARTIAL", "actual": "SUCCESS"}]


# Every edge case docs/sync-rules.md lists, and every repair case issue 11 names, with the
# scenarios that reproduce it.
EDGE_CASES = {
    'VIN missing: `null`, `""`, `"N/A"`.': ["missing-vins"],
    "VIN typed in lower case with spaces.": ["vin-lower-case-spaced"],
    "One VIN on two Whip Around assets.": ["duplicate-vin-on-two-assets"],
    "One VIN on two telematics vehicles.": ["duplicate-vin-on-two-vehicles"],
    "Invalid check digit on both sides (matches, with a warning).": [
        "invalid-check-digit-both-sides"
    ],
    "Vehicle outside the API user's groups (invisible to the engine, and not deleted).": [
        "vehicle-outside-user-groups"
    ],
    "Odometer rollback.": ["odometer-rollback"],
    "Odometer in km on the asset.": ["odometer-km-asset"],
    "Implausible odometer jump.": ["implausible-odometer-jump", "odometer-beyond-target-maximum"],
    "Stale fix.": ["stale-fix", "location-went-backwards"],
    "Fix at (0, 0).": ["fix-at-null-island"],
    "DTC active three days running (one defect).": ["dtc-active-three-days"],
    "DTC cleared at the source (the defect stays open).": ["dtc-cleared-at-source"],
    "DTC recurring after a mechanic resolved it (a new defect after the quiet period).": [
        "dtc-recurring-after-resolved"
    ],
    "DTC on an unmatched vehicle (nothing written, reported).": ["dtc-on-unmatched-vehicle"],
    "Historic DTCs at activation (nothing written).": ["historic-dtcs-at-activation"],
    "Session expired in the middle of a run.": ["session-expired-mid-run"],
    "App Token revoked.": ["app-token-revoked"],
    "429 with `Retry-After`.": ["whiparound-429-retry-after", "gpsinsight-429-quota-spent"],
    "Bursts of 5xx answers.": ["bursts-of-5xx", "wex-failure-labelled"],
    "Connection dropped after a create was committed.": ["connection-dropped-after-create"],
    "Engine killed in the middle of a run, then restarted.": ["engine-killed-mid-run"],
    "Driver created, updated, deleted in the portal.": ["driver-created-updated-deleted"],
    "DriverID renamed to a new value.": ["driverid-renamed-to-new-value"],
    "DriverID moved onto an existing Driveri driver nobody links.": [
        "driverid-moved-onto-unlinked"
    ],
    "DriverID moved onto a Driveri driver already linked to another portal driver (conflict).": [
        "driverid-moved-onto-linked",
        "driverid-copied-from-linked-driver",
    ],  # fmt: skip
    "Two portal drivers with the same DriverID.": ["duplicate-driverids"],
    "Empty DriverID.": ["empty-driverid", "linked-driverid-emptied"],
    "`ref_id` set but DriverID empty (not synced).": ["ref-id-only-driver"],
    "Driver deleted, then created again (the Driveri driver is reinstated).": [
        "driver-deleted-then-created-again"
    ],
    "Edit made on the Driveri side (overridden).": ["driveri-side-edit-overridden"],
    "Delete made on the Driveri side (undone).": ["driveri-side-delete-undone"],
    "Driver Sync setting off.": ["driver-sync-off", "driver-sync-off-events-dropped"],
    "The same event delivered three times.": ["same-event-delivered-three-times"],
    "Events arriving out of order.": ["events-out-of-order"],
}
REPAIR_CASES = {
    "refused odometer": ["refused-odometer-write"],
    "target reset": ["whiparound-target-reset", "odometer-changed-behind-the-engine"],
    "429 storm": ["whiparound-429-storm"],
    "engine killed": ["engine-killed-mid-run", "driver-engine-killed-mid-reconcile"],
}
RULES = Path(__file__).resolve().parents[2] / "docs" / "sync-rules.md"


def listed_edge_cases() -> list[str]:
    text = RULES.read_text(encoding="utf-8").split("## Edge cases QA must be able to reproduce")[1]
    return [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]


def test_every_edge_case_of_the_sync_rules_has_a_scenario() -> None:
    assert listed_edge_cases() == list(EDGE_CASES)
    named = [n for names in (*EDGE_CASES.values(), *REPAIR_CASES.values()) for n in names]
    assert [n for n in named if n not in NAMES] == []


def test_the_catalogue_holds_at_least_40_scenarios() -> None:
    assert len(NAMES) >= 40
