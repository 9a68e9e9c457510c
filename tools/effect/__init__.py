"""Predicted effect of a product or message on a segment.

Predicted effect: the click model of a segment liking a product, its calibration, the effect tool, and one
effect per copy variant; for a shop of purchases, the observed 30-day purchase rate of a product's category
(``CategoryPurchaseRate``: history, not a model); with the Upworthy headline model (``headlines``), the
Hillstrom uplift model (``uplift``), next-30-day purchase propensity, revenue and product ranking on a shop of
orders (``purchases``) and Open Bandit CTR and off-policy evaluation (``bandit``).
"""

from tools.effect.bandit import train_obd_ctr
from tools.effect.category_rate import CategoryPurchaseRate
from tools.effect.click_model import ClickModel
from tools.effect.effect_tool import EffectEstimate, EffectRequest, EffectResult, EffectTool
from tools.effect.headlines import DEFAULT_FINE_TUNE, headline_ctr_model, score_pairs_file
from tools.effect.lift_effect import LiftEffect, hillstrom_log_prior
from tools.effect.purchases import PurchaseEffect, PurchaseModel, bench_shop, evaluate_later_file
from tools.effect.send_value import Amount, SendValue
from tools.effect.uplift import (
    CampaignOutcomes,
    LearnedLift,
    evaluate_uplift_file,
    learn_lift,
    save_learned_lift,
    train_uplift,
)
from tools.effect.variant_effect import VariantEffect, combination, predict_effect

__all__ = [
    "DEFAULT_FINE_TUNE",
    "Amount",
    "CampaignOutcomes",
    "CategoryPurchaseRate",
    "ClickModel",
    "EffectEstimate",
    "EffectRequest",
    "EffectResult",
    "EffectTool",
    "LearnedLift",
    "LiftEffect",
    "PurchaseEffect",
    "PurchaseModel",
    "SendValue",
    "VariantEffect",
    "bench_shop",
    "combination",
    "evaluate_later_file",
    "evaluate_uplift_file",
    "headline_ctr_model",
    "hillstrom_log_prior",
    "learn_lift",
    "predict_effect",
    "save_learned_lift",
    "score_pairs_file",
    "train_obd_ctr",
    "train_uplift",
]
