"""Effect prediction: a click model on bandit feedback derived from real ratings, and the ``effect`` tool.

The shop logs no impressions or clicks, so the feedback is DERIVED, not observed: an impression = a rating
event, a click = rating ≥ 4. The model estimates ``p_like``, the probability that a customer rates a title
4 stars or more if shown it. Split by time: the last 20% of events are the test set; of the training period
the first 80% fit a logistic regression, the last 20% Platt-calibrate it. Every feature of an event comes
from the history before its slice (fit events: the fit period minus their own rating), so held-out rows
see what a live model would see. Held-out AUC, log loss and ECE go to the model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from pydantic import BaseModel, Field
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from agent.settings import Settings
from tools.calibration import calibration_error
from tools.click_features import CATEGORICAL, HistoryStats, event_rows
from tools.recommend import LIKED_RATING

if TYPE_CHECKING:
    from tools.shop import Shop

DERIVATION = "derived: an impression = a rating event, a click = rating ≥ 4; not observed clicks"
METRIC = "p_like: predicted probability the customer rates the title ≥ 4 if shown — derived click proxy"
HELD_OUT_FRACTION = 0.2  # of all events for the test set, then of the training period for calibration
N_BOOTSTRAP = 2000


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
        encode = ColumnTransformer(
            [("cat", onehot, CATEGORICAL), ("num", scaler, numeric)], sparse_threshold=0
        )
        pipeline = Pipeline([("encode", encode), ("logit", LogisticRegression(max_iter=2000))]).fit(*fit)
        platt = LogisticRegression(C=1e6).fit(
            pipeline.decision_function(calibration[0])[:, None], calibration[1]
        )
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
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, folder / "click_model.joblib")
        (folder / "model_card.json").write_text(json.dumps(self.card, indent=2, ensure_ascii=False))

    @classmethod
    def load_or_train(cls, shop: Shop, settings: Settings) -> ClickModel:
        """Load the saved model if it was trained on this shop's data with this scikit-learn, else train."""
        folder = settings.models_dir / "effect"
        if (folder / "model_card.json").exists() and (folder / "click_model.joblib").exists():
            card = json.loads((folder / "model_card.json").read_text())
            if (
                card["data"]["fingerprint"] == _fingerprint(shop)
                and card["sklearn_version"] == sklearn.__version__
            ):
                model = joblib.load(folder / "click_model.joblib")
                if isinstance(model, cls):
                    return model
        return cls.train(shop, settings)


class EffectRequest(BaseModel):
    """Ask how likely a customer group is to like each product if shown it."""

    customer_ids: list[str] = Field(min_length=1, description="The customer, or the customers of a segment.")
    product_ids: list[str] = Field(min_length=1, max_length=100, description="Products to estimate.")


class EffectEstimate(BaseModel):
    """The predicted effect of showing one product to the group."""

    product_id: str
    metric: str = Field(description="What ``point`` estimates.")
    point: float = Field(description="Mean predicted probability over the group's customers.")
    low: float = Field(description="5th percentile of the bootstrap over the group's customers.")
    high: float = Field(description="95th percentile of the bootstrap over the group's customers.")
    n_customers: int
    factors: list[str] = Field(description="Top 3 readable factors with their mean log-odds contribution.")


class EffectResult(BaseModel):
    """Estimates for every requested product, and the card of the model that made them."""

    estimates: list[EffectEstimate]
    model_card: dict[str, Any]


