"""``fleetsim scenario list|show NAME|run NAME|run --all [--json]``: the QA scenario catalogue
(fixtures/scenarios/), each run on a stack of its own (docs/scenarios.md)."""

from __future__ import annotations

import json
import sys

import click

from fixtures.scenario_schema import ScenarioError, load_file
from fleetsim.cli import main
from fleetsim.scenario_runner import Result, catalogue, run_scenario

EXIT_FAILED, EXIT_INVALID = 1, 2


@main.group()
def scenario() -> None:
    """QA scenarios: a world, steps and the expected outcome (fixtures/scenarios/)."""


@scenario.command("list")
def list_scenarios() -> None:
    """Every scenario with the first line of its description."""
    files = catalogue()
    width = max((len(name) for name in files), default=0)
    invalid = False
    for name, path in files.items():
        try:
            first = str(load_file(path)["description"]).strip().splitlines()[0]
        except ScenarioError as exc:
            first, invalid = f"INVALID {exc}", True
        click.echo(f"{name:<{width}}  {first}")
    click.echo(f"{len(files)} scenarios")
    if invalid:
        sys.exit(EXIT_INVALID)


@scenario.command()
@click.argument("name")
def show(name: str) -> None:
    """Print a scenario file as written (and whether it is valid)."""
    path = catalogue().get(name)
    if path is None:
        raise click.UsageError(f"no scenario named {name!r} (see `fleetsim scenario list`)")
    click.echo(path.read_text(encoding="utf-8").rstrip())
    try:
        load_file(path)
    except ScenarioError as exc:
        click.echo(f"INVALID {exc}", err=True)
        sys.exit(EXIT_INVALID)


@scenario.command()
@click.argument("name", required=False)
@click.option("--all", "run_all", is_flag=True, help="Run every scenario of the catalogue.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def run(name: str | None, run_all: bool, as_json: bool) -> None:
    """Run one scenario (or --all) on a stack of its own; exit 0 only when all pass."""
    files = catalogue()
    if run_all == (name is not None):
        raise click.UsageError("give a scenario NAME or --all")
    if name is not None and name not in files:
        raise click.UsageError(f"no scenario named {name!r} (see `fleetsim scenario list`)")
    chosen = list(files) if run_all else [str(name)]
    try:
        scenarios = [load_file(files[n]) for n in chosen]
    except ScenarioError as exc:
        click.echo(f"invalid scenario: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    results: list[Result] = []
    transcripts: list[list[str]] = []
    for one in scenarios:
        lines: list[str] = []
        out = lines.append if as_json else click.echo
        results.append(run_scenario(one, out))
        transcripts.append(lines)
        if not as_json and run_all:
            click.echo("")
    if as_json:
        docs = [{**r.as_dict(), "transcript": t} for r, t in zip(results, transcripts, strict=True)]
        click.echo(json.dumps({"passed": all(r.passed for r in results), "scenarios": docs},
                              indent=2, default=str))  # fmt: skip
    elif run_all:
        for result in results:
            verdict = "PASS" if result.passed else "FAIL"
            click.echo(f"{verdict}  {result.name}  ({result.seconds:.1f} s)")
        passed = sum(r.passed for r in results)
        click.echo(f"{passed}/{len(results)} scenarios passed")
    if not all(r.passed for r in results):
        sys.exit(EXIT_FAILED)
