"""The engine process's JSON status API (Flask, so it lives in fleetsim/: the sync_engine
package may not import flask).

GET /api/integrations, /api/runs, /api/runs/<id>, /api/drivers/links, /api/drivers/events,
/healthz. The same Host and Origin rules as the emulators' control plane
(mock_vendors/_common/guard.py): loopback names, the bound address or
``FLEETSIM_ALLOWED_HOSTS`` only, and no foreign Origin; anything but GET/HEAD is refused. No
answer carries an integration's secret or a webhook secret.

The one write is the portal's webhook receiver, ``POST /webhooks/gpsinsight/<portal>``: it
keeps the Host check but not the Origin and JSON-only rules (a vendor's delivery is no
browser page), verifies the event (R26: HMAC over timestamp and body with the pairing's
secret, timestamp within 300 s of the host's wall clock), stores it in the inbox
(de-duplicated by event id), wakes the background applier and answers at once: no vendor is
called while the portal waits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from fleetsim.engine_service import Scheduler
from mock_vendors._common.guard import refusal
from sync_engine.store import Store
from sync_engine.store.drivers import IGNORED, PENDING
from sync_engine.store.tables import runs
from sync_engine.web.webhooks import BadEvent, WebhookRejected, parse_event, verify

RUNS_LIMIT = 200
EVENTS_LIMIT = 200
WEBHOOK_MAX_BYTES = 64 * 1024  # one driver row is well under 2 KiB
WEBHOOK_PREFIX = "/webhooks/"
log = logging.getLogger("fleetsim.engine.webhooks")
PUBLIC_FIELDS = ("name", "kind", "base_url", "username", "activated_at", "updated_at")


def _iso(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _public_url(url: str) -> str:
    """A base URL without any user:password part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def public_integration(row: dict[str, Any]) -> dict[str, Any]:
    """An integration as the API shows it: a whitelist of fields, never the secret."""
    data = {key: _iso(row.get(key)) for key in PUBLIC_FIELDS}
    data["base_url"] = _public_url(str(row["base_url"]))
    return data


def run_summary(row: dict[str, Any]) -> dict[str, Any]:
    """A run for the list: outcome and counts, without the detail."""
    report = row.get("report") or {}
    return {
        "id": row["id"],
        "pipeline": row["pipeline"],
        "integration": row["integration"],
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "outcome": row["outcome"] or "RUNNING",
        "counts": report.get("counts", {}),
        "writes": report.get("writes"),
        "requests": report.get("requests"),
    }


def _allowed_hosts(bound: str) -> tuple[str, ...]:
    extra = os.environ.get("FLEETSIM_ALLOWED_HOSTS", "")
    return (bound, *(n.strip() for n in extra.split(",") if n.strip()))


class BadLimit(ValueError):
    """``limit`` is not a whole number (answered 400)."""


def _limit(default: int, most: int) -> int:
    """The ``limit`` query parameter, clamped to 1..most."""
    try:
        limit = int(request.args.get("limit", str(default)))
    except ValueError:
        raise BadLimit("limit must be a whole number") from None
    return max(1, min(limit, most))


def public_pairing(pairing: dict[str, Any], links: list[dict[str, Any]]) -> dict[str, Any]:
    """A driver-sync pairing with its links: never the webhook secret, nor the phone last
    pushed (personal data the operator does not need to see to follow the links)."""
    return {
        "driveri": pairing["driveri"],
        "portal": pairing["portal"],
        "tenant": pairing["tenant"],
        "sync_seen_on": pairing["sync_seen_on"],
        "webhook_id": pairing["webhook_id"],
        "links": [
            {
                "portal_id": link["portal_id"],
                "driveri_id": link["driveri_id"],
                "version": link["version"],
                "updated_at": _iso(link["updated_at"]),
            }
            for link in links
        ],
    }


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """An inbox event without its payload."""
    fields = ("event_id", "portal", "type", "portal_id", "version", "status", "detail")
    data = {key: event[key] for key in fields}
    data["received_at"] = _iso(event["received_at"])
    data["done_at"] = _iso(event["done_at"])
    return data


