"""The fitted headline click-through model and its ratings (trained by :mod:`tools.effect.headlines.training`).

A rating is exp(x·β) of :class:`tools.effect.headlines.within_test.WithinTestPoisson`: the headline's relative
click-through against an average tested Upworthy headline (1.0), with a 90% interval, the model's largest
factors in words and, separately, the closest tested headlines with their observed lift
(:mod:`tools.effect.headlines.evidence`): observed results a marketer can check, not model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from agent.settings import Settings
from tools.effect.headlines.encoder import CrossFitEncoders
from tools.effect.headlines.evidence import ProvenExamples
from tools.effect.headlines.features import EMBEDDING_FACTOR, STYLE_FEATURES, embed_cached, headline_matrix
from tools.effect.headlines.within_test import WithinTestPoisson

WORDING_FACTOR = "wording (MiniLM fine-tuned on Upworthy A/B tests)"
Z_90 = 1.645
TOP_FACTORS = 3
CLOSEST_EXAMPLES = 2


class HeadlineRating(BaseModel):
    """Predicted relative click-through of one headline (1.0 = an average tested Upworthy headline)."""

    headline: str
    index: float = Field(description="exp(x·β): relative click-through rate against an average tested headline.")
    low: float = Field(description="5th percentile (model parameter uncertainty and encoder disagreement).")
    high: float = Field(description="95th percentile.")
    factors: list[str] = Field(description="The model's largest factors with their effect on click-through.")
    evidence: list[str] = Field(
        default_factory=list,
        description="Closest tested Upworthy headlines with their observed lift (observed, not model output).",
    )


@dataclass
class HeadlineModel:
    """Standardisation, the fitted within-test model, the fine-tuned encoders (if any) and the model card."""

    mean: np.ndarray
    scale: np.ndarray
    model: WithinTestPoisson
    card: dict[str, Any] = field(default_factory=dict)
    encoders: CrossFitEncoders | None = None
    examples: ProvenExamples | None = None

    @classmethod
    def fit(
        cls, x: np.ndarray, arms: pd.DataFrame, penalty: float, encoders: CrossFitEncoders | None = None
    ) -> HeadlineModel:
        """Standardise ``x`` (rows = arms) and fit the within-test model with ``penalty``."""
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        model = WithinTestPoisson(penalty).fit(
            (x - mean) / scale, arms["clicks"].to_numpy(), arms["impressions"].to_numpy(),
            arms["clickability_test_id"].to_numpy(),
        )  # fmt: skip
        return cls(mean, scale, model, encoders=encoders)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Return features on the training scale."""
        return (x - self.mean) / self.scale

    def features(
        self, texts: Sequence[str], settings: Settings, vectors: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return raw features per text and the encoders' disagreement (sd of the K wording scores; 0 if frozen).

        ``vectors``: the texts' MiniLM embeddings, if already computed.
        """
        if self.encoders is None:
            return headline_matrix(texts, settings, vectors), np.zeros(len(texts))
        wording, spread = self.encoders.score(texts, settings)
        return wording[:, None], spread

    def log_index(self, texts: Sequence[str], settings: Settings) -> np.ndarray:
        """Return x·β per headline."""
        return self.model.score(self.standardise(self.features(texts, settings)[0]))

    def rate(self, texts: Sequence[str], settings: Settings) -> list[HeadlineRating]:
        """Rate headlines: relative click-through index, 90% interval, factors and evidence.

        The interval combines the Laplace posterior of β with the K fine-tuned encoders' disagreement. The
        factors are the model's largest contributions (up to three; the fine-tuned model has one, its wording
        score); the evidence quotes the closest tested headlines with their observed lift.
        """
        vectors = embed_cached(texts, settings)  # once: features (frozen) and evidence both use it
        raw, spread = self.features(texts, settings, vectors)
        z = self.standardise(raw)
        assert self.model.coef is not None
        score = self.model.score(z)
        sd = np.hypot(self.model.score_sd(z), np.abs(self.model.coef[-1] / self.scale[-1]) * spread)
        n_style = 0 if self.encoders is not None else len(STYLE_FEATURES)
        parts = z * self.model.coef
        contributions = np.column_stack([parts[:, :n_style], parts[:, n_style:].sum(axis=1)])
        names = [*list(STYLE_FEATURES)[:n_style], "embedding"]
        evidence = (
            self.examples.closest(texts, vectors, CLOSEST_EXAMPLES)
            if self.examples is not None
            else [[] for _ in texts]
        )
        out = []
        for row, text in enumerate(texts):
            top = np.argsort(-np.abs(contributions[row]), kind="stable")[:TOP_FACTORS]
            out.append(HeadlineRating(
                headline=text, index=float(np.exp(score[row])), low=float(np.exp(score[row] - Z_90 * sd[row])),
                high=float(np.exp(score[row] + Z_90 * sd[row])), evidence=evidence[row],
                factors=[self._describe(names[k], raw[row, k] if k < n_style else None, contributions[row, k])
                         for k in top],
            ))  # fmt: skip
        return out

    def _describe(self, name: str, value: float | None, log_effect: float) -> str:
        """Phrase one factor, e.g. "asks a question: yes (+2.1% click-through vs an average headline)"."""
        effect = f"({np.expm1(log_effect):+.1%} click-through vs an average headline)"
        if name == "embedding" or value is None:
            return f"{EMBEDDING_FACTOR if self.encoders is None else WORDING_FACTOR} {effect}"
        phrase = STYLE_FEATURES[name][0]
        if name == "words":
            return f"{phrase}: {value:.0f} {effect}"
        if name == "word_length":
            return f"{phrase}: {value:.1f} letters {effect}"
        return f"{phrase}: {'yes' if value else 'no'} {effect}"
