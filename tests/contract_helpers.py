"""What the contract test modules (``tests/contracts/``) share: the pinned contract files,
the DEEP flag and its example budgets, the schemathesis checks every vendor runs, and the
schemathesis config, schema, stateful settings and recording state machine they are built
from.

Each vendor's module keeps what is its own: which further checks are on or off and why,
per-operation overrides, auth, and how a case is prepared and judged.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from schemathesis import Case

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"

# FLEETSIM_DEEP=1 (make test-deep) turns the long property-based and contract runs on.
DEEP = os.environ.get("FLEETSIM_DEEP") == "1"

# On for every vendor: the checks whose verdict no vendor's quirks change.
COMMON_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)


def contract_path(vendor: str) -> Path:
    """``contracts/<vendor>.openapi.json``."""
    return CONTRACTS / f"{vendor}.openapi.json"


def load_contract(vendor: str) -> dict[str, Any]:
    """The vendor's pinned OpenAPI document."""
    return json.loads(contract_path(vendor).read_text(encoding="utf-8"))


def pretty_json(contract: dict[str, Any]) -> str:
    """The one text a pinned contract file may have: sorted, indented by two, a final newline."""
    return json.dumps(contract, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def budget(quick: int, deep: int) -> int:
    """An example budget: ``deep`` under FLEETSIM_DEEP=1, ``quick`` otherwise."""
    return deep if DEEP else quick


def checks(*names: str, off: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """schemathesis ``checks``: the common ones and ``names`` on, ``off`` off."""
    on = {name: {"enabled": True} for name in (*COMMON_CHECKS, *names)}
    return on | {name: {"enabled": False} for name in off}


def config(
    mode: str, checks: dict[str, dict[str, Any]], max_examples: int, **settings: Any
) -> schemathesis.Config:
    """A deterministic schemathesis config without an example database for ``mode``
    ("positive" or "negative"), plus any further top-level ``settings`` (auth, operations,
    phases)."""
    return schemathesis.Config.from_dict(
        {
            **settings,
            "generation": {
                "mode": mode,
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
            },
            "checks": checks,
        }
    )


def schema(contract: dict[str, Any], config: schemathesis.Config, app: Any) -> Any:
    """A schemathesis schema of (a copy of) ``contract`` that calls ``app`` in-process."""
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(contract), config=config)
    loaded.app = app
    return loaded


def stateful_settings(max_examples: int, steps: int) -> hypothesis.settings:
    """Reproducible settings for a schemathesis state machine: derandomized, no example
    database, no deadline, every health check suppressed."""
    return hypothesis.settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )


Step = tuple[str, int, Any]


def recording_machine(
    schema: Any,
    steps: list[Step],
    *,
    setup: Callable[[], None],
    before_call: Callable[[Case], None] = lambda case: None,
    judge: Callable[[Any], None] = lambda response: None,
    teardown: Callable[[], None] = lambda: None,
) -> Any:
    """A schemathesis state machine over ``schema``'s links: ``setup`` starts each scenario and
    ``teardown`` ends it, ``before_call`` prepares each step, ``judge`` asserts on each answer
    beyond the configured checks, and every step is recorded in ``steps`` as (operation
    label, status, body), so a test can assert what was really walked."""

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            setup()

        def before_call(self, case: Case) -> None:
            before_call(case)

        def after_call(self, response: Any, case: Case) -> None:
            super().after_call(response, case)
            judge(response)
            steps.append((case.operation.label, response.status_code, case.body))

        def teardown(self) -> None:
            teardown()

    return Machine
