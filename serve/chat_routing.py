"""Routing a chat message to tools, constrained so a small model cannot pick a wrong tool or invent arguments.

A message is read first (:func:`read_message`): sentences carrying injected instructions ("ignore previous
instructions …") are set aside; each remaining clause is matched against the words that ask for each tool
(English and Chinese, :data:`TOOL_CUES`); the shop's vocabulary values it names (lifecycle stages, genres or
categories, channels, offer codes, catalog titles) are read with the audience term tables of the profiles tool
(``filter_used`` of a one-customer retrieval) plus a Chinese table of retail categories; the candidate audience
spans are the message's clauses and the phrases after "for/to/给/向 …". Without a model's choice (none needed,
or an invalid one) each clause takes its furthest tool in chain order ("recommend a plan" → create_plan), and
the chain adds recommend_products before a tool that needs products the message does not name.

The model then makes the decisions that are left, as JSON whose schema (:func:`route_schema`) holds them as
enums: ``tools`` (one entry per clause that asks for a tool, each from that clause's candidates) and ``audience``
(one of the spans, so the audience is always the marketer's own words). When nothing is left to decide no model
is called (``source="rules"``); when the model's JSON fails validation the rules' choice is used
(``source="rules-fallback"``). A message asking for no tool, about one customer (a customer number or a
pseudonymised id), or to approve, reject, erase or delete something, gets no tool at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, create_model, model_validator

from agent.llm import ChatModel, Message, StructuredOutputError, generate_structured
from agent.loop import PlannerTools
from prompts import render
from serve.chat_tools import ShopVocabulary
from tools.audience import AudienceQuery
from tools.copywriting import CJK, display_title

ChatLanguage = Literal["en", "zh"]
NONE = "none"

#: Words that ask for each tool (lower case; Chinese as written).
TOOL_CUES: dict[str, tuple[str, ...]] = {
    "find_audience": (
        "how many", "how big", "how large", "count ", "number of", "size of", "who are", "find the", "find our",
        "find customers", "what do they look like", "describe", "profile of", "breakdown", "多少", "几个", "多大",
        "人数", "规模", "找出", "哪些客户", "哪些用户", "什么样", "画像", "构成",
    ),
    "recommend_products": (
        "recommend", "which films", "what films", "which movies", "what movies", "which products",
        "what products", "which items", "what items", "what should we send", "what to send", "what would they",
        "what will they", "suggest", "watch", "what to offer", "top picks", "best films", "best products",
        "推荐", "什么电影", "哪些电影", "哪部", "什么片", "什么商品", "哪些商品", "什么产品", "哪些产品", "看什么",
        "买什么", "发什么", "送什么",
    ),
    "predict_effect": (
        "effect", "uplift", "likely to respond", "likely to click", "likely to buy", "conversion", "response rate",
        "click rate", "how well", "predict", "expected", "效果", "转化", "预测", "响应率", "点击率", "购买率",
    ),
    "write_copy": (
        "write", "copy for", "email text", "headline", "draft", "wording", "文案", "写", "标题", "措辞",
    ),
    "create_plan": (
        "plan", "campaign", "计划", "活动", "方案",
    ),
}
CHAIN_ORDER = ("find_audience", "recommend_products", "predict_effect", "write_copy", "create_plan")
NEEDS_PRODUCTS = ("predict_effect", "write_copy")
_INJECTION = re.compile(
    r"ignore\b.{0,30}\b(instructions?|rules?|prompts?|above)|disregard|forget (everything|all|your)|system prompt|"
    r"you are now|pretend (to be|you)|act as|developer mode|jailbreak|reveal your|print your|repeat after me|"
    r"忽略|无视|忘记(之前|以上|所有)|系统提示|你现在是|扮演|假装",
    re.IGNORECASE,
)
_PRIVATE = re.compile(
    r"\b(customer|user|client)\s*(id\s*)?#?\s*\d+|\b(his|her)\s+(age|address|name|email|phone)|"
    r"personal (data|details)|home address|phone number|"
    r"(客户|用户|顾客)\s*(编号|id|ID)?\s*#?\d+|住址|电话号码|个人信息|\bc_[0-9a-f]{16}\b",
    re.IGNORECASE,
)
#: Requests no chat tool may serve: reviews and data operations belong to the plans page and admins.
_ACTIONS = re.compile(r"\b(?:approve|reject|erase|delete|revoke)\b|\bmark (?:it|them|the plans?) (?:as )?"
                      r"(?:approved|launched|sent)\b|批准|驳回|删除|抹去", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.?!。？！;；\n])\s*")
_CLAUSES = re.compile(
    r"[?？!！。;；，]|,\s*(?:and|then|also)\b|\s+(?:and then|and also|then)\s+|"
    r",\s*(?:and\s+)?(?=how|what|which|who|write|plan|make|create|predict|recommend)|"
    r"并且|然后|另外|同时|再",
    re.IGNORECASE,
)
_SPAN_START = re.compile(r"\b(?:for|to|send|among|about|targeting|are|of)\s+|给|向|对|针对|面向|为", re.IGNORECASE)
_SPAN_CUT = re.compile(
    r"\s*(?:[,，:：]|\b(?:with|by|using|via|in (?:the|a|an))\b|通过|推荐|发送|创建|制定|有多少|会看|会买).*$",
    re.IGNORECASE)
_CHANNEL_WORDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "newsletter", "邮件", "电邮"),
    "push": ("push", "notification", "app message", "推送", "通知"),
    "sms": ("sms", "text message", "texts", "短信"),
}
#: Chinese lifecycle phrasings the profiles tool's tables miss ("新的园艺客户": new customers who like gardening).
LIFECYCLE_PATTERNS_ZH: dict[str, re.Pattern[str]] = {
    "new": re.compile(r"(?<!重)新的?[\u4e00-\u9fff]{0,4}?(?:客户|用户|顾客|会员|买家)"),
    "lapsed": re.compile(r"(?:流失|沉睡|不活跃)的?[\u4e00-\u9fff]{0,4}?(?:客户|用户|顾客|会员|买家|粉丝)"),
    "active": re.compile(r"(?<!不)活跃的?[\u4e00-\u9fff]{0,4}?(?:客户|用户|顾客|会员|买家|粉丝)"),
}
#: Chinese words for the retail demo shop's categories (the profiles tool's tables cover film genres only).
CATEGORY_WORDS_ZH: dict[str, tuple[str, ...]] = {
    "Christmas": ("圣诞",), "Candles": ("蜡烛",), "Bags": ("包袋", "袋子", "手提袋"), "Baking": ("烘焙",),
    "Garden": ("花园", "园艺"), "Jewellery": ("首饰", "珠宝"), "Kids": ("儿童", "孩子"), "Cards": ("贺卡",),
    "Clocks": ("时钟", "钟表"), "Cushions": ("靠垫", "抱枕"), "Decorations": ("装饰",), "Lights": ("灯",),
    "Kitchenware": ("厨具", "厨房用品"), "Easter": ("复活节",), "Halloween": ("万圣节",), "Frames": ("相框",),
    "Cups & saucers": ("杯碟", "茶杯"), "Doormats": ("门垫", "地垫"), "Stationery": ("文具",),
}
_NUMBER = re.compile(r"(\d[\d,]*)\s*(?:sends?|messages?|emails?|customers?|people|条|封|次|人)", re.IGNORECASE)
MIN_TITLE = 6  # shorter catalog titles ("Heat", "Big") are common words, not a product named in the message


def language_of(text: str) -> ChatLanguage:
    """Return ``"zh"`` when the text has Han characters, else ``"en"`` (the CJK check of the copy tool)."""
    return "zh" if CJK.search(text) else "en"


@dataclass
class RouteOptions:
    """What a message allows, read from it before the model is asked.

    Attributes:
        message: The message as sent.
        kept: The message without the sentences that carried injected instructions.
        ignored: Those sentences.
        language: The language of the message (the answer's language).
        private: The message asks about one customer (no tool may answer it).
        steps: Per clause that asks for a tool, the tools it may mean (in chain order).
        spans: Candidate audience spans (the marketer's own words), the rules' choice first.
        lifecycle: Lifecycle stages the message names.
        interests: Genres (categories on retail) the message names.
        channels: Channels it names.
        offers: Offer codes it names.
        product_ids: Catalog products it names by title.
        send_budget: A number of sends it names.
        vocabulary: The shop's vocabulary.
    """

    message: str
    kept: str
    ignored: list[str]
    language: ChatLanguage
    private: bool
    steps: list[list[str]]
    spans: list[str]
    lifecycle: list[str]
    interests: list[str]
    channels: list[str]
    offers: list[str]
    product_ids: list[str]
    send_budget: int | None
    vocabulary: ShopVocabulary

    @property
    def decided(self) -> bool:
        """True when the rules leave the model nothing to choose."""
        return all(len(s) == 1 for s in self.steps) and len(self.spans) <= 1


@dataclass
class Route:
    """The tools to call for a message, in order, and the audience in the marketer's words.

    Attributes:
        tools: Tool names in call order (empty: no tool fits).
        audience: The audience span.
        source: ``"model"`` (the model chose), ``"rules"`` (nothing was left to choose) or ``"rules-fallback"``
            (the model's choice was invalid).
        problems: Why the model's choice was not used.
    """

    tools: list[str]
    audience: str
    source: str
    problems: list[str] = field(default_factory=list)


def _has(text: str, phrase: str) -> bool:
    if CJK.search(phrase):
        return phrase in text
    return re.search(rf"(?<![a-z]){re.escape(phrase.strip())}(?![a-z])", text) is not None


def cued_tools(clause: str) -> list[str]:
    """Return the tools a clause asks for, in chain order."""
    low = clause.lower()
    return [t for t in CHAIN_ORDER if any(_has(low, c) for c in TOOL_CUES[t])]


def split_injection(text: str) -> tuple[str, list[str]]:
    """Split a message into what to act on and the sentences that carry injected instructions."""
    sentences = [s for s in _SENTENCES.split(text) if s.strip()]
    kept = [s for s in sentences if not _INJECTION.search(s)]
    return " ".join(kept).strip(), [s.strip() for s in sentences if _INJECTION.search(s)]


def clauses(text: str) -> list[str]:
    """Split a message into clauses at sentence ends and at "…, and what/how …" joins (并/然后/再 in Chinese)."""
    return [c.strip(" ,，、") for c in _CLAUSES.split(text) if c and c.strip(" ,，、")]


def audience_spans(text: str, clause_list: list[str]) -> list[str]:
    """Return candidate audience spans: phrases after "for/to/给/向 …", then the clauses, then the message."""
    spans: list[str] = []
    for clause in clause_list:
        for match in _SPAN_START.finditer(clause):
            tail = _SPAN_CUT.sub("", clause[match.end():]).strip(" ?？.。!！,，")
            if len(tail) >= 2:
                spans.append(tail)
    spans += [c.strip(" ?？.。!！") for c in clause_list]
    spans.append(text.strip(" ?？.。!！"))
    return list(dict.fromkeys(s[:200] for s in spans if len(s) >= 2))


def _words(text: str, table: dict[str, tuple[str, ...]], allowed: tuple[str, ...]) -> list[str]:
    low = text.lower()
    return [value for value, words in table.items() if value in allowed and any(_has(low, w) for w in words)]


def _titles(text: str, tools: PlannerTools) -> list[str]:
    """Product ids whose catalog title the message names (longest titles first, at most three)."""
    low = text.lower()
    products = tools.shop.products
    titles = products["title"].astype(str).map(lambda t: display_title(t).lower())
    hits = products[titles.map(lambda t: len(t) >= MIN_TITLE and t in low)]
    order = hits["title"].astype(str).str.len().sort_values(ascending=False).index
    return [str(pid) for pid in hits.loc[order, "product_id"].head(3)]


def read_message(text: str, tools: PlannerTools, history_audience: str | None = None) -> RouteOptions:
    """Read what ``text`` allows on ``tools``' shop (see the module docstring).

    Args:
        text: The marketer's message.
        tools: The shop's tools (vocabulary, catalog, audience term tables).
        history_audience: The audience of the session's previous tool call, used when this message names
            no audience of its own ("and a plan please").
    """
    vocabulary = ShopVocabulary.of(tools)
    kept, ignored = split_injection(text)
    language = language_of(text)
    private = bool(_PRIVATE.search(kept))
    clause_list = clauses(kept)
    steps = [] if private or _ACTIONS.search(kept) else [c for c in (cued_tools(cl) for cl in clause_list) if c]
    lifecycle: list[str] = []
    interests: list[str] = []
    if kept:
        try:  # the profiles tool's own reading of audience words (English and Chinese)
            derived = tools.profiles.retrieve(AudienceQuery(text=kept[:2000], limit=1)).filter_used
            lifecycle, interests = list(derived.lifecycle), list(derived.genres)
        except ValueError:
            pass
    lifecycle += [k for k, p in LIFECYCLE_PATTERNS_ZH.items()
                  if k in vocabulary.lifecycles and k not in lifecycle and p.search(kept)]
    if vocabulary.interest_key == "categories":
        interests += [c for c in _words(kept, CATEGORY_WORDS_ZH, vocabulary.interests) if c not in interests]
    spans = audience_spans(kept, clause_list) if kept else []
    ranked = sorted(spans, key=lambda s: (-_mentions(s, lifecycle + interests, tools), len(s)))
    if history_audience and not (lifecycle or interests) and history_audience not in ranked:
        ranked.insert(0, history_audience)
    budget = _NUMBER.search(kept.replace(",", ""))
    return RouteOptions(
        message=text, kept=kept, ignored=ignored, language=language, private=private, steps=steps, spans=ranked,
        lifecycle=lifecycle, interests=interests[:3],
        channels=_words(kept, _CHANNEL_WORDS, vocabulary.channels),
        offers=[o for o in vocabulary.offers if re.search(rf"\b{re.escape(o)}\b", kept, re.IGNORECASE)],
        product_ids=_titles(kept, tools), send_budget=int(budget.group(1)) if budget else None,
        vocabulary=vocabulary)


def _mentions(span: str, values: list[str], tools: PlannerTools) -> int:
    del tools
    low = span.lower()
    words = {v.lower() for v in values}
    people = re.search(r"fans|customers|buyers|users|shoppers|客户|用户|粉丝|顾客", low)
    return sum(1 for w in words if w in low) + (1 if people else 0)


def route_schema(options: RouteOptions) -> type[BaseModel]:
    """Return the JSON schema (as a pydantic model named ``ChatRoute``) of the model's routing decision.

    ``tools`` holds one entry per clause that asks for a tool, from the union of their candidates (an enum),
    and ``audience`` is an enum of the candidate spans; a validator (context ``steps``) checks each entry
    against its own clause's candidates and that no tool is repeated.
    """
    union = list(dict.fromkeys(t for step in options.steps for t in step)) or [NONE]
    n = max(1, len(options.steps))
    tool: Any = Literal.__getitem__(tuple(union))
    span: Any = Literal.__getitem__(tuple(options.spans or [options.kept or options.message]))

    def check(self: Any, info: ValidationInfo) -> Any:
        steps = (info.context or {}).get("steps") or []
        if len(set(self.tools)) != len(self.tools):
            raise ValueError("each tool at most once")
        for i, (name, allowed) in enumerate(zip(self.tools, steps, strict=False)):
            if name not in allowed:
                raise ValueError(f"tools.{i}: {name!r} does not fit clause {i + 1}; choose from {allowed}")
        return self

    validators: dict[str, Any] = {"check": model_validator(mode="after")(check)}
    return create_model(
        "ChatRoute", __doc__="The tools to call, in order, and the audience in the marketer's words.",
        __validators__=validators,
        tools=(list[tool], Field(min_length=n, max_length=n)), audience=(span, ...))


def route(options: RouteOptions, model: ChatModel, seed: int | None = None) -> Route:
    """Decide the tools and audience of a message (see the module docstring).

    Raises:
        LLMError: the model server failed.
    """
    spans = options.spans or [options.kept or options.message]
    if options.private or not options.steps:
        return Route(tools=[], audience=spans[0], source="rules")
    rules = [step[-1] for step in options.steps]  # the furthest tool: the chain runs what it needs before it
    if options.decided:
        return Route(tools=_chain(rules, options), audience=spans[0], source="rules")
    schema = route_schema(options)
    prompt = render("chat_route.jinja", message=options.kept, steps=options.steps, spans=spans,
                    shop=options.vocabulary.shop, language=options.language)
    try:
        result = generate_structured(model, [Message(role="system", content=render("chat_system.jinja")),
                                             Message(role="user", content=prompt)], schema, retries=1,
                                     temperature=0.0, max_tokens=120, seed=seed, context={"steps": options.steps})
    except StructuredOutputError as exc:
        return Route(tools=_chain(rules, options), audience=spans[0], source="rules-fallback", problems=exc.errors)
    value: Any = result.value
    return Route(tools=_chain(list(value.tools), options), audience=str(value.audience), source="model",
                 problems=result.errors)


def _chain(tools: list[str], options: RouteOptions) -> list[str]:
    """Put the tools in chain order and add recommend_products before a tool that needs products none named."""
    chosen = set(tools)
    if chosen & set(NEEDS_PRODUCTS) and not options.product_ids:
        chosen.add("recommend_products")
    return [t for t in CHAIN_ORDER if t in chosen]
