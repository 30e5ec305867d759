"""``fleetsim integrations add driveri``: pairing a Driveri tenant with a GPS Insight / Wex
integration and subscribing the engine's webhook receiver, through click's CliRunner against
the emulators on a loopback socket, the store in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from fleetsim import engine_cli
from fleetsim.cli import main
from fleetsim.demo import activate_demo, activate_driver_sync
from fleetsim.engine_api import create_api
from fleetsim.engine_service import Scheduler
from helpers import T0, demo_credentials, make_stack_app, served, wait_until
from mock_vendors.wsgi import StackApp
from sync_engine.clients.base import VendorError
from sync_engine.clients.gpsinsight import GpsInsightClient
from sync_engine.clock import ENV_VAR, record_clock, stack_spec
from sync_engine.store import Store

ENGINE = "http://127.0.0.1:8299"


@dataclass
class Cli:
    base: str
    db_url: str
    master: dict[str, Any]
    restricted: dict[str, Any]  # a user of one vehicle group: may not change drivers
    client: dict[str, Any]  # Driveri's demo API client: client_id, client_secret, tenant
    wa_key: str
    runner: CliRunner

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, list(args), catch_exceptions=False)

    def store(self) -> Store:
        return Store(self.db_url)

    def add_portal(self, user: dict[str, Any] | None = None) -> None:
        user = user or self.master
        result = self("integrations", "add", "gpsinsight", "--username", user["username"],
                      "--app-token", user["app_token"],
                      "--base-url", f"{self.base}/gpsinsight")  # fmt: skip
        assert result.exit_code == 0, result.output

    def add_driveri(self, *extra: str, secret: str | None = None, portal: str = "gpsinsight",
                    engine: str = ENGINE) -> Result:  # fmt: skip
        return self(
            "integrations", "add", "driveri", "--client-id", self.client["client_id"],
            "--client-secret", secret or self.client["client_secret"],
            "--tenant", self.client["tenant"], "--portal", portal,
            "--url", f"{self.base}/driveri", "--engine-url", engine, *extra,
        )  # fmt: skip

    def portal(self) -> GpsInsightClient:
        return GpsInsightClient(f"{self.base}/gpsinsight", self.master["username"],
                                self.master["app_token"])  # fmt: skip

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self.portal().call("webhook/list") or [])


@contextmanager
def stack_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> Iterator[tuple[StackApp, str, str]]:
    """A served stack and a store file (FLEETSIM_DB_URL) on its clock: (app, base, db url)."""
    app = make_stack_app(**settings)
    with served(app) as base:
        db_url = f"sqlite:///{tmp_path / 'fleetsim.db'}"
        monkeypatch.setenv("FLEETSIM_DB_URL", db_url)
        monkeypatch.delenv(ENV_VAR, raising=False)
        record_clock(Store(db_url), stack_spec(base))
        yield app, base, db_url


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    with stack_and_store(tmp_path, monkeypatch, vehicles=4, wex_vehicles=0) as (_, base, db_url):
        users, keys = demo_credentials(base)
        clients = requests.get(f"{base}/driveri/_mock/credentials", timeout=5).json()["clients"]
        yield Cli(
            base=base,
            db_url=db_url,
            master=next(u for u in users if u["master"]),
            restricted=next(u for u in users if "ALL VEHICLES" not in u["vehicle_groups"]),
            client=clients[0],
            wa_key=next(k["key"] for k in keys if k["type"] == "integration"),
            runner=CliRunner(),
        )


def test_add_driveri_checks_stores_pairs_and_subscribes_the_receiver(cli: Cli) -> None:
    cli.add_portal()
    result = cli.add_driveri()
    assert result.exit_code == 0, result.output
    (hook,) = cli.webhooks()
    url = f"{ENGINE}/webhooks/gpsinsight/gpsinsight"
    assert (hook["url"], hook["type"], hook["content_type"]) == (url, "driver", "json")
    tenant = cli.client["tenant"]
    assert result.output == (
        f"integration 'driveri' (driveri) added, tenant {tenant!r} paired with 'gpsinsight'\n"
        f"webhook #{hook['id']} subscribed: driver events to {url}\n"
        "Driver Sync is off in the portal: nothing reaches Driveri until the account's Master "
        "User turns it on (driverisync/update enabled=1)\n"
    )
    row = cli.store().integration("driveri")
    assert row is not None
    assert (row["kind"], row["username"], row["base_url"]) == (
        "driveri", cli.client["client_id"], f"{cli.base}/driveri",
    )  # fmt: skip
    pairing = cli.store().pairing("driveri")
    assert pairing is not None
    assert (pairing["portal"], pairing["tenant"], pairing["webhook_id"]) == (
        "gpsinsight", tenant, hook["id"],
    )  # fmt: skip
    assert len(pairing["webhook_secret"]) >= 32
    assert pairing["webhook_secret"] not in result.output
    assert cli.client["client_secret"] not in result.output


def test_re_running_add_driveri_replaces_the_subscription_never_adds_a_second(cli: Cli) -> None:
    cli.add_portal()
    assert cli.add_driveri().exit_code == 0
    first = cli.store().pairing("driveri")
    assert first is not None
    again = cli.add_driveri()
    assert again.exit_code == 0, again.output
    (hook,) = cli.webhooks()
    second = cli.store().pairing("driveri")
    assert second is not None and second["webhook_id"] == hook["id"] != first["webhook_id"]
    assert second["webhook_secret"] != first["webhook_secret"]
    assert f"replacing #{first['webhook_id']}" in again.output


def test_add_driveri_for_a_missing_portal_is_refused_and_stores_nothing(cli: Cli) -> None:
    result = cli.add_driveri(portal="nowhere")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no portal integration named 'nowhere': add it first with "
        "`fleetsim integrations add gpsinsight` (or wex)\n"
    )
    assert cli.store().integrations() == [] and cli.store().pairings() == []


def test_add_driveri_paired_with_a_whip_around_integration_is_refused(cli: Cli) -> None:
    assert cli("integrations", "add", "whiparound", "--api-key", cli.wa_key, "--base-url",
               f"{cli.base}/whiparound/api/public/v4").exit_code == 0  # fmt: skip
    result = cli.add_driveri(portal="whiparound")
    assert result.exit_code == 1
    assert "integration 'whiparound' is whiparound, not GPS Insight or Wex" in result.output
    assert cli.store().pairings() == []


def test_add_driveri_with_a_wrong_secret_names_the_url_never_the_secret(cli: Cli) -> None:
    cli.add_portal()
    wrong = "wrong-client-secret-123"
    result = cli.add_driveri(secret=wrong)
    assert result.exit_code == 1
    assert result.output == (
        "Error: Driveri refused the client id or client secret "
        f"(401 from {cli.base}/driveri/v1/auth/tokens)\n"
    )
    assert wrong not in result.output
    assert cli.store().integration("driveri") is None and cli.webhooks() == []


def test_add_driveri_without_its_options_is_a_usage_error(cli: Cli) -> None:
    result = cli("integrations", "add", "driveri", "--client-id", "x")
    assert result.exit_code == 2
    assert "--client-secret, --tenant, --portal required for driveri" in result.output


def test_a_portal_user_who_may_not_subscribe_gets_a_clear_refusal_and_a_saved_pairing(
    cli: Cli,
) -> None:
    cli.add_portal(cli.restricted)
    result = cli.add_driveri()
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: the portal refused the webhook subscription: gpsinsight v2/webhook/create: 403 "
    )
    assert "(the pairing is saved: re-run with a portal user who may change drivers, or pass " in (
        result.output
    )
    assert cli.restricted["app_token"] not in result.output
    pairing = cli.store().pairing("driveri")
    assert pairing is not None and pairing["webhook_id"] is None and cli.webhooks() == []


def test_add_driveri_no_subscribe_pairs_without_a_webhook(cli: Cli) -> None:
    cli.add_portal()
    result = cli.add_driveri("--no-subscribe")
    assert result.exit_code == 0, result.output
    assert "webhook" not in result.output and cli.webhooks() == []
    pairing = cli.store().pairing("driveri")
    assert pairing is not None and pairing["webhook_id"] is None


def test_a_portal_paired_with_one_tenant_is_not_paired_with_another(cli: Cli) -> None:
    cli.add_portal()
    assert cli.add_driveri("--no-subscribe").exit_code == 0
    result = cli.add_driveri("--no-subscribe", "--name", "driveri-2")
    assert result.exit_code == 1
    assert "portal 'gpsinsight' is already paired with Driveri integration 'driveri'" in (
        result.output
    )
    assert cli.store().integration("driveri-2") is None


def test_the_subscribed_receiver_gets_the_portals_signed_driver_events(cli: Cli) -> None:
    # The engine's API served for real: the portal's delivery worker posts to it, signed with
    # the secret `add driveri` generated; the receiver verifies and stores the event.
    store = cli.store()
    api = create_api(store, Scheduler(clock=lambda: T0))
    with served(api) as engine:  # type: ignore[arg-type]  (any WSGI app serves)
        cli.add_portal()
        assert cli.add_driveri(engine=engine).exit_code == 0
        portal = cli.portal()
        portal.set_driver_sync(True)  # as the Master User
        created = portal.call("driver/create", firstname="Ann", lastname="Lee",
                              driveri_driver_id="D-100")  # fmt: skip
        (event,) = wait_until(store.inbox_events, "the delivered event in the inbox")
        assert (event["type"], event["portal_id"], event["version"], event["status"]) == (
            "driver.created", created["id"], 1, "PENDING",
        )  # fmt: skip
        assert event["payload"]["driver"]["driveri_driver_id"] == "D-100"


def test_make_runs_demo_pairs_driveri_subscribes_the_engine_and_turns_driver_sync_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stack_and_store(tmp_path, monkeypatch, vehicles=4, wex_vehicles=2) as (app, base, db_url):
        activate_demo(app, base)
        line = activate_driver_sync(app, base, ENGINE)
        store = Store(db_url)
        pairing = store.pairing("driveri")
        assert pairing is not None and pairing["portal"] == "gpsinsight"
        client = requests.get(f"{base}/driveri/_mock/credentials", timeout=5).json()["clients"][0]
        assert pairing["tenant"] == client["tenant"]
        users, _keys = demo_credentials(base)
        master = next(u for u in users if u["master"])
        portal = GpsInsightClient(f"{base}/gpsinsight", master["username"], master["app_token"])
        assert portal.driver_sync_enabled() is True
        (hook,) = portal.webhooks()
        url = f"{ENGINE}/webhooks/gpsinsight/gpsinsight"
        assert hook["url"] == url and hook["id"] == pairing["webhook_id"]
        assert line == (
            f"Driveri tenant {client['tenant']!r} <- gpsinsight, Driver Sync on, "
            f"webhook #{hook['id']} -> {url}"
        )
        assert pairing["webhook_secret"] not in line


def test_make_run_without_the_engine_pairs_driveri_without_a_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stack_and_store(tmp_path, monkeypatch, vehicles=2, wex_vehicles=0) as (app, base, _):
        activate_demo(app, base)
        line = activate_driver_sync(app, base, None)
        assert line.endswith("Driver Sync on, no webhook")
        pairing = Store().pairing("driveri")
        assert pairing is not None and pairing["webhook_id"] is None


def test_an_old_subscription_the_portal_will_not_delete_is_reported_not_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Refusing:
        def webhook_delete(self, webhook_id: int) -> None:
            raise VendorError("gpsinsight", "webhook/delete", 404, "Webhook not found")

    monkeypatch.setattr(engine_cli, "portal_client", lambda portal: Refusing())
    engine_cli.unsubscribe({"name": "old-portal"}, 7)
    err = capsys.readouterr().err
    assert "webhook #7 on portal 'old-portal' was not deleted" in err
    assert "Webhook not found" in err
