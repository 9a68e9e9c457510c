"""Copy generation: one message per segment, channel and product, grounded in catalog facts.

The LLM is asked for a JSON draft (headline, body, cta) whose schema carries the channel's length limits;
the draft is validated for length, language and grounding (no invented year, genre, price or offer; for a
product with a price, only its price, the offers that exist for it and its attributes) and the problems are fed
back for a bounded number of retries. If no valid draft comes back — likely with the small
embedded model — the tool builds the message from the catalog facts with a fixed template and says so
(``source="template"``), so the plan stays correct whatever model answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, model_validator

from agent.llm import ChatModel, Message, StructuredOutputError, describe_validation_error, generate_structured
from prompts import PRODUCTION_PROMPTS, PromptRenderer, render
from tools.copywriting.attribute_words import attribute_words
from tools.copywriting.catalog_titles import CatalogTitles
from tools.copywriting.channels import CHANNEL_LIMITS, Channel, ChannelLimits, Language
from tools.copywriting.constraints import copy_patterns
from tools.copywriting.grounding import GENRES_ZH, ProductFacts, grounding_problems, headline_name
from tools.copywriting.prices import format_price, offer_discount_text, offer_validity_text
from tools.copywriting.quality import floor_problems

# How pydantic words a length problem in the feedback of a re-ask (copied verbatim by SmolLM2-135M).
_FEEDBACK_WORDING = "body: String should have at most 120 characters; the body must end with a full sentence"
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


class CopyUnavailableError(ValueError):
    """No message about the product fits the channel (e.g. a long title in an SMS with a disclaimer)."""


class RewriteError(ValueError):
    """No rewrite of a message passed the schema, grounding and quality floor: the old message stays.

    Args:
        message: Why (the last problem).
        attempts: LLM calls made.
        errors: Why each candidate was rejected.
        prompt_tokens: Prompt tokens the calls used.
        completion_tokens: Completion tokens the calls used.
    """

    def __init__(self, message: str, *, attempts: int, errors: list[str], prompt_tokens: int = 0,
                 completion_tokens: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.errors = errors
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class CopyDraft(BaseModel):
    """A message draft: what the LLM must return (validated against the product facts in context)."""

    headline: str = Field(min_length=2)
    body: str = Field(min_length=5)
    cta: str = Field(min_length=2)

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> CopyDraft:
        ctx = info.context or {}
        if "facts" not in ctx:
            return self
        text = f"{self.headline}\n{self.body}\n{self.cta}"
        theme = ctx.get("theme")
        problems = grounding_problems(text, ctx["facts"], ctx["language"], banned=tuple(ctx.get("banned", ())),
                                      theme=theme)
        if not ctx.get("template"):
            problems += floor_problems(self, ctx["facts"], ctx["language"], ctx.get("prompt", ""), theme=theme)
        titles = ctx.get("titles")
        others = titles.other_titles(text, ctx["facts"].product_id) if titles is not None else []
        if others:
            problems.append(f"names other products of the shop ({', '.join(others)}): name only "
                            f"{ctx['facts'].display_title}")
        previous = ctx.get("previous_headline")
        if previous is not None and self.headline.strip().casefold() == previous.strip().casefold():
            problems.append("the headline is the old one: write a new headline")
        disclaimer = ctx.get("disclaimer") or ""
        total = len(self.headline) + len(self.body) + len(self.cta) + len(disclaimer)
        if total > ctx["limits"].total:
            problems.append(f"message is {total} characters with the disclaimer; the limit is {ctx['limits'].total}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@lru_cache(maxsize=32)
def draft_model(channel: str, body_max: int) -> type[CopyDraft]:
    """Return the draft schema for ``channel`` with its length limits in the JSON schema (the template's)."""
    limits = CHANNEL_LIMITS[channel]
    fields: dict[str, Any] = {
        "headline": (str, Field(min_length=2, max_length=limits.headline)),
        "body": (str, Field(min_length=5, max_length=body_max)),
        "cta": (str, Field(min_length=2, max_length=limits.cta)),
    }
    return create_model(f"{channel.capitalize()}Copy", __base__=CopyDraft, **fields)


class _ClosedDraft(CopyDraft):
    model_config = ConfigDict(extra="forbid")


def _schema_extra(pattern: str, lengths: bool) -> Callable[[dict[str, Any]], None]:
    def extra(schema: dict[str, Any]) -> None:
        schema["pattern"] = pattern
        if not lengths:
            schema.pop("maxLength", None)
            schema.pop("minLength", None)

    return extra


@lru_cache(maxsize=256)
def _constrained_model(channel: str, body_max: int, headline: str, body: str, cta: str,
                       lengths: bool) -> type[CopyDraft]:
    limits = CHANNEL_LIMITS[channel]
    fields: dict[str, Any] = {
        "headline": (str, Field(min_length=2, max_length=limits.headline,
                                json_schema_extra=_schema_extra(headline, lengths))),
        "body": (str, Field(min_length=5, max_length=body_max, json_schema_extra=_schema_extra(body, lengths))),
        "cta": (str, Field(min_length=2, max_length=limits.cta, json_schema_extra=_schema_extra(cta, lengths))),
    }
    return create_model(f"{channel.capitalize()}Copy", __base__=_ClosedDraft, **fields)


def constrained_draft_model(channel: str, body_max: int, facts: ProductFacts, language: str) -> type[CopyDraft]:
    """Return the draft schema the LLM decodes under: the channel's lengths and the patterns of :func:`copy_patterns`.

    The schema forbids other fields (``additionalProperties: false``), so decoding stops after the three.
    The patterns are in the JSON schema only (what the decoder may produce); the reply is validated by what they
    stand for — grounding and the quality floor — so a server without guided decoding gets readable feedback.
    The lengths are checked on the reply but left out of the JSON schema; the patterns bound the repeats instead
    (see :mod:`tools.copywriting.constraints`).

    Args:
        channel: The channel (its limits bound the headline and CTA).
        body_max: Longest body.
        facts: The product (its name is required in the headline; digits only inside its fact strings).
        language: "en" or "zh".

    Returns:
        A :class:`CopyDraft` subclass whose JSON schema carries a ``pattern`` for every field.
    """
    limits = CHANNEL_LIMITS[channel]
    patterns = copy_patterns(facts, language, (limits.headline, body_max, limits.cta))
    return _constrained_model(channel, body_max, patterns.headline, patterns.body, patterns.cta, False)


def catalog_values(facts: ProductFacts, language: str) -> dict[str, Any]:
    """Return the catalog facts the copy templates state, written for ``language``.

    Args:
        facts: The product (a product without a price gives None and empty lists: the templates then write
            what they write for MovieLens).
        language: "en" or "zh" (attributes and discounts are then in Chinese words).

    Returns:
        ``price`` ("£2.95" by :func:`format_price`, or None), ``category``, ``attributes`` (words),
        ``offers`` (each a dict of ``code``, ``discount``, ``price_after`` and ``valid``, lowest price first)
        and ``offer`` (the first of them, or None).
    """
    if facts.price is None:
        return {"price": None, "category": None, "attributes": [], "offers": [], "offer": None}
    price = facts.price
    offers = [
        {"code": o.code, "discount": offer_discount_text(o, facts.currency, language),
         "price_after": format_price(o.price_after(price), facts.currency), "valid": offer_validity_text(o, language)}
        for o in sorted(facts.offers, key=lambda o: o.price_after(price))
    ]
    return {"price": format_price(price, facts.currency), "category": facts.category,
            "attributes": attribute_words(facts.attributes, language), "offers": offers,
            "offer": offers[0] if offers else None}


class CopyRequest(BaseModel):
    """What to write: for whom, where, about which product, and on which theme.

    ``product.offers`` are the offers the message may state (the caller narrows them, e.g. to the offer a segment's
    strategy chose). ``catalog`` holds the names of the shop's products: the message may name no other product
    (:class:`tools.copywriting.CatalogTitles`). ``angle`` is the theme the segment's strategy chose among options
    derived from the catalog and the segment's portrait (:mod:`agent.strategy`): the prompts show it as the
    message's theme, and a draft that repeats it verbatim is not checked for claims in it, nor for copying its
    instructions by it.
    """

    goal: str
    segment_name: str
    segment_description: str
    product: ProductFacts
    channel: Channel
    language: Language = "en"
    disclaimer: str | None = None
    banned_phrases: list[str] = Field(default_factory=list, description="Phrases the copy must not use.")
    angle: str | None = Field(None, description="The theme the segment's strategy chose (derived from the catalog and "
                              "the portrait, not a claim); None: no theme.")
    catalog: CatalogTitles | None = Field(None, exclude=True, repr=False,
                                          description="The shop's product names (None: other names are not checked).")

    model_config = ConfigDict(arbitrary_types_allowed=True)


class RewriteFeedback(BaseModel):
    """A message and what the copy-effect model predicts for it: the feedback of a rewrite (derived, model output).

    The numbers are :class:`tools.effect.VariantEffect` fields of the message: its predicted response per send,
    its headline index (relative click-through against an average tested Upworthy headline) and the factors
    behind them, with the closest tested headlines as evidence.
    """

    headline: str
    body: str
    cta: str
    point: float = Field(description="Predicted response per send (base rate × headline index).")
    low: float = Field(description="5th percentile of the prediction.")
    high: float = Field(description="95th percentile.")
    headline_index: float = Field(description="The headline's click-through index (1.0 = an average headline).")
    headline_index_low: float
    headline_index_high: float
    factors: list[str] = Field(description="The model's factors, in plain words.")
    evidence: list[str] = Field(default_factory=list, description="Closest tested headlines and their lift.")


class CopyResult(BaseModel):
    """A finished message and how it was made."""

    headline: str
    body: str
    cta: str
    disclaimer: str | None = None
    source: Literal["llm", "template"]
    attempts: int = Field(description="LLM calls made for this message.")
    errors: list[str] = Field(default_factory=list, description="Why drafts were rejected.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    @property
    def text(self) -> str:
        """The whole message as sent."""
        parts = [self.headline, self.body, self.cta, self.disclaimer or ""]
        return "\n".join(p for p in parts if p)


def personalisation_rank(request: CopyRequest) -> Callable[[CopyDraft], float]:
    """Return the default score of a valid candidate for ``request``: the most personalised, then the longest.

    Personalised: how many distinct words of the segment's name and description and of the goal the draft uses
    (en: words of four letters or more; zh: pairs of Han characters). The length (characters, at most 0.999 of a
    point) breaks ties.
    """
    audience = f"{request.segment_name} {request.segment_description} {request.goal}"
    if request.language == "zh":
        runs = _HAN_RUN.findall(audience)
        words = {r[i:i + 2] for r in runs for i in range(len(r) - 1)}
    else:
        words = {w.casefold() for w in re.findall(r"[A-Za-z]{4,}", audience)}

    def score(draft: CopyDraft) -> float:
        text = f"{draft.headline} {draft.body} {draft.cta}".casefold()
        return sum(1 for w in words if w in text) + min(len(text), 999) / 1000

    return score


class CopyTool:
    """Writes grounded copy with an injected chat model and prompt templates.

    Args:
        model: The LLM backend.
        retries: Re-asks after an invalid draft.
        rewrite_retries: Re-asks after an invalid rewrite (:meth:`rewrite`). Fewer than for a first draft: a rewrite
            is optional (the old message stays when none passes), so one that fails costs two calls, not four.
        temperature: Sampling temperature.
        seed: Base sampling seed.
        prompts: Renders the templates named in :attr:`TEMPLATES` (default: the production ``prompts/``;
            eval passes another folder to compare prompt versions).
        candidates: Drafts sampled per LLM call (the OpenAI ``n``: one request, the prompt's prefix shared); all
            are validated and the best valid one is kept.
        chinese_candidates: Drafts sampled per call for Chinese copy. More than for English: SmolLM2-135M's Chinese
            fails the real-words floor far more often (measured on 12 Chinese messages of the full eval: 7 from the
            LLM with 5 candidates, 11 with 8).
        rank: Builds the score of a valid draft for a request (e.g. from a copy-effect model); default
            :func:`personalisation_rank` (most audience words used, then the longest).
        body_max: Longest body the LLM may write (characters; the channel's limit when lower). A small model pads a
            long body with repetition and spends tokens on it: two or three sentences read better and decode faster.
        max_tokens: Token budget of one candidate.
        frequency_penalty: Sampling penalty on tokens already written (keeps SmolLM2-135M from looping on a phrase).
    """

    TEMPLATES: ClassVar[tuple[str, ...]] = ("copy_system.jinja", "copy_user.jinja", "copy_fallback.jinja",
                                            "copy_rewrite.jinja")
    """The templates the tool renders: a prompt version folder must hold all of them."""

    def __init__(self, model: ChatModel, retries: int = 2, temperature: float = 0.7, seed: int = 42,
                 prompts: PromptRenderer = PRODUCTION_PROMPTS, candidates: int = 5, chinese_candidates: int = 8,
                 rank: Callable[[CopyRequest], Callable[[CopyDraft], float]] | None = None, body_max: int = 240,
                 max_tokens: int = 300, frequency_penalty: float = 0.5, rewrite_retries: int = 1) -> None:
        self.rewrite_retries = rewrite_retries
        self.frequency_penalty = frequency_penalty
        self.model = model
        self.body_max = body_max
        self.max_tokens = max_tokens
        self.candidates = candidates
        self.chinese_candidates = chinese_candidates
        self.rank = rank or personalisation_rank
        self.retries = retries
        self.temperature = temperature
        self.seed = seed
        self.prompts = prompts

    def _candidates(self, request: CopyRequest) -> int:
        return self.chinese_candidates if request.language == "zh" else self.candidates

    def _limits(self, request: CopyRequest) -> tuple[ChannelLimits, int]:
        limits = CHANNEL_LIMITS[request.channel]
        # The schema bounds the body by what the shortest headline and CTA leave; the total is checked on the draft.
        room = limits.total - 4 - len(request.disclaimer or "")
        return limits, max(5, min(limits.body, room))

    def messages(self, request: CopyRequest) -> list[Message]:
        """Render the prompt for ``request`` from the system and user templates of :attr:`prompts`."""
        limits, body_max = self._limits(request)
        body_max = min(body_max, self.body_max)
        facts = request.product
        genres = [GENRES_ZH.get(g, g) for g in facts.genres] if request.language == "zh" else facts.genres
        user = self.prompts.render(
            "copy_user.jinja", language=request.language, goal=request.goal, segment_name=request.segment_name,
            segment_description=request.segment_description, channel=request.channel,
            limits={"headline": limits.headline, "body": body_max, "cta": limits.cta},
            title=facts.display_title, year=facts.year, genres=genres, angle=request.angle,
            **catalog_values(facts, request.language),
        )
        system = self.prompts.render("copy_system.jinja", language=request.language, priced=facts.price is not None)
        return [
            Message(role="system", content=system),
            Message(role="user", content=user),
        ]

    def fallback(self, request: CopyRequest) -> CopyDraft:
        """Build the message from catalog facts alone (no LLM): the richest ``copy_fallback.jinja`` that fits.

        A product with a price states it and, when offers exist, the one that lowers it most (code, discount,
        price after it, validity).

        Raises:
            CopyUnavailableError: when not even the title fits the channel's limits.
        """
        limits, body_max = self._limits(request)
        facts = request.product
        genres = [GENRES_ZH.get(g, g) for g in facts.genres] if request.language == "zh" else facts.genres
        values = {"language": request.language, "title": facts.display_title, "year": facts.year, "genres": genres,
                  **catalog_values(facts, request.language)}
        full = {p: self.prompts.render("copy_fallback.jinja", part=p, **values) for p in ("headline", "body", "cta")}
        short = {**full, "body": self.prompts.render("copy_fallback.jinja", part="headline", **values)}
        tries = [full, short, {**short, "headline": headline_name(facts, limits.headline)}]
        if facts.price is not None:
            # Richest body first (full, compact, the headline line), each under the full headline, then under the
            # price line when the name is too long for the channel's headline.
            heads = [full["headline"], self.prompts.render("copy_fallback.jinja", part="tagline", **values)]
            bodies = [full["body"], self.prompts.render("copy_fallback.jinja", part="compact", **values)]
            tries = [{**full, "headline": h, "body": b} for b in bodies for h in heads] + tries[1:]
        context = {**self._context(request, limits), "template": True}
        problems: list[str] = []
        for parts in tries:
            try:
                return draft_model(request.channel, body_max).model_validate(parts, context=context)
            except ValidationError as exc:
                problems.append(describe_validation_error(exc))
        raise CopyUnavailableError(f"no message about {facts.display_title} fits {request.channel}: {problems[-1]}")

    @staticmethod
    def _context(request: CopyRequest, limits: ChannelLimits) -> dict[str, Any]:
        return {"facts": request.product, "language": request.language, "limits": limits,
                "disclaimer": request.disclaimer, "banned": request.banned_phrases, "theme": request.angle,
                "titles": request.catalog}

    def rewrite(self, request: CopyRequest, feedback: RewriteFeedback,
                rank: Callable[[CopyDraft], float] | None = None) -> CopyResult:
        """Rewrite a message with its predicted effect and factors in the prompt (``copy_rewrite.jinja``).

        The conversation is the first draft's prompt, the old message as the model's answer, then the feedback;
        the reply goes through the same constrained schema, ``n`` candidates, grounding and quality floor as
        :meth:`write`, and must change the headline. Unlike :meth:`write` there is no template fallback: a rewrite
        is the LLM's or nothing.

        Args:
            request: The request the old message answered (same segment, channel, product and offers).
            feedback: The old message and its prediction.
            rank: Score of a valid candidate, e.g. its predicted effect (default: :attr:`rank` of the request).

        Returns:
            The rewrite (``source="llm"``).

        Raises:
            RewriteError: no candidate passed; it says why and what the tries cost.
        """
        limits, body_max = self._limits(request)
        body_max = min(body_max, self.body_max)
        instructions = self.prompts.render("copy_rewrite.jinja", language=request.language, angle=request.angle,
                                           **feedback.model_dump(exclude={"headline", "body", "cta"}))
        old = CopyDraft.model_construct(headline=feedback.headline, body=feedback.body, cta=feedback.cta)
        messages = [*self.messages(request), Message(role="assistant", content=old.model_dump_json()),
                    Message(role="user", content=instructions)]
        feedback_wording = render("structured_retry.jinja", problem=_FEEDBACK_WORDING)
        # The old message may be kept in part (the floor's echo rule reads the instructions, not the old message).
        prompt = "\n".join([*(m.content or "" for m in messages if m.role != "assistant"), feedback_wording])
        context = {**self._context(request, limits), "prompt": prompt, "previous_headline": feedback.headline}
        try:
            result = generate_structured(
                self.model, messages,
                constrained_draft_model(request.channel, body_max, request.product, request.language),
                retries=self.rewrite_retries, temperature=self.temperature, max_tokens=self.max_tokens,
                seed=self.seed, context=context, n=self._candidates(request), rank=rank or self.rank(request),
                frequency_penalty=self.frequency_penalty, echo_reply=False,
            )
        except StructuredOutputError as exc:
            raise RewriteError(str(exc), attempts=exc.attempts, errors=exc.errors,
                               prompt_tokens=exc.usage.prompt_tokens,
                               completion_tokens=exc.usage.completion_tokens) from exc
        return CopyResult(
            **result.value.model_dump(include={"headline", "body", "cta"}), disclaimer=request.disclaimer,
            source="llm", attempts=result.attempts, errors=result.errors,
            prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
            latency_s=result.latency_s,
        )

    def write(self, request: CopyRequest) -> CopyResult:
        """Write one message, falling back to the fact template when the LLM gives no valid draft.

        Raises:
            CopyUnavailableError: when no message about the product fits the channel at all.
        """
        limits, body_max = self._limits(request)
        messages = self.messages(request)
        # What the draft must not copy: the prompt and the feedback a re-ask gives (a small model echoes both).
        feedback = render("structured_retry.jinja", problem=_FEEDBACK_WORDING)  # as generate_structured words it
        prompt = "\n".join([*(m.content or "" for m in messages), feedback])
        context = {**self._context(request, limits), "prompt": prompt}
        body_max = min(body_max, self.body_max)
        try:
            result = generate_structured(
                self.model, messages,
                constrained_draft_model(request.channel, body_max, request.product, request.language),
                retries=self.retries, temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed,
                context=context, n=self._candidates(request), rank=self.rank(request),
                frequency_penalty=self.frequency_penalty, echo_reply=False,
            )
        except StructuredOutputError as exc:
            draft = self.fallback(request)
            return CopyResult(
                **draft.model_dump(), disclaimer=request.disclaimer, source="template", attempts=exc.attempts,
                errors=exc.errors, prompt_tokens=exc.usage.prompt_tokens,
                completion_tokens=exc.usage.completion_tokens,
            )
        return CopyResult(
            **result.value.model_dump(include={"headline", "body", "cta"}), disclaimer=request.disclaimer,
            source="llm", attempts=result.attempts, errors=result.errors,
            prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
            latency_s=result.latency_s,
        )
