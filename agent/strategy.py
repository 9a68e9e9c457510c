"""The strategy step: the LLM proposes each segment's angle, featured products and offer among grounded options.

For each segment the loop builds the options from data: the products are the shortlist of
:mod:`agent.candidates` (the recommender's pool ranked by the effect tool), restricted to the brief's named intent
when it names a genre, category or theme the shop has (:func:`brief_intent`); the angles are short themes built
from the segment's portrait (its genres, lifecycle stage), the candidates' genres or categories, their price band
and the season of the shop's "today" (:func:`angle_options`); the offers are those the campaign may state for
the candidates, or "none". The LLM answers with one JSON object whose JSON schema holds the options as enums
(:func:`choice_model`), so a server with guided decoding (vLLM) can only produce a valid choice, even from a
135M model.

Angles are an enum rather than a free string with a length and pattern: an angle built from the catalog and the
portrait is grounded by construction (a free string could name a theme no product has, which the copy could then
not state), each option can be rated by the copy-effect model before it is chosen, and a very small model picks
among listed phrases far more reliably than it writes one.

Each proposal is scored with the effect models (:func:`score_proposals`): the mean over its featured products
of the effect tool's segment × product estimate (the click model, or the purchase model's expected incremental
revenue) times the copy-effect model's headline index of the angle written as a headline about the product. The
predictions of every proposal so far are fed back ("proposal A predicted X, B Y; propose one predicted higher")
for at most ``brief.strategy_rounds`` rounds; a round stops a segment early when its proposals repeat earlier
ones or none is valid. The rule baseline (the best predicted products, the first angle) is scored alongside;
the proposal featuring most products of the intent, then predicted best, wins, and the segment's
:class:`~agent.plan.SegmentStrategy` records every proposal, its prediction and why the winner won.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from agent.brief import Brief
from agent.candidates import Candidate
from agent.llm import (
    ChatModel,
    ChatReply,
    ChatRequest,
    LLMError,
    Message,
    StructuredOutputError,
    Usage,
    generate_structured,
)
from agent.offers import campaign_offers, product_facts
from agent.plan import CopyVariant, Segment, SegmentStrategy, StrategyProposal
from agent.plan_guard import PlanGuard, run_guarded
from prompts import render
from tools.copywriting import GENRES_ZH, Channel, CopyRequest, shop_titles
from tools.effect import VariantEffect
from tools.recommend import ScoredProduct
from tools.shop import Offer, Shop

SCHEMA_NAME = "StrategyChoice"
"""Name of the strategy reply's JSON schema (a scripted backend answers requests by it)."""
ANGLE_MAX = 48
MAX_ANGLES = 8
CANDIDATES_PER_ROUND = 2
"""Proposals sampled per segment and round in one request (the server shares the prompt's prefix)."""
RETRIES = 1
NO_OFFER = "none"
IGNORED_THEMES = frozenset({"love", "unknown"})
"""Shop themes that are also everyday words of a brief ("a film they will love"): never read as an intent."""
ALIASES = {"science fiction": "Sci-Fi", "science-fiction": "Sci-Fi", "scifi": "Sci-Fi", "sci fi": "Sci-Fi",
           "film noir": "Film-Noir", "noir": "Film-Noir", "children": "Children's", "kids' films": "Children's",
           "cartoon": "Animation", "cartoons": "Animation", "documentaries": "Documentary",
           "xmas": "Christmas", "comedies": "Comedy"}
