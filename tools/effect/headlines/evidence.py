"""Evidence a marketer can check: the tested Upworthy headlines closest to a new one, and how each did.

Each arm of the training tests keeps its observed lift: its click-through rate against its own test's pooled
rate (clicks / impressions over all its headlines). The closest ones by MiniLM cosine similarity are quoted
beside a rating, e.g. ``closest tested headline: "…" (CTR +18% vs its test's average, 41,200 views)``.
They are observed results, not model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class ProvenExamples:
    """Headlines of the training tests with their observed lift and impressions.

    Attributes:
        texts: Headlines.
        vectors: Their MiniLM embeddings (rows L2-normalised, float16 to keep the saved model small).
        lift: Click-through rate / the test's pooled rate − 1.
        impressions: Impressions of the headline in its test.
    """

    texts: list[str]
    vectors: np.ndarray
    lift: np.ndarray
    impressions: np.ndarray

    @classmethod
    def from_arms(cls, arms: pd.DataFrame, vectors: np.ndarray) -> ProvenExamples:
        """Build from arms (clickability_test_id, headline, impressions, clicks) and their headlines' embeddings."""
        by_test = arms.groupby("clickability_test_id")[["clicks", "impressions"]].transform("sum")
        pooled = by_test["clicks"] / by_test["impressions"]
        rate = arms["clicks"] / arms["impressions"]
        lift = np.where(pooled > 0, rate / pooled.where(pooled > 0, 1.0) - 1.0, 0.0)
        texts = arms["headline"].tolist()
        return cls(texts, vectors.astype(np.float16), lift.astype(float), arms["impressions"].to_numpy(int))

    def closest(self, texts: Sequence[str], vectors: np.ndarray, k: int = 2) -> list[list[str]]:
        """Return, per text (embedded as ``vectors``), ``k`` phrases quoting the most similar tested headlines.

        A text's own exact repeat among the tested headlines is skipped.
        """
        if not texts or not self.texts:
            return [[] for _ in texts]
        similarity = np.asarray(vectors, np.float32) @ self.vectors.astype(np.float32).T
        out = []
        for row, text in enumerate(texts):
            phrases: list[str] = []
            for j in np.argsort(-similarity[row], kind="stable"):
                if len(phrases) == k:
                    break
                if self.texts[j] != text:
                    phrases.append(
                        f'closest tested headline: "{self.texts[j]}" (CTR {self.lift[j]:+.0%} vs its test\'s '
                        f"average, {self.impressions[j]:,} views; similarity {similarity[row, j]:.2f})"
                    )
            out.append(phrases)
        return out
