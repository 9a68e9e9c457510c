"""Assembling the real tools from settings (the CLI's and the API's dependency wiring)."""

from __future__ import annotations

import functools

from rich.console import Console

from agent.llm import ChatModel
from agent.loop import PlannerTools
from agent.settings import Settings
from tools.audience import ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import ClickModel, EffectTool, headline_ctr_model, predict_effect
from tools.portraits import open_portrait_store
from tools.recommend import RecommendTool
from tools.shop import load_demo_shop


def build_tools(settings: Settings, model: ChatModel, console: Console | None = None) -> PlannerTools:
    """Load the demo shop and build every tool the plan loop needs.

    The portrait index and the effect model are built on first use and reused afterwards.

    Args:
        settings: Settings (paths, seed, LLM retries and temperature).
        model: The LLM backend for copy.
        console: Where progress is shown.

    Returns:
        The tools, ready for :class:`agent.loop.Planner`.
    """
    shop = load_demo_shop(settings)
    store = open_portrait_store(settings, shop, console=console)
    click_model = ClickModel.load_or_train(shop, settings)
    headlines = headline_ctr_model(settings)
    return PlannerTools(
        shop=shop,
        profiles=ProfilesTool(store),
        recommend=RecommendTool.fit(shop, settings),
        effect=EffectTool(shop, click_model),
        copy=CopyTool(model, retries=settings.llm_validation_retries, temperature=settings.llm_temperature,
                      seed=settings.seed),
        predict_effect=functools.partial(predict_effect, headlines=headlines, settings=settings),
    )
