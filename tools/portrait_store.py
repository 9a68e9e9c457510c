"""The portrait index: one Chroma document per customer, kept up to date incrementally.

Each document is a portrait text (embedded with the bundled MiniLM model, never Chroma's downloading
default) with filterable metadata (:func:`~tools.portraits.portrait_metadata`) plus ``opted_out`` and a
content hash. A rebuild re-embeds only new or changed customers; opt-outs survive rebuilds, and erased
customers are remembered in a small ``portrait_erasures`` collection so a rebuild does not bring them back.
The same code serves the embedded store (``PersistentClient``) and a Chroma server (``HttpClient``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Metadata
from chromadb.config import Settings as ChromaSettings
from rich.console import Console
from rich.progress import Progress

from agent.settings import Settings
from tools.embedding import MiniLMEmbeddingFunction
from tools.portraits import Portrait, PortraitConfig, build_portraits, portrait_metadata, shop_genres
from tools.shop import Shop

COLLECTION = "portraits"
ERASURES = "portrait_erasures"
UPSERT_BATCH = 128
_PAGE = 5000


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


@dataclass(frozen=True)
class BuildReport:
    """What :meth:`PortraitStore.build` did.

    Attributes:
        added: New customers embedded.
        updated: Changed customers re-embedded.
        unchanged: Customers whose portrait was already up to date.
        removed: Documents deleted because the customer left the shop.
        skipped_erased: Customers not indexed because they were erased.
        seconds: Wall time.
    """

    added: int
    updated: int
    unchanged: int
    removed: int
    skipped_erased: int
    seconds: float

    @property
    def embedded(self) -> int:
        """Return the number of portraits (re-)embedded."""
        return self.added + self.updated


def _vocabulary(portraits: list[Portrait], genres: list[str]) -> dict[str, list[str]]:
    return {
        "genders": sorted({p.gender for p in portraits}),
        "occupations": sorted({p.occupation for p in portraits}),
        "regions": sorted({p.region for p in portraits}),
        "genres": genres,
    }


def _content_hash(text: str, metadata: dict[str, Any]) -> str:
    payload = json.dumps({"text": text, "meta": metadata}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class PortraitStore:
    """The Chroma collection of customer portraits.

    Args:
        client: Chroma client (see :func:`chroma_client`).
        embedding_function: Embeds documents and queries (our MiniLM function; never Chroma's default).
        config: Portrait building knobs.
    """

    def __init__(
        self,
        client: ClientAPI,
        embedding_function: MiniLMEmbeddingFunction,
        config: PortraitConfig | None = None,
    ) -> None:
        self.client = client
        self.config = config or PortraitConfig()
        self.collection: Collection = client.get_or_create_collection(
            COLLECTION,
            embedding_function=embedding_function,  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._erasures = client.get_or_create_collection(ERASURES, embedding_function=None)

    @classmethod
    def from_settings(cls, settings: Settings, config: PortraitConfig | None = None) -> PortraitStore:
        """Open the store configured by the settings.

        Args:
            settings: Project settings.
            config: Portrait building knobs.

        Returns:
            The store.
        """
        return cls(chroma_client(settings), MiniLMEmbeddingFunction.from_settings(settings), config)

    def count(self) -> int:
        """Return the number of indexed portraits."""
        return self.collection.count()

    def vocabulary(self) -> dict[str, list[str]]:
        """Return the filterable values present in the index at the last build.

        Returns:
            Keys ``genders``, ``occupations``, ``regions`` and ``genres``, each a sorted list (empty before
            the first build).
        """
        raw = (self.collection.metadata or {}).get("vocabulary")
        return json.loads(raw) if isinstance(raw, str) else {}

    def erased_ids(self) -> set[str]:
        """Return the ids of erased customers."""
        return set(self._erasures.get(include=[])["ids"])

    def _stored(self) -> dict[str, dict[str, Any]]:
        """Return id to metadata of every indexed portrait (paged)."""
        stored: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for cid, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
                stored[cid] = dict(meta or {})
            if len(page["ids"]) < _PAGE:
                return stored
            offset += _PAGE

    def build(self, shop: Shop, console: Console | None = None) -> BuildReport:
        """Index the shop's portraits, re-embedding only new or changed customers.

        Args:
            shop: The shop.
            console: Rich console for a progress bar and a summary line; None is silent.

        Returns:
            Counts of what was done.
        """
        started = time.perf_counter()
        genres = shop_genres(shop)
        portraits = build_portraits(shop, self.config)
        erased, stored = self.erased_ids(), self._stored()
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[Metadata] = []
        added = unchanged = 0
        for portrait in portraits:
            if portrait.customer_id in erased:
                continue
            meta = portrait_metadata(portrait, genres)
            meta["content_hash"] = _content_hash(portrait.text, meta)
            old = stored.get(portrait.customer_id)
            if old is not None and old.get("content_hash") == meta["content_hash"]:
                unchanged += 1
                continue
            added += old is None
            meta["opted_out"] = bool(old.get("opted_out", False)) if old else False
            ids.append(portrait.customer_id)
            documents.append(portrait.text)
            metadatas.append(meta)
        with Progress(console=console, disable=console is None, transient=True) as progress:
            task = progress.add_task("Embedding portraits", total=len(ids))
            for start in range(0, len(ids), UPSERT_BATCH):
                end = start + UPSERT_BATCH
                self.collection.upsert(
                    ids=ids[start:end], documents=documents[start:end], metadatas=metadatas[start:end]
                )
                progress.advance(task, len(ids[start:end]))
        current = {p.customer_id for p in portraits}
        gone = [cid for cid in stored if cid not in current]
        if gone:
            self.collection.delete(ids=gone)
        vocabulary = json.dumps(_vocabulary(portraits, genres))
        self.collection.modify(metadata={"vocabulary": vocabulary, "shop": shop.name})
        report = BuildReport(
            added=added,
            updated=len(ids) - added,
            unchanged=unchanged,
            removed=len(gone),
            skipped_erased=len(erased & current),
            seconds=round(time.perf_counter() - started, 2),
        )
        if console is not None:
            console.print(
                f"Portraits of {shop.name}: {report.added} added, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.removed} removed, {report.skipped_erased} erased "
                f"({report.seconds:.1f} s)"
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

    def erase(self, customer_id: str) -> bool:
        """Delete a customer's portrait and remember the erasure so rebuilds skip the customer.

        Args:
            customer_id: Pseudonymised id.

        Returns:
            True when a portrait was deleted, False when there was none (the erasure is recorded anyway).
        """
        existed = bool(self.collection.get(ids=[customer_id], include=[])["ids"])
        self.collection.delete(ids=[customer_id])
        self._erasures.upsert(
            ids=[customer_id],
            embeddings=np.ones((1, 1), dtype=np.float32),
            metadatas=[{"erased_at": int(time.time())}],
        )
        return existed


def open_portrait_store(
    settings: Settings, shop: Shop, console: Console | None = None, config: PortraitConfig | None = None
) -> PortraitStore:
    """Open the portrait store and bring it up to date with the shop (a no-op when nothing changed).

    Args:
        settings: Project settings.
        shop: The shop to index.
        console: Rich console for progress; None is silent.
        config: Portrait building knobs.

    Returns:
        The up-to-date store.
    """
    store = PortraitStore.from_settings(settings, config)
    store.build(shop, console)
    return store
