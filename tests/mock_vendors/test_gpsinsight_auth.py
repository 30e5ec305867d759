"""GPS Insight API v2 (and Wex) auth: sessions, App Tokens, password logins and the quota."""

from __future__ import annotations

import re
from typing import Any

import pytest
from gpsinsight_helpers import advance, assert_error, call
from werkzeug.test import Client

from helpers import PLATFORM_VENDORS, T0, make_stack_app, module_stack_app, reset_platform_stack  # noqa: F401  (fixtures)

SESSION_GONE = "Forbidden (session does not exist)"
BAD_LOGIN = "Forbidden (invalid username, password or app token)"
HOUR = 3600

pytestmark = pytest.mark.parametrize("vendor", PLATFORM_VENDORS)


# -- helpers -------------------------------------------------------------------------------


def user(creds, vendor: str, role: str) -> dict[str, Any]:
    """The credential row of the master, the dispatch (all vehicles) or the restricted user."""
    users = creds(vendor).values()
    if role == "master":
        return next(u for u in users if u["master"])
    if role == "dispatch":
        return next(u for u in users if not u["master"] and "ALL VEHICLES" in u["vehicle_groups"])
    return next(u for u in users if "ALL VEHICLES" not in u["vehicle_groups"])


def login_with_token(client: Client, vendor: str, username: str, app_token: str):
    """``userauth/login`` with an App Token (the raw response)."""
    return call(client, vendor, "userauth/login", username=username, app_token=app_token)


def session_of(client: Client, vendor: str, username: str, app_token: str) -> str:
    """A session token from a successful App Token login."""
    response = login_with_token(client, vendor, username, app_token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]["token"]


def alive(client: Client, vendor: str, token: str) -> bool:
    """Whether a session still answers a session-bound call."""
    response = call(client, vendor, "vehicle/list", token)
    if response.status_code == 200:
        return True
    assert_error(response, 403, SESSION_GONE)
    return False


