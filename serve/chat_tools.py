"""The marketer chat's tools: the plan loop's tools, called one at a time by the chat's router.

Each tool takes the audience in words (plus lifecycle and genre/category filters) rather than customer ids.
Results are small JSON objects of aggregates: how many customers matched, their lifecycle mix, their top
genres (categories on a shop of products), median purchases and, where the shop records money, median spend.
No individual customer's portrait ever leaves a tool. Expected failures (an unknown genre, an invalid brief,
a full queue) come back as ``{"error": ...}`` for the chat to explain, never as an exception.

The tools are LangChain :class:`~langchain_core.tools.StructuredTool` objects whose argument schemas hold the
shop's vocabulary as enums (:class:`ShopVocabulary`): lifecycle stages, genres on MovieLens or categories on
retail, channels and the shop's offer codes. A value the shop does not have fails the schema.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, create_model

from agent.brief import Brief, BriefError, check_against_shop, parse_brief
from agent.loop import PlannerTools
from agent.offers import product_facts
from serve.jobs import QueueFullError
from serve.store import JobRecord
from tools.audience import AudienceFilter, AudienceQuery, AudienceResult
from tools.copywriting import Channel, CopyRequest, Language, display_title, format_price, shop_titles
from tools.effect import EffectRequest
from tools.portraits import Lifecycle
from tools.recommend import RecommendRequest, ScoredProduct

AUDIENCE_LIMIT = 5000  # enough for every customer of the demo shops, so "matched" is a count, not a page size
RANKED_AUDIENCE = 200  # the best-matching customers products are scored for
TOP_VALUES = 3
Submit = Callable[[Brief], JobRecord]
CHANNELS: tuple[str, ...] = ("email", "push", "sms")
TOOL_NAMES: tuple[str, ...] = ("find_audience", "recommend_products", "predict_effect", "write_copy", "create_plan")


@dataclass(frozen=True)
class ShopVocabulary:
    """What a shop's chat tools accept: the values of its filters, in the shop's spelling.

    Attributes:
        shop: The shop's name.
        interest_key: ``"genres"`` on a shop of films, ``"categories"`` on a shop of priced products.
        interests: The genres or categories customers are indexed by.
        lifecycles: Lifecycle stages.
        channels: Message channels.
        offers: The shop's offer codes (empty when it runs none).
        currency: The shop's currency (None: it records no prices).
    """

    shop: str
    interest_key: Literal["genres", "categories"]
    interests: tuple[str, ...]
    lifecycles: tuple[str, ...]
    channels: tuple[str, ...]
    offers: tuple[str, ...]
    currency: str | None

    @classmethod
    def of(cls, tools: PlannerTools) -> ShopVocabulary:
        """Read the vocabulary of ``tools``' shop from its portrait index and catalog."""
        vocabulary = tools.profiles.store.vocabulary()
        priced = "price" in tools.shop.products.columns and tools.shop.products["price"].notna().any()
        currency = None
        if priced and "currency" in tools.shop.products.columns:
            currency = str(tools.shop.products["currency"].dropna().iloc[0])
        return cls(shop=tools.shop.name, interest_key="categories" if priced else "genres",
                   interests=tuple(vocabulary.get("genres", [])),
                   lifecycles=tuple(vocabulary.get("lifecycles", ["active", "lapsed", "new"])),
                   channels=CHANNELS, offers=tuple(o.code for o in tools.shop.offers), currency=currency)


class AudienceArgs(BaseModel):
    """Who: a description plus optional filters."""

    audience: str = Field(min_length=1, max_length=200, description="The customers in the marketer's words.")
    lifecycle: list[Lifecycle] = Field(default_factory=list, max_length=3, description="Any of: new, active, lapsed.")
    genres: list[str] = Field(default_factory=list, max_length=3, description="Favourite genres or categories.")


class RecommendArgs(AudienceArgs):
    """Products for an audience."""

    k: int = Field(5, ge=1, le=10, description="How many products.")


class EffectArgs(AudienceArgs):
    """Predicted effect of products on an audience."""

    product_ids: list[str] = Field(min_length=1, max_length=5, description="Product ids from recommend_products.")


class CopyArgs(BaseModel):
    """One message for one product."""

    product_id: str = Field(max_length=20, description="Product id from recommend_products.")
    channel: Channel = Field("email", description="email, push or sms.")
    goal: str = Field(max_length=300, description="What the message should achieve.")
    audience: str = Field(max_length=200, description="Who receives it, in words.")
    language: Language = Field("en", description="en or zh.")
    offer_code: str | None = Field(None, description="One of the shop's offer codes, or none.")


def _email() -> list[Channel]:
    return ["email"]


