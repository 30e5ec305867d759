"""The suite-wide secret watch (tests/secret_watch.py) finds an issued secret in a log line."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import pytest
from secret_watch import Watch, install
from werkzeug.test import Client

from helpers import make_stack_app


@pytest.fixture
def watched() -> Iterator[tuple[Watch, logging.Logger]]:
    """A private watch on a logger that does not reach the root (the suite's own watch must
    not see the secrets these tests log on purpose)."""
    logger = logging.getLogger("fleetsim.tests.secret_watch")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    watch = Watch()
    stop = install(watch, logger)
    yield watch, logger
    stop()


def test_a_session_token_an_emulator_issued_is_found_in_a_log_line_and_masked(
    watched: tuple[Watch, logging.Logger],
) -> None:
    watch, logger = watched
    client = Client(make_stack_app())
    creds = client.get("/gpsinsight/_mock/credentials").json["accounts"][0]["users"][0]
    login = client.get(
        "/gpsinsight/v2/userauth/login",
        query_string={"username": creds["username"], "app_token": creds["app_token"]},
    )
    token = login.json["data"]["token"]
    logger.warning("calling vehicle/list?session_token=%s", token)
    (leak,) = watch.leaks()
    assert leak[0] == "fleetsim.tests.secret_watch"
    assert token not in leak[1] and "<issued secret, 32 chars>" in leak[1]


def test_a_seeded_app_token_is_found_even_inside_a_longer_run(
    watched: tuple[Watch, logging.Logger],
) -> None:
    watch, logger = watched
    # A seed no other test uses, so its world is generated here, under this watch.
    creds = Client(make_stack_app(seed=424242)).get("/gpsinsight/_mock/credentials").json
    app_token = creds["accounts"][0]["users"][0]["app_token"]
    logger.info("prefix-%s-suffix", app_token)
    assert len(watch.leaks()) == 1


def test_a_rotated_app_token_cut_from_a_longer_draw_is_found(
    watched: tuple[Watch, logging.Logger],
) -> None:
    watch, logger = watched
    draw = secrets.token_hex(7)  # how GPS Insight draws a new App Token, cut to 13 characters
    logger.info("new token %s", draw[:13])
    assert len(watch.leaks()) == 1


def test_lines_without_an_issued_secret_are_not_leaks(
    watched: tuple[Watch, logging.Logger],
) -> None:
    watch, logger = watched
    secrets.token_urlsafe(32)  # issued, never logged
    logger.info("GET /driveri/v1/tenants/demo-fleet/drivers?offset=0&limit=200 200")
    logger.info("a made-up value that nobody issued: %s", "0123456789abcdef0123")
    assert watch.leaks() == [] and len(watch.lines) == 2
