"""`make run`'s engine: `fleetsim engine` in a child process of `fleetsim serve`.

The gunicorn master starts it (a thread inside the master would share its signal handling
and its fork into the worker) and stops it when the stack stops. It runs on the stack's
virtual clock from its first tick (FLEETSIM_ENGINE_CLOCK names the stack unless already
set), and the worker's set-up says ``fleetsim ready`` only once its /healthz answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

from fleetsim.cli import ENGINE_PORT as DEFAULT_ENGINE_PORT
from fleetsim.engine_service import PARENT_PID_VAR
from sync_engine.clock import ENV_VAR, stack_spec


def engine_address(host: str | None = None, port: int | None = None) -> tuple[str, int]:
    """Where the engine listens: the given values, else FLEETSIM_ENGINE_HOST/_PORT."""
    host = host or os.environ.get("FLEETSIM_ENGINE_HOST", "127.0.0.1")
    if port is None:
        port = int(os.environ.get("FLEETSIM_ENGINE_PORT", str(DEFAULT_ENGINE_PORT)))
    return host, port


def healthz_url(host: str, port: int) -> str:
    """The engine's /healthz as seen from this machine (an any-address bind via loopback)."""
    name = "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host
    name = f"[{name}]" if ":" in name and not name.startswith("[") else name
    return f"http://{name}:{port}/healthz"


def start_engine(host: str, port: int, stack_url: str) -> subprocess.Popen[bytes]:
    """Start `fleetsim engine` on ``host:port``, on the clock of the stack at ``stack_url``."""
    env = dict(os.environ)
    env.setdefault(ENV_VAR, stack_spec(stack_url))
    env[PARENT_PID_VAR] = str(os.getpid())  # the engine stops if this process dies
    command = [sys.executable, "-m", "fleetsim.cli", "engine", "--host", host, "--port", str(port)]
    return subprocess.Popen(command, env=env)


def wait_until_healthy(url: str, timeout_s: float = 30.0) -> None:
    """Block until the engine's /healthz says ok (requests.RequestException past the time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = requests.get(url, timeout=1)
            response.raise_for_status()
            if response.json().get("status") == "ok":
                return
            raise requests.RequestException(f"engine /healthz answered {response.text[:200]}")
        except (requests.RequestException, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # waiting for our own child process to bind, not for a test


def stop_engine(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM (the run under way stops at a safe point), then kill past ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
