"""The ``{service}/methods`` answer, generated from the route table: never a second list.

The official PHP client's generator (``dev/src/ServiceBuilder.php``) calls ``{service}/methods``
and writes one docblock per element ``{name, notes, param}``: ``name`` the method's API name
(``catalogue.API_NAMES``), ``notes`` its summary (here the first paragraph of the method's view
docstring, which is the backend method's), ``param`` one ``"name: description"`` line per
parameter of its schema, in the order the schema checks them (descriptions are the fields'
metadata; aliases are left out, they are the emulator's older names).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mock_vendors._common.routing import Operation

from .catalogue import API_NAMES, METHODS

_METHOD_PREFIX = re.compile(r"^``[a-z]+/[a-z]+``(?:,[^:]*)?:\s*")


def served_services(operations: Iterable[Operation]) -> list[str]:
    """The services with at least one served method, in table order."""
    return list(dict.fromkeys(op.name.split("/")[0] for op in operations))


def describe(operations: Iterable[Operation], service: str) -> list[dict[str, Any]]:
    """``{service}/methods``: each served method of ``service`` as the client's generator
    reads it."""
    return [
        {"name": API_NAMES[op.name], "notes": notes_of(op), "param": params_of(op)}
        for op in operations
        if op.name.split("/")[0] == service and op.name.split("/")[1] != METHODS
    ]


def notes_of(op: Operation) -> str:
    """The first paragraph of the view's docstring, as one plain sentence."""
    doc = (op.view.__doc__ or "").strip().split("\n\n")[0]
    text = " ".join(_METHOD_PREFIX.sub("", doc).split()).replace("``", "")
    text = text[:1].upper() + text[1:]
    return text if not text or text.endswith(".") else text + "."


def params_of(op: Operation) -> list[str]:
    """``"name: description"`` per parameter (``"name"`` alone without a description);
    an optional parameter says so, as the client's docblocks do."""
    lines = []
    for name, field in op.query.load_fields.items() if op.query is not None else ():
        if field.metadata.get("alias_of"):
            continue
        description = str(field.metadata.get("description") or "")
        if not field.required and "optional" not in description.lower():
            description = f"{description} (optional)".strip()
        wire = field.data_key or name
        lines.append(f"{wire}: {description}" if description else wire)
    return lines
