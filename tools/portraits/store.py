"""The portrait index: one Chroma document per customer, kept up to date incrementally.

Each document is a portrait text (embedded with the bundled MiniLM model, never Chroma's downloading
default) with filterable metadata (:func:`~tools.portraits.building.portrait_metadata`: demographics, lifecycle,
RFM, spend band, segment, genre flags) plus ``opted_out`` and two hashes. A rebuild
(:meth:`PortraitStore.build`) re-embeds only customers whose text changed, and only rewrites the metadata
of those whose segment or scores moved. Embedding and writing overlap: while MiniLM encodes one chunk, a
thread upserts the previous one (with the vectors, so Chroma never embeds again). Opt-outs survive
rebuilds; erased customers are remembered in a small ``portrait_erasures`` collection so a rebuild does
not bring them back.

The same code serves the embedded store (``PersistentClient``) and a Chroma server (``HttpClient``).
Searches run on :class:`~tools.portraits.memory_index.PortraitIndex`, an in-memory mirror stamped with the
collection's ``revision``; every write here changes the revision and updates the mirror.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from rich.console import Console

from agent.settings import Settings
from tools.embedding import EMBEDDING_DIM, MiniLMEmbeddingFunction
from tools.portraits.building import build_portraits, shop_genres
from tools.portraits.ingest import embed_and_upsert, embed_texts, embed_unique, plan_changes
from tools.portraits.memory_index import MirrorLoadError, PortraitIndex
from tools.portraits.portrait import Portrait, PortraitConfig
from tools.portraits.rfm import SPEND_BANDS
from tools.portraits.segments import DEFAULT_SEGMENTS, SegmentModel
from tools.portraits.tables import ProfileTables
from tools.shop import Shop

COLLECTION = "portraits"
LEGACY_SHOP = "movielens"
"""The shop whose portraits keep the first release's collection name (:data:`COLLECTION`) and table folder."""


def collection_name(shop: str) -> str:
    """Return the Chroma collection of a shop's portraits: ``portraits`` for MovieLens, ``portraits-<shop>`` else."""
    return COLLECTION if shop == LEGACY_SHOP else f"{COLLECTION}-{shop}"
ERASURES = "portrait_erasures"
HNSW = {"space": "cosine", "ef_construction": 64, "ef_search": 64, "max_neighbors": 16}

_PAGE = 5000


