"""Driveri access tokens are purged once dead: issuing and revoking (or letting expire)
thousands of tokens keeps the backend's token table as small as the live tokens, while the
listing, the bearer check and revoke-by-id answer exactly as before (docs/vendors.md §2.2).

One stack serves the module; every test starts from a reset Driveri on a clock frozen at T0.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from helpers import T0, module_stack_app, reset_vendor  # noqa: F401  (fixture)
from mock_vendors.driveri.auth import MAX_ACTIVE_TOKENS
from mock_vendors.driveri.backend import DriveriBackend
from mock_vendors.wsgi import StackApp

HOUR = 3600
ROUNDS = 2_000
REVOKED = {"message": "Access token revoked successfully"}
OTHER_CLIENT = {"client_id": "other-client", "client_secret": "other-secret", "tenant": "other"}


@pytest.fixture
def client(stack_app: StackApp) -> Client:
    """Driveri reset (no tokens) on a clock frozen at T0."""
    return reset_vendor(stack_app, "driveri", freeze_at=T0)


def backend(client: Client) -> DriveriBackend:
    """The live Driveri backend behind the stack (for counting its token table)."""
    app = client.application.vendors["driveri"]  # type: ignore[attr-defined]
    return app.extensions["fleetsim"].backend  # type: ignore[no-any-return]


def basic(client: Client, row: dict[str, str] | None = None) -> dict[str, str]:
    if row is None:
        token = client.get("/driveri/_mock/credentials").json["clients"][0]["basic_token"]
    else:
        token = base64.b64encode(f"{row['client_id']}:{row['client_secret']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def issue(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/driveri/v1/auth/token", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]  # type: ignore[no-any-return]


def revoke_by_id(client: Client, headers: dict[str, str], token_id: str) -> TestResponse:
    return client.delete(f"/driveri/v1/auth/token/revoke/{token_id}", headers=headers)


def listed(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/driveri/v1/auth/tokens", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]  # type: ignore[no-any-return]


def advance(client: Client, seconds: float) -> None:
    assert client.post("/driveri/_mock/clock", json={"advance": seconds}).status_code == 200


def assert_token_error(response: TestResponse, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert body["data"] is None
    assert (body["error"]["status"], body["error"]["messageCode"]) == (status, code)
    assert body["error"]["message"] == message


# -- the table stays bounded --------------------------------------------------------------


def test_issuing_and_revoking_thousands_of_tokens_keeps_only_the_live_ones(client: Client) -> None:
    headers = basic(client)
    for _ in range(ROUNDS):
        token = issue(client, headers)["accessToken"]
        response = client.delete(
            "/driveri/v1/auth/token/revoke", headers={"Authorization": f"bearer {token}"}
        )
        assert response.json["data"] == REVOKED
    # What is left: the token revoked last (it goes with the next issue).
    assert len(backend(client).tokens) == 1
    live = issue(client, headers)
    assert list(backend(client).tokens) == [live["accessToken"]]
    assert listed(client, headers) == [live]


def test_tokens_left_to_expire_are_purged_as_well(client: Client) -> None:
    headers = basic(client)
    for _ in range(ROUNDS // 2):
        issue(client, headers)
        issue(client, headers)
        advance(client, HOUR)  # both expire exactly now
    assert len(backend(client).tokens) == MAX_ACTIVE_TOKENS
    assert listed(client, headers) == []
    live = issue(client, headers)
    assert list(backend(client).tokens) == [live["accessToken"]]


def test_the_backend_alone_keeps_its_table_bounded(client: Client) -> None:
    # Issued and revoked through the backend's own methods, with the clock moving on a
    # little (never past a token's hour) between rounds: many thousands, still no growth.
    state = backend(client)
    api_client = state.state["clients"][0]
    for n in range(10_000):
        state.revoke(state.tokens[state.issue_token(api_client)["accessToken"]])
        if n % 100 == 0:
            state.clock.advance(1)
    assert len(state.tokens) == 1


# -- answers do not change ----------------------------------------------------------------


def test_the_listing_shows_the_same_live_tokens_after_a_purge(client: Client) -> None:
    headers = basic(client)
    first, second = issue(client, headers), issue(client, headers)
    assert revoke_by_id(client, headers, first["accessTokenId"]).json["data"] == REVOKED
    third = issue(client, headers)  # purges the first
    assert first["accessToken"] not in backend(client).tokens
    assert listed(client, headers) == [second, third]


def test_a_purged_token_answers_401_as_a_revoked_or_expired_one_does(client: Client) -> None:
    headers = basic(client)
    revoked, expiring = issue(client, headers), issue(client, headers)
    revoke_by_id(client, headers, revoked["accessTokenId"])
    advance(client, HOUR)
    issue(client, headers)  # purges both
    assert len(backend(client).tokens) == 1
    for token in (revoked, expiring):
        response = client.get(
            "/driveri/v1/tenants/demo-fleet/drivers",
            headers={"Authorization": f"bearer {token['accessToken']}"},
        )
        assert_token_error(
            response, 401, "UNAUTHORIZED", "Access token is invalid, expired or revoked"
        )


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_revoking_a_purged_token_by_id_answers_200_as_before_the_purge(
    client: Client, how: str
) -> None:
    headers = basic(client)
    gone = issue(client, headers)
    if how == "revoked":
        assert revoke_by_id(client, headers, gone["accessTokenId"]).json["data"] == REVOKED
    else:
        advance(client, HOUR)
    # Before the purge: a dead token revokes again with 200.
    response = revoke_by_id(client, headers, gone["accessTokenId"])
    assert (response.status_code, response.json) == (200, {"data": REVOKED, "error": None})
    issue(client, headers)
    assert gone["accessToken"] not in backend(client).tokens
    # After it: the same answer, and nothing comes back to life.
    response = revoke_by_id(client, headers, gone["accessTokenId"])
    assert (response.status_code, response.json) == (200, {"data": REVOKED, "error": None})
    assert gone["accessToken"] not in backend(client).tokens


def test_an_id_the_client_was_never_issued_is_still_404_after_purges(client: Client) -> None:
    headers = basic(client)
    gone = issue(client, headers)
    revoke_by_id(client, headers, gone["accessTokenId"])
    issue(client, headers)
    forged = str(uuid.UUID(gone["accessTokenId"]).bytes[:15].hex() + "00")
    variants = [
        str(uuid.uuid4()),
        gone["accessTokenId"].upper(),
        "{" + gone["accessTokenId"] + "}",
        str(uuid.UUID(forged)),
        "no-such-id",
        "\u0661" * 32,  # Arabic-Indic digits: int() reads them, a UUID id never holds them
    ]
    for token_id in variants:
        response = revoke_by_id(client, headers, token_id)
        assert_token_error(response, 404, "TOKEN_NOT_FOUND", "Access token not found")


def test_another_clients_purged_token_id_is_404(client: Client) -> None:
    dump = client.get("/driveri/_mock/state").json
    dump["state"]["clients"].append(OTHER_CLIENT)
    assert client.post("/driveri/_mock/state", json=dump).status_code == 200
    theirs = issue(client, basic(client, OTHER_CLIENT))
    revoke_by_id(client, basic(client, OTHER_CLIENT), theirs["accessTokenId"])
    issue(client, basic(client))  # purges their revoked token
    assert theirs["accessToken"] not in backend(client).tokens
    response = revoke_by_id(client, basic(client), theirs["accessTokenId"])
    assert_token_error(response, 404, "TOKEN_NOT_FOUND", "Access token not found")
    response = revoke_by_id(client, basic(client, OTHER_CLIENT), theirs["accessTokenId"])
    assert response.json["data"] == REVOKED


def test_token_ids_are_version_4_uuids_and_their_key_is_never_shown(client: Client) -> None:
    headers = basic(client)
    ids = {issue(client, headers)["accessTokenId"] for _ in range(2)}
    assert len(ids) == 2
    for token_id in ids:
        parsed = uuid.UUID(token_id)
        assert (str(parsed), parsed.version) == (token_id, 4)
    key = backend(client).token_id_key.hex()
    for path in ("/driveri/_mock/state", "/driveri/_mock/credentials"):
        assert key not in client.get(path).get_data(as_text=True)
