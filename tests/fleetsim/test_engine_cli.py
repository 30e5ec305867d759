"""``fleetsim integrations|sync|runs`` through click's CliRunner, against the emulators on a
loopback socket, with the store in ``tmp_path`` (``FLEETSIM_DB_URL``). The engine the CLI builds
runs on the stack's frozen clock and a sleeper that only records (never sleeps)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from fleetsim import engine_cli
from fleetsim.cli import main
from helpers import T0, demo_credentials, make_stack_app, served
from sync_engine.engine import Engine
from sync_engine.store import Store

WA_API = "/whiparound/api/public/v4"
REFUSED = "Forbidden (invalid username, password or app token)"


@dataclass
class Cli:
    """The CLI wired to one stack and one store file."""

    base: str
    db_url: str
    user: dict[str, Any]
    master: dict[str, Any]
    wa_key: str
    waits: list[float]
    runner: CliRunner

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, list(args), catch_exceptions=False)

    def store(self) -> Store:
        return Store(self.db_url)

    def add_gps(self, token: str | None = None) -> Result:
        return self(
            "integrations", "add", "gpsinsight", "--username", self.user["username"],
            "--app-token", token or self.user["app_token"], "--base-url", f"{self.base}/gpsinsight",
        )  # fmt: skip

    def add_wa(self, key: str | None = None) -> Result:
        return self(
            "integrations", "add", "whiparound", "--api-key", key or self.wa_key,
            "--base-url", f"{self.base}{WA_API}",
        )  # fmt: skip

    def fault(self, vendor: str, **spec: Any) -> None:
        requests.post(f"{self.base}/{vendor}/_mock/faults", json=spec).raise_for_status()

    def revoke_engine_token(self) -> None:
        login = requests.post(
            f"{self.base}/gpsinsight/v2/userauth/login",
            data={"username": self.master["username"], "app_token": self.master["app_token"]},
        ).json()["data"]["token"]
        body = requests.post(
            f"{self.base}/gpsinsight/v2/apiapp/update",
            data={"session_token": login, "app_token": self.user["app_token"], "active": 0},
        ).json()
        assert body["head"]["status"] == "OK", body

    def secrets(self) -> list[str]:
        return [self.user["app_token"], self.wa_key]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    app = make_stack_app(vehicles=12, wex_vehicles=4)
    with served(app) as base:
        users, keys = demo_credentials(base)
        db_url = f"sqlite:///{tmp_path / 'fleetsim.db'}"
        monkeypatch.setenv("FLEETSIM_DB_URL", db_url)
        clock = app.stack.clock
        waits: list[float] = []
        monkeypatch.setattr(engine_cli, "_now", clock.now)
        monkeypatch.setattr(
            engine_cli,
            "Engine",
            lambda store: Engine(store, clock=clock.now, sleep=waits.append, rng=random.Random(1)),
        )
        yield Cli(
            base=base,
            db_url=db_url,
            user=next(u for u in users if u["username"] == "acme.dispatch"),
            master=next(u for u in users if u["master"]),
            wa_key=next(k["key"] for k in keys if k["type"] == "integration"),
            waits=waits,
            runner=CliRunner(),
        )


# -- integrations add ---------------------------------------------------------------------------


def test_add_gpsinsight_logs_in_then_stores_the_integration(cli: Cli) -> None:
    result = cli.add_gps()
    assert result.exit_code == 0, result.output
    assert result.output == "integration 'gpsinsight' (gpsinsight) added\n"
    logins = requests.get(
        f"{cli.base}/gpsinsight/_mock/journal", params={"path": "/v2/userauth/login"}
    ).json()["entries"]
    assert [(e["status"], e["app_token_id"]) for e in logins] == [(200, cli.user["app_token_id"])]
    row = cli.store().integration("gpsinsight")
    assert row is not None
    assert (row["username"], row["base_url"]) == ("acme.dispatch", f"{cli.base}/gpsinsight")
    assert row["activated_at"] == T0


def test_add_gpsinsight_with_a_wrong_token_fails_clearly_and_stores_nothing(cli: Cli) -> None:
    wrong = "0000000000bad"
    result = cli.add_gps(token=wrong)
    assert result.exit_code == 1
    assert result.output == (
        "Error: credentials refused or vendor unreachable: "
        f"gpsinsight v2/userauth/login: 403 {REFUSED}\n"
    )
    assert wrong not in result.output
    assert cli.store().integrations() == []


def test_add_gpsinsight_without_username_is_a_usage_error(cli: Cli) -> None:
    result = cli("integrations", "add", "gpsinsight", "--app-token", cli.user["app_token"],
                 "--base-url", f"{cli.base}/gpsinsight")  # fmt: skip
    assert result.exit_code == 2
    assert "--username is required for GPS Insight and Wex" in result.output
    assert cli.user["app_token"] not in result.output
    assert cli.store().integrations() == []


def test_add_gpsinsight_without_token_is_a_usage_error(cli: Cli) -> None:
    result = cli("integrations", "add", "gpsinsight", "--username", "acme.dispatch")
    assert result.exit_code == 2
    assert "--app-token is required for gpsinsight and wex" in result.output


def test_readding_an_integration_keeps_its_activation_time(cli: Cli) -> None:
    cli.add_gps()
    requests.post(f"{cli.base}/gpsinsight/_mock/clock", json={"advance": 3600})
    assert cli.add_gps().exit_code == 0
    row = cli.store().integration("gpsinsight")
    assert row is not None and row["activated_at"] == T0


def test_add_whiparound_reads_assets_then_stores_the_integration(cli: Cli) -> None:
    result = cli.add_wa()
    assert result.exit_code == 0, result.output
    assert result.output == "integration 'whiparound' (whiparound) added\n"
    row = cli.store().integration("whiparound")
    assert row is not None and row["base_url"] == f"{cli.base}{WA_API}"


def test_add_whiparound_with_a_wrong_key_fails_clearly_and_stores_nothing(cli: Cli) -> None:
    wrong = "f" * 40
    result = cli.add_wa(key=wrong)
    assert result.exit_code == 1
    assert result.output == (
        "Error: credentials refused or vendor unreachable: "
        "whiparound assets: 401 Unauthenticated.\n"
    )
    assert wrong not in result.output
    assert cli.store().integrations() == []


# -- integrations list ----------------------------------------------------------------------------


def test_integrations_list_without_any_says_how_to_add_one(cli: Cli) -> None:
    result = cli("integrations", "list")
    assert result.exit_code == 0
    assert "no integrations yet: see `fleetsim integrations add --help`" in result.output


def test_r8_integrations_list_shows_no_secret(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    result = cli("integrations", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:2] == ["gpsinsight", "gpsinsight"]
    assert "user acme.dispatch" in lines[0] and "activated 2026-03-10 17:30:00Z" in lines[0]
    assert lines[1].split()[:2] == ["whiparound", "whiparound"]
    assert [s for s in cli.secrets() if s in result.output] == []


# -- sync telematics --------------------------------------------------------------------------


def test_sync_telematics_exits_0_on_success(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    result = cli("sync", "telematics")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("telematics run for gpsinsight: SUCCESS\n")
    assert "read 12" in result.output
    assert cli.waits == []


def test_sync_telematics_exits_1_on_partial(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    cli.fault("gpsinsight", path="/v2/vehicle/dtc", first=1, status=429, retry_after=3600)
    result = cli("sync", "telematics")
    assert result.exit_code == 1
    assert result.output.startswith("telematics run for gpsinsight: PARTIAL\n")
    assert "error in read: gpsinsight v2/vehicle/dtc: 429 too many requests" in result.output
    assert cli.waits == []


def test_sync_telematics_exits_2_on_failed(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    cli.revoke_engine_token()
    result = cli("sync", "telematics")
    assert result.exit_code == 2
    assert result.output.startswith("telematics run for gpsinsight: FAILED\n")
    assert f"error in read: gpsinsight v2/userauth/login: 403 {REFUSED}" in result.output
    assert [s for s in cli.secrets() if s in result.output] == []


def test_sync_telematics_json_prints_the_reports(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    result = cli("sync", "telematics", "--json")
    assert result.exit_code == 0
    (report,) = json.loads(result.output)
    assert (report["integration"], report["outcome"]) == ("gpsinsight", "SUCCESS")
    assert report["counts"]["matched"] == 10
    assert {s["reason"] for s in report["skips"]} >= {"UNMATCHED", "DUPLICATE_TARGET"}


def test_sync_telematics_without_whip_around_says_what_to_add(cli: Cli) -> None:
    cli.add_gps()
    result = cli("sync", "telematics")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no Whip Around integration: add one with `fleetsim integrations add whiparound`\n"
    )


def test_sync_telematics_for_an_unknown_integration_names_it(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    result = cli("sync", "telematics", "--integration", "nope")
    assert result.exit_code == 1
    assert result.output == "Error: no telematics integration named 'nope'\n"


# -- runs -----------------------------------------------------------------------------------------


def test_runs_lists_past_runs_newest_first(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    cli("sync", "telematics")
    cli.fault("gpsinsight", path="/v2/vehicle/dtc", first=1, status=429)
    cli("sync", "telematics")
    result = cli("runs")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:6] == [
        "#2", "2026-03-10", "17:30:00Z", "telematics", "gpsinsight", "PARTIAL",
    ]  # fmt: skip
    assert lines[1].split()[:6] == [
        "#1", "2026-03-10", "17:30:00Z", "telematics", "gpsinsight", "SUCCESS",
    ]  # fmt: skip
    assert "read=12" in lines[1] and "errors=1" in lines[0]


def test_runs_limit_shows_only_the_latest(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    for _ in range(3):
        cli("sync", "telematics")
    result = cli("runs", "--limit", "1")
    assert [line.split()[0] for line in result.output.splitlines()] == ["#3"]


def test_runs_shows_a_killed_run_abandoned_once_a_rerun_took_its_lease_over(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    dead = cli.store().start_leased_run(
        "telematics",
        "gpsinsight",
        "host:9-killed",
        T0 - timedelta(minutes=5),
        timedelta(seconds=30),
    )
    assert cli("runs").output.split()[5] == "RUNNING"
    dead_lease = cli.store().lease("telematics", "gpsinsight")
    assert dead_lease is not None and dead_lease["run_id"] == dead.run_id
    assert cli("sync", "telematics").exit_code == 0
    lines = cli("runs").output.splitlines()
    assert lines[0].split()[:6] == [
        "#2", "2026-03-10", "17:30:00Z", "telematics", "gpsinsight", "SUCCESS",
    ]  # fmt: skip
    assert lines[1].split()[:6] == [
        "#1", "2026-03-10", "17:25:00Z", "telematics", "gpsinsight", "ABANDONED",
    ]  # fmt: skip
    assert lines[1].endswith("abandoned 2026-03-10 17:30:00Z, taken over by run #2")


def test_sync_telematics_is_refused_while_a_live_lease_is_held(cli: Cli) -> None:
    cli.add_gps()
    cli.add_wa()
    cli.store().start_leased_run(
        "telematics", "gpsinsight", "host:9-alive", T0, timedelta(seconds=30)
    )
    result = cli("sync", "telematics")
    assert result.exit_code == 1
    assert "error in lock: a run of telematics:gpsinsight is already in progress" in result.output
    assert [line.split()[5] for line in cli("runs").output.splitlines()] == ["RUNNING"]


def test_sync_telematics_with_a_bad_lease_ttl_says_so(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.add_gps()
    cli.add_wa()
    monkeypatch.setenv("FLEETSIM_LEASE_TTL_S", "soon")
    result = cli("sync", "telematics")
    assert result.exit_code == 1
    assert result.output == (
        "Error: FLEETSIM_LEASE_TTL_S must be seconds between 0 and 86400, not 'soon'\n"
    )
    assert cli("runs").output == ""
