"""The scenario file format: every catalogue file is valid, and a mistake is refused with a
message naming file:line:column and what is wrong."""

from __future__ import annotations

import re

import pytest

from fixtures.scenario_schema import ScenarioError, load_text, seconds, step_action
from fleetsim.scenario_runner import catalogue, load

GOOD = """\
name: tiny
description: A tiny scenario.
given:
  vehicles: 2
when:
  - gps.set_odometer: {vehicle: 1, miles: 100}
  - sync: telematics
    expect:
      outcome: SUCCESS
"""


def refused(text: str, stem: str | None = "tiny") -> str:
    with pytest.raises(ScenarioError) as caught:
        load_text(text, "tiny.yaml", stem)
    return str(caught.value)


def test_every_catalogue_file_is_valid_and_named_as_its_file() -> None:
    for name in catalogue():
        assert load(name)["name"] == name


def test_a_valid_file_loads_as_plain_data_with_shorthands_expanded() -> None:
    data = load_text(GOOD, "tiny.yaml", "tiny")
    assert data["given"] == {"vehicles": 2}
    assert step_action(data["when"][1]) == ("sync", {"pipeline": "telematics"})


def test_an_unknown_top_level_key_is_refused_naming_its_line() -> None:
    message = refused(GOOD + "expected:\n  runs: {}\n")
    assert message.startswith("tiny.yaml:10:1: scenario: unknown key 'expected'")


def test_an_unknown_step_is_refused_naming_its_line_and_the_known_steps() -> None:
    message = refused(GOOD.replace("gps.set_odometer", "gps.set_odo"))
    assert message.startswith(
        "tiny.yaml:6:5: unknown step 'gps.set_odo' (known: gps.vehicle_update"
    )


def test_a_wrong_argument_type_is_refused_naming_the_argument() -> None:
    message = refused(GOOD.replace("miles: 100", "miles: lots"))
    assert message == "tiny.yaml:6:43: when.gps.set_odometer.miles must be a number"


def test_an_unknown_argument_is_refused() -> None:
    message = refused(GOOD.replace("miles: 100", "kilometres: 100"))
    assert re.match(r"tiny\.yaml:6:\d+: when\.gps\.set_odometer: unknown key 'kilometres'", message)


def test_a_missing_required_argument_is_refused() -> None:
    message = refused(GOOD.replace("vehicle: 1, ", ""))
    assert message.startswith("tiny.yaml:6:23: when.gps.set_odometer: 'vehicle' is required")


def test_an_expect_on_a_vendor_change_is_refused() -> None:
    text = GOOD.replace("miles: 100}", "miles: 100}\n    expect: {outcome: SUCCESS}")
    assert refused(text).startswith("tiny.yaml:7:5: when.gps.set_odometer: only engine steps")


def test_an_unknown_run_count_is_refused() -> None:
    text = GOOD.replace("outcome: SUCCESS", "counts: {matchd: 2}")
    assert refused(text).startswith("tiny.yaml:9:16: when.sync.expect.counts: unknown count")


def test_a_bad_outcome_is_refused() -> None:
    text = GOOD.replace("outcome: SUCCESS", "outcome: OK")
    assert refused(text) == (
        "tiny.yaml:9:16: when.sync.expect.outcome must be one of SUCCESS, PARTIAL, FAILED"
    )


def test_a_key_given_twice_is_refused() -> None:
    assert refused(GOOD.replace("  vehicles: 2\n", "  vehicles: 2\n  vehicles: 3\n")) == (
        "tiny.yaml:5:3: given: 'vehicles' given twice"
    )


def test_a_world_size_out_of_range_is_refused() -> None:
    assert refused(GOOD.replace("vehicles: 2", "vehicles: 500")) == (
        "tiny.yaml:4:13: given.vehicles must be between 0 and 50"
    )


def test_a_name_other_than_the_files_is_refused() -> None:
    assert refused(GOOD, stem="other") == (
        "tiny.yaml:1:7: name 'tiny' must be the file's name ('other')"
    )


def test_a_scenario_without_an_engine_step_is_refused() -> None:
    text = GOOD.split("  - sync")[0]
    assert refused(text).startswith("tiny.yaml:6:3: when: at least one engine step")


def test_an_engine_step_among_the_given_changes_is_refused() -> None:
    text = GOOD.replace("  vehicles: 2\n", "  changes:\n    - sync: telematics\n")
    assert refused(text) == "tiny.yaml:5:7: 'sync' is not a vendor change: put it under 'when'"


def test_invalid_yaml_is_refused_naming_where_it_broke() -> None:
    assert refused(GOOD.replace("{vehicle: 1, miles: 100}", "{vehicle: 1")).startswith(
        "tiny.yaml:7:9: not valid YAML: expected ',' or '}'"
    )


def test_a_bad_final_expectation_key_is_refused() -> None:
    message = refused(GOOD + "expect:\n  assets:\n    one: {odometer: source}\n")
    assert message == "tiny.yaml:12:5: expect.assets: keys are vehicle numbers (1, 2, ...)"


def test_durations_take_seconds_minutes_hours_and_days() -> None:
    assert [seconds(v) for v in ("90s", "30m", "25h", "2d", 15, "1.5h")] == [
        90,
        1800,
        90000,
        172800,
        15,
        5400,
    ]
