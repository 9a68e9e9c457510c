"""Which copy wins: a model of within-test click-through differences of Upworthy headlines.

Data: the Upworthy Research Archive (real headline A/B tests). Tests from weeks 201326–201402 had
randomisation problems and are dropped. Packages of one test that share a headline (different images) are
summed, so an arm = (test, headline) with its impressions and clicks; only tests with ≥ 2 headlines inform.

Model: :class:`tools.within_test_model.WithinTestPoisson` on standardised [style markers, MiniLM embedding]
(:mod:`tools.headline_features`): clicks of a test split across its headlines ∝ impressions·exp(x·β), fitted
on counts. Its penalty is chosen by GroupKFold (by test) held-out likelihood. exp(x·β) is a headline's
relative click-through index against an average tested headline (1.0).

Evaluation: pairwise accuracy on held-out tests (GroupKFold), and on a pairs file (``headline_pairs_val.json``)
with every test that contains one of the file's headlines removed from training first (no leakage).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.model_selection import GroupKFold

from agent.settings import Settings
from tools.headline_features import EMBEDDING_FACTOR, STYLE_FEATURES, headline_matrix
from tools.within_test_model import WithinTestPoisson, within_test_log_likelihood

DEV_FILE = "upworthy_dev.parquet"
VAL_FILE = "headline_pairs_val.json"
BAD_WEEKS = (201326, 201402)  # randomisation problems (Upworthy archive's 2024 note)
PENALTIES = (1e3, 1e4, 1e5, 3e5, 1e6)
N_FOLDS = 5
Z_90 = 1.645
PUBLISHED = {"zero-shot LLM": 0.685, "fine-tuned RoBERTa": 0.692, "HypoGeniC": 0.719}
PUBLISHED_SOURCE = "HypoGeniC 'headline popularity' task, held-out pairs"


class HeadlinePairsError(ValueError):
    """A pairs file is unreadable or malformed; the message names the record."""


def load_arms(settings: Settings) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return arms (test, headline, impressions, clicks) of the usable tests, and counts of what was dropped."""
    raw = pd.read_parquet(settings.shared_data_dir / DEV_FILE)
    bad = raw["test_week"].between(*BAD_WEEKS)
    arms = (raw[~bad].groupby(["clickability_test_id", "headline"], as_index=False)
            .agg(impressions=("impressions", "sum"), clicks=("clicks", "sum")))  # fmt: skip
    arms = arms[arms["impressions"] > 0]
    arms = arms[arms.groupby("clickability_test_id")["headline"].transform("size") >= 2].reset_index(drop=True)
    info = {
        "tests_in_file": int(raw["clickability_test_id"].nunique()),
        "tests_dropped_bad_weeks": int(raw.loc[bad, "clickability_test_id"].nunique()),
        "tests_with_two_or_more_headlines": int(arms["clickability_test_id"].nunique()),
    }
    return arms, info


def read_pairs(path: Path | str) -> tuple[list[str], list[str], np.ndarray]:
    """Read a pairs file (records with ``headline_1``, ``headline_2``, ``label``); labels become 1 or 2.

    Raises:
        HeadlinePairsError: Not a JSON list of such records, or a label names neither headline.
    """
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HeadlinePairsError(f"{path}: cannot read a JSON list of pairs ({exc})") from exc
    if not isinstance(records, list) or not records:
        raise HeadlinePairsError(f"{path}: expected a non-empty JSON list of pair records")
    first, second, labels = [], [], []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not {"headline_1", "headline_2", "label"} <= rec.keys():
            raise HeadlinePairsError(f"{path}: record {i} lacks headline_1, headline_2 or label")
        label = str(rec["label"]).strip().lower()
        if not label.startswith(("headline 1", "headline 2")):
            raise HeadlinePairsError(f"{path}: record {i} label {rec['label']!r} names neither headline")
        first.append(str(rec["headline_1"]))
        second.append(str(rec["headline_2"]))
        labels.append(1 if label.startswith("headline 1") else 2)
    return first, second, np.array(labels)


def pair_accuracy(score_1: np.ndarray, score_2: np.ndarray, labels: np.ndarray) -> float:
    """Return the share of pairs where the higher score belongs to the labelled winner (ties count as wrong)."""
    predicted = np.where(score_1 > score_2, 1, np.where(score_2 > score_1, 2, 0))
    return float(np.mean(predicted == labels))


