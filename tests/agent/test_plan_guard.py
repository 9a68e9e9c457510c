"""The plan guard: no LLM call starts after a cancel, the copy pool stops waiting, the LLM time budget holds."""

from __future__ import annotations

import threading

import pytest

from agent.llm import ChatReply, ChatRequest, FunctionModel, LLMError, Message, reply_text
from agent.plan_guard import GuardedModel, LLMBudgetExceededError, PlanCancelledError, PlanGuard, run_guarded

WAIT_S = 120  # bound for a thread to reach a point the test waits for; only a broken guard hits it
REQUEST = ChatRequest(messages=[Message(role="user", content="hi")])


def test_the_copy_pool_returns_on_cancel_while_a_call_hangs_and_drops_the_rest() -> None:
    guard = PlanGuard()
    entered, release, returned = threading.Event(), threading.Event(), threading.Event()

    def hanging(request: ChatRequest) -> ChatReply:
        entered.set()
        assert release.wait(WAIT_S)
        returned.set()
        return reply_text("late")

    inner = FunctionModel(hanging)
    model = GuardedModel(inner, guard)
    canceller = threading.Thread(target=lambda: (entered.wait(WAIT_S), guard.cancel("tester")))
    canceller.start()
    guard.at("during step 6 (write copy)")
    try:
        with pytest.raises(PlanCancelledError) as stopped:
            run_guarded(model.chat, [REQUEST] * 5, 1, guard)
        assert not returned.is_set()  # the pool returned while the first call still hung
        assert stopped.value.where == "during step 6 (write copy)"
    finally:
        release.set()
        canceller.join()
    assert returned.wait(WAIT_S)
    assert len(inner.requests) == 1 and guard.calls_started == 1  # the four waiting requests never started
    with pytest.raises(PlanCancelledError):  # and none starts later either
        model.chat(REQUEST)
    assert len(inner.requests) == 1


def test_the_budget_counts_overlapping_calls_once_on_the_clock() -> None:
    clock = [0.0]
    guard = PlanGuard(budget_s=10.0, clock=lambda: clock[0])
    with guard.llm_call():
        clock[0] += 3.0
        with guard.llm_call():  # in flight at the same time as the first
            clock[0] += 2.0
    clock[0] += 100.0  # time outside LLM calls does not count
    assert guard.spent_s() == 5.0 and guard.remaining_s() == 5.0
    spent = r"budget of 10 s .* is spent: 11.0 s waiting on 3 LLM call"
    with pytest.raises(LLMBudgetExceededError, match=spent), guard.llm_call():
        clock[0] += 6.0
    with pytest.raises(LLMBudgetExceededError, match=spent), guard.llm_call():  # the same reason; no call starts
        pytest.fail("a call started past the budget")
    assert guard.calls_started == 3


def test_without_a_stop_the_pool_returns_every_result_in_order() -> None:
    guard = PlanGuard(budget_s=60.0)
    model = GuardedModel(FunctionModel(lambda r: reply_text(r.messages[-1].content or "")), guard)
    requests = [ChatRequest(messages=[Message(role="user", content=str(n))]) for n in range(20)]
    assert [r.content for r in run_guarded(model.chat, requests, 4, guard)] == [str(n) for n in range(20)]
    assert guard.calls_started == 20 and not guard.stopped


def test_a_failed_call_is_raised_without_waiting_for_one_that_hangs() -> None:
    guard = PlanGuard()
    release, returned = threading.Event(), threading.Event()

    def respond(request: ChatRequest) -> ChatReply:
        if request.messages[-1].content == "hang":
            assert release.wait(WAIT_S)
            returned.set()
            return reply_text("late")
        raise LLMError("LLM server answered 500")

    model = GuardedModel(FunctionModel(respond), guard)
    requests = [ChatRequest(messages=[Message(role="user", content=c)]) for c in ("hang", "fail")]
    try:
        with pytest.raises(LLMError, match="answered 500"):
            run_guarded(model.chat, requests, 2, guard)
        assert not returned.is_set()
    finally:
        release.set()
