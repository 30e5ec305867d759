"""Drift: each emulator's route table and its pinned contract describe the same API.

For every vendor, the operations the emulator serves (``OPERATIONS`` in its ``routes.py``:
methods, path, query and body schemas, statuses) are compared with ``contracts/<vendor>``:
the same operations, and per operation the same parameter names, the same required ones,
the same request-body fields (required ones included) and the same response statuses. A
method added to one side only, a renamed parameter or an undocumented status fails here.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from contract_helpers import load_contract
from marshmallow import Schema

VENDORS = ("gpsinsight", "driveri", "whiparound")
# Parameters every GPS Insight method takes, handled by the RPC dispatcher rather than each
# method's schema (auth is a parameter there); tests/contracts/test_gpsinsight_contract.py
# checks them on every path.
ENVELOPE_PARAMETERS = {"gpsinsight": {"session_token", "reference_tag"}}
BODY_TYPES = ("application/json", "application/x-www-form-urlencoded")


def operations(vendor: str) -> tuple[Any, ...]:
    return importlib.import_module(f"mock_vendors.{vendor}.routes").OPERATIONS  # type: ignore[no-any-return]


def _template(path: str) -> str:
    """A path with every parameter written ``{}`` (Flask ``<x>`` and OpenAPI ``{x}`` alike)."""
    return re.sub(r"<(?:[^:>]+:)?[^>]+>|\{[^}]+\}", "{}", path.rstrip("/") or "/")


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _object_fields(doc: dict[str, Any], schema: Any) -> dict[str, bool]:
    """{property: required} of an object schema (``allOf`` parts merged)."""
    schema = _resolve(doc, schema)
    found: dict[str, bool] = {}
    for part in schema.get("allOf", []):
        found.update(_object_fields(doc, part))
    required = set(schema.get("required", []))
    for name in schema.get("properties", {}):
        found[name] = name in required or found.get(name, False)
    return found


def contract_side(vendor: str) -> dict[tuple[str, str], dict[str, Any]]:
    doc = load_contract(vendor)
    ignored = ENVELOPE_PARAMETERS.get(vendor, set())
    found = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = {}
            for p in op.get("parameters", []):
                p = _resolve(doc, p)
                if p["in"] == "query" and p["name"] not in ignored:
                    params[p["name"]] = bool(p.get("required"))
            body: dict[str, bool] = {}
            content = _resolve(doc, op.get("requestBody", {})).get("content", {})
            for kind in BODY_TYPES:
                if kind in content:
                    fields = _object_fields(doc, content[kind]["schema"])
                    body = {k: v for k, v in fields.items() if k not in ignored}
            if method == "post" and vendor in ENVELOPE_PARAMETERS:
                # The RPC platform takes the same fields in the query (GET) or a form (POST).
                params, body = body, {}
            statuses = {int(code) for code in op["responses"] if code.isdigit()}
            found[(method.upper(), _template(path))] = {
                "params": params,
                "body": body,
                "statuses": statuses,
            }
    return found


def _schema_fields(schema: Schema | None) -> dict[str, bool]:
    if schema is None:
        return {}
    partial = schema.partial is True
    return {
        (f.data_key or name): bool(f.required) and not partial
        for name, f in schema.fields.items()
        if not f.dump_only
    }


def emulator_side(vendor: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for op in operations(vendor):
        for method in op.methods:
            found[(method.upper(), _template(op.path))] = {
                "params": _schema_fields(op.query),
                "body": _schema_fields(op.body),
                "statuses": set(op.statuses),
            }
    return found


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_contract_lists_exactly_the_operations_the_emulator_serves(vendor: str) -> None:
    assert sorted(emulator_side(vendor)) == sorted(contract_side(vendor))


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("part", ["params", "body", "statuses"])
def test_every_operation_agrees_with_the_contract_on_its(vendor: str, part: str) -> None:
    ours, pinned = emulator_side(vendor), contract_side(vendor)
    differences = {
        f"{method} {path}": {"emulator": ours[key][part], "contract": pinned[key][part]}
        for key in sorted(ours.keys() & pinned.keys())
        for method, path in [key]
        if ours[key][part] != pinned[key][part]
    }
    assert differences == {}


def test_path_templates_compare_flask_and_openapi_parameters_alike() -> None:
    assert _template("/v1/tenants/<tenant>/drivers/<path:driver_id>") == "/v1/tenants/{}/drivers/{}"
    assert _template("/v1/tenants/{tenantUniqueName}/drivers/{driverId}") == (
        "/v1/tenants/{}/drivers/{}"
    )
