"""Run a QA scenario (fixtures/scenarios/*.yaml) on a stack of its own and say exactly what
happened: each step, each run's report, the second run of the last engine step (it must
write nothing) and every expectation, expected vs actual. See docs/scenarios.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fixtures
from fixtures.scenario_schema import load_file, step_action
from fleetsim.redact import redact
from fleetsim.scenario_checks import (
    Check,
    drift_checks,
    equal,
    run_checks,
    state_checks,
    summary,
)
from fleetsim.scenario_stack import ScenarioStack, Vendors, build_app, serve_app
from fleetsim.scenario_steps import StepRunner
from mock_vendors.wsgi import StackApp

CATALOGUE = Path(fixtures.__file__).parent / "scenarios"
Out = Callable[[str], None]


def catalogue(directory: Path = CATALOGUE) -> dict[str, Path]:
    """Every scenario file by name, sorted."""
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def load(name: str, directory: Path = CATALOGUE) -> dict[str, Any]:
    """One validated scenario by name (KeyError naming it when there is none)."""
    files = catalogue(directory)
    if name not in files:
        raise KeyError(f"no scenario named {name!r} (see `fleetsim scenario list`)")
    return load_file(files[name])


@dataclass
class Result:
    """How a scenario went: PASS only when every check held and no step failed."""

    name: str
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every check held and nothing broke."""
        return self.error is None and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        """The checks that did not hold."""
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: outcome, failed checks (expected vs actual), steps and their reports."""
        return {
            "name": self.name,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "checks": len(self.checks),
            "failures": [
                {"where": c.where, "expected": c.expected, "actual": c.actual}
                for c in self.failures()
            ],
            "steps": self.steps,
        }


def describe_step(name: str, args: dict[str, Any]) -> str:
    """A step as one line: its action and arguments."""
    text = ", ".join(f"{k}: {v!r}" for k, v in args.items())
    return f"{name} {{{text}}}" if text else name


def given_line(given: dict[str, Any]) -> str:
    """The world a scenario starts from, as one line."""
    return (
        f"seed {given.get('seed', 1)}, {given.get('vehicles', 6)} GPS Insight vehicles, "
        f"{given.get('wex_vehicles', 0)} Wex vehicles, "
        f"Driver Sync {'on' if given.get('driver_sync') else 'off'}"
    )


def set_up(steps: StepRunner, given: dict[str, Any], out: Out) -> None:
    """Apply ``given``: Driver Sync, then each change (what `fleetsim serve --scenario`
    loads too)."""
    if given.get("driver_sync"):
        steps.run("gps.driver_sync", {"enabled": True})
    for step in given.get("changes", []):
        name, args = step_action(step)
        steps.run(name, args)
        out(f"  change {describe_step(name, args)}")


class ScenarioRun:
    """One scenario's steps on one stack, with its transcript."""

    def __init__(self, scenario: dict[str, Any], stack: ScenarioStack, out: Out) -> None:
        self.scenario = scenario
        self.stack = stack
        self.out = out
        self.steps = StepRunner(stack)
        self.result = Result(scenario["name"])
        self.names = self.vehicle_names()

    def vehicle_names(self) -> dict[str, str]:
        """Vehicle ids as QA knows them ("vehicle 3"), for the transcript."""
        names = {}
        for vendor in self.stack.sources:
            for v in self.steps.vendors.state(vendor)["vehicles"]:
                number = int(str(v["label"]).rsplit(" ", 1)[-1])
                prefix = "" if vendor == "gpsinsight" else "wex "
                names[str(v["id"])] = f"{prefix}vehicle {number}"
        return names

    def engine_step(self, name: str, args: dict[str, Any], expect: dict[str, Any]) -> None:
        """Run an engine step, print its report and check its ``expect``."""
        steps = self.steps
        waited_before, logins_before = len(self.stack.sleeper.waits), steps.engine_logins()
        writes_before = steps.target_writes()
        report = steps.run(name, args)
        context: dict[str, Any] = {
            "killed": steps.killed,
            "waited": round(sum(self.stack.sleeper.waits[waited_before:]), 3),
            "logins": steps.engine_logins() - logins_before,
            "events": self.stack.store.inbox_events(1000),
        }
        if name == "kill":
            self.out(f"     killed: {context['killed']} (after {args['after_requests']} requests;"
                     " its lease stays held, its run unfinished); target writes before it died:"
                     f" {steps.target_writes() - writes_before}")  # fmt: skip
        elif report is None:
            self.out("     no run (nothing pending)")
        else:
            for one in steps.reports:
                for line in summary(one, self.names):
                    self.out(f"     {line}")
        if context["waited"]:
            self.out(f"     waited {context['waited']:g} s before retries (not really slept)")
        if name.startswith("events"):
            statuses = ", ".join(
                f"{e['event_id']} {e['status']}" + (f" ({e['detail']})" if e["detail"] else "")
                for e in context["events"]
            )
            self.out(f"     inbox: {statuses or 'empty'}")  # fmt: skip
        checks = run_checks(expect, report, context)
        for check in checks:
            self.out(f"     {check.line()}")
        self.result.checks += checks
        self.result.steps[-1]["report"] = report.as_dict() if report else None

    def play(self) -> None:
        """Set up ``given``, do every step of ``when``, rerun, then check ``expect``."""
        scenario, out = self.scenario, self.out
        given = scenario.get("given", {})
        out(f"given: {given_line(given)}")
        set_up(self.steps, given, out)
        before = {n: self.steps.vendors.assets()[a] for n, a in self.steps.asset_of.items()}
        out("when:")
        last: tuple[str, dict[str, Any]] | None = None
        for number, step in enumerate(scenario["when"], 1):
            name, args = step_action(step)
            note = f"  ({step['note']})" if step.get("note") else ""
            out(f"  {number}. {describe_step(name, args)}{note}")
            self.result.steps.append({"step": name, "args": args})
            if name in ("sync", "events.apply", "kill"):
                self.engine_step(name, args, step.get("expect", {}))
                last = (name, args)
            else:
                self.steps.run(name, args)
                if name == "events.deliver":
                    out(f"     event {self.steps.delivered}")
        assert last is not None  # the schema insists on an engine step
        self.rerun(*last)
        self.steps.run("faults.clear", {})  # the checks below read through the vendors' APIs
        out("expect (the target state at the end; faults cleared to read it):")
        expect = scenario.get("expect", {})
        ran = {p for step in scenario["when"] if (p := self.pipeline(step)) is not None}
        checks = drift_checks(expect.get("drift", 0), self.stack.engine, ran, out)
        checks += state_checks(expect, self.steps, before)
        for check in checks:
            out(f"  {check.line()}")
        self.result.checks += checks

    @staticmethod
    def pipeline(step: dict[str, Any]) -> str | None:
        """The pipeline an engine step runs (None for other steps)."""
        name, args = step_action(step)
        if name.startswith("events."):
            return "drivers"
        return str(args["pipeline"]) if name in ("sync", "kill") else None

    def rerun(self, name: str, args: dict[str, Any]) -> None:
        """Every scenario runs twice: the last engine step again (a killed sync or an event
        batch: the pipeline's full run), which must write nothing."""
        again = dict(args) if name == "sync" else {"pipeline": self.pipeline({name: args})}
        self.out(f"second run (R1: it must write nothing): {describe_step('sync', again)}")
        writes_before = self.steps.target_writes()
        self.steps.run("sync", again)
        for report in self.steps.reports:
            self.out(f"     {summary(report, self.names)[0]}")
        checks = [
            equal("second run: report writes", 0, sum(r.writes for r in self.steps.reports)),
            equal("second run: writes the targets saw", 0,
                  self.steps.target_writes() - writes_before),
        ]  # fmt: skip
        for check in checks:
            self.out(f"     {check.line()}")
        self.result.checks += checks


