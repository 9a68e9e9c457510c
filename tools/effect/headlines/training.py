"""Which copy wins: a model of within-test click-through differences of Upworthy headlines.

Data: the Upworthy Research Archive (real headline A/B tests). Tests from weeks 201326–201402 had
randomisation problems and are dropped. Packages of one test that share a headline (different images) are
summed, so an arm = (test, headline) with its impressions and clicks; only tests with ≥ 2 headlines inform.

Model: :class:`tools.effect.headlines.within_test.WithinTestPoisson`: clicks of a test split across its headlines ∝
impressions·exp(x·β), fitted on counts; its penalty is chosen by GroupKFold (by test) held-out likelihood.
exp(x·β) is a headline's relative click-through index against an average tested headline (1.0); the fitted
model and its ratings live in :mod:`tools.effect.headlines.model`, and ratings also quote the closest tested headlines
with their observed lift (:mod:`tools.effect.headlines.evidence`). This module loads the data, trains, cross-validates
and scores pairs files. Two variants:

- default (``settings.headline_fine_tune`` off): x = style markers + the frozen MiniLM embedding (397
  features, :mod:`tools.effect.headlines.features`);
- fine-tuned: x = the wording score of 5 MiniLM encoders fine-tuned on the same likelihood and cross-fitted
  (:mod:`tools.effect.headlines.encoder`; each arm scored by an encoder that never trained on its test); style markers
  left out (:data:`STYLE_DRIFT`).

Measured on held-out tests (GroupKFold, all 1,318 usable tests): frozen 60.3% of pairs and 70.7% of
significant pairs right, fine-tuned 60.6% and 71.5%; on headline_pairs_val.json 67.0% against 67.3%. That is
within noise, for minutes of CPU and 225 MB of encoders, so fine-tuning is opt-in.

Evaluation: pairwise accuracy on held-out tests (GroupKFold), and on a pairs file (``headline_pairs_val.json``)
with every test that contains one of the file's headlines removed from training first (no leakage).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from agent.settings import Settings
from tools.effect.headlines.encoder import HEAD_FILE, CrossFitEncoders, FineTuneConfig, cross_fit
from tools.effect.headlines.evidence import ProvenExamples
from tools.effect.headlines.features import embed_cached, headline_matrix
from tools.effect.headlines.model import HeadlineModel
from tools.effect.headlines.pairs import pair_accuracy, read_pairs, within_test_pair_accuracy
from tools.effect.headlines.within_test import within_test_log_likelihood
from tools.saved_models import load_saved, save_model

DEV_FILE = "upworthy_dev.parquet"
VAL_FILE = "headline_pairs_val.json"
BAD_WEEKS = (201326, 201402)  # randomisation problems (Upworthy archive's 2024 note)
PENALTIES = (1e3, 1e4, 1e5, 3e5, 1e6)  # 397 features: style markers + frozen embedding
STACKED_PENALTIES = (1.0, 10.0, 100.0, 1e3, 1e4)  # one feature: the wording score
STYLE_DRIFT = (
    "left out of the fine-tuned model: on the 114 training tests from the val period (weeks 201433+), style "
    "markers alone rank pairs at chance (49-54%) and adding them to the wording score lowered held-out pair "
    "accuracy there (58.3% -> 55.8%, significant pairs 65.7% -> 61.3%); their 2013-14 effects do not carry over"
)
DEFAULT_FINE_TUNE = FineTuneConfig()
N_FOLDS = 5
PUBLISHED = {"zero-shot LLM": 0.685, "fine-tuned RoBERTa": 0.692, "HypoGeniC": 0.719}
PUBLISHED_SOURCE = "HypoGeniC 'headline popularity' task, held-out pairs"


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
    settings: Settings,
    exclude_headlines: Iterable[str] = (),
    penalties: Sequence[float] | None = None,
    fine_tune: FineTuneConfig | None = None,
    encoder_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HeadlineModel:
    """Fit on the usable Upworthy tests, minus every test containing one of ``exclude_headlines``.

    Args:
        settings: Project settings (data, base MiniLM, embedding cache).
        exclude_headlines: Headlines whose tests are left out of training (evaluation files).
        penalties: Ridge penalties to choose from by :func:`cross_validate`; default by variant.
        fine_tune: Fine-tune cross-fitted encoders with this config; None uses the frozen embedding.
        encoder_dir: Where the fine-tuned encoders are saved (required with ``fine_tune``).
        progress: ``progress(done, total)`` after each fine-tuning step.
    """
    arms, info = load_arms(settings)
    excluded = set(exclude_headlines)
    leaky = set(arms.loc[arms["headline"].isin(excluded), "clickability_test_id"])
    arms = arms[~arms["clickability_test_id"].isin(leaky)].reset_index(drop=True)
    encoders = None
    vectors = embed_cached(arms["headline"].tolist(), settings)
    if fine_tune is None:
        x = headline_matrix(arms["headline"].tolist(), settings, vectors)
        description = "style markers + frozen MiniLM embedding"
    else:
        if encoder_dir is None:
            raise ValueError("fine-tuning needs an encoder_dir to save the encoders in")
        encoders, wording = cross_fit(arms, encoder_dir, settings, fine_tune, progress)
        x = wording[:, None]  # style markers left out: see STYLE_DRIFT
        description = f"out-of-fold wording score of {fine_tune.folds} fine-tuned MiniLM encoders"
    cv = cross_validate(x, arms, penalties or (PENALTIES if fine_tune is None else STACKED_PENALTIES))
    model = HeadlineModel.fit(x, arms, cv["penalty"], encoders)
    model.examples = ProvenExamples.from_arms(arms, vectors)
    model.card = {
        "model": f"within-test (conditional) Poisson on standardised {description}, ridge",
        "fine_tuning": None if fine_tune is None else {**fine_tune.__dict__, "objective": "within-test Poisson",
                                                       "style_markers": STYLE_DRIFT},
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
        "index": "exp(x·β) relative to an average tested headline; 90% interval from the Laplace approximation"
        + ("" if fine_tune is None else " and the encoders' disagreement"),
    }
    return model


def score_pairs_file(
    path: Path | str,
    settings: Settings,
    penalties: Sequence[float] | None = None,
    fine_tune: FineTuneConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Predict the winner of each pair in a file with a model trained without the file's tests.

    Every Upworthy test that contains a headline of the file is removed from training (and counted); the
    encoders fine-tuned for this evaluation live in a temporary folder.

    Returns:
        ``{"pairs": N, "accuracy": X, "excluded_tests": K, "published": {...}, "cross_validation": {...}}``.
    """
    first, second, labels = read_pairs(path)
    with tempfile.TemporaryDirectory(prefix="headline-encoders-") as folder:
        model = train_headline_model(
            settings, [*first, *second], penalties, fine_tune, Path(folder) / "encoders", progress
        )
        accuracy = pair_accuracy(model.log_index(first, settings), model.log_index(second, settings), labels)
    card = model.card
    return {
        "pairs": len(labels), "accuracy": accuracy, "model": card["model"],
        "excluded_tests": card["data"]["tests_excluded_for_overlap"], "tests_used": card["data"]["tests_used"],
        "published": PUBLISHED, "published_source": PUBLISHED_SOURCE,
        "cross_validation": card["cross_validation"]["by_penalty"][str(card["cross_validation"]["penalty"])],
        "penalty": card["cross_validation"]["penalty"],
    }  # fmt: skip


