"""``fleetsim``: the command-line entry point."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from mock_vendors._common.stack import StackSettings

F = TypeVar("F", bound=Callable[..., object])


STACK_PORT = 8100
ENGINE_PORT = 8200  # also fleetsim.engine_child's default for FLEETSIM_ENGINE_PORT


def listen_options(env: str, port: int, what: str) -> Callable[[F], F]:
    """``--host`` and ``--port`` of a server, defaulting to ``<env>_HOST`` / ``<env>_PORT``
    (loopback and ``port`` when unset)."""

    def decorate(command: F) -> F:
        command = click.option(
            "--port",
            type=int,
            default=lambda: int(os.environ.get(f"{env}_PORT", str(port))),
            show_default=str(port),
            help=f"Port of {what} [{env}_PORT].",
        )(command)
        return click.option(  # type: ignore[no-any-return]
            "--host",
            default=lambda: os.environ.get(f"{env}_HOST", "127.0.0.1"),
            show_default="127.0.0.1",
            help=f"Address of {what} (loopback by default) [{env}_HOST].",
        )(command)

    return decorate


@click.group()
def main() -> None:
    """fleetsim: fleet vendor emulators and the sync engine that runs against them."""


@main.command()
@listen_options("FLEETSIM", STACK_PORT, "every vendor (each under its own prefix)")
@click.option("--seed", type=int, default=None, help="World seed [FLEETSIM_SEED, default 1].")
@click.option(
    "--vehicles",
    type=int,
    default=None,
    help="GPS Insight demo vehicles [FLEETSIM_VEHICLES, default 50].",
)
@click.option("--threads", type=int, default=8, show_default=True, help="gunicorn threads.")
@click.option("--no-demo", is_flag=True, help="Do not set up the sync engine's demo store.")
@click.option(
    "--engine-port",
    type=int,
    default=None,
    help="Port of `fleetsim engine`, started with the demo [FLEETSIM_ENGINE_PORT, 8200].",
)
@click.option("--no-engine", is_flag=True, help="Do not start `fleetsim engine` beside it.")
@click.option(
    "--scenario",
    default=None,
    help="Load a QA scenario's world and changes (`fleetsim scenario list`) [make run SCENARIO=].",
)
def serve(
    host: str,
    port: int,
    seed: int | None,
    vehicles: int | None,
    threads: int,
    no_demo: bool,
    engine_port: int | None,
    no_engine: bool,
    scenario: str | None,
) -> None:
    """Start every emulator in one process and print URLs and demo credentials."""
    from fleetsim.serve import serve as run_server
    from mock_vendors.wsgi import create_all

    loaded, settings = stack_settings(seed, vehicles, scenario)
    run_server(
        create_all(settings), host, port, threads, demo=not no_demo, engine=not no_engine,
        engine_port=engine_port, scenario=loaded,
    )  # fmt: skip


def stack_settings(
    seed: int | None, vehicles: int | None, scenario: str | None
) -> tuple[dict[str, Any] | None, StackSettings]:
    """The scenario ``serve`` loads (if named) and the stack's settings: FLEETSIM_* variables,
    then the scenario's world, then --seed / --vehicles; the scenario's name recorded in them
    (``/_mock/seed`` and replay bundles say which scenario a stack holds)."""
    from mock_vendors._common.stack import StackSettings

    loaded: dict[str, Any] | None = None
    sizes: dict[str, Any] = {}
    if scenario:
        from fixtures.scenario_schema import ScenarioError
        from fleetsim.scenario_runner import load
        from fleetsim.scenario_stack import world

        try:
            loaded = load(scenario)
        except (KeyError, ScenarioError) as exc:
            raise click.UsageError(str(exc.args[0])) from None
        sizes = world(loaded.get("given", {}))
    try:
        chosen = {k: v for k, v in {"seed": seed, "vehicles": vehicles}.items() if v is not None}
        settings = StackSettings.from_env(None, **{**sizes, **chosen})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if settings.vehicles < 0 or settings.vehicles > 20_000:
        raise click.UsageError("--vehicles must be between 0 and 20000")
    return loaded, replace(settings, scenario=scenario)


@main.command()
@listen_options("FLEETSIM_ENGINE", ENGINE_PORT, "the status API")
def engine(host: str, port: int) -> None:
    """Run the sync engine until Ctrl-C: every pipeline on its schedule, on the engine clock
    (telematics every FLEETSIM_TELEMATICS_INTERVAL s, default 300; the full drivers reconcile
    every FLEETSIM_DRIVERS_RECONCILE_INTERVAL s, default 86400; a look at each portal's Driver
    Sync setting every FLEETSIM_DRIVER_SYNC_POLL_INTERVAL s, default 300; 0 turns one off),
    the webhook receiver (POST /webhooks/gpsinsight/<portal>) with its background applier, and
    a JSON status API (/healthz, /api/integrations, /api/runs, /api/runs/<id>,
    /api/drivers/links, /api/drivers/events)."""
    from fleetsim.engine_service import serve_engine
    from sync_engine.engine import ConfigError

    try:
        serve_engine(host, port)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _register_engine_commands() -> None:
    import fleetsim.bundle  # noqa: F401  (registers `bundle`)
    import fleetsim.drivers_cli  # noqa: F401  (registers `sync drivers` on the sync group)
    import fleetsim.scenario_cli  # noqa: F401  (registers `scenario`)
    from fleetsim.engine_cli import integrations, runs, sync
    from fleetsim.verify_cli import verify

    main.add_command(verify)
    main.add_command(integrations)
    main.add_command(sync)
    main.add_command(runs)


_register_engine_commands()

if __name__ == "__main__":
    main()
