"""CTR of showing an item to a user in a slot, learnt from the Open Bandit Dataset sample with a time split.

Data: all six OBD sample files (random and BTS logs of the all/men/women campaigns; 60,000 real impressions,
≈ 290 clicks). Features: campaign, slot, the four hashed user features, the user's affinity to the shown item
(``user-item_affinity_<item>``) and to all items, and the item's context (``item_feature_0`` numeric,
``item_feature_1..3`` hashed categories). The logging policy is not a feature: it decides what is shown, not
whether a shown item is clicked.

Split by time over the week: the first 60% of impressions fit, the next 20% calibrate, the last 20% test.
Models: scikit-learn ``LogisticRegression`` (one-hot) and ``HistGradientBoostingClassifier`` (native
categoricals), each calibrated on the calibration slice with ``CalibratedClassifierCV`` (sigmoid and isotonic)
around the frozen fitted model. Held-out AUC (bootstrap 90% interval), log loss and ECE (equal-width and
equal-mass bins), and a reliability plot saved as PNG.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from agent.settings import Settings
from tools.effect.bandit.logs import load_bandit_log, obd_dir
from tools.effect.calibration import calibration_error, save_reliability_plot
from tools.saved_models import save_model
from tools.shop import OBD_CAMPAIGNS, OBD_POLICIES

CATEGORICAL = ["campaign", "position", "user_feature_0", "user_feature_1", "user_feature_2", "user_feature_3",
               "item_feature_1", "item_feature_2", "item_feature_3"]  # fmt: skip
NUMERIC = ["item_feature_0", "own_affinity", "total_affinity"]
FIT_END, CALIBRATION_END = 0.6, 0.8
N_BOOTSTRAP = 1000


def impressions(settings: Settings) -> pd.DataFrame:
    """Return every impression of the six OBD files with its features and click, sorted by time."""
    frames = []
    for policy in OBD_POLICIES:
        for campaign in OBD_CAMPAIGNS:
            log = load_bandit_log(settings, policy, campaign)
            raw = log.frame
            items = pd.read_csv(obd_dir(settings) / policy / campaign / "item_context.csv", index_col=0)
            items = items.set_index("item_id").loc[log.action]
            affinity = raw[[f"user-item_affinity_{i}" for i in range(log.n_actions)]].to_numpy(np.float64)
            frames.append(pd.DataFrame({
                "timestamp": pd.to_datetime(raw["timestamp"], utc=True, format="ISO8601"), "policy": policy,
                "campaign": campaign, "position": raw["position"].astype(str),
                **{f"user_feature_{k}": raw[f"user_feature_{k}"].astype(str) for k in range(4)},
                **{f"item_feature_{k}": items[f"item_feature_{k}"].astype(str).to_numpy() for k in (1, 2, 3)},
                "item_feature_0": items["item_feature_0"].to_numpy(np.float64),
                "own_affinity": affinity[np.arange(log.n_rounds), log.action], "total_affinity": affinity.sum(axis=1),
                "click": log.reward,
            }))  # fmt: skip
    return pd.concat(frames, ignore_index=True).sort_values("timestamp", kind="stable").reset_index(drop=True)


def time_split(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the fit, calibration and test slices (by position in time order)."""
    n = len(data)
    a, b = int(n * FIT_END), int(n * CALIBRATION_END)
    return data.iloc[:a], data.iloc[a:b], data.iloc[b:]


def candidate_models(seed: int) -> dict[str, Pipeline]:
    """Return the two uncalibrated CTR models."""
    affinity = Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", StandardScaler())])
    onehot = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
        ("item", StandardScaler(), ["item_feature_0"]), ("affinity", affinity, ["own_affinity", "total_affinity"]),
    ])  # fmt: skip
    ordinal = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
          CATEGORICAL), ("num", "passthrough", NUMERIC)],
        sparse_threshold=0,
    )  # fmt: skip
    booster = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=150, max_leaf_nodes=8, min_samples_leaf=200, l2_regularization=1.0,
        categorical_features=list(range(len(CATEGORICAL))), random_state=seed,
    )  # fmt: skip
    return {
        "logistic": Pipeline([("encode", onehot), ("model", LogisticRegression(C=0.1, max_iter=5000))]),
        "gradient_boosting": Pipeline([("encode", ordinal), ("model", booster)]),
    }


