"""``fleetsim sync drivers``: the drivers pipeline (GPS portal -> Driveri) run once by hand.

Registered on the ``sync`` group of engine_cli (fleetsim/cli.py imports this module)."""

from __future__ import annotations

import json
from typing import Any

import click

from sync_engine.engine import ConfigError, Engine
from sync_engine.report import EXIT_CODES, Report
from sync_engine.store import Store

from .engine_cli import clock_of, render, sync


@sync.command("drivers")
@click.option("--integration", help="Only this Driveri integration (or its portal's name).")
@click.option(
    "--full", is_flag=True, help="A full reconcile (what a manual sync always is; explicit)."
)
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as a JSON array.")
def sync_drivers(integration: str | None, full: bool, dry_run: bool, as_json: bool) -> None:
    """Drivers: GPS Insight / Wex portal -> Netradyne Driveri. Exit 0 SUCCESS, 1 PARTIAL,
    2 FAILED.

    A manual sync is always a full reconcile of every portal driver (the webhook events are
    the engine service's to apply), with or without --full. It reads the portal's Driver Sync
    setting first: off, nothing reaches Driveri. --dry-run reads both sides and prints every
    planned write (kind, portal driver id, Driveri driverId, the fields it would change) and
    writes nothing, neither to Driveri nor to the engine's links; with Driver Sync off it
    shows what turning it on would do."""
    del full  # a manual sync is a full reconcile either way
    store = Store()
    clock = clock_of(store)
    try:
        engine = Engine(store, clock=clock)
        reports = engine.sync_drivers(integration, full=True, dry_run=dry_run)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, default=str))
    else:
        click.echo("\n".join(render_drivers(r, dry_run) for r in reports))
    raise SystemExit(EXIT_CODES[engine.worst_outcome(reports)])


def render_drivers(report: Report, dry_run: bool) -> str:
    """A drivers run report for a terminal; a dry run lists its planned writes first."""
    data = report.as_dict()
    text = render(report)
    if data.get("detail", {}).get("first_activation"):
        text += "\n  first activation: every existing Driveri driver adopted before any create"
    if not dry_run:
        return text
    planned = data.get("planned") or []
    lines = [f"  dry run: {len(planned)} planned write(s), nothing written"]
    lines.extend(f"    {plan_line(action)}" for action in planned)
    return "\n".join([text, *lines])


def plan_line(action: dict[str, Any]) -> str:
    """One planned action: kind, portal driver, Driveri driver, fields changed."""
    target = action["driver_id"]
    if action.get("old_driver_id"):
        target = f"{action['old_driver_id']} -> {target}"
    fields = ", ".join(f"{k}={v!r}" for k, v in action.get("fields", {}).items())
    line = f"{action['kind']:<7} portal {action['portal_id']:<6} driveri {target}  {fields}"
    return line.rstrip()
