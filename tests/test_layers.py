"""The architecture holds: every module sits in a layer of the import-linter contract, no module takes part in an
import cycle (``TYPE_CHECKING`` imports included), and code outside a tool package imports only its ``__init__``.

``lint-imports`` checks that the layers point down; these tests check what the contract cannot say by itself.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES = CONFIG["root_packages"]
# Tool packages whose internals are theirs alone; outside code imports their __init__.
TOOL_PACKAGES = ("tools.shop", "tools.portraits", "tools.audience", "tools.recommend", "tools.effect",
                 "tools.effect.headlines", "tools.effect.uplift", "tools.effect.bandit", "tools.copywriting",
                 "agent.llm")  # fmt: skip
# Benchmarks measure a tool's internals by design.
MAY_REACH_INTERNALS = ("eval.bench_",)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _layer_entries() -> list[str]:
    (contract,) = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
    return [name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")]


def test_every_module_sits_in_a_layer(graph: grimp.ImportGraph) -> None:
    entries = _layer_entries()
    loose = sorted(m for m in graph.modules if m not in PACKAGES and not any(_inside(m, e) for e in entries))
    assert loose == [], f"modules in no layer of [tool.importlinter] in pyproject.toml: {loose}"


def test_no_module_import_cycle(graph: grimp.ImportGraph) -> None:
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = [(index[a], index[b]) for a in modules for b in graph.find_modules_directly_imported_by(a)]
    rows, cols = zip(*edges, strict=True)
    matrix = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(modules), len(modules)))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    cycles = [sorted(modules[i] for i in np.flatnonzero(labels == label))
              for label in np.flatnonzero(np.bincount(labels) > 1)]
    assert cycles == [], f"modules that import each other (directly or through others): {cycles}"


def test_outside_code_imports_tool_packages_through_their_init(graph: grimp.ImportGraph) -> None:
    reached = []
    for package in TOOL_PACKAGES:
        for module in graph.find_descendants(package):
            for importer in graph.find_modules_that_directly_import(module):
                outside = not _inside(importer, package)
                if outside and not importer.startswith(MAY_REACH_INTERNALS):
                    reached.append(f"{importer} -> {module}")
    assert reached == [], f"import these from the package instead: {sorted(reached)}"
