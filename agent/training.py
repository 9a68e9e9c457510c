"""Train every effect model and return their model cards (for ``campaign train``).

Each model is saved under ``settings.models_dir`` with a ``model_card.json`` (data, split, held-out metrics,
date): ``effect/`` (click model on the shop's derived feedback), ``uplift/`` (Hillstrom T-learner),
``headlines/`` (Upworthy within-test model), ``obd_ctr/`` (Open Bandit CTR models, reliability PNG) and
``effect/purchase_ranker-retail.joblib`` (the retail shop's next-month purchase model behind its plans' revenue).

Outcomes: the campaigns whose outcomes were imported (passed in as data by the caller, which reads them from the
API database: this module never touches it) update each shop's lift (:func:`learn_from_outcomes`,
``learned/lift-<shop>.json``); the card lists every campaign used (plan id, date, customers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from agent.progress import progress_bar
from agent.settings import Settings
from tools.effect import (
    CampaignOutcomes,
    ClickModel,
    PurchaseEffect,
    headline_ctr_model,
    hillstrom_log_prior,
    learn_lift,
    save_learned_lift,
    train_obd_ctr,
    train_uplift,
)
from tools.shop import load_demo_shop, load_shop


def learn_from_outcomes(settings: Settings, campaigns: Sequence[CampaignOutcomes]) -> dict[str, dict[str, Any]]:
    """Update each shop's lift with its campaigns' outcomes and save it (the next plan for the shop uses it).

    Args:
        settings: Project settings (``models_dir``; the Hillstrom file for the prior).
        campaigns: Campaign outcomes joined with their send lists, any shops, oldest first.

    Returns:
        Shop name to its learned-lift card (method, prior, campaigns used with plan ids, dates and n, posteriors).
    """
    if not campaigns:
        return {}
    prior, baseline = hillstrom_log_prior(settings)
    cards: dict[str, dict[str, Any]] = {}
    for shop in dict.fromkeys(c.shop for c in campaigns):
        own = [c for c in campaigns if c.shop == shop]
        metric = Counter(c.metric for c in own).most_common(1)[0][0]  # one outcome per shop: the most measured
        learned = learn_lift(shop, [c for c in own if c.metric == metric], prior, baseline)
        path = save_learned_lift(learned, settings.models_dir)
        cards[shop] = {**learned.card(), "saved": str(path), "summary": learned.summary(),
                       "not_used": [{"plan_id": c.plan_id, "why": f"measured {c.metric}, not {metric}"}
                                    for c in own if c.metric != metric]}
    return cards


def train_all(settings: Settings, console: Console | None = None,
              outcomes: Sequence[CampaignOutcomes] = ()) -> dict[str, dict[str, Any]]:
    """Train the effect models on the real datasets (the headline model is reused when its data is unchanged).

    Args:
        settings: Project settings (data and model folders).
        console: Optional console for one progress line per model.
        outcomes: Launched campaigns' outcomes (read from the API database by the caller) to learn each shop's lift.

    Returns:
        ``{"click_model": card, "uplift": card, "headlines": card, "obd_ctr": card, "purchase_effect": card,
        "learned_lift": {shop: card}}`` (the last lists the campaigns used; empty without outcomes).
    """

    def say(text: str) -> None:
        if console is not None:
            console.print(text)

    cards: dict[str, dict[str, Any]] = {}
    say("training the click model on the demo shop (MovieLens-derived feedback)…")
    cards["click_model"] = ClickModel.train(load_demo_shop(settings), settings).card
    say("training the uplift model on Hillstrom…")
    cards["uplift"] = train_uplift(settings).card
    tuned = " (fine-tunes 5 MiniLM encoders: minutes on a CPU)" if settings.headline_fine_tune else ""
    say(f"training the headline model on Upworthy{tuned}…")
    with progress_bar(console, "headline model") as progress:
        cards["headlines"] = headline_ctr_model(settings, progress=progress).card
    say("training the Open Bandit CTR models…")
    cards["obd_ctr"] = train_obd_ctr(settings)
    shop = load_shop(settings, "retail")
    say("training the purchase model of the retail shop…")
    (settings.models_dir / "effect" / f"purchase_ranker-{shop.name}.joblib").unlink(missing_ok=True)
    cards["purchase_effect"] = PurchaseEffect.load_or_train(shop, settings).model_card
    say(f"learning each shop's lift from {len(outcomes)} campaign(s) with outcomes…")
    cards["learned_lift"] = learn_from_outcomes(settings, outcomes)
    return cards
