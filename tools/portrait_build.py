"""Bringing the portrait index up to date with a shop, and the report of what a build did.

A build makes the portrait of every customer of the shop (erased customers left out) and assigns them to
segments: the K-means model kept with the index, unless a refit is asked for or the shop's features changed.
It then compares them with the collection (:func:`~tools.portrait_ingest.plan_changes`): only customers
whose text changed are re-embedded, those whose segment or scores moved only have their metadata rewritten,
and customers who left the shop are deleted. The vocabulary of filterable values and the segment model are
kept in the collection's metadata, and the derived tables are saved. :func:`build_index` is the body of
:meth:`~tools.portrait_store.PortraitStore.build` and keeps the store's mirror and revision stamp in step.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chromadb.api.models.Collection import Collection
from rich.console import Console

from tools.portrait_ingest import plan_changes
from tools.portraits import Portrait, build_portraits, shop_genres
from tools.rfm import SPEND_BANDS
from tools.segments import SegmentModel
from tools.shop import Shop

if TYPE_CHECKING:
    from tools.portrait_store import PortraitStore

_PAGE = 5000


@dataclass(frozen=True)
class BuildReport:
    """What :meth:`~tools.portrait_store.PortraitStore.build` did.

    Attributes:
        added: New customers embedded.
        updated: Customers whose text changed, re-embedded.
        unchanged: Customers whose portrait was already up to date.
        removed: Documents deleted because the customer left the shop.
        skipped_erased: Customers not indexed because they were erased.
        seconds: Wall time.
        relabelled: Customers whose metadata only (segment, scores) changed: updated without embedding.
        segments: Number of segments.
    """

    added: int
    updated: int
    unchanged: int
    removed: int
    skipped_erased: int
    seconds: float
    relabelled: int = 0
    segments: int = 0

    @property
    def embedded(self) -> int:
        """Return the number of portraits (re-)embedded."""
        return self.added + self.updated


def _vocabulary(portraits: list[Portrait], genres: list[str], model: SegmentModel | None) -> dict[str, list[str]]:
    def present(values: Any) -> list[str]:
        return sorted({v for v in values if v is not None})

    bands = {p.spend_band for p in portraits}
    return {
        "genders": present(p.gender for p in portraits),
        "occupations": present(p.occupation for p in portraits),
        "regions": present(p.region for p in portraits),
        "genres": genres,
        "lifecycles": present(p.lifecycle for p in portraits),
        "segments": list(model.names) if model else [],
        "spend_bands": [b for b in SPEND_BANDS if b in bands],
    }


def _stored(collection: Collection) -> dict[str, dict[str, Any]]:
    """Return id to metadata of every indexed portrait (paged)."""
    stored: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
        for cid, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
            stored[cid] = dict(meta or {})
        if len(page["ids"]) < _PAGE:
            return stored
        offset += _PAGE


def _segment(
    store: PortraitStore, portraits: list[Portrait], genres: list[str], refit: bool
) -> tuple[list[Portrait], SegmentModel | None]:
    if len(portraits) < 2:
        return portraits, None
    model = None if refit else store.segment_model()
    if model is None or not model.fits(portraits, genres):
        model = SegmentModel.fit(portraits, genres, store.segments, store.seed)
    labels = model.assign(portraits)
    return [
        replace(p, segment=int(s), segment_name=model.names[s]) for p, s in zip(portraits, labels, strict=True)
    ], model


def build_index(
    store: PortraitStore, shop: Shop, console: Console | None = None, refit_segments: bool = False
) -> BuildReport:
    """Index the shop's portraits in the store, re-embedding only customers whose text changed.

    Segments keep the model stored with the index (customers are assigned to its centres) unless
    ``refit_segments`` is set or the shop's features changed; then K-means is fitted again.

    Args:
        store: The portrait store.
        shop: The shop.
        console: Rich console for a progress bar and a summary line; None is silent.
        refit_segments: Fit the segments again.

    Returns:
        Counts of what was done.
    """
    started = time.perf_counter()
    genres = shop_genres(shop)
    erased = store.erased_ids()
    everyone = build_portraits(shop, store.config)
    portraits, model = _segment(store, [p for p in everyone if p.customer_id not in erased], genres, refit_segments)
    stored = _stored(store.collection)
    plan = plan_changes(portraits, genres, stored)
    store.ingest(plan.embed_ids, plan.embed_texts, plan.embed_metas, console=console)
    for start in range(0, len(plan.relabel_ids), _PAGE):
        part = slice(start, start + _PAGE)
        store.collection.update(ids=plan.relabel_ids[part], metadatas=plan.relabel_metas[part])  # type: ignore[arg-type]
    if store._index is not None and plan.relabel_ids:
        store._index.update_metadata(plan.relabel_ids, plan.relabel_metas)
    current = {p.customer_id for p in everyone}
    gone = [cid for cid in stored if cid not in current]
    if gone:
        store.collection.delete(ids=gone)
        if store._index is not None:
            store._index.remove(gone)
    changed = bool(plan.embed_ids or plan.relabel_ids or gone) or store.revision() is None
    vocabulary = json.dumps(_vocabulary(portraits, genres, model))
    if changed or store._collection_meta().get("vocabulary") != vocabulary:
        extra = {"segment_model": model.to_json()} if model else {}
        store._touch(vocabulary=vocabulary, shop=shop.name, **extra)
    if store.tables is not None:
        store.tables.save(portraits, model)
    report = BuildReport(
        added=plan.added,
        updated=len(plan.embed_ids) - plan.added,
        unchanged=plan.unchanged,
        removed=len(gone),
        skipped_erased=len(erased & current),
        seconds=round(time.perf_counter() - started, 2),
        relabelled=len(plan.relabel_ids),
        segments=len(model.names) if model else 0,
    )
    if console is not None:
        console.print(
            f"Portraits of {shop.name}: {report.added} added, {report.updated} updated, {report.relabelled} "
            f"relabelled, {report.unchanged} unchanged, {report.removed} removed, {report.skipped_erased} "
            f"erased; {report.segments} segments ({report.seconds:.1f} s)"
        )
    return report