def held_out_metrics(y: np.ndarray, p: np.ndarray, seed: int) -> dict[str, float]:
    """Return AUC (with a 90% bootstrap interval), log loss and ECE (uniform and quantile bins)."""
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(N_BOOTSTRAP):
        rows = rng.integers(0, y.size, y.size)
        if 0 < y[rows].sum() < y.size:
            aucs.append(roc_auc_score(y[rows], p[rows]))
    low, high = np.percentile(aucs, [5, 95])
    return {
        "auc": float(roc_auc_score(y, p)), "auc_low": float(low), "auc_high": float(high),
        "log_loss": float(log_loss(y, p, labels=[0, 1])), "mean_predicted": float(p.mean()),
        "ece_uniform": calibration_error(y, p, 10, "uniform"), "ece_quantile": calibration_error(y, p, 10, "quantile"),
    }  # fmt: skip


def train_obd_ctr(settings: Settings) -> dict[str, Any]:
    """Fit, calibrate and test both models; save them, the reliability plot and the card under models_dir/obd_ctr.

    Returns:
        The model card: data, split, and per model × calibration (raw, sigmoid, isotonic) the held-out metrics.
    """
    data = impressions(settings)
    fit, cal, test = time_split(data)
    x_cols = CATEGORICAL + NUMERIC
    y_test = test["click"].to_numpy()
    folder = settings.models_dir / "obd_ctr"
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    curves: dict[str, np.ndarray] = {}
    for name, template in candidate_models(settings.seed).items():
        model = clone(template).fit(fit[x_cols], fit["click"])
        variants: dict[str, Any] = {"raw": model}
        for method in ("sigmoid", "isotonic"):
            calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
            variants[method] = calibrated.fit(cal[x_cols], cal["click"])
        results[name] = {}
        for label, estimator in variants.items():
            p = estimator.predict_proba(test[x_cols])[:, 1]
            results[name][label] = held_out_metrics(y_test, p, settings.seed)
            curves[f"{name} ({label})"] = p
        save_model(variants, folder / f"{name}.joblib")
    constant = np.full(y_test.size, fit["click"].mean())
    plot = save_reliability_plot(
        y_test, {k: v for k, v in curves.items() if not k.endswith("(isotonic)")}, folder / "reliability.png",
        "OBD sample, last 20% of the week: reliability (equal-mass bins)",
    )  # fmt: skip
    card = {
        "model": "CTR of (user, item, slot): LogisticRegression and HistGradientBoosting, calibrated on a later slice",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn_version": sklearn.__version__,
        "data": {
            "source": "Open Bandit Dataset sample (obp 0.5.7): random + BTS logs, campaigns all/men/women",
            "impressions": len(data), "clicks": int(data["click"].sum()),
        },
        "split": {
            "method": "by time: first 60% fit, next 20% calibration, last 20% test",
            "calibration_start": str(cal["timestamp"].iat[0]), "test_start": str(test["timestamp"].iat[0]),
            "n_fit": len(fit), "n_calibration": len(cal), "n_test": len(test),
            "clicks_fit": int(fit["click"].sum()), "clicks_calibration": int(cal["click"].sum()),
            "clicks_test": int(y_test.sum()),
        },
        "features": x_cols,
        "metrics": results,
        "baseline_constant_rate": {
            "log_loss": float(log_loss(y_test, constant, labels=[0, 1])),
            "ece_uniform": calibration_error(y_test, constant, 10, "uniform"),
        },
        "reliability_plot": str(plot),
        "interval": "AUC: 90% percentile bootstrap over test impressions",
    }
    (folder / "model_card.json").write_text(json.dumps(card, indent=2))
    return card