def _data_fingerprint(settings: Settings, fine_tune: FineTuneConfig | None) -> str:
    """Return a hash of the Upworthy file and the fine-tuning config (a saved model is reused only for both)."""
    digest = hashlib.sha256((settings.shared_data_dir / DEV_FILE).read_bytes())
    digest.update(repr(fine_tune).encode())
    return digest.hexdigest()[:16]


def headline_ctr_model(settings: Settings, progress: Callable[[int, int], None] | None = None) -> HeadlineModel:
    """Return the deployable headline model (all usable tests), loaded from models_dir/headlines or trained.

    ``settings.headline_fine_tune`` chooses the variant (fine-tuned encoders, or the frozen embedding). Use
    :meth:`HeadlineModel.rate` to score one or more headlines: relative click-through index against an average
    tested Upworthy headline, a 90% interval and readable factors.
    """
    fine_tune = DEFAULT_FINE_TUNE if settings.headline_fine_tune else None
    folder = settings.models_dir / "headlines"
    path, encoder_dir = folder / "headline_model.joblib", folder / "encoders"
    fingerprint = _data_fingerprint(settings, fine_tune)
    model = load_saved(path, HeadlineModel)  # None if missing or unreadable (e.g. saved by an older layout)
    if model is not None and model.card.get("data", {}).get("fingerprint") == fingerprint:
        if model.encoders is None:
            return model
        model.encoders = CrossFitEncoders(encoder_dir, model.encoders.folds)  # the home may have moved
        if all((encoder_dir / f"fold_{k}" / HEAD_FILE).is_file() for k in range(model.encoders.folds)):
            return model  # every encoder was saved whole (its head is written last)
    model = train_headline_model(settings, fine_tune=fine_tune, encoder_dir=encoder_dir, progress=progress)
    model.card["data"]["fingerprint"] = fingerprint
    save_model(model, path)
    (folder / "model_card.json").write_text(json.dumps(model.card, indent=2))
    return model
