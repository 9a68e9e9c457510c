"""MiniLM fine-tuned on Upworthy A/B-test counts: a wording score that separates winning headlines.

Objective: the conditional Poisson likelihood of :mod:`tools.effect.headlines.within_test`
— in each test the clicks split
across its headlines ∝ impressions·exp(s(h)) — with s(h) = w·MiniLM(h) (mean-pooled, L2-normalised) trained end
to end by AdamW. Only differences between headlines of one test inform it, and every impression counts.

Cross-fitted: K encoders, each fine-tuned on the tests outside one fold. Each arm's *out-of-fold* score (from
the encoder that never saw its test) is what the interpretable within-test model downstream is fitted on, so
that model and its penalty choice see honest scores. A new headline gets the mean of the K scores, and their
spread is reported as the encoders' disagreement.

Hand-written training loop: sentence-transformers' losses take pairs or triplets of texts, not a likelihood over
groups of arms with counts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from agent.settings import Settings, apply_offline_environment
from tools.embedding import EMBEDDING_DIM, load_embedder

HEAD_FILE = "head.npy"
SCORE_BATCH = 256


@dataclass(frozen=True)
class FineTuneConfig:
    """How the encoders are fine-tuned (defaults chosen on held-out Upworthy tests, see the bench).

    Attributes:
        folds: K, the number of cross-fitted encoders.
        epochs: Passes over the training tests.
        learning_rate: AdamW learning rate of the encoder (the linear head uses ``head_learning_rate``).
        head_learning_rate: AdamW learning rate of the linear head w.
        tests_per_batch: A/B tests per gradient step (all arms of a test are in the same batch).
        seed: Seed of shuffling and initialisation.
    """

    folds: int = 5
    epochs: int = 1
    learning_rate: float = 2e-5
    head_learning_rate: float = 1e-2
    tests_per_batch: int = 16
    seed: int = 0


class _Scorer:
    """One MiniLM plus a linear head (torch is imported lazily: plans that never rate headlines skip it)."""

    def __init__(self, folder: Path | None, settings: Settings) -> None:
        """Load the encoder saved in ``folder``, or a fresh copy of the packaged MiniLM with a zero head."""
        import torch
        from sentence_transformers import SentenceTransformer

        apply_offline_environment()
        if folder is None:
            self.model: Any = copy.deepcopy(load_embedder(settings))  # the cached base must stay untouched
            head = np.zeros(EMBEDDING_DIM)
        else:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self.model = SentenceTransformer(
                str(folder), device="cpu", local_files_only=True, model_kwargs={"dtype": torch.float32}
            )
            head = np.load(folder / HEAD_FILE)
        self.model.float()
        self.encoder: Any = self.model[0].auto_model
        self.tokenizer: Any = self.model.tokenizer
        self.head = torch.nn.Parameter(torch.tensor(head, dtype=torch.float32))

    def _embed(self, texts: Sequence[str]) -> Any:  # torch imported lazily
        import torch

        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=64)
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Return s(h) per text."""
        import torch

        self.encoder.eval()
        out = [np.zeros(0, dtype=np.float32)]
        with torch.no_grad():
            for start in range(0, len(texts), SCORE_BATCH):
                out.append((self._embed(texts[start : start + SCORE_BATCH]) @ self.head).numpy())
        return np.concatenate(out).astype(np.float64)

    def fit(self, arms: pd.DataFrame, config: FineTuneConfig, step: Callable[[], None]) -> None:
        """Fine-tune on ``arms`` (test, headline, impressions, clicks); ``step`` is called after each batch."""
        import torch

        torch.manual_seed(config.seed)
        params = [{"params": self.encoder.parameters(), "lr": config.learning_rate},
                  {"params": [self.head], "lr": config.head_learning_rate}]  # fmt: skip
        optimiser = torch.optim.AdamW(params, weight_decay=0.01)
        tests = list(arms.groupby("clickability_test_id").indices.values())
        rng = np.random.default_rng(config.seed)
        for _ in range(config.epochs):
            self.encoder.train()
            order = rng.permutation(len(tests))
            for start in range(0, len(order), config.tests_per_batch):
                batch = arms.iloc[np.concatenate([tests[k] for k in order[start : start + config.tests_per_batch]])]
                loss = _batch_loss(self._embed(batch["headline"].tolist()) @ self.head, batch)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                step()

    def save(self, folder: Path) -> None:
        """Save the encoder (half precision on disk) and the head."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.half().save(str(folder))
        self.model.float()
        np.save(folder / HEAD_FILE, self.head.detach().numpy())


def _batch_loss(score: Any, batch: pd.DataFrame) -> Any:
    """Return the negative conditional Poisson log-likelihood per click of the batch's tests."""
    import torch

    eta = score + torch.tensor(np.log(batch["impressions"].to_numpy(float)), dtype=torch.float32)
    codes = torch.tensor(pd.factorize(batch["clickability_test_id"])[0])
    clicks = torch.tensor(batch["clicks"].to_numpy(float), dtype=torch.float32)
    n_tests = int(codes.max()) + 1
    log_total = torch.stack([torch.logsumexp(eta[codes == k], 0) for k in range(n_tests)])
    test_clicks = torch.zeros(n_tests).index_add(0, codes, clicks)
    return -(clicks @ eta - test_clicks @ log_total) / test_clicks.sum().clamp(min=1.0)


