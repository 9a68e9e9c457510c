"""Copy backends for eval configurations: the two scripted stand-ins and the real model servers.

``scripted-template`` answers every request with text that is not JSON, so the copy tool rejects every
draft and builds each message from the catalog facts with its template (``source="template"``), and every
strategy request too, so the rules choose each segment's strategy.
``scripted-facts`` reads the title, year and genres stated in the prompt and writes a short grounded
message from them with a fixed function (``source="llm"``, although no model ran), and answers each strategy
request with uniformly random valid choices among its options (:func:`agent.strategy.random_strategy_reply`:
what choosing blindly gives, beside a model's choices). Neither is a model
result; reports say so. ``embedded`` and ``openai`` talk to an OpenAI-compatible server.
"""

from __future__ import annotations

import hashlib
import re

from agent.llm import ChatModel, ChatReply, ChatRequest, FunctionModel, OpenAIBackend, Usage, reply_json
from agent.settings import Settings
from agent.strategy import SCHEMA_NAME as STRATEGY_SCHEMA
from agent.strategy import random_strategy_reply
from eval.config import EvalConfig
from prompts import PRODUCTION_PROMPTS, PromptError, PromptRenderer
from tools.copywriting import CJK, CopyTool


def _template_reply(request: ChatRequest) -> ChatReply:
    """Answer with text that is not JSON (no tokens: nothing was generated)."""
    del request
    return ChatReply(content="(scripted stand-in: no language model)", usage=Usage(), model="scripted-template")


def _field(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1).strip() if match else None


def _fit(options: list[str], limit: int) -> str:
    """Return the first option within ``limit`` characters (the last one, cut, when none fits)."""
    for option in options:
        if len(option) <= limit:
            return option
    return options[-1][:limit]


def _limit(request: ChatRequest, field: str, default: int) -> int:
    """Return the ``maxLength`` the reply schema sets for ``field``."""
    schema = request.response_schema or {}
    return int(schema.get("properties", {}).get(field, {}).get("maxLength", default))


def facts_copy(request: ChatRequest) -> ChatReply:
    """Write a message from the facts the copy prompt states (en or zh), within the reply schema's limits.

    Reads the "Title:", "Year:" and "Genres:" lines (片名、年份、类型 in Chinese) of the user prompt, or for a
    shop with prices the "- Name:", "- Price:" and "- Offer:" lines (商品名、价格、优惠); the length limits come
    from the JSON schema sent with the request, not from the prompt's wording.
    """
    if request.schema_name == STRATEGY_SCHEMA:
        return random_strategy_reply(request)
    prompt = next((m.content or "" for m in request.messages if m.role == "user"), "")
    zh = bool(CJK.search(prompt))
    name = _field(r"^- (?:Name|商品名)[:：] ?(.+)$", prompt)
    if name is not None:
        return _product_copy(request, prompt, name, zh)
    if zh:
        title = _field(r"片名：(.+?)(?:（|\n|$)", prompt)
        year = _field(r"年份：(\d{4})", prompt)
        genres = _field(r"类型：(.+)", prompt) or ""
    else:
        title = _field(r"Title: (.+?)(?: \(write|\n|$)", prompt)
        year = _field(r"Year: (\d{4})", prompt)
        genres = _field(r"Genres: (.+)", prompt) or ""
    if title is None:
        return reply_json({"headline": "?", "body": "?", "cta": "?"}, tokens=0)
    headline_max, body_max = _limit(request, "headline", 30), _limit(request, "body", 100)
    cta_max = _limit(request, "cta", 20)
    dated = f"{title}（{year}）" if zh and year else f"{title} ({year})" if year else title
    if zh:
        headline = _fit([f"为您精选：{title}", title, "为您精选"], headline_max)
        body = _fit([f"为喜欢{genres}的您精选：{dated}。", f"精选：{dated}。", title], body_max)
        cta = _fit(["立即观看", "观看"], cta_max)
    else:
        headline = _fit([f"Picked for you: {title}", title, "Picked for you"], headline_max)
        body = _fit([f"Chosen for you: {dated}, for fans of {genres}.", f"Chosen for you: {dated}.", title], body_max)
        cta = _fit(["Watch it now", "Watch"], cta_max)
    return reply_json({"headline": headline, "body": body, "cta": cta}, tokens=0)


