"""``fleetsim bundle save|load`` through click's CliRunner: a stack and a store the engine ran
both pipelines on, saved, loaded into a fresh stack and store, and saved again."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from fleetsim.bundle import BundleError, ControlPlane, capture
from fleetsim.cli import main
from helpers import T0, Sleeper, activate_integrations, demo_credentials, make_stack_app, served
from mock_vendors.wsgi import StackApp
from sync_engine.engine import Engine
from sync_engine.store import Store

WEBHOOK_SECRET = "whsec-" + "7" * 26


@dataclass
class Side:
    """One stack served on loopback and its engine store (a SQLite file)."""

    app: StackApp
    base: str
    store_url: str

    def get(self, vendor: str, path: str) -> Any:
        return requests.get(f"{self.base}/{vendor}/_mock/{path}", timeout=10).json()

    def issued_secrets(self) -> list[str]:
        """Every secret the stack's /_mock/credentials lists."""
        found = []
        for vendor in ("gpsinsight", "wex", "driveri", "whiparound"):
            found += [v for k, v in _leaves(self.get(vendor, "credentials")) if k in SECRET_KEYS]
        return found


SECRET_KEYS = {"password", "app_token", "client_secret", "basic_token", "key"}


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, key)
    else:
        yield key, value


def bundle(*args: str) -> Result:
    return CliRunner().invoke(main, ["bundle", *args], catch_exceptions=False)


def gps_master(side: Side, method: str, **params: Any) -> Any:
    users = side.get("gpsinsight", "credentials")["accounts"][0]["users"]
    master = next(u for u in users if u["master"])
    login = requests.post(
        f"{side.base}/gpsinsight/v2/userauth/login",
        data={"username": master["username"], "app_token": master["app_token"]},
        timeout=10,
    ).json()["data"]["token"]
    answer = requests.post(
        f"{side.base}/gpsinsight/v2/{method}", data={"session_token": login, **params}, timeout=10
    ).json()
    assert answer["head"]["status"] == "OK", answer
    return answer["data"]


def run_both_pipelines(side: Side) -> None:
    """Integrations activated, a webhook subscribed, both pipelines run, faults counted."""
    store = Store(side.store_url)
    users, keys = demo_credentials(side.base)
    user = next(u for u in users if u["username"] == "acme.dispatch")
    wa_key = next(k["key"] for k in keys if k["type"] == "integration")
    activate_integrations(store, side.base, user, wa_key, T0)
    client = side.get("driveri", "credentials")["clients"][0]
    store.save_integration(
        "driveri", "driveri", f"{side.base}/driveri", client["client_secret"], T0,
        username=client["client_id"],
    )  # fmt: skip
    store.save_pairing("driveri", "gpsinsight", client["tenant"], T0)
    gps_master(side, "driverisync/update", enabled=1)
    hook = gps_master(
        side, "webhook/create", url="http://127.0.0.1:9/hooks", type="driver", secret=WEBHOOK_SECRET
    )
    store.save_webhook("driveri", int(hook["id"]), WEBHOOK_SECRET, T0)
    engine = Engine(
        store, clock=lambda: side.app.stack.clock.now(), sleep=Sleeper(), rng=random.Random(1)
    )
    assert [r.outcome for r in engine.sync_telematics()] == ["SUCCESS"]
    assert [r.outcome for r in engine.sync_drivers()] == ["SUCCESS"]
    plane = f"{side.base}/whiparound/_mock/faults"
    spec = {"path": "/api/public/v4/*", "status": 503, "skip": 1, "first": 1, "probability": 0.5}
    assert requests.post(plane, json={**spec, "seed": 5}, timeout=10).status_code == 201
    for _ in range(3):
        requests.get(f"{side.base}/whiparound/api/public/v4/assets", timeout=10)
    mutate = {"path": "/v1/tenants/*/drivers", "mutate": {"insert": 2}}
    assert requests.post(f"{side.base}/driveri/_mock/faults", json=mutate, timeout=10).ok


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side, Path]]:
    """(the saved side after both pipelines ran, a fresh side, the folder of the files)."""
    folder = tmp_path_factory.mktemp("bundle")
    with ExitStack() as stack:
        made = []
        for name, sizes in (("a", {"vehicles": 12, "wex_vehicles": 4}), ("b", {})):
            app = make_stack_app(**sizes)
            base = stack.enter_context(served(app))
            made.append(Side(app, base, f"sqlite:///{folder / name}.db"))
        run_both_pipelines(made[0])
        yield made[0], made[1], folder


@dataclass
class Saved:
    """A's bundle, B's bundle saved right after A's was loaded into it, and what B's control
    plane and store showed right after the load (later tests may run the engine on B)."""

    first: bytes
    second: bytes
    loaded: dict[str, Any]
    pairing: dict[str, Any]


@pytest.fixture(scope="module")
def saved(sides: tuple[Side, Side, Path]) -> Saved:
    a, b, folder = sides
    first, second = folder / "a.json", folder / "b.json"
    assert bundle("save", str(first), "--url", a.base, "--store", a.store_url).exit_code == 0
    loaded = bundle("load", str(first), "--url", b.base, "--store", b.store_url)
    assert loaded.exit_code == 0, loaded.output
    assert bundle("save", str(second), "--url", b.base, "--store", b.store_url).exit_code == 0
    shown = {
        f"{vendor}/{path}": b.get(vendor, path)
        for vendor in ("whiparound", "driveri", "gpsinsight")
        for path in ("faults", "journal", "state", "clock")
    }
    pairing = Store(b.store_url).pairing("driveri")
    assert pairing is not None
    return Saved(first.read_bytes(), second.read_bytes(), shown, pairing)


