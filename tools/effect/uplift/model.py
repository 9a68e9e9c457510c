"""Whom to send what: an uplift model on the Hillstrom e-mail experiment, judged by held-out policy value.

Data: MineThatData (Kevin Hillstrom, 2008), real customers randomly sent a men's e-mail, a women's e-mail or
nothing (1/3 each); the outcome is a site visit within two weeks. Model: a T-learner — one scikit-learn
classifier per arm predicts the visit probability; the uplift of an e-mail is its prediction minus the
no-e-mail prediction. The learner (logistic regression on log-scaled features, or gradient boosting) is chosen
by the IPW policy value on a validation slice of the training split, never on the test split. The policy
sends, per customer, the e-mail whose uplift minus a ``cost_per_send`` (in visits) is largest, or nothing
when no e-mail pays for itself.

Evaluation on a held-out split (stratified by arm): the value of any policy π is estimated by inverse
propensity weighting with the design's known assignment probability 1/3, V̂(π) = mean(1{T = π(x)}·Y / (1/3)),
beside send-all-men's, send-all-women's and send-none; Qini and AUUC (:mod:`tools.effect.uplift.metrics`) measure how
well each e-mail's predicted uplift ranks customers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from agent.settings import Settings
from tools.effect.uplift.metrics import bootstrap_interval, ipw_policy_value, qini_auuc
from tools.saved_models import load_saved, save_model

ARMS = {"none": "No E-Mail", "mens": "Mens E-Mail", "womens": "Womens E-Mail"}
PROPENSITY = 1.0 / 3.0  # the experiment's assignment probability of every arm
COLUMNS = ("recency", "history", "mens", "womens", "zip_code", "newbie", "channel", "segment", "visit")
NUMERIC = ["recency", "history", "mens", "womens", "newbie"]
CATEGORICAL = ["zip_code", "channel"]
TEST_FRACTION = 0.3
VALIDATION_FRACTION = 0.25  # of the training split, to choose the learner
DEV_FILE = "hillstrom_dev.csv"
PUBLISHED_VISIT_RATE = {"none": 0.106, "womens": 0.151, "mens": 0.183}  # Hillstrom's full data


class UpliftDataError(ValueError):
    """The file is not a Hillstrom-style experiment table; the message names what is wrong."""


def read_experiment(path: Path) -> pd.DataFrame:
    """Read and validate a Hillstrom CSV; add ``arm`` (none, mens, womens).

    Raises:
        UpliftDataError: Missing columns, unknown arms, or a non-0/1 ``visit``.
    """
    if not Path(path).is_file():
        raise UpliftDataError(f"{path}: no such file")
    data = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise UpliftDataError(f"{path}: missing columns {missing}")
    arm = data["segment"].map({label: key for key, label in ARMS.items()})
    if arm.isna().any():
        bad = sorted(data.loc[arm.isna(), "segment"].astype(str).unique())[:5]
        raise UpliftDataError(f"{path}: unknown segment values {bad}; expected {list(ARMS.values())}")
    if not data["visit"].isin([0, 1]).all():
        raise UpliftDataError(f"{path}: column visit must be 0 or 1")
    return data.assign(arm=arm)


def fingerprint(data: pd.DataFrame) -> str:
    """Return a hash of a table's content (to recognise the data a model was trained on)."""
    return hashlib.sha256(pd.util.hash_pandas_object(data[list(COLUMNS)], index=False).to_numpy()).hexdigest()[:16]