"""Other spellings of shop genres a brief may use (applied only when the shop has the genre)."""
SEASONS = {12: "holiday", 11: "holiday", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
           6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn"}

Predictor = Callable[[Sequence[CopyVariant]], list[VariantEffect]]
"""Predicts the effect of messages (:func:`tools.effect.predict_effect` with its models bound)."""


class Intent(BaseModel):
    """What the brief asks the featured products to be: genres, categories or themes of the shop it names.

    Attributes:
        terms: The shop's genres/categories/themes, in the shop's spelling (e.g. ``["Comedy"]``).
        words: Each term and the words of the brief that named it (e.g. ``{"Comedy": "comedy (goal)"}``).
    """

    terms: list[str] = Field(default_factory=list)
    words: dict[str, str] = Field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, genres: Iterable[str]) -> bool:
        """Tell whether a product with ``genres`` (genres, categories and themes) belongs to the intent."""
        wanted = {t.casefold() for t in self.terms}
        return any(g.casefold() in wanted for g in genres)

    def label(self) -> str:
        """The terms in words, e.g. "Comedy" or "Comedy or Romance"."""
        return " or ".join(self.terms)


def shop_vocabulary(shop: Shop) -> list[str]:
    """Return the genres, categories and themes the shop's products have (the intent vocabulary)."""
    products = shop.products
    values: set[str] = set()
    for column in ("genres", "category"):
        if column in products.columns:
            values |= {str(v) for v in products[column].explode().dropna()}
    return sorted(v for v in values if v and v.casefold() not in IGNORED_THEMES)


def _forms(term: str) -> set[str]:
    """Ways a brief may write ``term``: lower case, singular and plural, and each part of "A & B"."""
    base = term.casefold().replace("'s", "")
    parts = [base, *(p.strip() for p in base.split("&") if "&" in base)]
    forms: set[str] = set()
    for p in parts:
        if not p:
            continue
        forms |= {p, p + "s", p[:-1] + "ies" if p.endswith("y") else p, p[:-1] if p.endswith("s") else p}
    return {f for f in forms if len(f) >= 3}


def brief_intent(brief: Brief, vocabulary: Sequence[str]) -> Intent:
    """Find the genres, categories or themes the brief's goal, audience or genre filter names.

    Matching is on whole words, case-insensitive, singular or plural ("comedy", "comedies" → Comedy; "candles"
    → Candles), with a few other spellings (:data:`ALIASES`) and the Chinese genre names the copy uses; the
    audience filter's genres count as named.

    Args:
        brief: The brief.
        vocabulary: The shop's genres, categories and themes (:func:`shop_vocabulary`).

    Returns:
        The intent (empty when the brief names none of them).
    """
    known = {v.casefold(): v for v in vocabulary}
    words: dict[str, str] = {}
    for genre in brief.audience_filter.genres:
        if genre.casefold() in known:
            words.setdefault(known[genre.casefold()], f"{genre} (audience filter)")
    zh = {name: genre for genre, name in GENRES_ZH.items()}
    for where, text in (("goal", brief.goal), ("audience", brief.audience)):
        lowered = text.casefold()
        for term in vocabulary:
            for form in sorted(_forms(term), key=len, reverse=True):
                match = re.search(rf"(?<![\w-]){re.escape(form)}(?![\w-])", lowered)
                if match:
                    words.setdefault(term, f"{match.group(0)} ({where})")
                    break
        for alias, genre in ALIASES.items():
            if genre.casefold() in known and re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", lowered):
                words.setdefault(known[genre.casefold()], f"{alias} ({where})")
        for name, genre in zh.items():
            if name in text and genre.casefold() in known:
                words.setdefault(known[genre.casefold()], f"{name} ({where})")
    return Intent(terms=list(words), words=words)