def run_scenario(scenario: dict[str, Any], out: Out = print) -> Result:
    """Run one validated scenario on a fresh stack of its own; PASS/FAIL is the last line."""
    started = time.monotonic()
    out(f"scenario {scenario['name']}")
    for line in str(scenario["description"]).strip().splitlines():
        out(f"  | {line}")
    app = build_app(scenario.get("given", {}))
    with serve_app(app) as base:
        stack = ScenarioStack(app, base, scenario.get("given", {}).get("engine_user"))
        run = ScenarioRun(scenario, stack, out)
        try:
            run.play()
        except Exception as exc:  # a step that broke: said, never a traceback for QA
            run.result.error = redact(f"{type(exc).__name__}: {exc}")
            out(f"  ERROR {run.result.error}")
        finally:
            stack.close()
    result = run.result
    result.seconds = time.monotonic() - started
    failed = len(result.failures())
    verdict = "PASS" if result.passed else "FAIL"
    detail = f"{len(result.checks)} checks" + (f", {failed} failed" if failed else "")
    out(f"{verdict} {result.name} ({detail}, {result.seconds:.1f} s)")
    return result


def load_given(app: StackApp, base_url: str, scenario: dict[str, Any]) -> str:
    """Apply a scenario's ``given`` (Driver Sync, then its changes) to a served stack, for
    manual QA (`fleetsim serve --scenario NAME`); returns a line for the banner. The ``when``
    steps are left to QA (`fleetsim scenario show NAME` lists them)."""
    given = scenario.get("given", {})
    stack = ScenarioStack(app, base_url, given.get("engine_user"))
    try:
        set_up(StepRunner(stack), given, lambda line: None)
    finally:
        stack.close()
    changes = len(given.get("changes", []))
    return (
        f"{scenario['name']}: {given_line(given)}; {changes} change(s) applied; "
        f"its steps: fleetsim scenario show {scenario['name']}"
    )


def driver_sync_off_again(app: StackApp, base_url: str, scenario: dict[str, Any]) -> bool:
    """`make run`'s demo turns Driver Sync on; a scenario whose ``given`` says
    ``driver_sync: false`` gets it turned off again. True when it did so."""
    if scenario.get("given", {}).get("driver_sync") is not False:
        return False
    vendors = Vendors(app, base_url)
    try:
        vendors.gps("driverisync/update", enabled=0)
    finally:
        vendors.close()
    return True
