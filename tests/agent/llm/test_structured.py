"""Structured output with several candidates per call: validate all, keep the best valid one, re-ask only if none."""

from types import SimpleNamespace

import pytest
from pydantic import BaseModel, Field

from agent.llm import (
    ChatRequest,
    Message,
    OpenAIBackend,
    ScriptedModel,
    StructuredOutputError,
    generate_structured,
    reply_candidates,
)


class Answer(BaseModel):
    city: str = Field(min_length=2)
    population: int = Field(gt=0)


def _ask() -> list[Message]:
    return [Message(role="user", content="Largest city?")]


def test_one_valid_candidate_among_n_is_kept_without_a_retry():
    turns = [reply_candidates(['{"city": "x"', {"city": "Lagos", "population": 15}, {"city": "A", "population": 1},
                               "not json"])]
    with ScriptedModel(turns) as model:
        result = generate_structured(model, _ask(), Answer, n=4, seed=10)
    assert result.value.city == "Lagos" and result.attempts == 1
    assert result.candidates == 4 and result.valid_candidates == 1
    assert len(result.errors) == 3 and result.errors[0].startswith("attempt 1 candidate 1:")
    assert model.requests[0].n == 4 and model.requests[0].seed == 10


def test_the_best_valid_candidate_by_rank_is_kept_and_ties_keep_the_first():
    values = [{"city": "Lagos", "population": 15}, {"city": "Tokyo", "population": 37},
              {"city": "Delhi", "population": 33}]
    with ScriptedModel([reply_candidates(values)]) as model:
        best = generate_structured(model, _ask(), Answer, n=3, rank=lambda a: a.population)
    assert best.value.city == "Tokyo" and best.valid_candidates == 3
    with ScriptedModel([reply_candidates(values)]) as model:
        first = generate_structured(model, _ask(), Answer, n=3, rank=lambda a: 0.0)
    assert first.value.city == "Lagos"


def test_when_no_candidate_is_valid_the_first_problem_is_fed_back_with_new_seeds():
    turns = [reply_candidates([{"city": "A", "population": 1}, {"city": "Bo", "population": 0}]),
             reply_candidates([{"city": "Bo", "population": 0}, {"city": "Lima", "population": 10}])]
    with ScriptedModel(turns) as model:
        result = generate_structured(model, _ask(), Answer, n=2, seed=5)
    assert result.value.city == "Lima" and result.attempts == 2 and len(result.errors) == 3
    retry = model.requests[1]
    assert retry.seed == 7  # the first call used seeds 5 and 6 (one per candidate)
    assert retry.messages[-2].content == '{"city": "A", "population": 1}' and "city" in retry.messages[-1].content
    with ScriptedModel([reply_candidates(["x", "y"])]) as model, pytest.raises(StructuredOutputError) as caught:
        generate_structured(model, _ask(), Answer, n=2, retries=0)
    assert caught.value.attempts == 1 and len(caught.value.errors) == 2


def test_the_backend_sends_n_and_the_penalty_and_reads_every_choice():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m")
    params = backend._params(ChatRequest(messages=_ask(), n=3, frequency_penalty=0.5))
    assert params["n"] == 3 and params["frequency_penalty"] == 0.5
    single = backend._params(ChatRequest(messages=_ask()))
    assert "n" not in single and "frequency_penalty" not in single

    def choice(index: int, text: str) -> SimpleNamespace:
        return SimpleNamespace(index=index, finish_reason="stop",
                               message=SimpleNamespace(content=text, tool_calls=None))

    completion = SimpleNamespace(choices=[choice(1, "b"), choice(0, "a")], model="m",
                                 usage=SimpleNamespace(prompt_tokens=5, completion_tokens=6))
    backend._client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=lambda **_: completion)))
    reply = backend.chat(ChatRequest(messages=_ask(), n=2))
    assert reply.content == "a" and reply.candidates == ["a", "b"]
    assert backend.chat(ChatRequest(messages=_ask())).candidates == ["a"]
