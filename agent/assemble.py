"""Assembling the real tools from settings (the CLI's and the API's dependency wiring), one shop at a time."""

from __future__ import annotations

import dataclasses
import functools
import threading

from rich.console import Console

from agent.audience_file import audience_dir
from agent.llm import ChatModel
from agent.loop import PlannerTools, SegmentEffect
from agent.settings import Settings
from tools.audience import ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import (
    CategoryPurchaseRate,
    ClickModel,
    EffectTool,
    LiftEffect,
    PurchaseEffect,
    headline_ctr_model,
    predict_effect,
)
from tools.portraits import open_portrait_store
from tools.recommend import RecommendTool
from tools.scoring import scorer_from_settings
from tools.shop import HILLSTROM_SHOP_NAME, Shop, load_shop


def effect_tool(shop: Shop, settings: Settings) -> SegmentEffect:
    """Return the shop's effect tool: the click model on ratings, expected incremental revenue on priced orders.

    The click model predicts ``p_like`` from ratings (MovieLens). A shop with priced order lines (retail, or an
    imported shop with ``--orders``) gets :class:`tools.effect.PurchaseEffect`: expected incremental revenue per
    send from its purchase model and the Hillstrom uplift prior. A shop with purchase events but no priced orders
    gets each segment's observed 30-day category purchase rate (:class:`tools.effect.CategoryPurchaseRate`), as
    does a priced shop with too short a history for a purchase model (its model card says why). The ``hillstrom``
    shop, whose products are e-mails, gets :class:`tools.effect.LiftEffect`: incremental visits per send from the
    Hillstrom lift prior, or from the lift it learned from its own campaigns' outcomes (``campaign train``).
    """
    if shop.name == HILLSTROM_SHOP_NAME:
        return LiftEffect.for_shop(shop, settings)
    if shop.has_ratings:
        return EffectTool(shop, ClickModel.load_or_train(shop, settings))
    if shop.orders is not None and not shop.orders.empty and shop.has_prices:
        try:
            return PurchaseEffect.load_or_train(shop, settings)
        except ValueError as exc:  # too short a history to learn from: the observed rate, saying why
            fallback = CategoryPurchaseRate(shop)
            fallback.model_card["why_not_a_purchase_model"] = str(exc)
            return fallback
    return CategoryPurchaseRate(shop)


def without_customers(shop: Shop, customer_ids: set[str]) -> Shop:
    """Return ``shop`` without the rows of ``customer_ids`` (customers, events, orders); ``shop`` itself when none.

    The tools train on what this returns, so a customer on the portrait store's erasure ledger leaves no trace in
    any model even though a built-in shop's source files (never modified) still hold them.
    """
    if not customer_ids:
        return shop
    keep = {"customers": shop.customers, "interactions": shop.interactions, "orders": shop.orders}
    kept = {k: v.loc[~v["customer_id"].isin(customer_ids)].reset_index(drop=True)
            for k, v in keep.items() if v is not None and "customer_id" in v.columns}
    return dataclasses.replace(shop, **kept)


def build_tools(settings: Settings, model: ChatModel, console: Console | None = None,
                shop: str | None = None) -> PlannerTools:
    """Load a shop and build every tool the plan loop needs for it.

    The portrait index and the effect model are built on first use and reused afterwards.

    Args:
        settings: Settings (paths, seed, LLM retries and temperature, default shop).
        model: The LLM backend for copy.
        console: Where progress is shown.
        shop: The shop's name (``retail``, ``movielens`` or an imported shop); None: the default shop.

    Returns:
        The tools, ready for :class:`agent.loop.Planner`.

    Raises:
        ShopDataError: unknown shop, or its data is missing.
    """
    data = load_shop(settings, shop or settings.default_shop)
    store = open_portrait_store(settings, data, console=console)
    data = without_customers(data, store.erased_ids())  # erased customers train no model (source files keep them)
    headlines = headline_ctr_model(settings)
    return PlannerTools(
        shop=data,
        profiles=ProfilesTool(store),
        recommend=RecommendTool.fit(data, settings),
        effect=effect_tool(data, settings),
        copy=CopyTool(model, retries=settings.llm_validation_retries, temperature=settings.llm_temperature,
                      seed=settings.seed),
        predict_effect=functools.partial(predict_effect, headlines=headlines, settings=settings),
        scorer=scorer_from_settings(settings), audience_dir=audience_dir(settings),
    )


class Toolbox:
    """The tools of every shop, each built on first use and then kept (thread-safe): a :class:`agent.loop.ToolSource`.

    Args:
        settings: Settings (the default shop among them).
        model: The LLM backend for copy.
        console: Where progress is shown while a shop's tools are built.
    """

    def __init__(self, settings: Settings, model: ChatModel, console: Console | None = None) -> None:
        self.settings = settings
        self.model = model
        self.console = console
        self._tools: dict[str, PlannerTools] = {}
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}  # one lock per shop: building one never blocks another

    def for_shop(self, name: str | None) -> PlannerTools:
        """Return the tools of shop ``name`` (None: the default shop), building them the first time.

        Raises:
            ShopDataError: unknown shop, or its data is missing.
        """
        key = name or self.settings.default_shop
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            if key not in self._tools:
                tools = build_tools(self.settings, self.model, self.console, key)
                with self._lock:
                    self._tools[key] = tools
            return self._tools[key]

    def forget(self, name: str) -> None:
        """Drop the built tools of shop ``name`` (after an erasure: the next use rebuilds them without the customer)."""
        with self._lock:
            self._tools.pop(name, None)

    def ready(self, name: str) -> bool:
        """Tell whether the tools of shop ``name`` are built."""
        with self._lock:
            return name in self._tools
