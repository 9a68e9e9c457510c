"""A real Chroma collection made to fail, for the tests of a portrait mirror that cannot read its store."""

from __future__ import annotations

from typing import Any

import numpy as np

from tools.embedding import EMBEDDING_DIM


class FlakyCollection:
    """Wraps a real collection; while ``broken``, reads raise (``mode="fail"``) or return no rows (``"empty"``).

    ``count`` always answers truthfully, as a store recovering after a crash does while its pages are unreadable.
    """

    def __init__(self, real: Any, mode: str) -> None:
        self.real, self.mode, self.broken = real, mode, True

    def count(self) -> int:
        return int(self.real.count())

    def get(self, **kwargs: Any) -> Any:
        if self.broken and self.mode == "fail":
            raise OSError("database disk image is malformed")
        page = self.real.get(**kwargs)
        if self.broken and self.mode == "empty":
            return {**page, "ids": [], "embeddings": np.zeros((0, EMBEDDING_DIM)), "documents": [], "metadatas": []}
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