@dataclass(frozen=True)
class BuildReport:
    """What :meth:`~tools.portraits.store.PortraitStore.build` did.

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


def chroma_client(settings: Settings) -> ClientAPI:
    """Open Chroma: an ``HttpClient`` when ``settings.chroma_url`` is set, else the embedded store.

    Args:
        settings: Project settings (``chroma_url``, ``chroma_dir``).

    Returns:
        A Chroma client with anonymous telemetry off.
    """
    options = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        https = url.scheme == "https"
        port = url.port or (443 if https else 8000)
        return chromadb.HttpClient(host=url.hostname or "localhost", port=port, ssl=https, settings=options)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=options)


class PortraitStore:
    """The Chroma collection of customer portraits.

    Args:
        client: Chroma client (see :func:`chroma_client`).
        embedding_function: Embeds documents and queries (our MiniLM function; never Chroma's default).
        config: Portrait building knobs.
        tables: Where derived tables (profiles with RFM and segments) are saved; None saves none.
        segments: Number of K-means segments wanted.
        seed: Seed of K-means.
        collection: Name of the Chroma collection (one per shop: :func:`collection_name`).
    """

    def __init__(
        self,
        client: ClientAPI,
        embedding_function: MiniLMEmbeddingFunction,
        config: PortraitConfig | None = None,
        tables: ProfileTables | None = None,
        segments: int = DEFAULT_SEGMENTS,
        seed: int = 42,
        collection: str = COLLECTION,
    ) -> None:
        self.client = client
        self.collection_name = collection
        self.config = config or PortraitConfig()
        self.tables = tables
        self.segments = segments
        self.seed = seed
        self.embedding_function = embedding_function
        names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        configuration: Any = None if collection in names else {"hnsw": HNSW}
        self.collection: Collection = client.get_or_create_collection(
            collection,
            embedding_function=embedding_function,  # type: ignore[arg-type]
            configuration=configuration,
        )
        self._erasures = client.get_or_create_collection(ERASURES, embedding_function=None)
        self._index: PortraitIndex | None = None
        self._index_lock = threading.Lock()
        self._index_error: str | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, config: PortraitConfig | None = None, shop: str = LEGACY_SHOP
    ) -> PortraitStore:
        """Open the store of one shop configured by the settings (derived tables under ``home/profiles``).

        Args:
            settings: Project settings.
            config: Portrait building knobs.
            shop: The shop's name (each shop has its own collection and tables).

        Returns:
            The store.
        """
        ef = MiniLMEmbeddingFunction.from_settings(settings)
        tables = ProfileTables(settings.home / "profiles" / ("" if shop == LEGACY_SHOP else shop))
        return cls(chroma_client(settings), ef, config, tables, seed=settings.seed, collection=collection_name(shop))

    def count(self) -> int:
        """Return the number of indexed portraits."""
        return self.collection.count()

    def metadata(self) -> dict[str, Any]:
        """Return the collection's metadata (revision, vocabulary, segment model, shop), read afresh."""
        fresh = self.client.get_collection(self.collection_name, embedding_function=self.embedding_function)  # type: ignore[arg-type]
        return dict(fresh.metadata or {})

    def revision(self) -> str | None:
        """Return the collection's current revision (changes on every write)."""
        return self.metadata().get("revision")

    def vocabulary(self) -> dict[str, list[str]]:
        """Return the filterable values present in the index at the last build.

        Returns:
            Keys ``genders``, ``occupations``, ``regions``, ``genres``, ``lifecycles``, ``segments`` (names,
            segment 0 first) and ``spend_bands`` (empty when the shop records no money); empty before the
            first build.
        """
        raw = self.metadata().get("vocabulary")
        return json.loads(raw) if isinstance(raw, str) else {}

    def segment_model(self) -> SegmentModel | None:
        """Return the segmentation kept with the index, or None before the first build."""
        raw = self.metadata().get("segment_model")
        return SegmentModel.from_json(raw) if isinstance(raw, str) else None

    def write_metadata(self, **updates: Any) -> str:
        """Merge ``updates`` into the collection's metadata with a new revision; keep the mirror's stamp in step.

        Returns:
            The new revision.
        """
        meta = {**self.metadata(), **updates, "revision": uuid.uuid4().hex}
        self.collection.modify(metadata=meta)
        if self._index is not None:
            self._index.revision = meta["revision"]
        return str(meta["revision"])

    def erased_ids(self) -> set[str]:
        """Return the ids of erased customers."""
        return set(self._erasures.get(include=[])["ids"])

    def index(self, console: Console | None = None) -> PortraitIndex:
        """Return the in-memory mirror, (re)loading it when the collection changed elsewhere.

        Thread-safe: threads that find no current mirror wait for one load, and see the mirror only once it is
        complete. A load that fails is not kept: the previous mirror (if any) stays, the error is remembered for
        :meth:`mirror_status`, and the next call tries again.

        Args:
            console: Rich console for a progress bar while loading; None is silent.

        Returns:
            The mirror, in step with the collection.

        Raises:
            MirrorLoadError: The mirror cannot read the collection.
        """
        revision = self.revision()
        current = self._index
        if current is not None and current.revision == revision:
            return current
        with self._index_lock:
            current = self._index
            if current is not None and current.revision == revision:
                return current  # another thread loaded it while this one waited
            try:
                loaded = PortraitIndex.load(self.collection, EMBEDDING_DIM, revision, console)
            except MirrorLoadError as exc:
                self._index_error = str(exc)
                raise
            self._index, self._index_error = loaded, None
            return loaded

    def mirror_status(self) -> dict[str, Any]:
        """Tell whether the mirror can serve searches: loads it when needed and compares it with the collection.

        Returns:
            ``{"ok": True, "portraits": n}``, or ``{"ok": False, "error": why}`` when the mirror cannot read the
            store or holds another number of portraits than the collection counts.
        """
        try:
            size, count = len(self.index()), self.count()
        except Exception as exc:
            return {"ok": False, "error": self._index_error or f"{type(exc).__name__}: {exc}"}
        if size != count:
            return {"ok": False, "error": f"the portrait mirror holds {size} portraits, the store {count}"}
        return {"ok": True, "portraits": size}

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with the store's model (normalised float32 rows; a few texts on one thread)."""
        return embed_texts(self.embedding_function.encoder(), texts)

    def ingest(
        self,
        ids: list[str],
        documents: list[str],
        metadatas: list[dict[str, Any]],
        console: Console | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        """Embed (unless ``vectors`` are given) and upsert documents, overlapping the two.

        See :func:`~tools.portraits.ingest.embed_and_upsert`; the mirror is updated and the revision changed.

        Args:
            ids: Customer ids.
            documents: Portrait texts.
            metadatas: Chroma metadata per document.
            console: Rich console for a progress bar; None is silent.
            vectors: Precomputed normalised vectors, one per document.
        """
        if not ids:
            return
        model = self.embedding_function.encoder()
        written = embed_and_upsert(
            self.collection, lambda texts: embed_unique(model, texts), ids, documents, metadatas, console, vectors
        )
        if self._index is not None:
            self._index.upsert(ids, written, documents, metadatas)
        self.write_metadata()

    def build(self, shop: Shop, console: Console | None = None, refit_segments: bool = False) -> BuildReport:
        """Index the shop's portraits, re-embedding only customers whose text changed.

        A build makes the portrait of every customer of the shop (erased customers left out) and assigns them
        to segments: the K-means model kept with the index (customers are assigned to its centres), unless
        ``refit_segments`` is set or the shop's features changed; then K-means is fitted again. It then compares
        them with the collection (:func:`~tools.portraits.ingest.plan_changes`): only customers whose text changed
        are re-embedded, those whose segment or scores moved only have their metadata rewritten, and customers
        who left the shop are deleted. The vocabulary of filterable values and the segment model are kept in the
        collection's metadata, and the derived tables are saved.

        Args:
            shop: The shop.
            console: Rich console for a progress bar and a summary line; None is silent.
            refit_segments: Fit the segments again.

        Returns:
            Counts of what was done.
        """
        started = time.perf_counter()
        genres = shop_genres(shop)
        erased = self.erased_ids()
        everyone = build_portraits(shop, self.config)
        portraits, model = _segment(self, [p for p in everyone if p.customer_id not in erased], genres, refit_segments)
        stored = _stored(self.collection)
        plan = plan_changes(portraits, genres, stored)
        self.ingest(plan.embed_ids, plan.embed_texts, plan.embed_metas, console=console)
        for start in range(0, len(plan.relabel_ids), _PAGE):
            part = slice(start, start + _PAGE)
            self.collection.update(ids=plan.relabel_ids[part], metadatas=plan.relabel_metas[part])  # type: ignore[arg-type]
        if self._index is not None and plan.relabel_ids:
            self._index.update_metadata(plan.relabel_ids, plan.relabel_metas)
        current = {p.customer_id for p in everyone}
        gone = [cid for cid in stored if cid not in current]
        if gone:
            self.collection.delete(ids=gone)
            if self._index is not None:
                self._index.remove(gone)
        changed = bool(plan.embed_ids or plan.relabel_ids or gone) or self.revision() is None
        vocabulary = json.dumps(_vocabulary(portraits, genres, model))
        if changed or self.metadata().get("vocabulary") != vocabulary:
            extra = {"segment_model": model.to_json()} if model else {}
            self.write_metadata(vocabulary=vocabulary, shop=shop.name, **extra)
        if self.tables is not None:
            self.tables.save(portraits, model)
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

    def _require(self, customer_id: str) -> None:
        if not self.collection.get(ids=[customer_id], include=[])["ids"]:
            raise KeyError(f"no portrait for customer {customer_id!r}")

    def set_opt_out(self, customer_id: str, opted_out: bool) -> None:
        """Record a customer's opt-out from marketing (kept across rebuilds).

        Args:
            customer_id: Pseudonymised id.
            opted_out: True to exclude the customer from every audience.

        Raises:
            KeyError: No such customer in the index.
        """
        self._require(customer_id)
        self.collection.update(ids=[customer_id], metadatas=[{"opted_out": opted_out}])
        if self._index is not None:
            self._index.update_metadata([customer_id], [{"opted_out": opted_out}])
        self.write_metadata()

    def erase(self, customer_id: str) -> bool:
        """Delete a customer everywhere this store keeps them, and remember the erasure.

        Removes the Chroma document, the row of the in-memory mirror and the customer's rows of the
        derived tables; records the id in the erasure ledger so rebuilds skip the customer.

        Args:
            customer_id: Pseudonymised id.

        Returns:
            True when a portrait was deleted, False when there was none (the erasure is recorded anyway).
        """
        existed = bool(self.collection.get(ids=[customer_id], include=[])["ids"])
        self.collection.delete(ids=[customer_id])
        self._erasures.upsert(
            ids=[customer_id], embeddings=np.ones((1, 1), dtype=np.float32), metadatas=[{"erased_at": int(time.time())}]
        )
        if self._index is not None:
            self._index.remove([customer_id])
        if self.tables is not None:
            self.tables.erase(customer_id)
        self.write_metadata()
        return existed

    def propose(self, vector: np.ndarray, n: int) -> list[str]:
        """Return the ids of the ``n`` nearest portraits by Chroma's HNSW index (no filter, ids only)."""
        found = self.collection.query(query_embeddings=[vector], n_results=max(1, n), include=[])
        return list(found["ids"][0])


def open_portrait_store(
    settings: Settings, shop: Shop, console: Console | None = None, config: PortraitConfig | None = None,
    repair: bool = False,
) -> PortraitStore:
    """Open the portrait store and bring it up to date with the shop (a no-op when nothing changed).

    Args:
        settings: Project settings.
        shop: The shop to index.
        console: Rich console for progress; None is silent.
        config: Portrait building knobs.
        repair: When the embedded store cannot be opened or built (its files are corrupt), move its folder
            aside (``chroma.corrupt-<time>``, kept for inspection) and build the shop's portraits anew
            (``campaign index``); other shops' portraits are rebuilt on their next use.

    Returns:
        The up-to-date store.
    """
    try:
        store = PortraitStore.from_settings(settings, config, shop=shop.name)
        store.build(shop, console)
        return store
    except Exception:
        if not repair or settings.chroma_url or not settings.chroma_dir.exists():
            raise
    from chromadb.api.client import SharedSystemClient

    aside = settings.chroma_dir.with_name(f"chroma.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    settings.chroma_dir.rename(aside)
    SharedSystemClient.clear_system_cache()  # Chroma keeps one client per folder in the process
    if console is not None:
        console.print(f"the portrait store could not be read; moved it to {aside} and rebuilding", highlight=False)
    store = PortraitStore.from_settings(settings, config, shop=shop.name)
    store.build(shop, console)
    return store
