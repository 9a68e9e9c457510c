"""How portraits get into the index: what changed since the last build, and embedding overlapped with writing.

:func:`plan_changes` compares fresh portraits with the stored metadata (a hash of the text and a hash of
the metadata): a new or reworded portrait is embedded; a portrait whose segment or scores moved only has
its metadata rewritten; the rest is left alone. :func:`embed_and_upsert` encodes chunks of
:data:`ENCODE_CHUNK` texts in the calling thread (each distinct text once) while a worker thread upserts
the previous chunk with its vectors, so Chroma never embeds and the two overlap.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.models.Collection import Collection
from rich.console import Console
from rich.progress import Progress

from tools.embedding import encode_with
from tools.portraits.documents import portrait_metadata
from tools.portraits.portrait import Portrait

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ENCODE_CHUNK = 1024
ENCODE_BATCH = 64
#: Up to this many texts are embedded on one CPU thread: a short query gains nothing from a second thread
#: and loses a lot when the CPU is busy (measured: 25 ms on 1 thread vs 270 ms on 2 on a loaded 2-core box).
SMALL_ENCODE = 8
_THREADS = threading.Lock()


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    import torch

    with _THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def embed_texts(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """Embed texts (normalised float32 rows); a few texts run on one thread.

    Args:
        model: The loaded sentence-transformers model.
        texts: Texts.

    Returns:
        One row per text.
    """
    if len(texts) > SMALL_ENCODE:
        return encode_with(model, texts, ENCODE_BATCH)
    with _one_torch_thread():
        return encode_with(model, texts, ENCODE_BATCH)


def embed_unique(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """Embed texts, each distinct text once."""
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    return embed_texts(model, [str(t) for t in unique])[inverse]


def embed_and_upsert(
    collection: Collection,
    encode: Callable[[list[str]], np.ndarray],
    ids: list[str],
    documents: list[str],
    metadatas: list[dict[str, Any]],
    console: Console | None = None,
    vectors: np.ndarray | None = None,
) -> np.ndarray:
    """Encode (unless ``vectors`` are given) and upsert, overlapping encoding and writing.

    Args:
        collection: The Chroma collection.
        encode: Embeds a list of texts.
        ids: Document ids.
        documents: Texts.
        metadatas: Chroma metadata per document.
        console: Rich console for a progress bar; None is silent.
        vectors: Precomputed normalised vectors, one per document.

    Returns:
        The vectors written, one row per document.
    """
    chunks: list[np.ndarray] = []
    pending: Future[None] | None = None
    with (
        ThreadPoolExecutor(max_workers=1) as writer,
        Progress(console=console, disable=console is None, transient=True) as progress,
    ):
        task = progress.add_task("Embedding portraits", total=len(ids))
        for start in range(0, len(ids), ENCODE_CHUNK):
            part = slice(start, start + ENCODE_CHUNK)
            chunk = vectors[part] if vectors is not None else encode(documents[part])
            if pending is not None:
                pending.result()
            pending = writer.submit(
                collection.upsert,
                ids=ids[part], embeddings=chunk, documents=documents[part],
                metadatas=metadatas[part],  # type: ignore[arg-type]
            )  # fmt: skip
            chunks.append(chunk)
            progress.advance(task, len(ids[part]))
        if pending is not None:
            pending.result()
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def content_hash(payload: Any) -> str:
    """Return a short stable hash of JSON-serialisable content."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class ChangePlan:
    """What a build must do.

    Attributes:
        embed_ids, embed_texts, embed_metas: New or reworded portraits (to embed and upsert).
        relabel_ids, relabel_metas: Portraits whose metadata only changed (keys no longer set map to None).
        added: How many of the embedded portraits are new.
        unchanged: Portraits already up to date.
    """

    embed_ids: list[str] = field(default_factory=list)
    embed_texts: list[str] = field(default_factory=list)
    embed_metas: list[dict[str, Any]] = field(default_factory=list)
    relabel_ids: list[str] = field(default_factory=list)
    relabel_metas: list[dict[str, Any]] = field(default_factory=list)
    added: int = 0
    unchanged: int = 0


def plan_changes(portraits: list[Portrait], genres: list[str], stored: dict[str, dict[str, Any]]) -> ChangePlan:
    """Compare fresh portraits with the stored metadata; keep opt-outs.

    Args:
        portraits: Portraits to index (segments set).
        genres: The shop's genre vocabulary.
        stored: Id to stored metadata.

    Returns:
        The plan.
    """
    plan = ChangePlan()
    for portrait in portraits:
        meta = portrait_metadata(portrait, genres)
        meta["text_hash"], meta["meta_hash"] = content_hash(portrait.text), content_hash(meta)
        old = stored.get(portrait.customer_id)
        meta["opted_out"] = bool(old.get("opted_out", False)) if old else False
        if old is not None and old.get("text_hash") == meta["text_hash"]:
            if old.get("meta_hash") == meta["meta_hash"]:
                plan.unchanged += 1
                continue
            plan.relabel_ids.append(portrait.customer_id)
            plan.relabel_metas.append({**{k: None for k in old if k not in meta}, **meta})
            continue
        plan.added += old is None
        plan.embed_ids.append(portrait.customer_id)
        plan.embed_texts.append(portrait.text)
        plan.embed_metas.append(meta)
    return plan