def focus_on_intent(ranked: dict[str, list[Candidate]], intent: Intent, slots: int
                    ) -> tuple[dict[str, list[Candidate]], dict[str, str]]:
    """Keep each segment's candidates of the intent, when it has enough of them to fill its slots.

    Args:
        ranked: Each segment's candidates, best predicted first.
        intent: The brief's intent (empty: the candidates are returned unchanged).
        slots: Products a segment features.

    Returns:
        The candidates (intent ones only, or intent ones first then the rest) and, per segment that cannot feature
        only products of the intent, why not.
    """
    if not intent:
        return ranked, {}
    focused, notes = {}, {}
    for sid, candidates in ranked.items():
        inside = [c for c in candidates if intent.matches(c.product.genres)]
        if len(inside) >= slots:
            focused[sid] = inside
            continue
        focused[sid] = inside + [c for c in candidates if not intent.matches(c.product.genres)]
        notes[sid] = (f"the brief asks for {intent.label()}, but only {len(inside)} of the {len(candidates)} products "
                      f"retrieved for this segment (after a search restricted to {intent.label()}) belong to it and "
                      "are not already bought or rated by its customers: the others featured are its best predicted "
                      "products outside it")
    return focused, notes


def angle_options(segment: Segment, candidates: Sequence[Candidate], intent: Intent, shop: Shop) -> list[str]:
    """Build the angle options of a segment: themes from its portrait and its candidates' attributes (derived).

    Themes are the intent's terms, the genres the segment over-indexes on and its candidates' commonest genres
    or categories; each is phrased for the segment's main lifecycle stage and for the season of the shop's
    "today", and on a shop with prices one option names the candidates' price band against the catalog's.

    Returns:
        At most :data:`MAX_ANGLES` distinct phrases of at most :data:`ANGLE_MAX` characters, the intent first.
    """
    counts = Counter(g for c in candidates for g in c.product.genres if g.casefold() not in IGNORED_THEMES)
    themes = list(dict.fromkeys([*intent.terms, *segment.top_genres, *(g for g, _ in counts.most_common(3))]))
    themes = [t.replace("Children's", "family") for t in themes] or ["our picks"]
    stage = next(iter(segment.lifecycle_mix), "").casefold()
    season = SEASONS[shop.today.month]
    options: list[str] = []
    for i, theme in enumerate(themes):
        word = theme.lower()
        if "new" in stage:
            options.append(f"welcome: {word} to start with")
        elif "lapsed" in stage:
            options.append(f"welcome back to {word}")
        else:
            options.append(f"more {word} you will enjoy")
        options.append(f"{word} picks for you")
        if i == 0:
            options.append(f"{season} {word} favourites")
    band = _price_band(candidates, shop)
    if band:
        options.append(band)
    return list(dict.fromkeys(o[:ANGLE_MAX].strip() for o in options))[:MAX_ANGLES]


def _price_band(candidates: Sequence[Candidate], shop: Shop) -> str | None:
    """Name the candidates' price band: "little treats" or "something special", else None.

    Derived from the catalog's prices: the candidates' median price in the catalog's lowest or highest third.
    """
    products = shop.products
    if "price" not in products.columns or not products["price"].notna().any():
        return None
    prices = products.set_index("product_id")["price"]
    mine = prices.reindex([c.product_id for c in candidates]).dropna()
    if mine.empty:
        return None
    low, high = prices.quantile([1 / 3, 2 / 3])
    median = float(mine.median())
    return "little treats" if median <= low else "something special" if median >= high else None


@dataclass
class StrategyOptions:
    """The grounded options of one segment's strategy."""

    segment: Segment
    candidates: list[Candidate]
    slots: int
    angles: list[str]
    offers: list[str]
    intent: Intent
    intent_note: str | None = None
    labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        counts = Counter(c.product.title for c in self.candidates)
        self.labels = [c.product.title if counts[c.product.title] == 1 else f"{c.product.title} #{c.product_id}"
                       for c in self.candidates]

    def candidate(self, label: str) -> Candidate:
        """Return the candidate of a product label."""
        return self.candidates[self.labels.index(label)]