def split(data: pd.DataFrame, seed: int, fraction: float = TEST_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the train and held-out rows (``fraction`` of them), stratified by arm and visit."""
    strata = data["arm"] + data["visit"].astype(str)
    train, test = train_test_split(data, test_size=fraction, random_state=seed, stratify=strata)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def learners(seed: int) -> dict[str, Pipeline]:
    """Return the candidate per-arm classifiers (features: log1p-scaled numbers, one-hot zip code and channel)."""
    scaled = Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", StandardScaler())])
    encode = ColumnTransformer(
        [("num", scaled, NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], sparse_threshold=0
    )
    booster = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=100, max_leaf_nodes=7, min_samples_leaf=500, random_state=seed
    )
    return {
        "logistic": Pipeline([("encode", encode), ("model", LogisticRegression(C=1.0, max_iter=2000))]),
        "gradient_boosting": Pipeline([("encode", clone(encode)), ("model", booster)]),
    }


@dataclass
class UpliftModel:
    """T-learner: one visit classifier per arm."""

    models: dict[str, Pipeline]
    card: dict[str, Any]

    @classmethod
    def fit(cls, train: pd.DataFrame, template: Pipeline) -> UpliftModel:
        """Fit a clone of ``template`` per arm on that arm's rows."""
        models = {}
        for arm in ARMS:
            rows = train[train["arm"] == arm]
            models[arm] = clone(template).fit(rows[NUMERIC + CATEGORICAL], rows["visit"])
        return cls(models, {})

    @classmethod
    def select_and_fit(cls, train: pd.DataFrame, seed: int) -> tuple[UpliftModel, dict[str, float]]:
        """Choose the learner by IPW policy value on a validation slice of ``train``, then refit it on all of it.

        Returns:
            The model and the validation value (visits per customer) of every candidate.
        """
        fit, validation = split(train, seed, VALIDATION_FRACTION)
        values = {}
        for name, template in learners(seed).items():
            chosen = cls.fit(fit, template).choose(validation)
            values[name] = ipw_policy_value(validation["arm"].to_numpy(), validation["visit"].to_numpy(), chosen,
                                            PROPENSITY)  # fmt: skip
        best = max(values, key=lambda k: values[k])
        return cls.fit(train, learners(seed)[best]), values

    def visit_probabilities(self, data: pd.DataFrame) -> pd.DataFrame:
        """Return predicted visit probability per arm (columns none, mens, womens)."""
        x = data[NUMERIC + CATEGORICAL]
        return pd.DataFrame({arm: m.predict_proba(x)[:, 1] for arm, m in self.models.items()}, index=data.index)

    def choose(self, data: pd.DataFrame, cost_per_send: float = 0.0) -> np.ndarray:
        """Return the arm to give each customer: the e-mail with the largest uplift − cost, or none."""
        p = self.visit_probabilities(data)
        net = pd.DataFrame({"none": 0.0, "mens": p["mens"] - p["none"] - cost_per_send,
                            "womens": p["womens"] - p["none"] - cost_per_send})  # fmt: skip
        return net.idxmax(axis=1).to_numpy()


def evaluate_policy(
    model: UpliftModel, test: pd.DataFrame, cost_per_send: float = 0.0, seed: int = 42, n_bootstrap: int = 1000
) -> dict[str, Any]:
    """Estimate on held-out rows the model's policy and the three fixed policies by IPW, with 95% intervals.

    Values are visits per customer; ``net`` subtracts ``cost_per_send`` × the share of customers e-mailed.
    """
    arm, visit = test["arm"].to_numpy(), test["visit"].to_numpy(np.float64)
    chosen = model.choose(test, cost_per_send)
    policies = {"policy": chosen, **{f"send_{a}": np.full(len(test), a) for a in ARMS}}
    out: dict[str, Any] = {}
    for name, action in policies.items():
        value = ipw_policy_value(arm, visit, action, PROPENSITY)

        def resampled(rows: np.ndarray, act: np.ndarray = action) -> float:
            return ipw_policy_value(arm[rows], visit[rows], act[rows], PROPENSITY)

        low, high = bootstrap_interval(resampled, len(test), n_bootstrap, seed)
        send_share = float((action != "none").mean())
        out[name] = {"visits": value, "low": low, "high": high, "send_share": send_share,
                     "net": value - cost_per_send * send_share}  # fmt: skip
    best_fixed = max(("send_mens", "send_womens", "send_none"), key=lambda k: out[k]["net"])
    fixed_action = policies[best_fixed]

    def gain(rows: np.ndarray) -> float:
        mine = ipw_policy_value(arm[rows], visit[rows], chosen[rows], PROPENSITY)
        theirs = ipw_policy_value(arm[rows], visit[rows], fixed_action[rows], PROPENSITY)
        extra_sends = (chosen[rows] != "none").mean() - (fixed_action[rows] != "none").mean()
        return float(mine - theirs - cost_per_send * extra_sends)

    low, high = bootstrap_interval(gain, len(test), n_bootstrap, seed)
    out["gain_over_best_fixed"] = {"versus": best_fixed, "net_visits": gain(np.arange(len(test))), "low": low,
                                   "high": high}  # fmt: skip
    out["policy_mix"] = {a: float((chosen == a).mean()) for a in ARMS}
    p = model.visit_probabilities(test)
    for email in ("mens", "womens"):
        rows = np.isin(arm, [email, "none"])
        out[f"qini_{email}"] = qini_auuc((p[email] - p["none"]).to_numpy()[rows], arm[rows] == email, visit[rows])
    return out


def train_uplift(settings: Settings, data_path: Path | None = None) -> UpliftModel:
    """Train on the train split of the Hillstrom dev file, evaluate on its held-out split, save model and card."""
    path = data_path or settings.shared_data_dir / DEV_FILE
    data = read_experiment(path)
    train, test = split(data, settings.seed)
    model, validation = UpliftModel.select_and_fit(train, settings.seed)
    metrics = evaluate_policy(model, test, 0.0, settings.seed)
    learner = max(validation, key=lambda k: validation[k])
    model.card = {
        "model": f"T-learner: one {learner} classifier per arm (none, mens, womens) → visit probability",
        "learner_selection": {
            "validation_visits_per_customer": validation,
            "chosen": learner,
            "method": f"IPW on a {VALIDATION_FRACTION:.0%} validation slice of the training split",
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn_version": sklearn.__version__,
        "data": {
            "file": str(path),
            "fingerprint": fingerprint(data),
            "rows": len(data),
            "source": "Hillstrom MineThatData e-mail experiment (real, randomised 1/3 per arm)",
        },
        "split": {
            "method": f"random {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, stratified by arm×visit",
            "seed": settings.seed,
            "n_train": len(train),
            "n_test": len(test),
        },
        "metrics_cost_0": metrics,
        "observed_visit_rate": data.groupby("arm")["visit"].mean().to_dict(),
        "published_visit_rate_full_data": PUBLISHED_VISIT_RATE,
        "interval": "95% percentile bootstrap over held-out customers",
    }
    folder = settings.models_dir / "uplift"
    save_model(model, folder / "uplift_model.joblib")
    (folder / "model_card.json").write_text(json.dumps(model.card, indent=2, default=float))
    return model


def load_or_train_uplift(settings: Settings) -> UpliftModel:
    """Load the saved model if trained on the current dev file with this scikit-learn, else train it."""
    model = load_saved(settings.models_dir / "uplift" / "uplift_model.joblib", UpliftModel)  # None: unreadable
    if model is not None and model.card.get("sklearn_version") == sklearn.__version__:
        data = read_experiment(settings.shared_data_dir / DEV_FILE)
        if model.card.get("data", {}).get("fingerprint") == fingerprint(data):
            return model
    return train_uplift(settings)


def evaluate_uplift_file(path: Path | str, settings: Settings, cost_per_send: float = 0.0) -> dict[str, Any]:
    """Score the uplift policy on an experiment file: IPW visits per customer against the fixed policies.

    The model is trained on the train split of ``hillstrom_dev.csv``. If ``path`` holds that same data, only
    its held-out split is evaluated; any other file is evaluated on all its rows.

    Args:
        path: A Hillstrom-style CSV (``segment`` = arm, ``visit`` = outcome).
        settings: Project settings.
        cost_per_send: Cost of one e-mail in visits; the policy sends only where uplift exceeds it.

    Returns:
        ``{"rows", "policy_value", "send_mens", "send_womens", "send_none"}`` (visits per customer, IPW), plus
        ``evaluated_on``, intervals, the policy mix, the gain over the best fixed policy and Qini/AUUC.
    """
    data = read_experiment(Path(path))
    model = load_or_train_uplift(settings)
    if fingerprint(data) == model.card["data"]["fingerprint"]:
        rows, where = split(data, model.card["split"]["seed"])[1], "held-out split of the training file"
    else:
        rows, where = data, "all rows (file not used in training)"
    result = evaluate_policy(model, rows, cost_per_send, settings.seed)
    return {
        "rows": len(rows),
        "policy_value": result["policy"]["visits"],
        "send_mens": result["send_mens"]["visits"],
        "send_womens": result["send_womens"]["visits"],
        "send_none": result["send_none"]["visits"],
        "cost_per_send": cost_per_send,
        "evaluated_on": where,
        "details": result,
    }
