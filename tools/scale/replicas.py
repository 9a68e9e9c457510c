"""Scale-test replicas of real customers: new ids, history shifted in time, amounts jittered, vectors perturbed.

SCALE TEST DATA, derived from real data: every replica copies one real customer of the source shop (the retail
shop, UCI Online Retail) and perturbs it, deterministically for a seed:

* a new id (``st<seed>-<index>``), so replicas never collide with real customers;
* the history shifted back in time by 0..:data:`MAX_SHIFT_DAYS` days (first and last activity, recency; the
  lifecycle stage is recomputed with the portrait rules: lapsed after 90 days without a purchase);
* money jittered by a log-normal factor (σ = :data:`SPEND_SIGMA`) on the total spend;
* the real portrait's embedding plus small Gaussian noise (σ = :data:`VECTOR_SIGMA` per dimension), re-normalised
  (the text is not re-encoded);
* the portrait text rewritten with the shifted date, the recomputed stage and the jittered amount, and the metadata
  marked ``scale_test`` with the source customer kept in ``source_customer`` (genre flags stored only when true).

Replica ``i`` depends only on the seed and ``i`` (each block of :data:`BLOCK` replicas has its own random
stream), so the first 10,000 replicas of the 1,000,000-customer shop are the 10,000-customer shop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

BLOCK = 5000
"""Replicas per random stream (and per Chroma write)."""
MAX_SHIFT_DAYS = 60
SPEND_SIGMA = 0.15
VECTOR_SIGMA = 0.01
LAPSED_AFTER_DAYS = 90
"""The portraits' rule (``PortraitConfig.lapsed_after_days``): lapsed after this many days without activity."""
SCALE_LABEL = "scale test"
_DAY = 86_400
_SIZES = {"k": 1_000, "m": 1_000_000}