def strategy_options(segment: Segment, candidates: list[Candidate], brief: Brief, shop: Shop, intent: Intent,
                     intent_note: str | None = None) -> StrategyOptions:
    """Build a segment's options: its shortlist, angles from its portrait and products, and the offers that apply."""
    slots = min(brief.variants_per_channel, len(candidates))
    offers = campaign_offers(shop, brief)
    applying = {o.code for c in candidates for o in product_facts(shop, c.product, offers).offers} if offers else set()
    codes = [o.code for o in offers if o.code in applying]
    return StrategyOptions(segment=segment, candidates=candidates, slots=slots,
                           angles=angle_options(segment, candidates, intent, shop), offers=[*codes, NO_OFFER],
                           intent=intent, intent_note=intent_note)


def choice_model(options: StrategyOptions) -> type[BaseModel]:
    """Return the reply model of a segment: every field an enum of its options (the JSON schema vLLM enforces).

    ``products`` is a list of exactly ``slots`` product labels; the validator also refuses a product named twice.
    """
    angle: Any = Literal[tuple(options.angles)]
    product: Any = Literal[tuple(options.labels)]
    offer: Any = Literal[tuple(options.offers)]

    def distinct(value: Any) -> Any:
        if len(set(value.products)) != len(value.products):
            raise ValueError("products: name each product once")
        return value

    validators: dict[str, Any] = {"distinct": model_validator(mode="after")(distinct)}
    model: type[BaseModel] = create_model(
        SCHEMA_NAME,
        __config__=ConfigDict(extra="forbid"),
        __validators__=validators,
        angle=(angle, Field(description="The theme of the segment's messages.")),
        products=(list[product], Field(min_length=options.slots, max_length=options.slots,
                                       description="The products to feature.")),
        offer=(offer, Field(description="The offer code to feature, or none.")),
    )
    return model


def _about(candidate: Candidate, shop: Shop) -> str:
    product = shop.product(candidate.product_id)
    parts = list(candidate.product.genres[:3])
    if product is not None and product.price is not None:
        parts.append(f"{product.price:.2f} {shop.currency or ''}".strip())
    return ", ".join(parts)


def strategy_messages(brief: Brief, options: StrategyOptions, feedback: Sequence[StrategyProposal], shop: Shop
                      ) -> list[Message]:
    """Render the strategy prompt of a segment, with its earlier proposals and their predictions as feedback."""
    segment = options.segment
    products = [{"title": label, "about": _about(c, shop), "predicted": f"{c.effect.point:.4g}"}
                for label, c in zip(options.labels, options.candidates, strict=True)]
    shown = [{"label": p.label, "angle": p.angle, "titles": p.product_titles, "offer": p.offer or NO_OFFER,
              "predicted": f"{p.predicted:.4g}"} for p in feedback]
    best = max((p.predicted for p in feedback), default=0.0)
    return [
        Message(role="system", content=render("strategy_system.jinja")),
        Message(role="user", content=render(
            "strategy_user.jinja", goal=brief.goal, audience=brief.audience, segment_name=segment.name,
            segment_description=segment.description, intent=options.intent.terms, slots=options.slots,
            products=products, angles=options.angles, offers=options.offers, feedback=shown, best=f"{best:.4g}")),
    ]


@dataclass
class _Asked:
    """One segment's answer in one round: the valid choices, or why there are none."""

    choices: list[BaseModel]
    attempts: int
    usage: Usage
    errors: list[str]


def _ask(model: ChatModel, brief: Brief, shop: Shop, seed: int, temperature: float,
         item: tuple[StrategyOptions, list[StrategyProposal], int]) -> _Asked:
    options, feedback, round_no = item
    valid: list[BaseModel] = []

    def keep(choice: BaseModel) -> float:  # every valid candidate passes through rank: keep them all
        valid.append(choice)
        return 0.0

    try:
        result = generate_structured(
            model, strategy_messages(brief, options, feedback, shop), choice_model(options), retries=RETRIES,
            temperature=temperature, max_tokens=60 + 40 * options.slots, seed=seed + 1000 * round_no,
            n=CANDIDATES_PER_ROUND, rank=keep)
    except StructuredOutputError as exc:
        return _Asked([], exc.attempts, exc.usage, exc.errors)
    except LLMError as exc:
        return _Asked([], 1, Usage(), [f"the model server failed: {exc}"])
    return _Asked(valid, result.attempts, result.usage, result.errors)