@dataclass
class CrossFitEncoders:
    """K fine-tuned MiniLM scorers saved under one folder (``fold_0`` … ``fold_{K-1}``).

    Attributes:
        folder: Where the encoders live.
        folds: K.
    """

    folder: Path
    folds: int
    _loaded: list[_Scorer] | None = field(default=None, init=False, repr=False, compare=False)

    def scorers(self, settings: Settings) -> list[_Scorer]:
        """Load the K scorers (kept on the instance after the first call)."""
        if self._loaded is None:
            self._loaded = [_Scorer(self.folder / f"fold_{k}", settings) for k in range(self.folds)]
        return self._loaded

    def score(self, texts: Sequence[str], settings: Settings) -> tuple[np.ndarray, np.ndarray]:
        """Return the mean of the K wording scores per text and their standard deviation (disagreement)."""
        scores = np.stack([s.score(list(texts)) for s in self.scorers(settings)]) if texts else np.zeros((1, 0))
        return scores.mean(axis=0), scores.std(axis=0)

    def __getstate__(self) -> dict[str, object]:
        """Pickle the location only, never loaded torch models."""
        return {"folder": self.folder, "folds": self.folds}


def cross_fit(
    arms: pd.DataFrame,
    folder: Path,
    settings: Settings,
    config: FineTuneConfig = FineTuneConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[CrossFitEncoders, np.ndarray]:
    """Fine-tune K encoders on ``arms`` grouped by test, save them, and return them with out-of-fold scores.

    Args:
        arms: Rows (clickability_test_id, headline, impressions, clicks), ≥ K tests.
        folder: Destination (replaced).
        settings: Project settings (base model location).
        config: Fine-tuning settings.
        progress: Called as ``progress(done, total)`` after each gradient step.

    Returns:
        The encoders and each arm's score from the encoder that did not train on its test.

    Raises:
        ValueError: Fewer tests than folds.
    """
    groups = arms["clickability_test_id"].to_numpy()
    n_tests = len(np.unique(groups))
    if n_tests < config.folds:
        raise ValueError(f"fine-tuning needs at least {config.folds} A/B tests, got {n_tests}")
    splits = list(GroupKFold(n_splits=config.folds).split(arms, groups=groups))
    steps_per_fold = [
        config.epochs * -(-len(np.unique(groups[train])) // config.tests_per_batch) for train, _ in splits
    ]
    done, total = 0, sum(steps_per_fold)

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    out_of_fold = np.zeros(len(arms))
    for k, (train, held) in enumerate(splits):
        scorer = _Scorer(None, settings)
        scorer.fit(arms.iloc[train], FineTuneConfig(**{**config.__dict__, "seed": config.seed + k}), step)
        out_of_fold[held] = scorer.score(arms["headline"].iloc[held].tolist())
        scorer.save(folder / f"fold_{k}")
    return CrossFitEncoders(folder, config.folds), out_of_fold
