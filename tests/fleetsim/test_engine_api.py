"""`fleetsim engine`'s JSON status API: what it answers, what it never shows, whom it refuses."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from werkzeug.test import Client

from fleetsim.engine_api import create_api
from fleetsim.engine_service import Schedule, Scheduler
from helpers import T0
from sync_engine.report import Report
from sync_engine.store import Store

SECRET_GPS = "gps-app-token-SECRET-1"
SECRET_WA = "wa-api-key-SECRET-2"


def scheduler_at_t0() -> Scheduler:
    scheduler = Scheduler(clock=lambda: T0)
    scheduler.register(
        Schedule("telematics", timedelta(seconds=300), lambda: ["gpsinsight"],
                 lambda name: Report("telematics", name))
    )  # fmt: skip
    return scheduler


# -- the status API (step 2) ---------------------------------------------------------------------


@pytest.fixture
def api_store() -> Store:
    store = Store("sqlite://")
    store.save_integration("gpsinsight", "gpsinsight", "http://u:pw@127.0.0.1:9/gpsinsight",
                           SECRET_GPS, T0, username="acme.admin")  # fmt: skip
    store.save_integration("whiparound", "whiparound", "http://127.0.0.1:9/wa", SECRET_WA, T0)
    for n in (1, 2):
        lease = store.start_leased_run("telematics", "gpsinsight", "h", T0 + timedelta(n),
                                       timedelta(seconds=30))  # fmt: skip
        report = Report("telematics", "gpsinsight")
        report.counts["read"] = 10 * n
        report.writes = n
        store.finish_leased_run(lease, report.outcome, report.as_dict(), T0 + timedelta(n))
    return store


def api_client(store: Store, host: str = "127.0.0.1") -> Client:
    return Client(create_api(store, scheduler_at_t0(), host))


def test_integrations_never_show_a_secret(api_store: Store) -> None:
    response = api_client(api_store).get("/api/integrations")
    assert response.status_code == 200
    body = response.get_json()["integrations"]
    assert [i["name"] for i in body] == ["gpsinsight", "whiparound"]
    assert body[0] == {
        "name": "gpsinsight",
        "kind": "gpsinsight",
        "base_url": "http://127.0.0.1:9/gpsinsight",
        "username": "acme.admin",
        "activated_at": T0.isoformat(),
        "updated_at": T0.isoformat(),
    }
    text = response.get_data(as_text=True)
    assert SECRET_GPS not in text and SECRET_WA not in text and "pw" not in text
    assert "secret" not in text


def test_runs_are_listed_newest_first_with_outcome_and_counts(api_store: Store) -> None:
    body = api_client(api_store).get("/api/runs").get_json()["runs"]
    assert [r["id"] for r in body] == [2, 1]
    assert body[0]["outcome"] == "SUCCESS" and body[0]["counts"]["read"] == 20
    assert body[0]["writes"] == 2 and body[0]["pipeline"] == "telematics"
    assert body[0]["started_at"] == (T0 + timedelta(2)).isoformat()
    limited = api_client(api_store).get("/api/runs?limit=1").get_json()["runs"]
    assert [r["id"] for r in limited] == [2]
    assert api_client(api_store).get("/api/runs?limit=x").status_code == 400


def test_a_run_answers_its_full_report(api_store: Store) -> None:
    response = api_client(api_store).get("/api/runs/1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == 1 and body["outcome"] == "SUCCESS"
    assert body["report"]["counts"]["read"] == 10 and body["report"]["skips"] == []
    missing = api_client(api_store).get("/api/runs/99")
    assert missing.status_code == 404 and missing.get_json() == {"error": "no run #99"}


def test_healthz_says_ok_with_the_scheduler_state(api_store: Store) -> None:
    body = api_client(api_store).get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["scheduler"]["running"] is False
    assert body["scheduler"]["pipelines"] == [{"name": "telematics", "interval_s": 300.0}]
    assert body["scheduler"]["clock"] == T0.isoformat()


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "10.0.0.5:8200"])
def test_a_foreign_host_is_refused(api_store: Store, host: str) -> None:
    response = api_client(api_store).get("/api/integrations", headers={"Host": host})
    assert response.status_code == 403
    assert "engine API answers only loopback hosts" in response.get_json()["error"]


def test_loopback_names_the_bound_host_and_allowed_hosts_are_answered(
    api_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETSIM_ALLOWED_HOSTS", "fleet.lan")
    client = api_client(api_store, host="192.168.1.20")
    for host in ("localhost:8200", "127.0.0.1", "[::1]:8200", "192.168.1.20:8200", "fleet.lan"):
        response = client.get("/healthz", headers={"Host": host})
        assert response.status_code == 200, host
        assert response.get_json()["status"] == "ok"


def test_a_foreign_origin_is_refused_on_reads_and_writes(api_store: Store) -> None:
    client = api_client(api_store)
    origin = {"Origin": "https://evil.example"}
    read = client.get("/api/runs", headers=origin)
    assert read.status_code == 403 and "Origin" in read.get_json()["error"]
    write = client.post("/api/runs", headers=origin, json={})
    assert write.status_code == 403 and "Origin" in write.get_json()["error"]
    local = client.get("/api/runs", headers={"Origin": "http://localhost:8200"})
    assert local.status_code == 200 and len(local.get_json()["runs"]) == 2


def test_the_api_is_read_only(api_store: Store) -> None:
    client = api_client(api_store)
    for method in ("POST", "PUT", "DELETE"):
        response = client.open("/api/runs/1", method=method, json={})
        assert response.status_code == 405, method
        assert response.get_json() == {"error": "the engine API is read-only: GET only"}
    assert client.get("/api/runs/1").get_json()["outcome"] == "SUCCESS"  # unchanged


def test_json_answers_are_plain_json(api_store: Store) -> None:
    response = api_client(api_store).get("/api/runs/2")
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data(as_text=True))["report"]["writes"] == 2
