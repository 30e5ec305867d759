"""``fleetsim integrations|sync|runs`` through click's CliRunner, against the emulators on a
loopback socket, with the store in ``tmp_path`` (``FLEETSIM_DB_URL``). The store is set up as
``make run`` sets it up, with the stack's clock recorded as the engine's: the CLI reads the
stack's (frozen) clock over HTTP. The engine it builds gets a sleeper that only records."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from fleetsim import engine_cli
from fleetsim.cli import main
from fleetsim.demo import activate_demo
from helpers import T0, demo_credentials, make_stack_app, served
from sync_engine.clock import (
    ENV_VAR,
    SETTING,
    StackClock,
    engine_clock,
    record_clock,
    stack_spec,
)
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
        monkeypatch.delenv(ENV_VAR, raising=False)
        record_clock(Store(db_url), stack_spec(base))
        waits: list[float] = []

        def engine(store: Store, clock: Any) -> Engine:
            assert isinstance(clock, StackClock)  # the CLI's own clock, not the test's
            return Engine(store, clock=clock, sleep=waits.append, rng=random.Random(1))

        monkeypatch.setattr(engine_cli, "Engine", engine)
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


# -- the engine's clock -----------------------------------------------------------------------


def dtc_defects(cli: Cli) -> list[dict[str, Any]]:
    response = requests.get(
        f"{cli.base}{WA_API}/defects", params={"limit": 1000}, headers={"x-api-key": cli.wa_key}
    )
    response.raise_for_status()
    return [d for d in response.json()["data"] if d.get("dtc_code")]


def test_r17_a_dtc_active_on_three_virtual_days_is_reposted_once_a_day_on_the_stack_clock(
    cli: Cli,
) -> None:
    cli.add_gps()
    cli.add_wa()
    for day in range(3):
        if day:
            advanced = requests.post(f"{cli.base}/gpsinsight/_mock/clock", json={"advance": 86400})
            assert advanced.json()["now"] == (T0 + timedelta(days=day)).isoformat()
        result = cli("sync", "telematics", "--json")
        assert result.exit_code == 0, result.output
        (report,) = json.loads(result.output)
        assert report["outcome"] == "SUCCESS"
    assert cli("sync", "telematics").exit_code == 0  # again the same virtual day: no re-post
    defects = dtc_defects(cli)
    assert defects
    per_code: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for defect in defects:
        per_code.setdefault((defect["asset_id"], defect["dtc_code"]), []).append(defect)
    assert [k for k, v in per_code.items() if len(v) != 1] == []  # one defect per asset+code
    assert {(d["status"], d["repeated_times"]) for d in defects} == {("New", 3)}
    days = [line.split()[1] for line in cli("runs").output.splitlines()]
    assert days == ["2026-03-12", "2026-03-12", "2026-03-11", "2026-03-10"]


def test_integrations_add_activates_on_the_stack_clock_as_it_moves(cli: Cli) -> None:
    requests.post(f"{cli.base}/gpsinsight/_mock/clock", json={"advance": 3 * 86400})
    assert cli.add_gps().exit_code == 0
    row = cli.store().integration("gpsinsight")
    assert row is not None and row["activated_at"] == T0 + timedelta(days=3)


def test_engine_clock_variable_overrides_the_recorded_stack_clock(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "real")
    before = datetime.now(UTC)
    assert cli.add_gps().exit_code == 0
    row = cli.store().integration("gpsinsight")
    assert row is not None and before <= row["activated_at"] <= datetime.now(UTC)


def test_a_bad_engine_clock_variable_is_refused_before_anything_is_done(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.add_gps()
    cli.add_wa()
    monkeypatch.setenv(ENV_VAR, "stack:nowhere")
    message = (
        f"Error: {ENV_VAR} must be 'real', 'stack:<base url>' or an http(s) base URL, "
        "not 'stack:nowhere'\n"
    )
    calls = len(requests.get(f"{cli.base}/whiparound/_mock/journal").json()["entries"])
    for args in (("sync", "telematics"), ("integrations", "add", "whiparound", "--api-key", "k")):
        result = cli(*args)
        assert (result.exit_code, result.output) == (1, message)
    assert cli("runs").output == ""
    assert len(requests.get(f"{cli.base}/whiparound/_mock/journal").json()["entries"]) == calls


def test_demo_activation_records_the_stack_clock_with_the_integrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("FLEETSIM_DB_URL", db_url)
    monkeypatch.delenv(ENV_VAR, raising=False)
    app = make_stack_app(vehicles=4, wex_vehicles=2)
    with served(app) as base:
        app.stack.clock.change(seconds=7200)
        assert activate_demo(app, base) == ["gpsinsight", "wex", "whiparound"]
        store = Store(db_url)
        assert store.setting(SETTING) == f"stack:{base}"
        assert {r["name"]: r["activated_at"] for r in store.integrations()} == {
            name: T0 + timedelta(hours=2) for name in ("gpsinsight", "wex", "whiparound")
        }
        app.stack.clock.change(seconds=86400)
        assert engine_clock(store, env={})() == T0 + timedelta(days=1, hours=2)
