"""``fleetsim verify`` through click's CliRunner, against the stack on a loopback socket and
a store file in ``tmp_path`` (``FLEETSIM_DB_URL``) that records the stack's clock as the
engine's, as ``make run`` does. Exit codes: 0 no drift, 3 drift, 4 could not verify."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from engine_rig import ENGINE_USER, DriverRig, Rig, pair_driveri

from fleetsim import verify_cli
from fleetsim.cli import main
from helpers import T0, Sleeper, activate_integrations, demo_credentials, make_stack_app, served
from sync_engine.clock import ENV_VAR, record_clock, stack_spec
from sync_engine.engine import Engine
from sync_engine.store import Store


@pytest.fixture(name="drivers")
def cli_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DriverRig]:
    """Both pipelines synced once into a store file the CLI opens; the CLI's engine gets a
    sleeper that only records."""
    db_url = f"sqlite:///{tmp_path / 'verify.db'}"
    monkeypatch.setenv("FLEETSIM_DB_URL", db_url)
    monkeypatch.delenv(ENV_VAR, raising=False)
    store = Store(db_url)
    app = make_stack_app(vehicles=12, wex_vehicles=4)
    with served(app) as base:
        record_clock(store, stack_spec(base))
        users, keys = demo_credentials(base)
        user = next(u for u in users if u["username"] == ENGINE_USER)
        wa_key = next(k["key"] for k in keys if k["type"] == "integration")
        activate_integrations(store, base, user, wa_key, T0)
        sleeper = Sleeper()
        engine = Engine(store, clock=app.stack.clock.now, sleep=sleeper, rng=random.Random(1))
        master = next(u for u in users if u["master"])
        rig = Rig(app, base, store, sleeper, engine, user, master, wa_key)
        drivers = pair_driveri(rig)
        drivers.toggle(True)
        assert [r.outcome for r in engine.sync_telematics()] == ["SUCCESS"]
        assert drivers.sync().outcome == "SUCCESS"

        def make_engine(store: Store, clock: Callable[[], datetime]) -> Engine:
            return Engine(store, clock=clock, sleep=sleeper, rng=random.Random(1))

        monkeypatch.setattr(verify_cli, "make_engine", make_engine)
        yield drivers
        rig.http.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["verify", *args], catch_exceptions=False)


def test_verify_exits_0_and_says_in_sync_right_after_both_pipelines_ran(
    drivers: DriverRig,
) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    heads = [line for line in result.output.splitlines() if not line.startswith(" ")]
    assert heads == ["telematics gpsinsight: IN SYNC", "drivers driveri: IN SYNC"]
    assert "listed, not counted" in result.output  # the world's duplicate VINs, say


def test_verify_exits_3_and_names_the_driver_edited_on_the_driveri_side(
    drivers: DriverRig,
) -> None:
    portal = drivers.portal()
    first = sorted(portal)[0]
    driver_id = portal[first]["driveri_driver_id"]
    drivers.edit_in_driveri(driver_id, lastName="Edited")
    result = run("--integration", "driveri", "--json")
    assert result.exit_code == 3, result.output
    (verdict,) = json.loads(result.output)
    assert (verdict["pipeline"], verdict["verified"], verdict["counts"]) == (
        "drivers", True, {"missing": 0, "stale": 1, "duplicate": 0, "orphan": 0},
    )  # fmt: skip
    assert verdict["drift"] == [
        {"kind": "stale", "entity": f"driver {first}", "portal_id": first,
         "driver_id": driver_id, "fields": {"lastName": portal[first]["lastname"]}},
    ]  # fmt: skip


def test_verify_exits_4_when_a_vendor_refuses_the_credentials_and_shows_no_secret(
    drivers: DriverRig,
) -> None:
    row = drivers.store.integration("whiparound")
    assert row is not None
    drivers.store.save_integration("whiparound", "whiparound", row["base_url"], "wrong-key", T0)
    result = run("--integration", "gpsinsight")
    assert result.exit_code == 4, result.output
    assert result.output.startswith("telematics gpsinsight: COULD NOT VERIFY (read failed: ")
    assert "wrong-key" not in result.output and drivers.rig.wa_key not in result.output


def test_verify_exits_4_for_an_integration_it_does_not_know(drivers: DriverRig) -> None:
    result = run("--integration", "nope")
    assert result.exit_code == 4
    assert result.output == "could not verify: no Driveri integration named 'nope'\n"
