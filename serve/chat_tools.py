"""The marketer chat's tools: the plan loop's tools, callable one at a time by a tool-calling agent.

Each tool takes the audience in words (plus optional lifecycle and genre filters) rather than customer
ids, so a model never has to copy hundreds of ids between calls. Strings and lists are bounded in the
schemas, so a server with guided decoding cannot let a small model repeat a list item until it runs out
of tokens. Results are short JSON texts (the
embedded model has a 2,048-token context). Expected failures (an unknown genre, an invalid brief, a full
queue) come back as ``{"error": ...}`` for the model to explain, never as an exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
from tools.copywriting import Channel, CopyRequest, Language
from tools.effect import EffectRequest
from tools.portraits import Lifecycle
from tools.recommend import RecommendRequest, ScoredProduct

AUDIENCE_LIMIT = 200
Submit = Callable[[Brief], JobRecord]


class AudienceArgs(BaseModel):
    """Who: a description plus optional filters."""

    audience: str = Field(max_length=200, description="The customers in words, e.g. 'lapsed science fiction fans'.")
    lifecycle: list[Lifecycle] = Field(default_factory=list, max_length=3, description="Any of: new, active, lapsed.")
    genres: list[str] = Field(default_factory=list, max_length=3, description="Favourite genres, e.g. ['Sci-Fi'].")


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
    genres: list[str] = Field(default_factory=list, max_length=3, description="Favourite genres, e.g. ['Sci-Fi'].")


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


def with_genres(schema: type[BaseModel], genres: list[str]) -> type[BaseModel]:
    """Return ``schema`` whose ``genres`` items are an enum of the shop's genres (guided decoding obeys it)."""
    if not genres or "genres" not in schema.model_fields:
        return schema
    choices: Any = Literal.__getitem__(tuple(genres))
    field: Any = Field(default_factory=list, max_length=3, description="Favourite genres (the shop's spelling).")
    return create_model(schema.__name__, __base__=schema, __doc__=schema.__doc__, genres=(list[choices], field))


def build_chat_tools(tools: PlannerTools, submit: Submit) -> list[BaseTool]:
    """Return the chat agent's tools over the plan loop's tools.

    Args:
        tools: The injected plan-loop tools (shop, profiles, recommender, effect model, copywriter).
        submit: Queues a checked brief as a plan job (the API's job manager, bound to the caller's key).
    """
    catalog = tools.shop.products.set_index("product_id")

    def retrieve(audience: str, lifecycle: list[str], genres: list[str]) -> AudienceResult:
        query = AudienceQuery(text=audience, filter=AudienceFilter(lifecycle=lifecycle, genres=genres),
                              limit=AUDIENCE_LIMIT)
        return tools.profiles.retrieve(query)

    def find_audience(audience: str, lifecycle: list[str], genres: list[str]) -> dict[str, Any]:
        """Find customers matching an audience description and filters; returns how many and examples."""
        found = retrieve(audience, lifecycle, genres)
        return {"matched": len(found.portraits), "message": found.message,
                "examples": [h.text[:160] for h in found.portraits[:3]]}

    def recommend_products(audience: str, lifecycle: list[str], genres: list[str], k: int) -> dict[str, Any]:
        """Recommend products for an audience; returns product ids, titles, scores and reasons."""
        found = retrieve(audience, lifecycle, genres)
        if not found.portraits:
            return {"error": found.message}
        result = tools.recommend.score(RecommendRequest(
            customer_ids=[h.customer_id for h in found.portraits], k=k, genres=found.filter_used.genres))
        return {"audience_size": len(found.portraits), "products": [
            {"product_id": p.product_id, "title": p.title, "score": round(p.score, 3), "reason": p.reason[:120]}
            for p in result.products]}

    def predict_effect(audience: str, lifecycle: list[str], genres: list[str], product_ids: list[str]
                       ) -> dict[str, Any]:
        """Predict how likely the audience is to like each product, with a 90% interval."""
        found = retrieve(audience, lifecycle, genres)
        if not found.portraits:
            return {"error": found.message}
        ids = [h.customer_id for h in found.portraits]
        result = tools.effect.predict(EffectRequest(customer_ids=ids, product_ids=product_ids))
        return {"audience_size": len(ids), "metric": result.estimates[0].metric, "estimates": [
            {"product_id": e.product_id, "point": round(e.point, 4), "low": round(e.low, 4), "high": round(e.high, 4),
             "factors": e.factors[:2]} for e in result.estimates]}

    def write_copy(product_id: str, channel: str, goal: str, audience: str, language: str) -> dict[str, Any]:
        """Write one grounded message for a product, channel and audience."""
        if product_id not in catalog.index:
            return {"error": f"unknown product id {product_id!r}; take one from recommend_products"}
        row = catalog.loc[product_id]
        year = None if pd.isna(row["year"]) else int(row["year"])
        product = ScoredProduct(product_id=product_id, title=str(row["title"]), year=year, genres=list(row["genres"]),
                                score=0.0, reason="named in the chat")
        facts = product_facts(tools.shop, product, list(tools.shop.offers))
        result = tools.copy.write(CopyRequest(goal=goal, segment_name=audience, segment_description=audience,
                                              product=facts, channel=channel, language=language))
        return {"headline": result.headline, "body": result.body, "cta": result.cta, "source": result.source}

    def create_plan(name: str, goal: str, audience: str, channels: list[str], send_budget: int, language: str,
                    lifecycle: list[str], genres: list[str]) -> dict[str, Any]:
        """Start a full campaign plan in the background; returns the plan id to follow.

        The plan has segments, products, copy with predicted effect and a launch design.
        """
        brief = parse_brief({"name": name, "shop": tools.shop.name, "goal": goal, "audience": audience,
                             "channels": channels, "send_budget": send_budget, "language": language,
                             "audience_filter": {"lifecycle": lifecycle, "genres": genres}}, source="plan")
        job = submit(check_against_shop(brief, tools.profiles.store.vocabulary(), "plan", tools.shop.products))
        return {"plan_id": job.id, "status": job.status, "name": brief.name}

    specs: list[tuple[Callable[..., dict[str, Any]], type[BaseModel]]] = [
        (find_audience, AudienceArgs), (recommend_products, RecommendArgs), (predict_effect, EffectArgs),
        (write_copy, CopyArgs), (create_plan, PlanArgs),
    ]
    genres = tools.profiles.store.vocabulary().get("genres", [])
    return [StructuredTool.from_function(_safe(fn), name=fn.__name__, description=(fn.__doc__ or "").strip(),
                                         args_schema=with_genres(schema, genres)) for fn, schema in specs]
