"""The in-memory portrait mirror under concurrent use, and a mirror that cannot read its store (issue 18).

Uses the real MovieLens portrait store of the session (``store`` fixture); fresh :class:`PortraitStore` objects on
the same Chroma collection start with no mirror, as a restarted server does.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from agent.settings import Settings
from tests.tools.portraits.flaky_store import FlakyCollection
from tools.embedding import EMBEDDING_DIM
from tools.portraits import PortraitStore
from tools.portraits.memory_index import MirrorLoadError, PortraitIndex, _known_values

THREADS = 12
WHERE: dict[str, Any] = {"$and": [{"opted_out": False}, {"lifecycle": {"$in": ["lapsed", "at_risk"]}}]}


def _query(store: PortraitStore) -> np.ndarray:
    return store.embed(["science fiction fans who loved space adventures"])[0]


def _together(work: Any, threads: int = THREADS) -> list[Any]:
    """Run ``work()`` on ``threads`` threads released at the same moment; return every result."""
    barrier = threading.Barrier(threads)

    def start() -> Any:
        barrier.wait()
        return work()

    with ThreadPoolExecutor(threads) as pool:
        return [f.result() for f in [pool.submit(start) for _ in range(threads)]]


def test_threads_searching_a_fresh_mirror_all_get_the_full_result(settings: Settings, store: PortraitStore) -> None:
    query = _query(store)
    index = store.index()
    expected = [index.ids[row] for row, _ in index.search(query, WHERE, 300, store.propose)]
    assert len(expected) == 300 and len(index) == store.count()
    for _ in range(3):  # each round: a new store object, whose mirror the threads' first searches load
        fresh = PortraitStore.from_settings(settings)

        def search(fresh: PortraitStore = fresh) -> tuple[int, list[str]]:
            mirror = fresh.index()  # customer ids, not rows: an erasure earlier in the session reorders rows
            return len(mirror), [mirror.ids[row] for row, _ in mirror.search(query, WHERE, 300, fresh.propose)]

        results = _together(search)
        assert [size for size, _ in results] == [store.count()] * THREADS
        assert [found for _, found in results] == [expected] * THREADS


def test_threads_reading_an_unsettled_mirror_see_every_portrait(store: PortraitStore) -> None:
    source = store.index()
    rows = np.arange(len(source))
    query = _query(store)
    expected = source.search(query, WHERE, 100)
    for _ in range(3):
        index = PortraitIndex(EMBEDDING_DIM, source.revision)
        for part in np.array_split(rows, 7):  # writes wait to be applied at the next read
            index.upsert([source.ids[r] for r in part], source.vectors[part], [source.documents[r] for r in part],
                         [source.metadata(int(r)) for r in part])
        results = _together(lambda index=index: (len(index), index.search(query, WHERE, 100)))
        assert [size for size, _ in results] == [len(source)] * THREADS
        assert all([r for r, _ in found] == [r for r, _ in expected] for _, found in results)


@pytest.mark.parametrize(("mode", "why"), [("fail", "cannot read the store: OSError: database disk image is malformed"),
                                           ("empty", "read 0 of the")])
def test_a_mirror_that_cannot_read_the_store_is_not_cached(
    settings: Settings, store: PortraitStore, mode: str, why: str
) -> None:
    fresh = PortraitStore.from_settings(settings)
    flaky = FlakyCollection(fresh.collection, mode)
    fresh.collection = flaky  # type: ignore[assignment]
    with pytest.raises(MirrorLoadError, match=why):
        fresh.index()
    assert fresh.mirror_status()["ok"] is False and why in fresh.mirror_status()["error"]
    with pytest.raises(MirrorLoadError):  # still broken: tried again, not an empty mirror served
        fresh.index()
    flaky.broken = False
    assert len(fresh.index()) == store.count()
    assert fresh.mirror_status() == {"ok": True, "portraits": store.count()}


class _PagedCollection:
    """A collection read in pages of two: the second page lacks a key and repeats an id written again meanwhile."""

    pages = (
        {"ids": ["a", "b"], "documents": ["doc a", "doc b"], "embeddings": [[1.0, 0.0], [0.0, 1.0]],
         "metadatas": [{"lifecycle": "lapsed", "age": 30}, {"lifecycle": "active", "age": 40}]},
        {"ids": ["c", "a"], "documents": ["doc c", "doc a2"], "embeddings": [[0.6, 0.8], [0.8, 0.6]],
         "metadatas": [{"lifecycle": "lapsed"}, {"lifecycle": "active", "age": 31}]},
    )

    def count(self) -> int:
        return 3

    def get(self, include: list[str], limit: int, offset: int) -> dict[str, Any]:
        del include
        return self.pages[offset // limit]


def test_a_paged_load_keeps_the_last_copy_of_an_id_and_reads_a_missing_key_as_none(monkeypatch) -> None:
    monkeypatch.setattr("tools.portraits.memory_index._PAGE", 2)
    index = PortraitIndex.load(_PagedCollection(), 2, "r1")  # type: ignore[arg-type]
    assert index.ids == ["b", "c", "a"] and index.documents == ["doc b", "doc c", "doc a2"]
    assert np.allclose(index.vectors, [[0.0, 1.0], [0.6, 0.8], [0.8, 0.6]])
    assert index.metadata(index.row("c")) == {"lifecycle": "lapsed"}  # no age: unknown, not NaN
    assert index.metadata(index.row("a")) == {"lifecycle": "active", "age": 31}
    assert index.mask({"lifecycle": "lapsed"}).tolist() == [False, True, False]


class _TypedPages(_PagedCollection):
    """Two pages whose metadata hold ints, flags, floats and texts, with keys missing on one page."""

    pages = (
        {"ids": ["a", "b"], "documents": ["doc a", "doc b"], "embeddings": [[1.0, 0.0], [0.0, 1.0]],
         "metadatas": [{"age": 31, "opted_out": False, "spend": 12.5, "lifecycle": "active"},
                       {"age": None, "opted_out": True, "spend": 3.0, "lifecycle": "lapsed"}]},
        {"ids": ["c"], "documents": ["doc c"], "embeddings": [[0.6, 0.8]],
         "metadatas": [{"age": 45, "spend": 7, "lifecycle": "lapsed", "region": "UK"}]},
    )


def test_numbers_and_flags_are_kept_typed_and_read_back_as_the_values_written(monkeypatch) -> None:
    monkeypatch.setattr("tools.portraits.memory_index._PAGE", 2)
    index = PortraitIndex.load(_TypedPages(), 2, "r1")  # type: ignore[arg-type]
    # An int column is Int64, a flag column boolean; "spend" holds 7 (int) on one page and floats on the other.
    assert str(index.meta["age"].dtype) == "Int64" and str(index.meta["opted_out"].dtype) == "boolean"
    assert index.meta["lifecycle"].dtype == object and index.meta["spend"].dtype == object
    assert index.metadata(index.row("a")) == {"age": 31, "opted_out": False, "spend": 12.5, "lifecycle": "active"}
    assert index.metadata(index.row("b")) == {"opted_out": True, "spend": 3.0, "lifecycle": "lapsed"}
    assert index.metadata(index.row("c")) == {"age": 45, "spend": 7, "lifecycle": "lapsed", "region": "UK"}
    assert type(index.metadata(index.row("a"))["age"]) is int
    assert index.mask({"age": {"$gte": 40}}).tolist() == [False, False, True]  # a missing age matches nothing
    assert index.mask({"opted_out": False}).tolist() == [True, False, False]
    # A later write of another type turns that column into objects; everything else reads as before.
    index.update_metadata(["c"], [{"age": "unknown", "opted_out": False}])
    index.upsert(["d"], np.array([[0.0, 1.0]]), ["doc d"], [{"age": 20, "lifecycle": "new", "opted_out": False}])
    assert index.metadata(index.row("c"))["age"] == "unknown" and index.metadata(index.row("d"))["age"] == 20
    assert index.metadata(index.row("a")) == {"age": 31, "opted_out": False, "spend": 12.5, "lifecycle": "active"}
    assert index.mask({"opted_out": False}).tolist() == [True, False, True, True]
    assert index.table_of(["d", "b"], np.array([0.9, 0.1]))[0] == ["d", "b"]
    (row,) = index.table_of(["b"], np.array([0.5]))[2].to_dict("records")
    assert _known_values(row) == {"opted_out": True, "spend": 3.0, "lifecycle": "lapsed"}
