"""Train every effect model and return their model cards (for ``campaign train``).

Each model is saved under ``settings.models_dir`` with a ``model_card.json`` (data, split, held-out metrics,
date): ``effect/`` (click model on the shop's derived feedback), ``uplift/`` (Hillstrom T-learner),
``headlines/`` (Upworthy within-test model), ``obd_ctr/`` (Open Bandit CTR models, reliability PNG) and
``effect/purchase_ranker-retail.joblib`` (the retail shop's next-month purchase model behind its plans' revenue).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from agent.progress import progress_bar
from agent.settings import Settings
from tools.effect import ClickModel, PurchaseEffect, headline_ctr_model, train_obd_ctr, train_uplift
from tools.shop import load_demo_shop, load_shop


def train_all(settings: Settings, console: Console | None = None) -> dict[str, dict[str, Any]]:
    """Train the effect models on the real datasets (the headline model is reused when its data is unchanged).

    Args:
        settings: Project settings (data and model folders).
        console: Optional console for one progress line per model.

    Returns:
        ``{"click_model": card, "uplift": card, "headlines": card, "obd_ctr": card, "purchase_effect": card}``.
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
    return cards