def create_api(
    store: Store,
    scheduler: Scheduler,
    bound_host: str = "127.0.0.1",
    *,
    wake: Callable[[], None] | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> Flask:
    """The status API over ``store`` and ``scheduler``, with the webhook receiver: ``wake``
    tells the background applier an event is waiting; ``wall_clock`` is the host's clock
    (epoch seconds) that signature timestamps are checked against (R26)."""
    app = Flask("fleetsim.engine")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = WEBHOOK_MAX_BYTES
    allowed = _allowed_hosts(bound_host)

    @app.before_request
    def guard() -> Response | tuple[Response, int] | None:
        webhook = request.path.startswith(WEBHOOK_PREFIX)
        refused = refusal(
            request.method,
            request.host,
            # A vendor's delivery is no browser page: the Host rule alone applies to it.
            None if webhook else request.headers.get("Origin"),
            "application/json" if webhook else request.mimetype,
            bool(request.content_length),
            allowed,
        )
        if refused is not None:
            status, message = refused
            return jsonify({"error": message.replace("control plane", "engine API")}), status
        if request.method not in ("GET", "HEAD") and not webhook:
            return jsonify({"error": "the engine API is read-only: GET only"}), 405
        return None

    @app.post("/webhooks/gpsinsight/<portal>")
    def receive(portal: str) -> tuple[Response, int]:
        pairing = store.pairing_for_portal(portal)
        if pairing is None:
            return jsonify({"error": f"no driver sync is paired with portal {portal[:100]!r}"}), 404
        if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
            raise RequestEntityTooLarge()
        body = request.get_data(cache=False)
        secret = pairing["webhook_secret"]
        try:
            if not secret:
                raise WebhookRejected("no webhook subscription is set up for this portal")
            verify(dict(request.headers), body, secret, wall_clock())
            event = parse_event(body)
        except WebhookRejected as exc:
            log.warning("webhook for %s rejected: %s", portal, exc.reason)
            return jsonify({"error": f"webhook rejected: {exc.reason}"}), 401
        except BadEvent as exc:
            log.warning("webhook for %s refused: %s", portal, exc)
            return jsonify({"error": f"bad event: {exc}"}), 400
        ignored = event.ignored_reason
        added = store.inbox_add(
            event.event_id, portal, event.type,
            portal_id=event.portal_id, version=event.version,
            payload={"occurred_at": event.occurred_at, "account": event.account,
                     "driver": event.driver},
            now=scheduler.clock(), status=IGNORED if ignored else PENDING,
        )  # fmt: skip
        if not added:  # R26: a redelivery (or a replay) of an event already stored
            return jsonify({"status": "duplicate", "event_id": event.event_id}), 200
        if ignored:
            log.warning("webhook %s for %s ignored: %s", event.event_id, portal, ignored)
            return jsonify({"status": "ignored", "event_id": event.event_id,
                            "reason": ignored}), 200  # fmt: skip
        if wake is not None:
            wake()
        return jsonify({"status": "accepted", "event_id": event.event_id}), 202

    @app.get("/api/drivers/links")
    def driver_links() -> Response:
        pairings = store.pairings()
        return jsonify(
            {"pairings": [public_pairing(p, store.driver_links(p["driveri"])) for p in pairings]}
        )

    @app.get("/api/drivers/events")
    def driver_events() -> Response:
        limit = _limit(50, EVENTS_LIMIT)
        return jsonify({"events": [public_event(e) for e in store.inbox_events(limit)]})

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "scheduler": scheduler.state()})

    @app.get("/api/integrations")
    def integrations() -> Response:
        return jsonify({"integrations": [public_integration(r) for r in store.integrations()]})

    @app.get("/api/runs")
    def list_runs() -> Response:
        return jsonify({"runs": [run_summary(r) for r in store.runs(_limit(50, RUNS_LIMIT))]})

    @app.get("/api/runs/<int:run_id>")
    def one_run(run_id: int) -> Response | tuple[Response, int]:
        with store.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return jsonify({"error": f"no run #{run_id}"}), 404
        return jsonify({**run_summary(dict(row)), "report": row["report"]})

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> tuple[Response, int]:
        return jsonify({"error": "not found"}), 404

    @app.errorhandler(BadLimit)
    def bad_limit(exc: BadLimit) -> tuple[Response, int]:
        return jsonify({"error": str(exc)}), 400

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> tuple[Response, int]:
        return jsonify({"error": f"a webhook body is at most {WEBHOOK_MAX_BYTES} bytes"}), 413

    @app.errorhandler(405)
    def not_allowed(_exc: Exception) -> tuple[Response, int]:
        if request.path.startswith(WEBHOOK_PREFIX):
            return jsonify({"error": "the webhook receiver takes POST only"}), 405
        return jsonify({"error": "the engine API is read-only: GET only"}), 405

    return app