def create_app(client: Client, vendor: str, token: str, **params: Any) -> str:
    """``apiapp/create`` -> the new App Token."""
    params.setdefault("app_name", "fleetsim test app")
    response = call(client, vendor, "apiapp/create", token, **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"][0]["app_id"]


# -- login and sessions --------------------------------------------------------------------


def test_login_with_username_and_app_token_returns_a_hex_session_token(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = login_with_token(client, vendor, row["username"], row["app_token"])
    body = response.json
    assert response.status_code == 200
    assert body["head"]["status"] == "OK"
    assert body["head"]["method"] == "userauth/login"
    assert set(body["data"]) == {"token"}
    assert re.fullmatch(r"[0-9a-f]+", body["data"]["token"])


def test_login_with_username_and_password_returns_a_working_session(client, creds, vendor):
    row = user(creds, vendor, "dispatch")
    response = call(
        client, vendor, "userauth/login", username=row["username"], password=row["password"]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert alive(client, vendor, response.json["data"]["token"])


def test_login_by_form_post_returns_a_working_session(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = client.post(
        f"/{vendor}/v2/userauth/login",
        data={"username": row["username"], "app_token": row["app_token"]},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert alive(client, vendor, response.json["data"]["token"])


def test_token_parameter_is_an_alias_of_session_token(client, login, vendor):
    token = login(vendor)
    by_alias = client.get(f"/{vendor}/v2/vehicle/list", query_string={"token": token})
    by_name = call(client, vendor, "vehicle/list", token)
    assert by_alias.status_code == 200
    assert by_alias.json["data"] == by_name.json["data"]
    assert by_alias.json["head"]["context"] == by_name.json["head"]["context"]


def test_login_with_a_wrong_app_token_answers_403_envelope(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = login_with_token(client, vendor, row["username"], "0123456789abc")
    assert_error(response, 403, BAD_LOGIN)


def test_login_with_a_wrong_password_answers_403_envelope(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = call(
        client, vendor, "userauth/login", username=row["username"], password="not-the-password"
    )
    assert_error(response, 403, BAD_LOGIN)


def test_login_with_an_unknown_username_answers_403_envelope(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = login_with_token(client, vendor, "nobody.here", row["app_token"])
    assert_error(response, 403, BAD_LOGIN)


def test_an_app_token_logs_in_only_its_own_user(client, creds, vendor):
    master, restricted = user(creds, vendor, "master"), user(creds, vendor, "restricted")
    response = login_with_token(client, vendor, restricted["username"], master["app_token"])
    assert_error(response, 403, BAD_LOGIN)


def test_login_without_username_answers_400_naming_it(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = call(client, vendor, "userauth/login", app_token=row["app_token"])
    assert_error(response, 400, "Missing required parameter", "username")


def test_login_without_app_token_or_password_answers_400_naming_app_token(client, creds, vendor):
    row = user(creds, vendor, "master")
    response = call(client, vendor, "userauth/login", username=row["username"])
    assert_error(response, 400, "Missing required parameter", "app_token")


def test_a_call_without_a_session_answers_403_session_does_not_exist(client, vendor):
    error = assert_error(call(client, vendor, "vehicle/list"), 403)
    assert error["message"] == SESSION_GONE


def test_an_unknown_session_token_answers_403_session_does_not_exist(client, vendor):
    error = assert_error(call(client, vendor, "vehicle/list", "deadbeef" * 4), 403)
    assert error["message"] == SESSION_GONE


def test_a_session_still_works_23_hours_after_login(client, login, vendor):
    token = login(vendor)
    advance(client, vendor, 23 * HOUR)
    assert call(client, vendor, "vehicle/list", token).status_code == 200


def test_a_session_25_hours_old_answers_403_session_does_not_exist(client, login, vendor):
    token = login(vendor)
    advance(client, vendor, 25 * HOUR)
    error = assert_error(call(client, vendor, "vehicle/list", token), 403)
    assert error["message"] == SESSION_GONE


def test_session_lifetime_is_absolute_not_sliding(client, login, vendor):
    token = login(vendor)
    for _ in range(4):
        advance(client, vendor, 5 * HOUR)
        assert call(client, vendor, "vehicle/list", token).status_code == 200
    advance(client, vendor, 5 * HOUR)  # 25 h after login, though used 5 h ago
    assert_error(call(client, vendor, "vehicle/list", token), 403, SESSION_GONE)


def test_logout_answers_logged_out(client, login, vendor):
    response = call(client, vendor, "userauth/logout", login(vendor))
    assert response.status_code == 200
    assert response.json["head"]["status"] == "OK"
    assert response.json["data"] == "logged out"


def test_a_logged_out_session_answers_403(client, login, vendor):
    token = login(vendor)
    call(client, vendor, "userauth/logout", token)
    assert_error(call(client, vendor, "vehicle/list", token), 403, SESSION_GONE)


def test_logout_ends_only_its_own_session(client, login, vendor):
    first, second = login(vendor), login(vendor)
    call(client, vendor, "userauth/logout", first)
    assert alive(client, vendor, second)


def test_heartbeat_needs_no_session(client, vendor):
    response = call(client, vendor, "heartbeat/beat")
    assert response.status_code == 200
    assert response.json["head"]["status"] == "OK"
    assert response.json["head"]["method"] == "heartbeat/beat"
    assert response.json["data"]


# -- App Tokens -----------------------------------------------------------------------------


def test_apiapp_create_returns_one_13_lowercase_hex_app_id(client, login, vendor):
    response = call(
        client, vendor, "apiapp/create", login(vendor), app_name="ERP sync", description="nightly"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.json["data"]
    assert isinstance(data, list) and len(data) == 1
    assert set(data[0]) == {"app_id"}
    assert re.fullmatch(r"[0-9a-f]{13}", data[0]["app_id"])


def test_a_created_app_token_can_log_in(client, creds, login, vendor):
    new_token = create_app(client, vendor, login(vendor, "dispatch"))
    username = user(creds, vendor, "dispatch")["username"]
    session = session_of(client, vendor, username, new_token)
    assert call(client, vendor, "vehicle/list", session).json["head"]["context"] == username


def test_master_creates_a_token_for_another_user(client, creds, login, vendor):
    restricted = user(creds, vendor, "restricted")["username"]
    new_token = create_app(client, vendor, login(vendor), username=restricted)
    session = session_of(client, vendor, restricted, new_token)
    assert call(client, vendor, "vehicle/list", session).json["head"]["context"] == restricted


def test_non_master_cannot_create_a_token_for_another_user(client, creds, login, vendor):
    master = user(creds, vendor, "master")["username"]
    response = call(
        client, vendor, "apiapp/create", login(vendor, "dispatch"), app_name="x", username=master
    )
    assert_error(response, 403, "Master")


def test_apiapp_create_without_app_name_answers_400_naming_it(client, login, vendor):
    response = call(client, vendor, "apiapp/create", login(vendor))
    assert_error(response, 400, "Missing required parameter", "app_name")


def test_apiapp_list_rows_have_the_documented_fields(client, creds, login, vendor):
    rows = call(client, vendor, "apiapp/list", login(vendor)).json["data"]
    assert rows
    for row in rows:
        assert set(row) == {"app_id", "app_name", "app_token", "description", "username", "active"}
        assert re.fullmatch(r"[0-9a-f]{13}", row["app_token"])
    master = user(creds, vendor, "master")
    mine = next(r for r in rows if r["app_token"] == master["app_token"])
    assert mine["username"] == master["username"]
    assert mine["active"] == 1


def test_master_apiapp_list_shows_every_token_of_the_account(client, creds, login, vendor):
    master_session = login(vendor)
    extra = create_app(client, vendor, login(vendor, "restricted"))
    listed = {
        r["app_token"] for r in call(client, vendor, "apiapp/list", master_session).json["data"]
    }
    everyone = {u["app_token"] for u in creds(vendor).values()}
    assert everyone | {extra} <= listed


def test_non_master_apiapp_list_shows_only_its_own_tokens(client, creds, login, vendor):
    session = login(vendor, "restricted")
    extra = create_app(client, vendor, session)
    create_app(client, vendor, login(vendor, "dispatch"))
    rows = call(client, vendor, "apiapp/list", session).json["data"]
    me = user(creds, vendor, "restricted")
    assert {r["username"] for r in rows} == {me["username"]}
    assert {r["app_token"] for r in rows} == {me["app_token"], extra}


def test_a_deactivated_app_token_can_no_longer_log_in(client, creds, login, vendor):
    row = user(creds, vendor, "dispatch")
    response = call(
        client, vendor, "apiapp/update", login(vendor), app_token=row["app_token"], active=0
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_error(
        login_with_token(client, vendor, row["username"], row["app_token"]), 403, BAD_LOGIN
    )


def test_a_deactivated_app_token_is_listed_inactive(client, creds, login, vendor):
    master_session = login(vendor)
    row = user(creds, vendor, "dispatch")
    call(client, vendor, "apiapp/update", master_session, app_token=row["app_token"], active=0)
    rows = call(client, vendor, "apiapp/list", master_session).json["data"]
    assert next(r for r in rows if r["app_token"] == row["app_token"])["active"] == 0


def test_deactivating_an_app_token_ends_sessions_made_from_it(client, creds, login, vendor):
    victim = login(vendor, "dispatch")
    row = user(creds, vendor, "dispatch")
    call(client, vendor, "apiapp/update", login(vendor), app_token=row["app_token"], active=0)
    assert_error(call(client, vendor, "vehicle/list", victim), 403, SESSION_GONE)


def test_deactivating_an_app_token_leaves_other_sessions_alive(client, creds, login, vendor):
    row = user(creds, vendor, "dispatch")
    other_token = create_app(client, vendor, login(vendor, "dispatch"))
    from_other = session_of(client, vendor, row["username"], other_token)
    by_password = call(
        client, vendor, "userauth/login", username=row["username"], password=row["password"]
    ).json["data"]["token"]
    call(client, vendor, "apiapp/update", login(vendor), app_token=row["app_token"], active=0)
    assert alive(client, vendor, from_other)
    assert alive(client, vendor, by_password)


def test_a_reactivated_app_token_logs_in_again(client, creds, login, vendor):
    master_session = login(vendor)
    row = user(creds, vendor, "dispatch")
    call(client, vendor, "apiapp/update", master_session, app_token=row["app_token"], active=0)
    call(client, vendor, "apiapp/update", master_session, app_token=row["app_token"], active=1)
    assert alive(client, vendor, session_of(client, vendor, row["username"], row["app_token"]))


def test_rotating_an_app_token_refuses_the_old_one_and_accepts_the_new(
    client, creds, login, vendor
):
    row = user(creds, vendor, "dispatch")
    response = call(
        client,
        vendor,
        "apiapp/update",
        login(vendor, "dispatch"),
        app_token=row["app_token"],
        new_app_token=1,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    new_token = response.json["data"][0]["app_id"]
    assert re.fullmatch(r"[0-9a-f]{13}", new_token) and new_token != row["app_token"]
    assert_error(
        login_with_token(client, vendor, row["username"], row["app_token"]), 403, BAD_LOGIN
    )
    assert alive(client, vendor, session_of(client, vendor, row["username"], new_token))


def test_rotating_an_app_token_ends_sessions_made_from_the_old_one(client, creds, login, vendor):
    row = user(creds, vendor, "restricted")
    victim = login(vendor, "restricted")
    call(
        client, vendor, "apiapp/update", login(vendor), app_token=row["app_token"], new_app_token=1
    )
    assert_error(call(client, vendor, "vehicle/list", victim), 403, SESSION_GONE)


def test_apiapp_update_renames_a_token(client, creds, login, vendor):
    session = login(vendor, "restricted")
    token = user(creds, vendor, "restricted")["app_token"]
    call(
        client,
        vendor,
        "apiapp/update",
        session,
        app_token=token,
        app_name="renamed",
        description="new words",
    )
    row = next(
        r
        for r in call(client, vendor, "apiapp/list", session).json["data"]
        if r["app_token"] == token
    )
    assert (row["app_name"], row["description"], row["active"]) == ("renamed", "new words", 1)


@pytest.mark.parametrize(
    ("actor", "owner", "change"),
    [
        ("dispatch", "master", {"active": 0}),
        ("restricted", "dispatch", {"new_app_token": 1}),
    ],
    ids=["deactivate", "rotate"],
)
def test_non_master_cannot_deactivate_or_rotate_another_users_app_token(
    client, creds, login, vendor, actor, owner, change
):
    row = user(creds, vendor, owner)
    response = call(
        client, vendor, "apiapp/update", login(vendor, actor), app_token=row["app_token"], **change
    )
    assert_error(response, 404, "App token not found")
    assert alive(client, vendor, session_of(client, vendor, row["username"], row["app_token"]))


def test_apiapp_update_of_an_unknown_token_answers_404(client, login, vendor):
    response = call(
        client, vendor, "apiapp/update", login(vendor), app_token="0000000000000", active=0
    )
    assert_error(response, 404, "App token not found")


def test_a_password_change_leaves_app_tokens_working(client, creds, login, vendor):
    row = user(creds, vendor, "dispatch")
    response = call(
        client, vendor, "user/update", login(vendor, "dispatch"), password="N3w-secret!"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert alive(client, vendor, session_of(client, vendor, row["username"], row["app_token"]))


def test_a_password_change_replaces_the_password_for_logins(client, creds, login, vendor):
    row = user(creds, vendor, "dispatch")
    call(client, vendor, "user/update", login(vendor, "dispatch"), password="N3w-secret!")
    old = call(client, vendor, "userauth/login", username=row["username"], password=row["password"])
    new = call(client, vendor, "userauth/login", username=row["username"], password="N3w-secret!")
    assert_error(old, 403, BAD_LOGIN)
    assert new.status_code == 200


# -- the rolling 24-hour quota -------------------------------------------------------------


def quota_stack(vendor: str, **settings: Any) -> tuple[Client, str]:
    """A client on a stack with a quota of 3 calls a day and the master's session (the login
    itself is the first of the three calls)."""
    client = Client(make_stack_app(daily_quota=3, **settings))
    rows = client.get(f"/{vendor}/_mock/credentials").json["accounts"][0]["users"]
    master = next(u for u in rows if u["master"])
    return client, session_of(client, vendor, master["username"], master["app_token"])


def test_the_fourth_call_of_a_day_answers_429_envelope_with_retry_after(vendor):
    client, session = quota_stack(vendor)
    for _ in range(2):
        assert call(client, vendor, "vehicle/list", session).status_code == 200
    response = call(client, vendor, "vehicle/list", session)
    assert_error(response, 429, "too many requests")
    assert 0 < int(response.headers["Retry-After"]) <= 24 * HOUR


def test_the_quota_is_counted_per_user(vendor):
    client, session = quota_stack(vendor)
    for _ in range(3):
        call(client, vendor, "vehicle/list", session)
    rows = client.get(f"/{vendor}/_mock/credentials").json["accounts"][0]["users"]
    dispatch = next(u for u in rows if not u["master"] and "ALL VEHICLES" in u["vehicle_groups"])
    other = session_of(client, vendor, dispatch["username"], dispatch["app_token"])
    assert call(client, vendor, "vehicle/list", other).status_code == 200


def test_calls_work_again_24_hours_later_on_the_same_session(vendor):
    # The session must outlive the quota window to show that no re-login is needed.
    client, session = quota_stack(vendor, session_ttl_hours=48)
    for _ in range(2):
        call(client, vendor, "vehicle/list", session)
    assert_error(call(client, vendor, "vehicle/list", session), 429, "too many requests")
    advance(client, vendor, 24 * HOUR)
    response = call(client, vendor, "vehicle/list", session)
    assert response.status_code == 200
    assert response.json["head"]["status"] == "OK"


def test_the_quota_window_rolls_over_24_hours_rather_than_resetting_at_midnight(vendor):
    client, session = quota_stack(vendor, session_ttl_hours=48)
    for _ in range(2):
        call(client, vendor, "vehicle/list", session)
    advance(client, vendor, 14 * HOUR)  # 10:30 -> 00:30 MST: a new day, same 24 hours
    assert_error(call(client, vendor, "vehicle/list", session), 429, "too many requests")


def test_refused_calls_do_not_use_up_the_quota(vendor):
    client, session = quota_stack(vendor, session_ttl_hours=48)
    for _ in range(2):
        call(client, vendor, "vehicle/list", session)
    for _ in range(5):
        call(client, vendor, "vehicle/list", session)  # all refused with 429
    advance(client, vendor, 24 * HOUR)
    for _ in range(3):
        assert call(client, vendor, "vehicle/list", session).status_code == 200


# -- usage is tracked per App Token ----------------------------------------------------------


def test_every_call_is_journaled_with_its_app_tokens_id(client, creds, vendor):
    row = user(creds, vendor, "dispatch")
    session = session_of(client, vendor, row["username"], row["app_token"])
    call(client, vendor, "vehicle/list", session)
    entries = client.get(f"/{vendor}/_mock/journal").json["entries"]
    assert [(e["path"], e["app_token_id"]) for e in entries] == [
        ("/v2/userauth/login", row["app_token_id"]),
        ("/v2/vehicle/list", row["app_token_id"]),
    ]


def test_the_journal_never_holds_a_token_or_a_session(client, creds, vendor):
    row = user(creds, vendor, "dispatch")
    session = session_of(client, vendor, row["username"], row["app_token"])
    call(client, vendor, "vehicle/list", session)
    text = client.get(f"/{vendor}/_mock/journal").get_data(as_text=True)
    assert row["app_token"] not in text and session not in text
