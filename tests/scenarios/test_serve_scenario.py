"""`fleetsim serve --scenario NAME` (`make run SCENARIO=NAME`) loads a scenario's world and
its given changes into the served stack for manual QA."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from fleetsim.cli import main, stack_settings
from fleetsim.scenario_runner import driver_sync_off_again, load, load_given
from fleetsim.scenario_stack import Vendors, build_app, serve_app


def test_load_given_applies_the_scenarios_changes_through_the_vendors_apis() -> None:
    scenario = load("missing-vins")
    app = build_app(scenario["given"])
    with serve_app(app) as base:
        line = load_given(app, base, scenario)
        vendors = Vendors(app, base)
        vins = {v["label"]: v["vin"] for v in vendors.state("gpsinsight")["vehicles"]}
        vendors.close()
    assert line.startswith("missing-vins: seed 1, 6 GPS Insight vehicles")
    assert "3 change(s) applied" in line
    assert (vins["Ford 0001"], vins["Chevrolet 0005"], vins["Ford 0006"]) == (None, "", "N/A")


def test_a_scenario_with_driver_sync_off_turns_the_demos_setting_off_again() -> None:
    scenario = load("driver-sync-off")
    app = build_app(scenario["given"])
    with serve_app(app) as base:
        vendors = Vendors(app, base)
        vendors.gps("driverisync/update", enabled=1)  # as make run's demo does
        assert driver_sync_off_again(app, base, scenario) is True
        setting = vendors.gps("driverisync/read")
        vendors.close()
    assert setting["enabled"] is False


def test_serve_with_an_unknown_scenario_is_a_usage_error_naming_it() -> None:
    result = CliRunner().invoke(main, ["serve", "--scenario", "no-such-case"])
    assert result.exit_code == 2
    assert "no scenario named 'no-such-case'" in result.output


def test_serve_with_a_scenario_takes_its_world_and_records_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEETSIM_SEED", raising=False)
    monkeypatch.delenv("FLEETSIM_VEHICLES", raising=False)
    loaded, settings = stack_settings(None, None, "missing-vins")
    assert loaded is not None and loaded["name"] == "missing-vins"
    assert (settings.seed, settings.vehicles, settings.scenario) == (1, 6, "missing-vins")
    _, chosen = stack_settings(None, 9, "missing-vins")  # --vehicles still wins
    assert (chosen.vehicles, chosen.scenario) == (9, "missing-vins")


def test_serve_without_a_scenario_names_none_and_an_unknown_one_is_a_usage_error() -> None:
    assert stack_settings(None, None, None)[1].scenario is None
    with pytest.raises(click.UsageError):
        stack_settings(None, None, "no-such-scenario")
