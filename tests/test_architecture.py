"""The dependency rules of the layout, checked on the source (imports read with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDORS = ("gpsinsight", "wex", "driveri", "whiparound")


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, absolute (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def offenders(package: str, banned: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files(package)
        for name in sorted(imports_of(path))
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]


def test_the_engine_never_imports_the_emulators_or_the_world_generator() -> None:
    assert offenders("sync_engine", ("mock_vendors", "fixtures", "flask")) == []


def test_the_emulators_never_import_the_engine() -> None:
    assert offenders("mock_vendors", ("sync_engine",)) == []


def test_fixtures_are_data_without_flask_or_io_libraries() -> None:
    assert offenders("fixtures", ("flask", "requests", "mock_vendors", "sync_engine")) == []


def test_the_common_core_never_imports_a_vendor() -> None:
    banned = tuple(f"mock_vendors.{vendor}" for vendor in VENDORS)
    assert offenders("mock_vendors/_common", banned) == []


@pytest.mark.parametrize("vendor", ["gpsinsight", "driveri", "whiparound"])
def test_a_vendor_backend_never_imports_flask(vendor: str) -> None:
    backend = ROOT / "mock_vendors" / vendor / "backend.py"
    assert not any(n == "flask" or n.startswith("flask.") for n in imports_of(backend))


def test_wex_is_configuration_of_gps_insight_not_a_copy() -> None:
    wex = [p for p in files("mock_vendors/wex") if p.name != "__init__.py"]
    assert [p.name for p in wex] == ["app.py"]
    assert "mock_vendors.gpsinsight.app" in imports_of(wex[0])