def _headline(angle: str, title: str) -> str:
    """The angle written as a headline about the product, as the copy-effect model rates it."""
    return f"{angle[:1].upper()}{angle[1:]}: {title}"


def score_proposals(proposals: Sequence[tuple[StrategyOptions, StrategyProposal]], brief: Brief,
                    predict: Predictor) -> None:
    """Fill each proposal's predictions with the effect models, rating every angle headline in one batch.

    Each featured product's prediction is its effect estimate for the segment times the headline index of the
    angle written as a headline about it (:func:`tools.effect.predict_effect`); the proposal's is their mean.
    """
    drafts: list[CopyVariant] = []
    for options, proposal in proposals:
        for i, pid in enumerate(proposal.product_ids):
            c = next(c for c in options.candidates if c.product_id == pid)
            drafts.append(CopyVariant(
                variant_id=f"{options.segment.segment_id}-{proposal.label}{i}", segment_id=options.segment.segment_id,
                channel=brief.channels[0], language=brief.language, product_id=pid, product_title=c.product.title,
                headline=_headline(proposal.angle, c.product.title), body="", cta="", source="llm", effect=c.effect))
    effects = iter(predict(drafts) if drafts else [])
    for _, proposal in proposals:
        mine = [next(effects) for _ in proposal.product_ids]
        proposal.product_predictions = [round(e.point, 6) for e in mine]
        proposal.predicted = round(sum(e.point for e in mine) / len(mine), 6) if mine else 0.0
        proposal.headline_index = round(sum(e.headline_index for e in mine) / len(mine), 4) if mine else 1.0


def _proposal(options: StrategyOptions, label: str, round_no: int, source: Literal["llm", "rules"], angle: str,
              labels: Sequence[str], offer: str) -> StrategyProposal:
    chosen = [options.candidate(lb) for lb in labels]
    return StrategyProposal(
        label=label, round=round_no, source=source, angle=angle, product_ids=[c.product_id for c in chosen],
        product_titles=[c.product.title for c in chosen], offer=None if offer == NO_OFFER else offer, predicted=0.0,
        in_intent=sum(options.intent.matches(c.product.genres) for c in chosen))


def rules_proposal(options: StrategyOptions, brief: Brief) -> StrategyProposal:
    """The rule baseline: the best predicted products, the first angle, the brief's own offer when it applies."""
    offer = brief.offer.code if brief.offer is not None and brief.offer.code in options.offers else NO_OFFER
    return _proposal(options, "R", 0, "rules", options.angles[0], options.labels[: options.slots], offer)


def _label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"P{index + 1}"


