"""The scale-test portrait stores: batched, resumable and incremental ingestion of replicas into Chroma.

SCALE TEST DATA: each size (10k, 100k, 1m …) has its own collection ``portraits-retail-scale-<size>`` in an
embedded Chroma store of its own (``<home>/scale/<size>/chroma``, so sizes can be ingested by separate processes at
the same time), or on the Chroma server of ``CAMPAIGN_CHROMA_URL``; never mixed with the real shops' portraits.
:func:`ingest_scale_store` writes the replicas of :mod:`tools.scale.replicas` in blocks of
:data:`~tools.scale.replicas.BLOCK` with their precomputed vectors (Chroma never embeds). Before writing a block
it asks Chroma which of its ids are already stored and writes only the others, so an interrupted run resumes where
it stopped and a re-run of a complete store writes nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.settings import Settings
from tools.portraits import PortraitStore
from tools.scale.replicas import BLOCK, SCALE_LABEL, SourcePortraits, replica_block, replica_id, size_label

#: Told ``(replicas done, replicas in all)`` as blocks finish (``agent.progress.progress_bar``'s callback).
Progress = Callable[[int, int], None]


def scale_shop_name(source_shop: str, size: int) -> str:
    """Return the scale-test shop's name, e.g. ``retail-scale-1m``."""
    return f"{source_shop}-scale-{size_label(size)}"


def scale_settings(settings: Settings, size: int) -> Settings:
    """Return the settings whose home is ``<home>/scale/<size>`` (the scale store's own Chroma folder)."""
    return settings.model_copy(update={"home": settings.home / "scale" / size_label(size)})


def open_scale_store(settings: Settings, source_shop: str, size: int) -> PortraitStore:
    """Open (creating if needed) the portrait store of a scale-test shop, without writing anything."""
    return PortraitStore.from_settings(scale_settings(settings, size), shop=scale_shop_name(source_shop, size))


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest_scale_store` did.

    Attributes:
        shop: The scale shop's name.
        size: Replicas in the store afterwards.
        written: Replicas written by this run.
        skipped: Replicas found already stored (resumed or re-run).
        seconds: Wall time of this run.
        vectors_per_s: Replicas written per second (None when nothing was written).
        store_mb: Size on disk of the store's Chroma folder (database and vector segment). With a Chroma server,
            the server's whole folder (every collection on it), or None when its folder was not given.
        vector_segment_mb: Of which the collection's vector segment (HNSW files).
    """

    shop: str
    size: int
    written: int
    skipped: int
    seconds: float
    vectors_per_s: float | None
    store_mb: float | None
    vector_segment_mb: float | None


def _megabytes(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def _chroma_folder(settings: Settings, size: int, server_path: Path | None) -> Path | None:
    """Return the folder a size's store lives in, or None when it is unknown.

    Embedded, the size's own folder. With a Chroma server, the server's (``server_path``, given when the server
    runs on this machine), which every collection on it shares.
    """
    if settings.chroma_url:
        return server_path
    return Path(scale_settings(settings, size).chroma_dir)


def store_megabytes(settings: Settings, size: int, server_path: Path | None = None) -> float | None:
    """Return the size on disk of a scale store's Chroma folder (see :func:`_chroma_folder`; None when unknown)."""
    folder = _chroma_folder(settings, size, server_path)
    return _megabytes(folder) if folder is not None else None


def collection_megabytes(settings: Settings, store: PortraitStore, size: int,
                         server_path: Path | None = None) -> float | None:
    """Return the size on disk of one collection's vector segment (HNSW files; None when the folder is unknown)."""
    folder = _chroma_folder(settings, size, server_path)
    if folder is None:
        return None
    with sqlite3.connect(folder / "chroma.sqlite3") as db:
        rows = db.execute("SELECT id FROM segments WHERE collection = ? AND scope = 'VECTOR'",
                          (str(store.collection.id),)).fetchall()
    total = sum(p.stat().st_size for (sid,) in rows for p in (folder / sid).rglob("*") if p.is_file())
    return round(total / 2**20, 1)


def ingest_scale_store(
    settings: Settings,
    source: SourcePortraits,
    size: int,
    seed: int,
    progress: Progress | None = None,
    source_store: PortraitStore | None = None,
    server_path: Path | None = None,
) -> IngestReport:
    """Write the ``size`` replicas of a scale-test shop into its store, skipping those already there.

    Args:
        settings: Settings (``home``; ``chroma_url`` for a Chroma server).
        source: The real portraits replicated.
        size: Customers of the scale shop.
        seed: The scale shop's seed.
        progress: Told (replicas done, size) after each block.
        source_store: The real shop's store, whose vocabulary and segment model the scale store keeps (the
            replicas keep their source's segment).
        server_path: The Chroma server's data folder, when the server runs on this machine: the store's size on
            disk is read from it (otherwise unknown with a server).

    Returns:
        What was written and how fast.
    """
    started = time.perf_counter()
    store = open_scale_store(settings, source.shop, size)
    written = skipped = 0
    for start in range(0, size, BLOCK):
        stop = min(start + BLOCK, size)
        ids = [replica_id(seed, i) for i in range(start, stop)]
        present = set(store.collection.get(ids=ids, include=[])["ids"])
        if len(present) < len(ids):
            block = replica_block(source, seed, start, stop)
            keep = [i for i, cid in enumerate(block.ids) if cid not in present]
            store.collection.upsert(
                ids=[block.ids[i] for i in keep], embeddings=block.vectors[keep],
                documents=[block.documents[i] for i in keep],
                metadatas=[block.metadata[i] for i in keep],
            )  # fmt: skip
            written += len(keep)
        skipped += len(present)
        if progress is not None:
            progress(stop, size)
    meta = store.metadata()
    wanted = {"shop": scale_shop_name(source.shop, size), "scale_test": f"{SCALE_LABEL}: {size} replicas of the "
              f"real {source.shop} customers (seed {seed}); not real customers", "scale_seed": seed}
    if source_store is not None:
        real = source_store.metadata()
        wanted |= {k: real[k] for k in ("vocabulary", "segment_model") if k in real}
    if written or any(meta.get(k) != v for k, v in wanted.items()) or meta.get("revision") is None:
        store.write_metadata(**wanted)
    seconds = time.perf_counter() - started
    return IngestReport(
        shop=scale_shop_name(source.shop, size), size=store.count(), written=written, skipped=skipped,
        seconds=round(seconds, 2), vectors_per_s=round(written / seconds, 1) if written else None,
        store_mb=store_megabytes(settings, size, server_path),
        vector_segment_mb=collection_megabytes(settings, store, size, server_path),
    )

