"""The click model: a calibrated logistic regression on bandit feedback derived from real ratings.

The shop logs no impressions or clicks, so the feedback is DERIVED, not observed: an impression = a rating
event, a click = rating ≥ 4. The model estimates ``p_like``, the probability that a customer rates a title
4 stars or more if shown it. Split by time: the last 20% of events are the test set; of the training period
the first 80% fit a logistic regression, the last 20% Platt-calibrate it. Every feature of an event comes
from the history before its slice (fit events: the fit period minus their own rating), so held-out rows
see what a live model would see. Held-out AUC, log loss and ECE go to the model card. The features are in
:mod:`tools.effect.click_features`; the ``effect`` tool that serves the model is in :mod:`tools.effect.effect_tool`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from agent.settings import Settings
from tools.effect.calibration import calibration_error
from tools.effect.click_features import CATEGORICAL, HistoryStats, event_rows
from tools.saved_models import load_saved, save_model
from tools.shop import LIKED_RATING

if TYPE_CHECKING:
    from tools.shop import Shop

DERIVATION = "derived: an impression = a rating event, a click = rating ≥ 4; not observed clicks"
METRIC = "p_like: predicted probability the customer rates the title ≥ 4 if shown — derived click proxy"
HELD_OUT_FRACTION = 0.2  # of all events for the test set, then of the training period for calibration


def expected_calibration_error(y_true: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Return Σ_bins (n_bin / N)·|mean(y) − mean(p)| over ``n_bins`` equal-width bins of ``p`` in [0, 1]."""
    return calibration_error(y_true, p, n_bins, "uniform")


