"""An in-memory mirror of the portrait collection, for fast filtered audience search.

Chroma stays the store of record (documents, metadata, vectors; embedded or server). Chroma evaluates a
``where`` filter through its metadata tables, which at 100k portraits costs about a second per query
(measured: ``eval/bench_profiles.py`` reports it), so filtered retrieval runs here instead:

* the filter (the same Chroma ``where`` clause that is shown to the marketer) is evaluated on columnar
  copies of the metadata (:func:`where_mask`);
* when few customers match (at most :data:`EXACT_MAX`), they are ranked exactly, by the dot product of
  their normalised vectors with the query vector;
* when many match, Chroma's HNSW index (queried without a filter, ids only) proposes candidates, enough
  to expect ``limit`` matches after the mask, and the exact ranking falls back when too few survive.

The mirror is stamped with the collection's revision; :class:`~tools.portraits.store.PortraitStore`
applies its own writes to it and reloads it when another process changed the collection.

Thread safety: the API's workers search one mirror at the same time while writes (opt-outs, erasures) arrive.
Every public method holds the mirror's lock, so a reader never sees a half-applied write; :meth:`PortraitIndex.load`
returns a complete mirror (its pages applied) or raises :class:`MirrorLoadError`, never a partial or empty one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from chromadb.api.models.Collection import Collection
from rich.console import Console
from rich.progress import Progress

from tools.portraits.heap import return_freed_memory

EXACT_MAX = 20_000
_PAGE = 5000
_OVERFETCH = 2.0

#: Proposes ``n`` candidate ids for a query vector (Chroma's HNSW, no filter).
Proposer = Callable[[np.ndarray, int], list[str]]


class MirrorLoadError(RuntimeError):
    """The mirror could not read the whole collection (an error, or fewer portraits than the collection counts)."""


@dataclass(frozen=True)
class MirrorHit:
    """One customer found in the mirror.

    Attributes:
        customer_id: Pseudonymised id.
        score: Cosine similarity with the query.
        document: The portrait text.
        metadata: The portrait's metadata (unknown values left out).
    """

    customer_id: str
    score: float
    document: str
    metadata: dict[str, Any]


class PortraitIndex:
    """Vectors, documents and metadata of every indexed portrait, aligned by row.

    Args:
        dim: Vector dimension.
        revision: Collection revision the contents correspond to.
    """

    def __init__(self, dim: int, revision: str | None = None) -> None:
        self.dim = dim
        self.revision = revision
        self.ids: list[str] = []
        self.documents: list[str] = []
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.meta = pd.DataFrame()
        self._row: dict[str, int] = {}
        self._pending: list[tuple[list[str], np.ndarray, list[str], list[dict[str, Any]]]] = []
        self._columns: dict[str, tuple[str, Any]] = {}
        self._lock = threading.RLock()

    @classmethod
    def load(
        cls, collection: Collection, dim: int, revision: str | None, console: Console | None = None
    ) -> PortraitIndex:
        """Read every portrait of a Chroma collection (paged, with a progress bar).

        Args:
            collection: The portrait collection.
            dim: Vector dimension.
            revision: The collection's revision, stamped on the mirror.
            console: Rich console for a progress bar; None is silent.

        Returns:
            The mirror, every page applied (nobody else holds it yet, so no reader sees it half filled).

        Raises:
            MirrorLoadError: Reading failed, or fewer portraits were read than the collection counts (e.g. a
                store still recovering after a crash); a caller must not keep an empty mirror in its place.
        """
        index = cls(dim, revision)
        ids: list[str] = []
        documents: list[str] = []
        vectors: list[np.ndarray] = []
        frames: list[pd.DataFrame] = []
        try:
            total = collection.count()
            with Progress(console=console, disable=console is None, transient=True) as progress:
                task = progress.add_task("Loading portraits", total=total)
                for offset in range(0, total, _PAGE):
                    page = collection.get(include=["embeddings", "documents", "metadatas"], limit=_PAGE, offset=offset)
                    ids += page["ids"]
                    documents += [d or "" for d in page["documents"] or []]
                    vectors.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(len(page["ids"]), dim))
                    # Each page's metadata becomes columns at once: a million dicts never coexist with the table
                    # (at 1M portraits they had raised the planning process's peak RSS by gigabytes).
                    frames.append(_meta_frame([dict(m or {}) for m in page["metadatas"] or []]))
                    progress.advance(task, len(page["ids"]))
            if ids:
                index._load_columns(ids, documents, vectors, frames)
            del ids, documents, vectors, frames
            return_freed_memory()  # the decoded pages, dropped: 2.8 GB at 1M portraits read over HTTP
            read = len(index)
        except Exception as exc:
            raise MirrorLoadError(f"the portrait mirror cannot read the store: {type(exc).__name__}: {exc}") from exc
        if read < total:
            raise MirrorLoadError(f"the portrait mirror read {read} of the {total} portraits the store counts")
        return index

    def _load_columns(self, ids: list[str], documents: list[str], vectors: list[np.ndarray],
                      frames: list[pd.DataFrame]) -> None:
        """Fill an empty mirror from pages read in order (a later copy of an id, read while it changed, wins).

        Not :meth:`_settle`: that path copies the vectors and metadata once more to drop repeated ids and join the
        existing rows. Loading the 1M scale-test store through it (pending writes held as frames) peaked at 8.6 GB
        against 7.45 GB here, which copies only when an id repeats.
        """
        meta = _concat_meta(frames)
        stacked = np.concatenate(vectors)
        repeated = pd.Index(ids).duplicated(keep="last")
        if repeated.any():
            keep = np.flatnonzero(~repeated)
            ids, documents = [ids[n] for n in keep], [documents[n] for n in keep]
            stacked, meta = stacked[keep], meta.iloc[keep].reset_index(drop=True)
        with self._lock:
            self._assign(ids, documents, stacked, meta)

    def __len__(self) -> int:
        with self._lock:
            self._settle()
            return len(self.ids)

    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str], metas: list[dict[str, Any]]) -> None:
        """Add or replace portraits (applied lazily, in one go, before the next read)."""
        with self._lock:
            self._pending.append((list(ids), np.asarray(vectors, dtype=np.float32), list(documents), list(metas)))

    def _settle(self) -> None:
        """Apply pending writes; the caller holds the lock.

        The new contents are built aside and swapped in at the end, so a failure leaves the mirror as it was and
        the writes still pending (never a half-applied or emptied mirror).
        """
        if not self._pending:
            return
        batches = self._pending
        ids = [i for batch in batches for i in batch[0]]
        last = {cid: n for n, cid in enumerate(ids)}  # a later write of the same id wins
        keep = [n for n, cid in enumerate(ids) if last[cid] == n]
        vectors = np.concatenate([batch[1] for batch in batches])[keep]
        documents = [d for batch in batches for d in batch[2]]
        metas = [m for batch in batches for m in batch[3]]
        base_ids, base_documents, base_vectors, base_meta = self._without(
            {self._row[cid] for cid in (ids[n] for n in keep) if cid in self._row})
        start = len(base_ids)
        added = _meta_frame([metas[n] for n in keep])
        self._assign(
            base_ids + [ids[n] for n in keep],
            base_documents + [documents[n] for n in keep],
            np.concatenate([base_vectors, vectors]) if start else vectors,
            _concat_meta([base_meta, added]) if start else added,
        )
        self._pending = []

    def _without(self, rows: set[int]) -> tuple[list[str], list[str], np.ndarray, pd.DataFrame]:
        """Return copies of ids, documents, vectors and metadata without ``rows`` (the mirror is not changed)."""
        if not rows:
            return list(self.ids), list(self.documents), self.vectors, self.meta
        keep = np.array([n for n in range(len(self.ids)) if n not in rows], dtype=np.int64)
        return ([self.ids[n] for n in keep], [self.documents[n] for n in keep], self.vectors[keep],
                self.meta.iloc[keep].reset_index(drop=True))

    def _assign(self, ids: list[str], documents: list[str], vectors: np.ndarray, meta: pd.DataFrame) -> None:
        self.ids, self.documents, self.vectors, self.meta = ids, documents, vectors, meta
        self._row = {cid: n for n, cid in enumerate(ids)}
        self._columns.clear()

    def update_metadata(self, ids: list[str], metas: list[dict[str, Any]]) -> None:
        """Merge metadata keys into existing portraits (unknown ids are ignored)."""
        with self._lock:
            self._settle()
            meta = self.meta.copy()
            for cid, values in zip(ids, metas, strict=True):
                row = self._row.get(cid)
                if row is None:
                    continue
                for key, value in values.items():
                    if key not in meta.columns:
                        meta[key] = pd.Series([None] * len(meta), index=meta.index, dtype=object)
                    elif value is not None and meta[key].dtype != _column_dtype([value]):
                        meta[key] = _as_object(meta[key])  # e.g. text written into a column of numbers
                    meta.at[row, key] = value
            self.meta = meta
            self._columns.clear()

    def remove(self, ids: list[str]) -> int:
        """Delete portraits (vectors, documents and metadata); return how many were present."""
        with self._lock:
            self._settle()
            rows = {self._row[cid] for cid in set(ids) if cid in self._row}
            if rows:
                self._assign(*self._without(rows))
            return len(rows)

    def row(self, customer_id: str) -> int | None:
        """Return the row of a customer, or None."""
        with self._lock:
            self._settle()
            return self._row.get(customer_id)

    def hits(self, rows: list[tuple[int, float]]) -> list[MirrorHit]:
        """Return the customer, document and metadata of rows found by :meth:`search`, read under the lock.

        Prefer :meth:`search_hits`: rows shift when portraits are removed, so rows read later may name others.
        """
        with self._lock:
            return [MirrorHit(self.ids[r], s, self.documents[r], self.metadata(r)) for r, s in rows]

    def search_hits(
        self, vector: np.ndarray, where: dict[str, Any] | None, limit: int, propose: Proposer | None = None
    ) -> list[MirrorHit]:
        """Like :meth:`search`, with each row's customer, document and metadata read in the same locked section."""
        with self._lock:
            return self.hits(self.search(vector, where, limit, propose))

    def rank_all(self, vector: np.ndarray, where: dict[str, Any] | None) -> tuple[list[str], np.ndarray]:
        """Return every customer matching ``where``, ranked exactly by cosine similarity with ``vector``.

        No limit and no HNSW proposal: the whole-audience plan takes every match. Ties keep row order.

        Args:
            vector: L2-normalised query vector.
            where: Chroma ``where`` clause.

        Returns:
            Customer ids, best first, and their similarities (float32). Read their documents and metadata in
            pages with :meth:`table_of`.
        """
        with self._lock:
            self._settle()
            rows = np.flatnonzero(self._mask(where))
            scores = np.take(self.vectors, rows, axis=0) @ np.asarray(vector, dtype=np.float32).reshape(-1)
            order = np.lexsort((rows, -scores))
            return [self.ids[r] for r in rows[order]], scores[order]

    def table_of(self, customer_ids: list[str], scores: np.ndarray, page_size: int = 5000
                 ) -> tuple[list[str], np.ndarray, pd.DataFrame]:
        """Return the metadata rows of customers found by :meth:`rank_all`, as one table (read in pages).

        Each page is read under the lock on its own, so no read holds it for the whole audience; customers
        removed since (an erasure between pages) are left out.

        Args:
            customer_ids: The customers, in order.
            scores: Their scores, aligned.
            page_size: Customers read per locked section.

        Returns:
            The customers found, their scores, and their metadata (a row each, in the same order; typed columns
            as the mirror keeps them, missing values NA).
        """
        kept: list[str] = []
        kept_scores: list[np.ndarray] = []
        frames: list[pd.DataFrame] = []
        for start in range(0, len(customer_ids), page_size):
            page = customer_ids[start:start + page_size]
            with self._lock:
                self._settle()
                rows = np.array([self._row.get(cid, -1) for cid in page], dtype=np.int64)
                present = rows >= 0
                frames.append(self.meta.iloc[rows[present]].reset_index(drop=True))
            kept += [cid for cid, here in zip(page, present, strict=True) if here]
            kept_scores.append(np.asarray(scores[start:start + page_size])[present])
        meta = _concat_meta(frames) if frames else pd.DataFrame(index=pd.RangeIndex(0))
        return kept, (np.concatenate(kept_scores) if kept_scores else np.zeros(0, dtype=np.float32)), meta

    def metadata(self, row: int) -> dict[str, Any]:
        """Return the metadata of one row (keys whose value is unknown are left out)."""
        with self._lock:
            self._settle()
            values = self.meta.iloc[row].to_dict()
        return _known_values(values)

    def _column(self, key: str) -> tuple[str, Any]:
        """Return a typed copy of one metadata column: ("num", float array) or ("cat", (codes, lookup))."""
        if key not in self._columns:
            series = self.meta[key] if key in self.meta.columns else pd.Series([None] * len(self.ids), dtype=object)
            if series.dtype != object:  # numbers or flags, typed when read (missing: NaN)
                self._columns[key] = ("num", series.to_numpy(dtype=np.float64, na_value=np.nan))
                return self._columns[key]
            numeric = series.map(lambda v: v is None or (isinstance(v, int | float) and not isinstance(v, str)))
            if bool(numeric.all()):
                self._columns[key] = ("num", pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64))
            else:
                texts = series.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
                codes, uniques = pd.factorize(texts, use_na_sentinel=True)
                self._columns[key] = ("cat", (codes, {u: n for n, u in enumerate(uniques)}))
        return self._columns[key]

    def _compare(self, key: str, op: str, value: Any) -> np.ndarray:
        kind, data = self._column(key)
        if kind == "num":
            if op in ("$in", "$nin"):
                hit = np.isin(data, [float(v) for v in value])
                return hit if op == "$in" else ~hit & ~np.isnan(data)
            target = float(value)
            ops = {"$eq": np.equal, "$ne": np.not_equal, "$gt": np.greater, "$gte": np.greater_equal,
                   "$lt": np.less, "$lte": np.less_equal}  # fmt: skip
            with np.errstate(invalid="ignore"):
                return ops[op](data, target) & ~np.isnan(data)
        codes, lookup = data
        if op in ("$in", "$nin"):
            wanted = [lookup[str(v)] for v in value if str(v) in lookup]
            hit = np.isin(codes, wanted)
            return hit if op == "$in" else ~hit & (codes >= 0)
        if op not in ("$eq", "$ne"):
            raise ValueError(f"operator {op} needs a number, but {key!r} holds text")
        code = lookup.get(str(value), -2)
        return codes == code if op == "$eq" else (codes != code) & (codes >= 0)

    def mask(self, where: dict[str, Any] | None) -> np.ndarray:
        """Evaluate a Chroma ``where`` clause; a missing metadata key matches nothing.

        Args:
            where: Chroma clause ($and, $or, equality and $eq/$ne/$gt/$gte/$lt/$lte/$in/$nin), or None.

        Returns:
            Boolean array over rows.
        """
        with self._lock:
            self._settle()
            return self._mask(where)

    def _mask(self, where: dict[str, Any] | None) -> np.ndarray:
        if not where:
            return np.ones(len(self.ids), dtype=bool)
        parts = []
        for key, condition in where.items():
            if key in ("$and", "$or"):
                masks = [self._mask(clause) for clause in condition]
                parts.append(np.logical_and.reduce(masks) if key == "$and" else np.logical_or.reduce(masks))
            elif isinstance(condition, dict):
                parts += [self._compare(key, op, value) for op, value in condition.items()]
            else:
                parts.append(self._compare(key, "$eq", condition))
        return np.logical_and.reduce(parts)

    def search(
        self, vector: np.ndarray, where: dict[str, Any] | None, limit: int, propose: Proposer | None = None
    ) -> list[tuple[int, float]]:
        """Return up to ``limit`` (row, cosine similarity) of the rows matching ``where``, best first.

        Args:
            vector: L2-normalised query vector.
            where: Chroma ``where`` clause.
            limit: Maximum number of rows.
            propose: HNSW candidate proposer, used when more than :data:`EXACT_MAX` rows match.

        Returns:
            Rows and similarities (rows are valid until the next write: see :meth:`search_hits`).
        """
        with self._lock:
            return self._search(vector, where, limit, propose)

    def _search(
        self, vector: np.ndarray, where: dict[str, Any] | None, limit: int, propose: Proposer | None
    ) -> list[tuple[int, float]]:
        mask = self.mask(where)
        matching = int(mask.sum())
        if matching == 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if propose is not None and matching > EXACT_MAX:
            wanted = min(len(self.ids), int(limit * len(self.ids) / matching * _OVERFETCH) + 32)
            rows = np.array(
                [r for r in (self._row.get(c) for c in propose(query, wanted)) if r is not None], dtype=np.int64
            )
            rows = rows[mask[rows]] if len(rows) else rows
            if len(rows) >= min(limit, matching):
                return self._rank(rows, query, limit)
        subset = np.flatnonzero(mask) if matching < len(self.ids) else None
        return self._rank(subset, query, limit)

    def _rank(self, rows: np.ndarray | None, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
        scores = (self.vectors if rows is None else np.take(self.vectors, rows, axis=0)) @ query
        top = np.argpartition(-scores, limit - 1)[:limit] if len(scores) > limit else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        picked = top if rows is None else rows[top]
        return [(int(r), float(s)) for r, s in zip(picked, scores[top], strict=True)]


def _known_values(values: dict[str, Any]) -> dict[str, Any]:
    """Keep the metadata keys whose value is known, as Python scalars."""
    return {k: _plain(v) for k, v in values.items() if v is not None and not (isinstance(v, float) and v != v)}


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python ones (metadata goes into pydantic models and JSON)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


_TYPED = {"integer": "Int64", "boolean": "boolean", "floating": "float64"}


def _column_dtype(values: list[Any]) -> Any:
    """Return the dtype a metadata column of ``values`` is kept in.

    Int64, boolean or float64 when every known value is an int, a flag or a float (missing values are NA, read
    back as None or NaN), else object.
    """
    return _TYPED.get(pd.api.types.infer_dtype(values, skipna=True), object)


def _as_object(series: pd.Series) -> pd.Series:
    """Return a column as Python objects with None for missing values (what an object column holds)."""
    return series.astype(object).where(series.notna(), None)


def _meta_frame(metas: list[dict[str, Any]]) -> pd.DataFrame:
    """Return metadata dicts as columns, one per key seen (missing where a dict lacks the key).

    A column of ints, flags or floats is typed (:func:`_column_dtype`): 8 bytes a value instead of a Python
    object and its pointer (at 1M scale-test portraits, with some 70 numeric keys, 2.2 GB of metadata became
    about 0.6 GB). Reading a row gives the same Python values back (``to_dict`` turns NA into None). Other
    columns hold objects, their texts interned: a lifecycle, region or segment name is one object however many
    portraits share it.
    """
    keys = list(dict.fromkeys(k for m in metas for k in m))
    columns = {}
    for key in keys:
        values = [m.get(key) for m in metas]
        dtype = _column_dtype(values)
        columns[key] = pd.Series(values if dtype is not object else [_shared(v) for v in values], dtype=dtype)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(metas)))


def _concat_meta(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack metadata frames row-wise.

    A key a frame lacks is missing in its rows. A column stays typed when every frame that has it agrees on its
    dtype; else it becomes objects.
    """
    keys = list(dict.fromkeys(k for f in frames for k in f.columns))
    columns = {}
    for key in keys:
        dtypes = {f[key].dtype for f in frames if key in f.columns}
        dtype = dtypes.pop() if len(dtypes) == 1 else object
        parts = [(f[key] if dtype is not object else _as_object(f[key])) if key in f.columns
                 else pd.Series([None] * len(f), dtype=dtype) for f in frames]
        columns[key] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(sum(len(f) for f in frames)))


def _shared(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value