class PlanArgs(BaseModel):
    """A campaign brief."""

    name: str = Field(max_length=80, description="Short campaign name.")
    goal: str = Field(max_length=300, description="What the campaign should achieve.")
    audience: str = Field(max_length=200, description="Who to reach, in words.")
    channels: list[Channel] = Field(default_factory=_email, min_length=1, max_length=3,
                                    description="Any of: email, push, sms.")
    send_budget: int = Field(10000, ge=1, le=10_000_000, description="Total sends allowed.")
    language: Language = Field("en", description="en or zh.")
    lifecycle: list[Lifecycle] = Field(default_factory=list, max_length=3, description="Any of: new, active, lapsed.")
    genres: list[str] = Field(default_factory=list, max_length=3, description="Favourite genres or categories.")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _safe(fn: Callable[..., dict[str, Any]]) -> Callable[..., str]:
    def run(**kwargs: Any) -> str:
        try:
            return _json(fn(**kwargs))
        except (ValueError, BriefError, QueueFullError) as exc:
            return _json({"error": str(exc)})

    run.__name__, run.__doc__ = fn.__name__, fn.__doc__
    return run


def _enum(values: tuple[str, ...] | list[str]) -> Any:
    return Literal.__getitem__(tuple(values))


def with_vocabulary(schema: type[BaseModel], vocabulary: ShopVocabulary) -> type[BaseModel]:
    """Return ``schema`` with the shop's vocabulary as enums.

    ``genres`` becomes a list of the shop's genres, named ``categories`` (and holding categories) on a shop of
    priced products; ``offer_code`` becomes one of the shop's offer codes. A decoder with guided JSON obeys the
    enums; every call is validated against them.
    """
    fields: dict[str, Any] = {n: (f.annotation, f) for n, f in schema.model_fields.items()}
    if "genres" in fields:
        del fields["genres"]
        item: Any = _enum(vocabulary.interests) if vocabulary.interests else str
        fields[vocabulary.interest_key] = (list[item], Field(default_factory=list, max_length=3,
                                                             description=f"The shop's {vocabulary.interest_key}."))
    if "offer_code" in fields:
        kind: Any = (_enum(vocabulary.offers) | None) if vocabulary.offers else None
        fields["offer_code"] = (kind, Field(None, description="One of the shop's offer codes, or none."))
    return create_model(schema.__name__, __doc__=schema.__doc__, **fields)


def audience_summary(found: AudienceResult, currency: str | None, interest_key: str) -> dict[str, Any]:
    """Aggregate a retrieved audience (never one customer's details).

    Returns:
        ``matched``, ``lifecycle`` (stage → customers), ``top_<interest_key>`` (the most common top
        interests with their customers), ``median_purchases`` (``median_ratings`` on a shop of films) and, when the shop
        records money, ``median_spend`` (formatted in the shop's currency).
    """
    meta = pd.DataFrame([h.metadata for h in found.portraits])
    out: dict[str, Any] = {"matched": len(found.portraits)}
    if meta.empty:
        return out
    if "lifecycle" in meta:
        out["lifecycle"] = {str(k): int(v) for k, v in meta["lifecycle"].value_counts().items()}
    if "top_genres" in meta:
        counts = Counter(g.strip() for text in meta["top_genres"].dropna() for g in str(text).split(",") if g.strip())
        out[f"top_{interest_key}"] = {g: n for g, n in counts.most_common(TOP_VALUES)}
    activity = "n_purchases" if currency else "n_ratings"  # films are rated, products bought
    if activity in meta and meta[activity].notna().any():
        median = round(float(meta[activity].median()), 1)
        out[f"median_{activity[2:]}"] = int(median) if median.is_integer() else median
    if currency and "total_spend" in meta and meta["total_spend"].notna().any():
        out["median_spend"] = format_price(float(meta["total_spend"].median()), currency)
    return out