def _labelled(stats: HistoryStats, events: pd.DataFrame, own: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Return features of ``events`` from ``stats``, and labels (``own``: the events are in ``stats``)."""
    c, i, r = event_rows(stats.customer_ids, stats.product_ids, events)
    return stats.features(c, i, own_rating=r if own else None), r >= LIKED_RATING


def _fingerprint(shop: Shop) -> str:
    """Return a hash of the shop's interactions and sizes: a saved model is reused only for the same data."""
    digest = int(pd.util.hash_pandas_object(shop.interactions, index=False).to_numpy().sum())
    return f"{digest:016x}-{len(shop.customers)}-{len(shop.products)}"


@dataclass
class ClickModel:
    """Calibrated logistic click model: ``logit = a·(w·x + w0) + b`` on the encoded features ``x``.

    Factors (log-odds contributions, summing to the logit minus the reference's) are measured against an
    average customer (demographics, statistics) shown a title without genres; a genre's effect for a
    customer of average affinity is credited to the genre, the deviation from it to the affinity.
    """

    pipeline: Pipeline
    platt: tuple[float, float]
    reference: np.ndarray  # encoded feature row the factors are measured against
    genre_shift: np.ndarray  # per genre: log-odds an average customer's affinity adds to a title of it
    groups: list[str]  # the factor each encoded column belongs to
    card: dict[str, Any]

    @classmethod
    def train(cls, shop: Shop, settings: Settings) -> ClickModel:
        """Fit, calibrate and evaluate on the time split; save under ``settings.models_dir / "effect"``."""
        inter = shop.interactions.sort_values("timestamp", kind="stable").reset_index(drop=True)
        if len(inter) < 1000:
            raise ValueError(f"{len(inter)} ratings are too few to fit, calibrate and test a click model")
        t_test = int(inter["timestamp"].iat[int(len(inter) * (1 - HELD_OUT_FRACTION))])
        train, test = inter[inter["timestamp"] < t_test], inter[inter["timestamp"] >= t_test]
        t_cal = int(train["timestamp"].iat[int(len(train) * (1 - HELD_OUT_FRACTION))])
        early, calibration = train[train["timestamp"] < t_cal], train[train["timestamp"] >= t_cal]
        stats = HistoryStats.from_history(shop, early)
        fit, cal = _labelled(stats, early, own=True), _labelled(stats, calibration, own=False)
        model = cls.fit(fit, cal, stats.genre_share)
        x_test, y_test = _labelled(HistoryStats.from_history(shop, train), test, own=False)
        p_test = model.predict_proba(x_test)
        day = {"calibration_start": t_cal, "test_start": t_test}
        model.card = {
            "model": "click_model: one-hot + standardised features → LogisticRegression, Platt-calibrated",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "sklearn_version": sklearn.__version__,
            "seed": settings.seed,
            "data": {"shop": shop.name, "fingerprint": _fingerprint(shop), "n_events": len(inter)},
            "derivation": DERIVATION,
            "metric": METRIC,
            "split": {
                "method": "time-based: test = last 20% of events, calibration = last 20% of the rest",
                **{k: datetime.fromtimestamp(t, UTC).date().isoformat() for k, t in day.items()},
                **{"n_fit": len(fit[1]), "n_calibration": len(cal[1]), "n_test": len(y_test)},
            },
            "features": list(fit[0].columns),
            "feature_note": "affinity:<genre> = the customer's smoothed share of ratings in the genre if the "
            "title has it; statistics come from the history before each slice, never from the event itself; "
            "at prediction time, from the shop's whole history",
            "metrics": {
                "auc": float(roc_auc_score(y_test, p_test)),
                "log_loss": float(log_loss(y_test, p_test)),
                "ece": expected_calibration_error(y_test, p_test),
                "log_loss_of_constant_rate": float(log_loss(y_test, np.full(len(y_test), fit[1].mean()))),
                "test_click_rate": float(y_test.mean()),
            },
            "interval": "90% bootstrap over the group's customers: how much the group disagrees, not model "
            "error; see metrics.ece for the held-out calibration",
        }
        model.save(settings)
        return model

    @classmethod
    def fit(
        cls,
        fit: tuple[pd.DataFrame, np.ndarray],
        calibration: tuple[pd.DataFrame, np.ndarray],
        share: np.ndarray,
    ) -> ClickModel:
        """Fit the regression, Platt-calibrate it, set the factors' reference (``share``: genre shares)."""
        numeric = [col for col in fit[0].columns if col not in CATEGORICAL]
        onehot, scaler = OneHotEncoder(handle_unknown="ignore"), StandardScaler()
        encode = ColumnTransformer([("cat", onehot, CATEGORICAL), ("num", scaler, numeric)], sparse_threshold=0)
        pipeline = Pipeline([("encode", encode), ("logit", LogisticRegression(max_iter=2000))]).fit(*fit)
        platt = LogisticRegression(C=1e6).fit(pipeline.decision_function(calibration[0])[:, None], calibration[1])
        a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        cats = encode.named_transformers_["cat"].categories_
        groups = [col for col, values in zip(CATEGORICAL, cats, strict=True) for _ in values] + numeric
        scaler, n_onehot = encode.named_transformers_["num"], len(groups) - len(numeric)
        no_genre = np.array([col.startswith(("genre:", "affinity:")) for col in numeric])
        demographics = encode.transform(fit[0])[:, :n_onehot].mean(axis=0)
        reference = np.concatenate([demographics, np.where(no_genre, -scaler.mean_ / scaler.scale_, 0.0)])
        affinity = np.array([j for j, col in enumerate(numeric) if col.startswith("affinity:")])
        w = a * pipeline.named_steps["logit"].coef_[0][n_onehot:]
        return cls(pipeline, (a, b), reference, w[affinity] / scaler.scale_[affinity] * share, groups, {})

    def explain(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return calibrated logits and log-odds contributions (rows × ``factor_names``)."""
        a, b = self.platt
        x = self.pipeline.named_steps["encode"].transform(features)
        linear = self.pipeline.named_steps["logit"]
        w = a * linear.coef_[0]
        parts = (x - self.reference) * w
        names = np.array(self.groups)
        flags = np.flatnonzero(np.char.startswith(names, "genre:"))
        moved = features[names[flags]].to_numpy(np.float64) * self.genre_shift
        parts[:, flags] += moved
        parts[:, np.flatnonzero(np.char.startswith(names, "affinity:"))] -= moved
        starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
        return x @ w + a * linear.intercept_[0] + b, np.add.reduceat(parts, starts, axis=1)

    @property
    def factor_names(self) -> list[str]:
        """Return the factors, in the column order of :meth:`explain`'s contributions."""
        return list(dict.fromkeys(self.groups))

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Return the calibrated ``p_like`` of each row."""
        return 1.0 / (1.0 + np.exp(-self.explain(features)[0]))

    def save(self, settings: Settings) -> None:
        """Write the model (joblib) and its card (JSON) to ``settings.models_dir / "effect"``."""
        folder = settings.models_dir / "effect"
        save_model(self, folder / "click_model.joblib")
        (folder / "model_card.json").write_text(json.dumps(self.card, indent=2, ensure_ascii=False))

    @classmethod
    def load_or_train(cls, shop: Shop, settings: Settings) -> ClickModel:
        """Load the saved model if it was trained on this shop's data with this scikit-learn, else train.

        A saved file this release cannot read (see :func:`tools.saved_models.load_saved`) is retrained too.
        """
        model = load_saved(settings.models_dir / "effect" / "click_model.joblib", cls)
        if model is not None:
            card = model.card if isinstance(model.card, dict) else {}
            same_data = card.get("data", {}).get("fingerprint") == _fingerprint(shop)
            if same_data and card.get("sklearn_version") == sklearn.__version__:
                return model
        return cls.train(shop, settings)