@dataclass
class StrategyRun:
    """The strategy step of one plan: options per segment, model, predictor, and the round limit.

    Attributes:
        brief: The brief (``strategy_rounds`` bounds the rounds).
        shop: The shop.
        model: The chat model (the copy tool's, through the run's guard).
        predict: The effect predictor of messages.
        guard: The run's guard (cancellation, LLM budget).
        concurrency: Segments asked at once.
        seed: Sampling seed of the first round.
        temperature: Sampling temperature.
    """

    brief: Brief
    shop: Shop
    model: ChatModel
    predict: Predictor
    guard: PlanGuard
    concurrency: int = 4
    seed: int = 42
    temperature: float = 0.7
    usage: Usage = field(default_factory=Usage)
    llm_calls: int = 0

    def propose(self, all_options: Sequence[StrategyOptions]) -> dict[str, SegmentStrategy]:
        """Run the rounds for every segment with options and return each segment's strategy record."""
        records = {o.segment.segment_id: SegmentStrategy(
            intent=o.intent.terms, intent_note=o.intent_note, angles=o.angles, offers=o.offers,
            options=[c.product_id for c in o.candidates]) for o in all_options}
        proposals = {o.segment.segment_id: [rules_proposal(o, self.brief)] for o in all_options}
        score_proposals([(o, proposals[o.segment.segment_id][0]) for o in all_options], self.brief, self.predict)
        active = [o for o in all_options if o.candidates]
        for round_no in range(1, self.brief.strategy_rounds + 1):
            if not active:
                break
            items = [(o, [p for p in proposals[o.segment.segment_id] if p.source == "llm"], round_no) for o in active]
            ask = functools.partial(_ask, self.model, self.brief, self.shop, self.seed, self.temperature)
            answers = run_guarded(ask, items, self.concurrency, self.guard)
            new: list[tuple[StrategyOptions, StrategyProposal]] = []
            still: list[StrategyOptions] = []
            for options, answer in zip(active, answers, strict=True):
                sid = options.segment.segment_id
                record, mine = records[sid], proposals[sid]
                record.llm_calls += answer.attempts
                self.llm_calls += answer.attempts
                self.usage = Usage(prompt_tokens=self.usage.prompt_tokens + answer.usage.prompt_tokens,
                                   completion_tokens=self.usage.completion_tokens + answer.usage.completion_tokens)
                record.rounds = round_no
                record.errors += [f"round {round_no}: {e}" for e in answer.errors]
                seen = {(p.angle, tuple(p.product_ids), p.offer) for p in mine if p.source == "llm"}
                fresh = 0
                for choice in answer.choices:
                    data = choice.model_dump()
                    proposal = _proposal(options, _label(len(mine) - 1), round_no, "llm", data["angle"],
                                         data["products"], data["offer"])
                    key = (proposal.angle, tuple(proposal.product_ids), proposal.offer)
                    if key in seen:
                        continue
                    seen.add(key)
                    mine.append(proposal)
                    new.append((options, proposal))
                    fresh += 1
                if not answer.choices:
                    record.errors.append(f"round {round_no}: no valid proposal: stopped")
                elif not fresh:
                    record.errors.append(f"round {round_no}: the proposals repeat earlier ones: stopped")
                else:
                    still.append(options)
            score_proposals(new, self.brief, self.predict)
            active = still
        for options in all_options:
            sid = options.segment.segment_id
            records[sid].proposals = proposals[sid]
            records[sid].winner, records[sid].reason = choose_winner(proposals[sid], options.intent)
        return records


def choose_winner(proposals: Sequence[StrategyProposal], intent: Intent) -> tuple[str, str]:
    """Pick the proposal the plan follows and say why.

    The proposal featuring most products of the intent wins, then the highest prediction; on a tie an LLM
    proposal wins over the rules (it chose the same products and an angle of its own), then the earlier one.

    Returns:
        The winner's label and the reason, naming the predictions of the others.
    """
    order = sorted(range(len(proposals)), key=lambda i: (-proposals[i].in_intent, -proposals[i].predicted,
                                                          proposals[i].source != "llm", i))
    win = proposals[order[0]]
    rules = next((p for p in proposals if p.source == "rules"), None)
    llm = [p for p in proposals if p.source == "llm"]
    others = ", ".join(f"{p.label} {p.predicted:.4g}" for p in proposals if p is not win)
    if not llm:
        reason = "no LLM proposal (see errors): the rules' best predicted products"
    else:
        reason = (f"{win.label} ({win.source}) predicted {win.predicted:.4g} per send, the best of "
                  f"{len(proposals)} proposals")
        if intent and any(p.in_intent < win.in_intent and p.predicted > win.predicted for p in proposals):
            reason = (f"{win.label} ({win.source}) features {win.in_intent} product(s) of {intent.label()}, the most "
                      f"of any proposal, predicted {win.predicted:.4g} per send; proposals featuring fewer predicted "
                      "more but do not match the brief")
        if rules is not None and win is not rules and rules.predicted > win.predicted:
            reason += f" (the rules' R predicted {rules.predicted:.4g} with fewer products of the intent)"
    return win.label, reason + (f"; others: {others}" if others else "")