def build_model(config: EvalConfig, settings: Settings) -> ChatModel:
    """Return the chat backend of ``config`` (scripted stand-in or OpenAI-compatible client)."""
    if config.backend == "scripted-template":
        return FunctionModel(_template_reply, name="scripted-template (stand-in, no model)")
    if config.backend == "scripted-facts":
        return FunctionModel(facts_copy, name="scripted-facts (stand-in, no model)")
    if config.backend == "embedded":
        return OpenAIBackend(settings.embedded_llm_url, config.model or settings.llm_model,
                             settings.llm_api_key.get_secret_value(), settings.llm_timeout_s)
    assert config.base_url and config.model  # checked by EvalConfig
    return OpenAIBackend(config.base_url, config.model, settings.llm_api_key.get_secret_value(),
                         settings.llm_timeout_s)


def prompt_renderer(config: EvalConfig) -> PromptRenderer:
    """Return the renderer of ``config``'s prompt version: its ``prompts_dir``, else the production prompts."""
    return PRODUCTION_PROMPTS if config.prompts_dir is None else PromptRenderer(config.prompts_dir)


def build_copy_tool(config: EvalConfig, settings: Settings) -> CopyTool:
    """Return the production copy tool with ``config``'s backend, retries, temperature, seed and prompt version."""
    return CopyTool(build_model(config, settings), retries=config.retries, temperature=config.temperature,
                    seed=config.seed, prompts=prompt_renderer(config))


def prompt_fingerprint(config: EvalConfig) -> str:
    """Return a short SHA-256 of the copy templates the configuration uses (to tell prompt versions apart).

    Raises:
        PromptError: when the prompt version's folder lacks one of the copy tool's templates.
    """
    folder = prompt_renderer(config).directory
    digest = hashlib.sha256()
    for name in CopyTool.TEMPLATES:
        path = folder / name
        if not path.is_file():
            raise PromptError(f"no prompt template named {name!r} in {folder}")
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _product_copy(request: ChatRequest, prompt: str, name: str, zh: bool) -> ChatReply:
    """Write a message about a priced product: its name, its price, and the first offer's code and price after it."""
    price = _field(r"^- (?:Price|价格)[:：] ?(\S+)$", prompt)
    if zh:
        code = _field(r"^- 优惠：优惠码 (\S+?)，", prompt)
        after = _field(r"^- 优惠：.*?折后 (\S+?)[，\n]", prompt + "\n")
    else:
        code = _field(r"^- Offer: code (\S+?),", prompt)
        after = _field(r"^- Offer: code .*?, (\S+) after it", prompt)
    headline_max, body_max = _limit(request, "headline", 30), _limit(request, "body", 100)
    cta_max = _limit(request, "cta", 20)
    if zh:
        deal = f"，使用优惠码 {code} 仅需 {after}" if code and after else ""
        headline = _fit([f"为您精选：{name}", name, "为您精选"], headline_max)
        body = _fit([f"{name} 售价 {price}{deal}。", f"{name} 售价 {price}。", name], body_max)
        cta = _fit(["立即选购", "选购"], cta_max)
    else:
        deal = f", or {after} with code {code}" if code and after else ""
        headline = _fit([f"Picked for you: {name}", name, "Picked for you"], headline_max)
        body = _fit([f"{name}, now {price}{deal}.", f"{name}, now {price}.", name], body_max)
        cta = _fit(["Shop now", "Shop"], cta_max)
    return reply_json({"headline": headline, "body": body, "cta": cta}, tokens=0)