class EffectTool:
    """Predict ``p_like`` of products for a customer group, with bootstrap intervals and readable factors."""

    def __init__(self, shop: Shop, model: ClickModel) -> None:
        """Use ``model`` with features from the shop's whole rating history."""
        self.model = model
        self.stats = HistoryStats.from_history(shop, shop.interactions)

    @property
    def model_card(self) -> dict[str, Any]:
        """Return the card of the click model (data, derivation, split, held-out metrics)."""
        return self.model.card

    def predict(self, req: EffectRequest) -> EffectResult:
        """Estimate, per product, the group's mean ``p_like``, a 90% bootstrap interval and the top factors.

        Raises:
            ValueError: If a customer or product id is not in the shop.
        """
        cids, pids = list(dict.fromkeys(req.customer_ids)), list(dict.fromkeys(req.product_ids))
        crow, irow = self.stats.customer_ids.get_indexer(cids), self.stats.product_ids.get_indexer(pids)
        for kind, ids, rows in (("customer", cids, crow), ("product", pids, irow)):
            if (rows < 0).any():
                missing = [x for x, r in zip(ids, rows, strict=True) if r < 0]
                raise ValueError(f"unknown {kind} ids: {missing}")
        n, m = len(cids), len(pids)
        logit, parts = self.model.explain(self.stats.features(np.tile(crow, m), np.repeat(irow, n)))
        p = (1.0 / (1.0 + np.exp(-logit))).reshape(m, n)
        rng = np.random.default_rng(self.model.card["seed"])
        boot = rng.multinomial(n, np.full(n, 1.0 / n), size=N_BOOTSTRAP) @ p.T / n  # bootstrap × products
        low, high = np.quantile(boot, [0.05, 0.95], axis=0)
        mean_parts = parts.reshape(m, n, -1).mean(axis=1)
        names = self.model.factor_names
        return EffectResult(
            estimates=[
                EffectEstimate(
                    product_id=pids[j], metric=METRIC, point=float(p[j].mean()), low=float(low[j]),
                    high=float(high[j]), n_customers=n,
                    factors=[self._describe(names[g], mean_parts[j, g], crow, irow[j])
                             for g in np.argsort(-np.abs(mean_parts[j]), kind="stable")[:3]],
                )
                for j in range(m)
            ],
            model_card=self.model.card,
        )  # fmt: skip

    def _describe(self, name: str, log_odds: float, crow: np.ndarray, item: int) -> str:
        """Phrase one factor with the data behind it, e.g. "title is widely liked (mean rating 4.3 …)"."""
        s, one = self.stats, crow.size == 1
        who, effect = ("this customer" if one else "this group"), f"({log_odds:+.2f} log-odds)"
        where = "for this customer" if one else "in this group"
        kind, _, genre = name.partition(":")
        item_mean = s.item_sum[item] / max(s.item_n[item], 1.0)
        group_mean = s.customer_sum[crow].sum() / max(s.customer_n[crow].sum(), 1.0)
        if name in CATEGORICAL:
            value = s.demographics[name].iloc[crow].mode().iat[0]
            text = f"{who}'s {name.replace('_', ' ')}: {value}{'' if one else ' (most common)'}"
        elif kind == "genre":
            text = f"title is {genre}"
        elif kind == "affinity":
            g = s.genres.index(genre)
            share = s.customer_genre_n[crow, g].sum() / max(s.customer_n[crow].sum(), 1.0)
            strength = "strong" if share > s.genre_share[g] else "weak"
            overall = s.genre_share[g]
            text = (
                f"{strength} {genre} affinity {where}: {share:.0%} of their ratings vs {overall:.0%} overall"
            )
        elif name == "item_mean_rating":  # the verdict follows the model's sign (smoothed, event-weighted means)
            verdict = "widely liked" if log_odds >= 0 else "rated below average"
            text = f"title is {verdict} (mean rating {item_mean:.2f} vs {s.global_mean:.2f} overall)"
        elif name == "item_log_count":
            often = "often" if s.item_n[item] >= np.median(s.item_n) else "rarely"
            text = f"title is {often} rated ({s.item_n[item]:.0f} ratings)"
        elif name == "customer_mean_rating":
            verdict = "rates generously" if log_odds >= 0 else "rates strictly"
            text = f"{who} {verdict} (mean rating {group_mean:.2f} vs {s.global_mean:.2f} overall)"
        else:
            text = f"{who} rated {s.customer_n[crow].mean():.0f} titles{'' if one else ' on average'}"
        return f"{text} {effect}"