def random_strategy_reply(request: ChatRequest) -> ChatReply:
    """Answer a strategy request with uniformly random valid choices (a scripted stand-in for tests and the eval).

    Reads the options from the request's JSON schema (the enums of ``angle``, ``products`` and ``offer``), seeded
    by the request's seed, and returns ``n`` candidates. No model: it shows what choosing blindly among the
    grounded options gives, against which a model's choices are compared.
    """
    schema = request.response_schema or {}
    props = schema.get("properties", {})
    rng = random.Random(request.seed or 0)

    def enum(spec: dict[str, Any]) -> list[Any]:
        if "$ref" in spec:
            spec = schema.get("$defs", {}).get(spec["$ref"].rsplit("/", 1)[-1], {})
        return list(spec.get("enum", [spec.get("const")]))

    items = props["products"]
    count = int(items.get("minItems", 1))
    texts = []
    for _ in range(request.n):
        texts.append(json.dumps({"angle": rng.choice(enum(props["angle"])),
                                 "products": rng.sample(enum(items["items"]), count),
                                 "offer": rng.choice(enum(props["offer"]))}, ensure_ascii=False))
    return ChatReply(content=texts[0], contents=texts, usage=Usage(), model="random-strategy")


def featured_order(options: StrategyOptions, record: SegmentStrategy) -> list[Candidate]:
    """Return the segment's candidates with the winner's products first (the rest, best predicted first)."""
    win = record.chosen()
    first = win.product_ids if win else []
    by_id = {c.product_id: c for c in options.candidates}
    return [by_id[p] for p in first] + [c for c in options.candidates if c.product_id not in first]


def llm_winner(segment: Segment) -> StrategyProposal | None:
    """Return the segment's winning strategy proposal when the LLM proposed it, else None.

    A segment without a strategy (plans before it), or whose winner is the rules' baseline (``strategy_rounds`` 0,
    or no LLM proposal won), writes its copy as before: no angle, every offer that applies.
    """
    win = segment.strategy.chosen() if segment.strategy is not None else None
    return win if win is not None and win.source == "llm" else None


def winner_offers(win: StrategyProposal | None, offers: list[Offer]) -> list[Offer]:
    """Return the offers a segment's messages may state: the strategy's offer only (none: no offer), else all."""
    if win is None:
        return offers
    return [o for o in offers if win.offer is not None and o.code.casefold() == win.offer.casefold()]


def copy_request(brief: Brief, shop: Shop, segment: Segment, product: ScoredProduct, channel: Channel,
                 offers: list[Offer] | None = None) -> CopyRequest:
    """Return the copy request of one cell (segment × channel × product), as the plan loop writes it.

    A segment whose strategy an LLM proposal won (:func:`llm_winner`) writes on its angle and states only its
    offer (none: no offer); otherwise every campaign offer that applies to the product, and no angle.

    Args:
        brief: The campaign brief (goal, language, disclaimer, banned phrases, offer).
        shop: The shop (catalog facts).
        segment: The segment (name, description, strategy).
        product: The product of the cell.
        channel: The channel of the cell.
        offers: The campaign's offers (:func:`agent.offers.campaign_offers`); None computes them.
    """
    win = llm_winner(segment)
    allowed = winner_offers(win, campaign_offers(shop, brief) if offers is None else offers)
    return CopyRequest(
        goal=brief.goal, segment_name=segment.name, segment_description=segment.description,
        product=product_facts(shop, product, allowed), channel=channel, language=brief.language,
        disclaimer=brief.disclaimer, banned_phrases=brief.banned_phrases, angle=win.angle if win else None,
        catalog=shop_titles(shop),
    )