def build_chat_tools(tools: PlannerTools, submit: Submit) -> list[BaseTool]:
    """Return the chat's tools over the plan loop's tools, with the shop's vocabulary in their schemas.

    Args:
        tools: The injected plan-loop tools (shop, profiles, recommender, effect model, copywriter).
        submit: Queues a checked brief as a plan job (the API's job manager, bound to the caller's key).
    """
    vocabulary = ShopVocabulary.of(tools)
    catalog = tools.shop.products.set_index("product_id")
    priced = vocabulary.currency is not None

    def retrieve(audience: str, lifecycle: list[str], genres: list[str]) -> AudienceResult:
        query = AudienceQuery(text=audience, filter=AudienceFilter(lifecycle=lifecycle, genres=genres),
                              limit=AUDIENCE_LIMIT)
        return tools.profiles.retrieve(query)

    def interests(genres: list[str] | None, categories: list[str] | None) -> list[str]:
        return list(categories or []) or list(genres or [])

    def product_row(product_id: str, score: float | None) -> dict[str, Any]:
        row = catalog.loc[product_id]
        out: dict[str, Any] = {"product_id": product_id, "title": display_title(str(row["title"]))}
        if priced and pd.notna(row.get("price")):
            out["price"] = format_price(float(row["price"]), vocabulary.currency)
        if score is not None:
            out["score"] = round(score, 3)
        return out

    def find_audience(audience: str, lifecycle: list[str], genres: list[str] | None = None,
                      categories: list[str] | None = None) -> dict[str, Any]:
        """Count the customers matching an audience and describe them in aggregate."""
        found = retrieve(audience, lifecycle, interests(genres, categories))
        return audience_summary(found, vocabulary.currency, vocabulary.interest_key)

    def recommend_products(audience: str, lifecycle: list[str], k: int = 5, genres: list[str] | None = None,
                           categories: list[str] | None = None) -> dict[str, Any]:
        """Recommend products for an audience; returns the audience size and the products with scores."""
        found = retrieve(audience, lifecycle, interests(genres, categories))
        if not found.portraits:
            return {"error": found.message}
        result = tools.recommend.score(RecommendRequest(
            customer_ids=[h.customer_id for h in found.portraits[:RANKED_AUDIENCE]], k=k,
            genres=found.filter_used.genres))
        return {"audience_size": len(found.portraits),
                "products": [product_row(p.product_id, p.score) for p in result.products]}

    def predict_effect(audience: str, lifecycle: list[str], product_ids: list[str], genres: list[str] | None = None,
                       categories: list[str] | None = None) -> dict[str, Any]:
        """Predict how likely the audience is to respond to each product, with a 90% interval."""
        found = retrieve(audience, lifecycle, interests(genres, categories))
        if not found.portraits:
            return {"error": found.message}
        ids = [h.customer_id for h in found.portraits]
        result = tools.effect.predict(EffectRequest(customer_ids=ids, product_ids=product_ids))
        return {"audience_size": len(ids), "metric": result.estimates[0].metric, "interval": "90%", "estimates": [
            {**product_row(e.product_id, None), "point": round(e.point, 4), "low": round(e.low, 4),
             "high": round(e.high, 4)} for e in result.estimates]}

    def write_copy(product_id: str, channel: str, goal: str, audience: str, language: str,
                   offer_code: str | None = None) -> dict[str, Any]:
        """Write one grounded message for a product, channel and audience."""
        if product_id not in catalog.index:
            return {"error": f"unknown product id {product_id!r}; take one from recommend_products"}
        row = catalog.loc[product_id]
        year = None if pd.isna(row["year"]) else int(row["year"])
        product = ScoredProduct(product_id=product_id, title=str(row["title"]), year=year, genres=list(row["genres"]),
                                score=0.0, reason="named in the chat")
        offers = [o for o in tools.shop.offers if offer_code is None or o.code == offer_code]
        facts = product_facts(tools.shop, product, offers)
        result = tools.copy.write(CopyRequest(goal=goal, segment_name=audience, segment_description=audience,
                                              product=facts, channel=channel, language=language,
                                              catalog=shop_titles(tools.shop)))
        return {**product_row(product_id, None), "channel": channel, "headline": result.headline,
                "body": result.body, "cta": result.cta, "source": result.source}

    def create_plan(name: str, goal: str, audience: str, channels: list[str], send_budget: int, language: str,
                    lifecycle: list[str], genres: list[str] | None = None, categories: list[str] | None = None
                    ) -> dict[str, Any]:
        """Start a full campaign plan in the background; returns the plan id to follow.

        The plan has segments, products, copy with predicted effect and a launch design.
        """
        brief = parse_brief({"name": name, "shop": tools.shop.name, "goal": goal, "audience": audience,
                             "channels": channels, "send_budget": send_budget, "language": language,
                             "audience_filter": {"lifecycle": lifecycle,
                                                 "genres": interests(genres, categories)}}, source="plan")
        job = submit(check_against_shop(brief, tools.profiles.store.vocabulary(), "plan", tools.shop.products))
        return {"plan_id": job.id, "status": job.status, "name": brief.name, "send_budget": send_budget}

    specs: list[tuple[Callable[..., dict[str, Any]], type[BaseModel]]] = [
        (find_audience, AudienceArgs), (recommend_products, RecommendArgs), (predict_effect, EffectArgs),
        (write_copy, CopyArgs), (create_plan, PlanArgs),
    ]
    return [StructuredTool.from_function(_safe(fn), name=fn.__name__, description=(fn.__doc__ or "").strip(),
                                         args_schema=with_vocabulary(schema, vocabulary)) for fn, schema in specs]
