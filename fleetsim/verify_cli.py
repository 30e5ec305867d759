"""``fleetsim verify``: is everything in sync? The reconciliation oracle on the command line.

Exit codes (docs/verification.md): 0 no drift, 3 drift found, 4 could not verify (a read
failed, or the configuration is missing or wrong). 1 and 2 stay what they are everywhere
else in fleetsim: a run's PARTIAL / FAILED, and click's own usage errors (2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from sync_engine.clock import ClockConfigError, engine_clock
from sync_engine.engine import ConfigError, Engine
from sync_engine.store import Store
from sync_engine.verify import Verdict
from sync_engine.verify_observe import verify as verify_all

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_UNVERIFIED = 0, 3, 4
SHOWN = 50  # lines per section before "use --json"


def make_engine(store: Store, clock: Callable[[], datetime]) -> Engine:
    """The engine verify reads through (tests replace it to inject a sleeper)."""
    return Engine(store, clock=clock)


def exit_code(verdicts: list[Verdict]) -> int:
    """4 when any integration could not be verified (its answer is unknown), else 3 when
    any drift was found, else 0."""
    if any(v.error is not None for v in verdicts):
        return EXIT_UNVERIFIED
    return EXIT_DRIFT if any(v.drift for v in verdicts) else EXIT_IN_SYNC


@click.command("verify")
@click.option("--integration", help="Only this integration (telematics, Driveri or its portal).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as a JSON array.")
def verify(integration: str | None, as_json: bool) -> None:
    """Compare what the sources say with what the targets hold; print drift per entity.

    Drift (missing, stale, duplicate, orphan) is counted only for matched entities the
    engine owns and may write: exactly the writes the engine's own plan would make now, plus
    duplicate open defects and duplicate Driveri drivers. Skips and anomalies are listed, not
    counted. Reads only: nothing is written to any vendor or to the engine's store.
    Exit 0 no drift, 3 drift, 4 could not verify."""
    try:
        store = Store()
        engine = make_engine(store, engine_clock(store))
        verdicts = verify_all(engine, integration)
    except (ConfigError, ClockConfigError) as exc:
        click.echo(f"could not verify: {exc}", err=True)
        raise SystemExit(EXIT_UNVERIFIED) from None
    if as_json:
        click.echo(json.dumps([v.as_dict() for v in verdicts], indent=2, default=str))
    else:
        click.echo("\n".join(render(v) for v in verdicts))
    raise SystemExit(exit_code(verdicts))


def render(verdict: Verdict) -> str:
    """One verdict for a terminal: a headline, the drift, then what is listed only."""
    data: dict[str, Any] = verdict.as_dict()
    head = f"{data['pipeline']} {data['integration']}: "
    if verdict.error is not None:
        return head + f"COULD NOT VERIFY ({verdict.error})"
    counts = "  ".join(f"{k} {n}" for k, n in data["counts"].items())
    lines = [head + ("IN SYNC" if not verdict.drift else f"DRIFT {len(verdict.drift)}")]
    lines.append(f"  {counts}")
    for item in data["drift"][:SHOWN]:
        extra = ", ".join(f"{k}={v}" for k, v in item.items() if k not in ("kind", "entity"))
        lines.append(f"  {item['kind']:<9} {item['entity']:<28} {extra}".rstrip())
    if len(verdict.drift) > SHOWN:
        lines.append(f"  ... and {len(verdict.drift) - SHOWN} more (use --json)")
    if verdict.listed:
        lines.append(f"  listed, not counted ({len(verdict.listed)}):")
        for item in verdict.listed[:SHOWN]:
            extra = ", ".join(f"{k}={v}" for k, v in item.items() if k not in ("kind", "reason"))
            lines.append(f"    {item['kind']:<8} {item['reason']:<22} {extra}".rstrip())
        if len(verdict.listed) > SHOWN:
            lines.append(f"    ... and {len(verdict.listed) - SHOWN} more (use --json)")
    return "\n".join(lines)
