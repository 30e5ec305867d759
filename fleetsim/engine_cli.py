"""``fleetsim integrations|sync|runs``: the sync engine's commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from sync_engine.clients.base import VendorError
from sync_engine.clients.gpsinsight import GpsInsightClient
from sync_engine.clients.whiparound import WhipAroundClient
from sync_engine.clock import ClockConfigError, engine_clock
from sync_engine.engine import ConfigError, Engine
from sync_engine.report import EXIT_CODES, Report
from sync_engine.store import ABANDONED, Store

DEFAULT_BASE = "http://127.0.0.1:8100"
DEFAULT_URLS = {
    "gpsinsight": f"{DEFAULT_BASE}/gpsinsight",
    "wex": f"{DEFAULT_BASE}/wex",
    "whiparound": f"{DEFAULT_BASE}/whiparound/api/public/v4",
}


def clock_of(store: Store) -> Callable[[], datetime]:
    """The engine's clock for ``store`` (see sync_engine.clock); a bad FLEETSIM_ENGINE_CLOCK
    or recorded choice is a usage error, said before anything is done."""
    try:
        return engine_clock(store)
    except ClockConfigError as exc:
        raise click.ClickException(str(exc)) from None


def add_integration(
    store: Store,
    kind: str,
    *,
    name: str | None = None,
    base_url: str | None = None,
    username: str | None = None,
    secret: str,
) -> str:
    """Validate credentials against the vendor, then store them, activated at the engine's
    clock's now. Returns the name."""
    now = clock_of(store)
    url = (base_url or DEFAULT_URLS[kind]).rstrip("/")
    if kind == "whiparound":
        WhipAroundClient(url, secret).assets()  # reads one page set: proves the key works
    else:
        if not username:
            raise click.UsageError("--username is required for GPS Insight and Wex")
        GpsInsightClient(url, username, secret).login()
    name = name or kind
    store.save_integration(name, kind, url, secret, now(), username=username)
    return name


@click.group("integrations")
def integrations() -> None:
    """Vendor accounts the engine syncs (credentials are stored, never shown)."""


@integrations.command("add")
@click.argument("kind", type=click.Choice(["gpsinsight", "wex", "whiparound"]))
@click.option("--username", help="GPS Insight / Wex API username.")
@click.option("--app-token", help="GPS Insight / Wex App Token.")
@click.option("--api-key", help="Whip Around integration API key.")
@click.option("--base-url", help="Vendor base URL (default: the local fleetsim stack).")
@click.option("--name", help="Integration name (default: the kind).")
def add(
    kind: str,
    username: str | None,
    app_token: str | None,
    api_key: str | None,
    base_url: str | None,
    name: str | None,
) -> None:
    """Check the credentials by calling the vendor, then store the integration."""
    secret = api_key if kind == "whiparound" else app_token
    if not secret:
        raise click.UsageError(
            "--api-key is required for whiparound" if kind == "whiparound"
            else "--app-token is required for gpsinsight and wex"
        )  # fmt: skip
    try:
        stored = add_integration(
            Store(), kind, name=name, base_url=base_url, username=username, secret=secret
        )
    except VendorError as exc:
        raise click.ClickException(f"credentials refused or vendor unreachable: {exc}") from None
    click.echo(f"integration {stored!r} ({kind}) added")


@integrations.command("list")
def list_integrations() -> None:
    """Stored integrations, without their secrets."""
    rows = Store().integrations()
    if not rows:
        click.echo("no integrations yet: see `fleetsim integrations add --help`")
    for row in rows:
        user = f" user {row['username']}" if row["username"] else ""
        click.echo(
            f"{row['name']:<14} {row['kind']:<11} {row['base_url']}{user}  "
            f"activated {row['activated_at']:%Y-%m-%d %H:%M:%S}Z"
        )


@click.group("sync")
def sync() -> None:
    """Run a pipeline once and print its report."""


@sync.command("telematics")
@click.option("--integration", help="Only this telematics integration.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as a JSON array.")
def sync_telematics(integration: str | None, as_json: bool) -> None:
    """Telematics (GPS Insight, Wex) -> Whip Around. Exit 0 SUCCESS, 1 PARTIAL, 2 FAILED.

    One run per integration at a time, on any number of hosts sharing the store: a run holds a
    lease it renews while it works; a killed run's lease is taken over once it expired
    (FLEETSIM_LEASE_TTL_S, default 30 s) and the killed run is listed as ABANDONED.

    The engine runs on the store's recorded clock (real time unless `make run` recorded its
    stack's virtual clock); FLEETSIM_ENGINE_CLOCK=real|stack:<base url> overrides it."""
    store = Store()
    clock = clock_of(store)
    try:
        engine = Engine(store, clock=clock)
        reports = engine.sync_telematics(integration)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
    else:
        click.echo("\n".join(render(r) for r in reports))
    raise SystemExit(EXIT_CODES[engine.worst_outcome(reports)])


@click.command("runs")
@click.option("--limit", default=20, show_default=True)
def runs(limit: int) -> None:
    """Past runs, newest first (RUNNING: under way; ABANDONED: its engine stopped renewing
    the run's lease, which another run took over)."""
    for run in Store().runs(limit):
        report = run.get("report") or {}
        summary = " ".join(f"{k}={v}" for k, v in report.get("counts", {}).items() if v)
        if run["outcome"] == ABANDONED:
            summary = f"{summary} abandoned {run['finished_at']:%Y-%m-%d %H:%M:%S}Z".lstrip()
            if report.get("taken_over_by_run"):
                summary += f", taken over by run #{report['taken_over_by_run']}"
        click.echo(
            f"#{run['id']:<4} {run['started_at']:%Y-%m-%d %H:%M:%S}Z {run['pipeline']:<10} "
            f"{run['integration']:<12} {run['outcome'] or 'RUNNING':<9} {summary}"
        )


def render(report: Report) -> str:
    """A run report for a terminal."""
    data: dict[str, Any] = report.as_dict()
    lines = [f"{data['pipeline']} run for {data['integration']}: {data['outcome']}"]
    lines.append("  " + "  ".join(f"{k} {v}" for k, v in data["counts"].items()))
    for title, key in (("skipped", "skips"), ("anomalies", "anomalies"), ("warnings", "warnings")):
        items = data[key]
        if items:
            lines.append(f"  {title}:")
            for item in items[:50]:
                extra = ", ".join(f"{k}={v}" for k, v in item.items() if k != "reason")
                lines.append(f"    {item['reason']:<22} {extra}")
            if len(items) > 50:
                lines.append(f"    ... and {len(items) - 50} more (use --json)")
    lines.extend(report.vendor_lines())
    for error in data["errors"][:20]:
        # An error of another integration than the run's (the Whip Around target) says whose.
        owner = error.get("integration")
        where = (
            error["where"] if owner in (None, data["integration"]) else f"{owner} {error['where']}"
        )
        lines.append(f"  error in {where}: {error['message']}")
    return "\n".join(lines)