def test_saving_after_loading_gives_the_same_bytes(saved: Saved) -> None:
    assert len(saved.first) > 10_000
    assert saved.first == saved.second


def test_a_bundle_has_every_part_under_a_schema_version(saved: Saved) -> None:
    document = json.loads(saved.first)
    assert document["schema_version"] == 1
    assert document["stack"] == {
        "seed": 1, "vehicles": 12, "wex_vehicles": 4, "dtcs_per_vehicle": None, "scenario": None
    }  # fmt: skip
    assert document["clock"] == {"now": T0.isoformat()}
    assert set(document["vendors"]) == {"gpsinsight", "wex", "driveri", "whiparound"}
    assert document["vendors"]["whiparound"]["journal"]
    tables = document["store"]["tables"]
    assert tables["runs"] and tables["asset_marks"] and tables["driver_links"]
    assert tables["integrations"][0]["base_url"].startswith("{stack}/")


def test_a_bundle_holds_no_secret_the_stack_or_the_store_had(
    sides: tuple[Side, Side, Path], saved: Saved
) -> None:
    a, b, _ = sides
    text = saved.first.decode()
    issued = [*a.issued_secrets(), *b.issued_secrets(), WEBHOOK_SECRET]
    assert len(issued) > 20
    assert [s for s in issued if s in text] == []
    stored = json.loads(text)["store"]["tables"]
    assert {r["secret"] for r in stored["integrations"]} <= {
        f"<scrubbed:{label}>" for label in json.loads(text)["scrubbed"]
    }
    assert stored["driver_pairings"][0]["webhook_secret"].startswith("<scrubbed:gpsinsight/")


def test_a_loaded_stack_has_the_saved_faults_counters_journal_and_clock(
    sides: tuple[Side, Side, Path], saved: Saved
) -> None:
    a, _, _ = sides
    for vendor in ("whiparound", "driveri"):
        assert saved.loaded[f"{vendor}/faults"] == a.get(vendor, "faults")
        assert saved.loaded[f"{vendor}/journal"] == a.get(vendor, "journal")
    assert saved.loaded["whiparound/faults"]["faults"][0]["seen"] == 3
    assert saved.loaded["driveri/clock"] == {"now": T0.isoformat(), "frozen": True}


def test_a_scrubbed_webhook_secret_comes_back_the_same_in_the_portal_and_the_store(
    saved: Saved,
) -> None:
    subscription = saved.loaded["gpsinsight/state"]["state"]["webhooks"]["subscriptions"][0]
    assert subscription["secret"] == saved.pairing["webhook_secret"] != WEBHOOK_SECRET


def test_a_loaded_store_runs_against_the_loading_stack_without_reactivation(
    sides: tuple[Side, Side, Path], saved: Saved
) -> None:
    _, b, _ = sides
    store = Store(b.store_url)
    assert {i["base_url"].split("/")[2] for i in store.integrations()} == {b.base.split("/")[2]}
    requests.delete(f"{b.base}/whiparound/_mock/faults", timeout=10)
    engine = Engine(store, clock=lambda: b.app.stack.clock.now(), sleep=Sleeper())
    assert [r.outcome for r in engine.sync_telematics()] == ["SUCCESS"]


def test_a_secret_in_a_place_no_rule_knows_is_refused_not_written() -> None:
    app = make_stack_app(vehicles=2, wex_vehicles=0)
    with served(app) as base:
        plane = ControlPlane(base)
        client = plane.call("GET", "driveri", "credentials")["clients"][0]
        dump = plane.call("GET", "gpsinsight", "state")
        dump["state"]["account"]["name"] = client["basic_token"]
        plane.call("POST", "gpsinsight", "state", dump)
        with pytest.raises(BundleError) as raised:
            capture(plane, Store("sqlite://"))
    assert str(raised.value) == "refusing to write the bundle: 1 secret(s) left in it"
    assert base64.b64decode(client["basic_token"]).decode() not in str(raised.value)


def test_loading_a_file_that_is_not_a_bundle_says_so(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "something else"}')
    result = bundle("load", str(path), "--url", "http://127.0.0.1:9", "--store", "sqlite://")
    assert result.exit_code == 1
    assert "not a fleetsim-bundle of schema version 1" in result.output


def test_loading_a_bundle_with_a_part_missing_names_the_part(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "fleetsim-bundle", "schema_version": 1, "stack": {}}')
    result = bundle("load", str(path), "--url", "http://127.0.0.1:9", "--store", "sqlite://")
    assert result.exit_code == 1
    assert f"{path} is not a whole bundle: KeyError 'clock'" in result.output


def test_saving_without_a_stack_names_the_url_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    result = bundle("save", str(path), "--url", "http://127.0.0.1:9", "--store", "sqlite://")
    assert result.exit_code == 1
    assert "no stack at http://127.0.0.1:9" in result.output
    assert not path.exists()


def test_the_admin_key_is_sent_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_stack_app(vehicles=2, wex_vehicles=0, admin_key="adm-" + "k" * 20)
    path = tmp_path / "x.json"
    with served(app) as base:
        refused = bundle("save", str(path), "--url", base, "--store", "sqlite://")
        monkeypatch.setenv("FLEETSIM_ADMIN_KEY", "adm-" + "k" * 20)
        allowed = bundle("save", str(path), "--url", base, "--store", "sqlite://")
    assert refused.exit_code == 1
    assert "401 missing or wrong X-Fleetsim-Admin-Key header" in refused.output
    assert "k" * 20 not in refused.output + allowed.output + path.read_text()
    assert allowed.exit_code == 0
