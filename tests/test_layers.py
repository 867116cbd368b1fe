"""The import direction between the package's layers, read from the source with ``ast``.

    api (and the entry points: app, cli, serving)  →  domain  →  stats / storage / contract

``stats`` imports nothing of ours but itself; ``storage`` and ``contract`` import no ``domain``,
``api`` or entry point, and ``contract`` no ``storage`` at all (it describes rows by protocols);
``domain`` imports no ``api``; nothing below the entry points imports ``cli`` or ``app``; the
importers' service imports no ``api``; no module of the product imports the tests' tooling.
Imports inside functions count as much as the ones at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rtk_sessions"
ENTRY_POINTS = {"app", "cli", "serving", "__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def layer(module: str) -> str:
    """``rtk_sessions.api.ingest`` → ``api``; a top-level module is its own layer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {
    module_name(p): {m for m in imports(p) if m.split(".")[0] in ("rtk_sessions", "tests")}
    for p in SOURCES
}


def offenders(importer_layers: set[str], forbidden: set[str]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if layer(module) in importer_layers
        for target in targets
        if target.startswith("tests")
        or (
            target.startswith("rtk_sessions.")
            and any(
                target == f"rtk_sessions.{f}" or target.startswith(f"rtk_sessions.{f}.")
                for f in forbidden
            )
        )
    )


def test_the_graph_was_read() -> None:
    assert len(GRAPH) > 50
    assert "rtk_sessions.domain.ingest" in GRAPH["rtk_sessions.api.ingest"]
    assert any(layer(t) == "stats" for t in GRAPH["rtk_sessions.domain.samples"])
    assert "rtk_sessions.errors.validation_message" in GRAPH["rtk_sessions.contract.ingest"]


def test_stats_imports_nothing_of_ours_but_itself() -> None:
    bad = sorted(
        f"{m} imports {t}"
        for m, ts in GRAPH.items()
        if layer(m) == "stats"
        for t in ts
        if layer(t) != "stats"
    )
    assert bad == []


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [
        ({"storage"}, {"api", "domain", "contract", "importers", "jobs", *ENTRY_POINTS}),
        ({"contract"}, {"api", "domain", "storage", "importers", "jobs", *ENTRY_POINTS}),
        ({"domain"}, {"api", "importers", *ENTRY_POINTS}),
        ({"importers"}, {"api", *ENTRY_POINTS}),
        ({"api"}, {"cli", "app", "serving", "__main__"}),
        (
            {"exports", "summarize", "clock", "errors", "config", "security", "collector"},
            {"api", "domain", "storage", "importers", *ENTRY_POINTS},
        ),
    ],
    ids=["storage", "contract", "domain", "importers", "api", "foundations"],
)
def test_layers_import_downwards(importers: set[str], forbidden: set[str]) -> None:
    assert offenders(importers, forbidden) == []


def test_the_product_ships_no_test_tooling() -> None:
    assert offenders(set(map(layer, GRAPH)), set()) == []
    assert not (PACKAGE / "netem").exists()