def parse_size(text: str) -> int:
    """Read a size such as ``10k``, ``100k``, ``1m`` or ``2500``.

    Raises:
        ValueError: Not a positive count.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a customer count: {text!r} (e.g. 10k, 100k, 1m)")
    return int(match.group(1)) * _SIZES.get(match.group(2).lower(), 1)


def size_label(size: int) -> str:
    """Return the short label of a size: ``10k``, ``1m``, or the number itself."""
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}m"
    if size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


@dataclass(frozen=True)
class SourcePortraits:
    """The real portraits replicas are copied from (read from the real shop's portrait store).

    Attributes:
        shop: The real shop's name.
        ids: Real (pseudonymised) customer ids.
        documents: Their portrait texts.
        metadata: Their index metadata, one row per customer.
        vectors: Their normalised embeddings (float32).
        end: Unix seconds of the shop's last event (recency is counted back from it).
    """

    shop: str
    ids: list[str]
    documents: list[str]
    metadata: list[dict[str, Any]]
    vectors: np.ndarray
    end: int

    @classmethod
    def from_collection(cls, collection: Any, shop: str, page: int = 5000) -> SourcePortraits:
        """Read every portrait of a Chroma collection (the real shop's), sorted by id.

        Raises:
            ValueError: The collection is empty.
        """
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        vectors: list[np.ndarray] = []
        offset = 0
        while True:
            got = collection.get(include=["embeddings", "documents", "metadatas"], limit=page, offset=offset)
            ids += got["ids"]
            docs += [d or "" for d in got["documents"] or []]
            metas += [dict(m or {}) for m in got["metadatas"] or []]
            vectors.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1))
            if len(got["ids"]) < page:
                break
            offset += page
        if not ids:
            raise ValueError(f"the portrait store of shop {shop!r} is empty: build it first")
        order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
        matrix = np.concatenate(vectors)[order]
        metas = [metas[i] for i in order]
        end = max(int(m.get("last_active", 0)) + _DAY * int(m.get("recency_days") or 0) for m in metas)
        return cls(shop, [ids[i] for i in order], [docs[i] for i in order], metas, matrix, end)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class ReplicaBlock:
    """Replicas ``start .. start + len - 1`` of a scale-test shop.

    Attributes:
        ids: New customer ids.
        sources: Row of each replica's real customer in :class:`SourcePortraits`.
        shift_days: Days each replica's history is shifted back.
        spend_factor: Factor applied to each replica's money.
        documents: Portrait texts.
        metadata: Index metadata (``scale_test`` True, ``source_customer`` the real id).
        vectors: Perturbed, re-normalised embeddings.
    """

    ids: list[str]
    sources: np.ndarray
    shift_days: np.ndarray
    spend_factor: np.ndarray
    documents: list[str]
    metadata: list[dict[str, Any]]
    vectors: np.ndarray


def replica_id(seed: int, index: int) -> str:
    """Return the id of replica ``index`` (zero-padded, so ids sort in index order)."""
    return f"st{seed}-{index:07d}"


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _text(source: str, lifecycle: str, spend: float | None, last_active: int) -> str:
    """Rewrite a real portrait text with a replica's stage, amount and last activity."""
    text = re.sub(r"\b(New|Active|Lapsed) customer \(", f"{lifecycle.capitalize()} customer (", source, count=1)
    if spend is not None:
        text = re.sub(r"spent [0-9.]+ in total", f"spent {spend:.2f} in total", text, count=1)
    return re.sub(r"last active \d{4}-\d{2}-\d{2}", f"last active {_day(last_active)}", text, count=1)


def _metadata(meta: dict[str, Any], shift: int, factor: float, end: int, source_id: str) -> tuple[dict[str, Any], str]:
    # Genre flags are kept only when true (audience filters only ask for ``g_<genre>: True``): a fifth of the
    # metadata rows, which is what Chroma's ingestion spends its time on.
    out = {k: v for k, v in meta.items() if not (k.startswith("g_") and v is False)}
    for key in ("text_hash", "meta_hash", "rfm", "n_ratings", "mean_rating"):  # hashes of the real build; rfm is
        out.pop(key, None)  # rfm_r/f/m joined; a shop of purchases has no ratings (segmentation reads them as 0)
    for key in ("first_active", "last_active"):
        if meta.get(key):
            out[key] = int(meta[key]) - shift * _DAY
    stage = str(meta.get("lifecycle", "active"))
    if meta.get("recency_days") is not None:
        out["recency_days"] = int(meta["recency_days"]) + shift
    if out.get("last_active") and stage != "new":
        stage = "lapsed" if end - int(out["last_active"]) > LAPSED_AFTER_DAYS * _DAY else "active"
    out["lifecycle"] = stage
    if meta.get("total_spend") is not None:
        out["total_spend"] = round(float(meta["total_spend"]) * factor, 2)
    out["scale_test"] = True
    out["source_customer"] = source_id
    out["opted_out"] = False
    return out, stage


def replica_block(source: SourcePortraits, seed: int, start: int, stop: int) -> ReplicaBlock:
    """Make replicas ``start .. stop - 1`` (``start`` a multiple of :data:`BLOCK`, at most one block).

    Args:
        source: The real portraits.
        seed: The scale shop's seed.
        start: First replica index.
        stop: One past the last (at most ``start + BLOCK``).

    Returns:
        The block; the same for the same seed and indexes whatever the shop's size.

    Raises:
        ValueError: The range is not within one block.
    """
    if start % BLOCK or not start < stop <= start + BLOCK:
        raise ValueError(f"replicas {start}..{stop} are not within one block of {BLOCK}")
    rng = np.random.default_rng([seed, start // BLOCK])
    full = BLOCK
    sources = rng.integers(0, len(source), full)
    shift = rng.integers(0, MAX_SHIFT_DAYS + 1, full)
    factor = np.exp(rng.normal(0.0, SPEND_SIGMA, full))
    noise = rng.normal(0.0, VECTOR_SIGMA, (full, source.vectors.shape[1])).astype(np.float32)
    n = stop - start
    sources, shift, factor = sources[:n], shift[:n], factor[:n]
    vectors = source.vectors[sources] + noise[:n]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs, metas = [], []
    for row, days, f in zip(sources.tolist(), shift.tolist(), factor.tolist(), strict=True):
        meta, stage = _metadata(source.metadata[row], days, f, source.end, source.ids[row])
        docs.append(_text(source.documents[row], stage, meta.get("total_spend"), int(meta.get("last_active") or 0)))
        metas.append(meta)
    ids = [replica_id(seed, i) for i in range(start, stop)]
    return ReplicaBlock(ids, sources, shift, factor, docs, metas, vectors.astype(np.float32))


def replica_table(source: SourcePortraits, seed: int, size: int) -> pd.DataFrame:
    """Return who every replica of a ``size``-customer scale shop is (no texts, no vectors).

    Returns:
        Columns ``customer_id``, ``source_id`` (the real customer), ``shift_days``, ``spend_factor``, in index order.
    """
    parts = []
    for start in range(0, size, BLOCK):
        rng = np.random.default_rng([seed, start // BLOCK])
        n = min(BLOCK, size - start)
        sources = rng.integers(0, len(source), BLOCK)[:n]
        shift = rng.integers(0, MAX_SHIFT_DAYS + 1, BLOCK)[:n]
        factor = np.exp(rng.normal(0.0, SPEND_SIGMA, BLOCK))[:n]
        parts.append(pd.DataFrame({
            "customer_id": [replica_id(seed, i) for i in range(start, start + n)],
            "source_id": np.asarray(source.ids, dtype=object)[sources], "shift_days": shift, "spend_factor": factor,
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)
