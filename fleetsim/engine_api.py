"""The engine process's JSON status API (Flask, so it lives in fleetsim/: the sync_engine
package may not import flask).

GET /api/integrations, /api/runs, /api/runs/<id>, /healthz. The same Host and Origin rules as
the emulators' control plane (mock_vendors/_common/guard.py): loopback names, the bound
address or ``FLEETSIM_ALLOWED_HOSTS`` only, and no foreign Origin; anything but GET/HEAD is
refused (there are no writes yet). No answer carries an integration's secret.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, jsonify, request
from sqlalchemy import select

from fleetsim.engine_service import Scheduler
from mock_vendors._common.guard import refusal
from sync_engine.store import Store
from sync_engine.store.tables import runs

RUNS_LIMIT = 200
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


def create_api(store: Store, scheduler: Scheduler, bound_host: str = "127.0.0.1") -> Flask:
    """The status API over ``store`` and ``scheduler``."""
    app = Flask("fleetsim.engine")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    allowed = _allowed_hosts(bound_host)

    @app.before_request
    def guard() -> Response | tuple[Response, int] | None:
        refused = refusal(
            request.method,
            request.host,
            request.headers.get("Origin"),
            request.mimetype,
            bool(request.content_length),
            allowed,
        )
        if refused is not None:
            status, message = refused
            return jsonify({"error": message.replace("control plane", "engine API")}), status
        if request.method not in ("GET", "HEAD"):
            return jsonify({"error": "the engine API is read-only: GET only"}), 405
        return None

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "scheduler": scheduler.state()})

    @app.get("/api/integrations")
    def integrations() -> Response:
        return jsonify({"integrations": [public_integration(r) for r in store.integrations()]})

    @app.get("/api/runs")
    def list_runs() -> Response | tuple[Response, int]:
        try:
            limit = int(request.args.get("limit", "50"))
        except ValueError:
            return jsonify({"error": "limit must be a whole number"}), 400
        limit = max(1, min(limit, RUNS_LIMIT))
        return jsonify({"runs": [run_summary(r) for r in store.runs(limit)]})

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

    @app.errorhandler(405)
    def not_allowed(_exc: Exception) -> tuple[Response, int]:
        return jsonify({"error": "the engine API is read-only: GET only"}), 405

    return app
