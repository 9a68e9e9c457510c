"""Copy on the embedded SmolLM2-135M (issue 15 item 1): the decoder keeps to the schema's patterns, and with fixed
seeds most messages come from the LLM (en and zh), each passing grounding and the quality floor."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from agent.llm import ChatRequest, Message, OpenAIBackend
from agent.settings import Settings
from tools.copywriting import CopyRequest, CopyTool, ProductFacts
from tools.copywriting.copywriter import constrained_draft_model
from tools.shop import Offer

pytestmark = pytest.mark.e2e

XMAS = Offer(code="XMAS10", percent_off=10, valid_from=date(2011, 11, 9), valid_to=date(2011, 12, 9))
PRODUCTS = [  # real rows: UCI Online Retail names and prices, MovieLens-100k films
    ProductFacts(product_id="22423", title="Regency cakestand 3 tier", price=12.75, currency="GBP",
                 category="Cake stands", offers=[XMAS]),
    ProductFacts(product_id="85123A", title="White hanging heart T-light holder", price=2.95, currency="GBP",
                 category="Holders", attributes=["colour:white"], offers=[XMAS]),
    ProductFacts(product_id="85099B", title="Jumbo bag red retrospot", price=2.08, currency="GBP", category="Bags",
                 attributes=["colour:red"]),
    ProductFacts(product_id="50", title="Star Wars", year=1977, genres=["Action", "Adventure", "Sci-Fi"]),
]


@pytest.fixture(scope="module")
def backend(llm_url: str) -> OpenAIBackend:
    settings = Settings()
    return OpenAIBackend(llm_url, settings.llm_model, settings.llm_api_key.get_secret_value(), timeout_s=300)


def test_the_server_decodes_every_candidate_within_the_patterns(backend: OpenAIBackend) -> None:
    schema_model = constrained_draft_model("push", 120, PRODUCTS[0], "en")
    schema = schema_model.model_json_schema()
    reply = backend.chat(ChatRequest(
        messages=[Message(role="user", content="Write a push message about the Regency cakestand 3 tier, £12.75.")],
        response_schema=schema, schema_name="PushCopy", max_tokens=300, seed=7, n=3, temperature=0.9))
    assert len(reply.candidates) == 3
    for text in reply.candidates:
        draft = json.loads(text or "")
        assert set(draft) == {"headline", "body", "cta"}  # no other fields, all three present
        for field in ("headline", "body", "cta"):  # lengths are checked on the reply, not decoded
            assert re.fullmatch(schema["properties"][field]["pattern"], draft[field]), (field, text)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_most_messages_come_from_the_llm(backend: OpenAIBackend, language: str) -> None:
    tool = CopyTool(backend, seed=42)
    goal = "Bring lapsed buyers back for their Christmas orders" if language == "en" else "为圣诞订货召回流失客户"
    audience = "lapsed customers" if language == "en" else "几个月没有下单的流失客户"
    results = [tool.write(CopyRequest(goal=goal, segment_name="lapsed", segment_description=audience, product=p,
                                      channel=channel, language=language))
               for p in PRODUCTS for channel in ("email", "push")]
    from_llm = [r for r in results if r.source == "llm"]
    assert len(from_llm) > len(results) / 2, [r.errors[-1:] for r in results if r.source == "template"]