def within_test_pair_accuracy(arms: pd.DataFrame, score: np.ndarray, min_z: float = 0.0) -> tuple[float, int]:
    """Return accuracy over pairs of arms of one test with different CTR and |two-proportion z| ≥ ``min_z``."""
    right, total = 0, 0
    frame = arms.assign(score=score)
    for _, test in frame.groupby("clickability_test_id"):
        n, c, s = (test[k].to_numpy(float) for k in ("impressions", "clicks", "score"))
        i, j = np.triu_indices(len(test), k=1)
        rate, pooled = c / n, (c[i] + c[j]) / (n[i] + n[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (rate[i] - rate[j]) / np.sqrt(pooled * (1 - pooled) * (1 / n[i] + 1 / n[j]))
        keep = (rate[i] != rate[j]) & (np.nan_to_num(np.abs(z)) >= min_z)
        right += int(((s[i] > s[j]) == (rate[i] > rate[j]))[keep].sum())
        total += int(keep.sum())
    return (right / total if total else float("nan")), total


class HeadlineRating(BaseModel):
    """Predicted relative click-through of one headline (1.0 = an average tested Upworthy headline)."""

    headline: str
    index: float = Field(description="exp(x·β): relative click-through rate against an average tested headline.")
    low: float = Field(description="5th percentile (Laplace approximation of the model's parameter uncertainty).")
    high: float = Field(description="95th percentile.")
    factors: list[str] = Field(description="Top 3 factors with their effect on click-through.")


@dataclass
class HeadlineModel:
    """Standardisation, the fitted within-test model and its card."""

    mean: np.ndarray
    scale: np.ndarray
    model: WithinTestPoisson
    card: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, x: np.ndarray, arms: pd.DataFrame, penalty: float) -> HeadlineModel:
        """Standardise ``x`` (rows = arms) and fit the within-test model with ``penalty``."""
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        model = WithinTestPoisson(penalty).fit(
            (x - mean) / scale, arms["clicks"].to_numpy(), arms["impressions"].to_numpy(),
            arms["clickability_test_id"].to_numpy(),
        )  # fmt: skip
        return cls(mean, scale, model)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Return features on the training scale."""
        return (x - self.mean) / self.scale

    def log_index(self, texts: Sequence[str], settings: Settings) -> np.ndarray:
        """Return x·β per headline."""
        return self.model.score(self.standardise(headline_matrix(texts, settings)))

    def rate(self, texts: Sequence[str], settings: Settings) -> list[HeadlineRating]:
        """Rate headlines: relative click-through index, 90% interval and the three largest factors."""
        raw = headline_matrix(texts, settings)
        z = self.standardise(raw)
        assert self.model.coef is not None
        score, sd = self.model.score(z), self.model.score_sd(z)
        parts = z * self.model.coef
        n_style = len(STYLE_FEATURES)
        contributions = np.column_stack([parts[:, :n_style], parts[:, n_style:].sum(axis=1)])
        names = [*STYLE_FEATURES, "embedding"]
        out = []
        for row, text in enumerate(texts):
            top = np.argsort(-np.abs(contributions[row]), kind="stable")[:3]
            factors = [
                self._describe(names[k], raw[row, k] if k < n_style else None, contributions[row, k]) for k in top
            ]
            out.append(HeadlineRating(
                headline=text, index=float(np.exp(score[row])), low=float(np.exp(score[row] - Z_90 * sd[row])),
                high=float(np.exp(score[row] + Z_90 * sd[row])), factors=factors,
            ))  # fmt: skip
        return out

    @staticmethod
    def _describe(name: str, value: float | None, log_effect: float) -> str:
        """Phrase one factor, e.g. "asks a question: yes (+2.1% click-through vs an average headline)"."""
        effect = f"({np.expm1(log_effect):+.1%} click-through vs an average headline)"
        if name == "embedding" or value is None:
            return f"{EMBEDDING_FACTOR} {effect}"
        phrase = STYLE_FEATURES[name][0]
        if name == "words":
            return f"{phrase}: {value:.0f} {effect}"
        if name == "word_length":
            return f"{phrase}: {value:.1f} letters {effect}"
        return f"{phrase}: {'yes' if value else 'no'} {effect}"


def cross_validate(x: np.ndarray, arms: pd.DataFrame, penalties: Iterable[float] = PENALTIES) -> dict[str, Any]:
    """Evaluate each penalty by GroupKFold over tests: held-out log-likelihood per click and pair accuracies."""
    groups = arms["clickability_test_id"].to_numpy()
    table: dict[str, dict[str, float]] = {}
    for penalty in penalties:
        score, ll = np.zeros(len(arms)), 0.0
        for fit_rows, held in GroupKFold(n_splits=N_FOLDS).split(x, groups=groups):
            model = HeadlineModel.fit(x[fit_rows], arms.iloc[fit_rows], penalty)
            z = model.standardise(x[held])
            part = arms.iloc[held]
            clicks, impressions = part["clicks"].to_numpy(float), part["impressions"].to_numpy(float)
            assert model.model.coef is not None  # set by fit
            ll += within_test_log_likelihood(model.model.coef, z, clicks, impressions, groups[held])[0]
            score[held] = model.model.score(z)
        acc_all, n_all = within_test_pair_accuracy(arms, score)
        acc_sig, n_sig = within_test_pair_accuracy(arms, score, min_z=1.96)
        table[str(penalty)] = {
            "log_lik_per_click": ll / arms["clicks"].sum(), "pair_accuracy": acc_all, "pairs": n_all,
            "significant_pair_accuracy": acc_sig, "significant_pairs": n_sig,
        }  # fmt: skip
    best = max(table, key=lambda k: table[k]["log_lik_per_click"])
    return {"penalty": float(best), "folds": N_FOLDS, "by_penalty": table, "chosen_by": "held-out log-likelihood"}


def train_headline_model(
    settings: Settings, exclude_headlines: Iterable[str] = (), penalties: Sequence[float] = PENALTIES
) -> HeadlineModel:
    """Fit on the usable Upworthy tests, minus every test containing one of ``exclude_headlines``.

    The penalty is chosen among ``penalties`` by :func:`cross_validate` on the remaining tests.
    """
    arms, info = load_arms(settings)
    excluded = set(exclude_headlines)
    leaky = set(arms.loc[arms["headline"].isin(excluded), "clickability_test_id"])
    arms = arms[~arms["clickability_test_id"].isin(leaky)].reset_index(drop=True)
    x = headline_matrix(arms["headline"].tolist(), settings)
    cv = cross_validate(x, arms, penalties)
    model = HeadlineModel.fit(x, arms, cv["penalty"])
    model.card = {
        "model": "within-test (conditional) Poisson on standardised style markers + MiniLM embedding, ridge",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "file": DEV_FILE,
            **info,
            "tests_excluded_for_overlap": len(leaky),
            "tests_used": int(arms["clickability_test_id"].nunique()),
            "arms_used": len(arms),
            "bad_weeks_dropped": f"{BAD_WEEKS[0]}–{BAD_WEEKS[1]}",
        },
        "split": f"GroupKFold by test, {N_FOLDS} folds",
        "cross_validation": cv,
        "index": "exp(x·β) relative to an average tested headline; 90% interval from the Laplace approximation",
    }
    return model


def score_pairs_file(path: Path | str, settings: Settings, penalties: Sequence[float] = PENALTIES) -> dict[str, Any]:
    """Predict the winner of each pair in a file with a model trained without the file's tests.

    Every Upworthy test that contains a headline of the file is removed from training (and counted).

    Returns:
        ``{"pairs": N, "accuracy": X, "excluded_tests": K, "published": {...}, "cross_validation": {...}}``.
    """
    first, second, labels = read_pairs(path)
    model = train_headline_model(settings, exclude_headlines=[*first, *second], penalties=penalties)
    accuracy = pair_accuracy(model.log_index(first, settings), model.log_index(second, settings), labels)
    card = model.card
    return {
        "pairs": len(labels), "accuracy": accuracy,
        "excluded_tests": card["data"]["tests_excluded_for_overlap"], "tests_used": card["data"]["tests_used"],
        "published": PUBLISHED, "published_source": PUBLISHED_SOURCE,
        "cross_validation": card["cross_validation"]["by_penalty"][str(card["cross_validation"]["penalty"])],
        "penalty": card["cross_validation"]["penalty"],
    }  # fmt: skip


def _data_fingerprint(settings: Settings) -> str:
    """Return a hash of the Upworthy file (a saved model is reused only for the same data)."""
    return hashlib.sha256((settings.shared_data_dir / DEV_FILE).read_bytes()).hexdigest()[:16]


def headline_ctr_model(settings: Settings) -> HeadlineModel:
    """Return the deployable headline model (all usable tests), loaded from models_dir/headlines or trained.

    Use :meth:`HeadlineModel.rate` to score one or more headlines: relative click-through index against an
    average tested Upworthy headline, a 90% interval and readable factors.
    """
    folder = settings.models_dir / "headlines"
    path = folder / "headline_model.joblib"
    fingerprint = _data_fingerprint(settings)
    if path.is_file():
        model = joblib.load(path)
        if isinstance(model, HeadlineModel) and model.card.get("data", {}).get("fingerprint") == fingerprint:
            return model
    model = train_headline_model(settings)
    model.card["data"]["fingerprint"] = fingerprint
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    (folder / "model_card.json").write_text(json.dumps(model.card, indent=2))
    return model
