"""The wheel ships every subpackage and every template, web and eval file the code reads at run time."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
ROOTS = ("agent", "tools", "prompts", "eval", "serve")
DATA_SUFFIXES = (".jinja", ".yaml", ".js", ".html", ".css")


def test_package_discovery_finds_every_subpackage() -> None:
    include = SETUPTOOLS["packages"]["find"]["include"]
    found = set(find_packages(where=str(ROOT), include=include))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for root in ROOTS for p in (ROOT / root).rglob("__init__.py")}
    assert on_disk <= found, f"packages the wheel would miss: {sorted(on_disk - found)}"
    folders = {p for p in find_namespace_packages(where=str(ROOT), include=include) if "__pycache__" not in p}
    loose = sorted(f for f in folders - found if any((ROOT / f.replace(".", "/")).glob("*.py")))
    assert loose == [], f"folders with Python files but no __init__.py: {loose}"


def test_package_data_covers_every_template_and_web_file() -> None:
    globs: dict[str, list[str]] = SETUPTOOLS["package-data"]
    missed = []
    for root in ROOTS:
        for path in (ROOT / root).rglob("*"):
            if path.suffix not in DATA_SUFFIXES or "__pycache__" in path.parts:
                continue
            package_dir = path.parent
            while not (package_dir / "__init__.py").exists():
                package_dir = package_dir.parent
            package = ".".join(package_dir.relative_to(ROOT).parts)
            relative = path.relative_to(package_dir).as_posix()
            if not any(fnmatch.fnmatch(relative, pattern) for pattern in globs.get(package, [])):
                missed.append(f"{package}: {relative}")
    assert missed == [], f"files the wheel would not ship (add them to [tool.setuptools.package-data]): {missed}"
