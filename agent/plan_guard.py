"""Stopping a plan run between and during its LLM calls: cancellation and the per-plan LLM time budget.

A :class:`PlanGuard` belongs to one run of the plan loop. The API's job manager makes one per job, activates it
around :meth:`agent.loop.Planner.run` (:meth:`PlanGuard.active`) and cancels it when someone cancels the job; the
loop wraps its copy model in a :class:`GuardedModel` and runs its copy requests with :func:`run_guarded`. Then:

* no LLM call starts once the guard is stopped (cancelled, or its budget spent);
* the copy pool does not wait for calls still in flight: it drops the requests not started and returns at once
  (a call that hangs finishes, or times out, in its abandoned thread; its answer is discarded);
* the LLM time of the run is the wall time during which at least one of its calls was in flight (parallel calls
  count once), read from an injectable clock; past ``budget_s`` the run stops with
  :class:`LLMBudgetExceededError` even while a call hangs.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from agent.llm import ChatModel, ChatReply, ChatRequest
from tools.copywriting import CopyTool

T = TypeVar("T")
R = TypeVar("R")

_ACTIVE: ContextVar[PlanGuard | None] = ContextVar("plan_guard", default=None)


class PlanStoppedError(Exception):
    """The run was stopped by its guard (base of :class:`PlanCancelledError` and :class:`LLMBudgetExceededError`)."""


class PlanCancelledError(PlanStoppedError):
    """Someone cancelled the run; the API's worker ends the job ``cancelled``.

    Args:
        where: Where the planner stopped, e.g. ``"before step 3 (score products)"``.
    """

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


class LLMBudgetExceededError(PlanStoppedError):
    """The run spent its LLM time budget (``CAMPAIGN_LLM_PLAN_BUDGET_S``); the job fails with this reason."""


class PlanGuard:
    """Cancellation and LLM time budget of one plan run (thread-safe).

    Args:
        budget_s: Most LLM time the run may spend (wall time with a call in flight); None: no limit.
        clock: Monotonic seconds (tests pass a simulated clock).
    """

    def __init__(self, budget_s: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self.clock = clock
        self.where = "before its first step"
        self.calls_started = 0
        self._lock = threading.Lock()
        self._stop_listeners: list[Callable[[], None]] = []
        self._cancelled_by: str | None = None
        self._error: PlanStoppedError | None = None
        self._in_flight = 0
        self._since = 0.0
        self._spent = 0.0

    @contextmanager
    def active(self) -> Iterator[PlanGuard]:
        """Make this the guard of the plan runs started in the block (see :meth:`current`)."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    @staticmethod
    def current() -> PlanGuard | None:
        """Return the guard activated around this run (by :meth:`active`), or None."""
        return _ACTIVE.get()

    def at(self, where: str) -> None:
        """Record where the run is, e.g. ``"during step 6 (write copy)"`` (named in the cancel reason)."""
        self.where = where

    def cancel(self, by: str) -> None:
        """Ask the run to stop: no LLM call starts from now on, and waiting copy requests are dropped."""
        with self._lock:
            if self._cancelled_by is None:
                self._cancelled_by = by
            listeners = list(self._stop_listeners)
        for listener in listeners:
            listener()

    @property
    def cancelled_by(self) -> str | None:
        """Who cancelled the run, or None."""
        return self._cancelled_by

    @property
    def stopped(self) -> bool:
        """Whether the run must stop (cancelled or out of budget)."""
        return self._cancelled_by is not None or self._error is not None or self._over_budget()

    def spent_s(self) -> float:
        """LLM time spent so far: wall time with at least one call in flight."""
        with self._lock:
            return self._spent + (self.clock() - self._since if self._in_flight else 0.0)

    def remaining_s(self) -> float | None:
        """LLM time left before the budget is spent, or None without a budget."""
        return None if self.budget_s is None else max(0.0, self.budget_s - self.spent_s())

    def _over_budget(self) -> bool:
        return self.budget_s is not None and self.spent_s() >= self.budget_s

    def check(self) -> None:
        """Raise if the run must stop; the first error raised is raised again by every later check.

        Raises:
            PlanCancelledError: The run was cancelled (``where`` says where it is now).
            LLMBudgetExceededError: The run spent its LLM time budget.
        """
        if self._error is not None:
            raise self._error
        error: PlanStoppedError | None = None
        if self._cancelled_by is not None:
            error = PlanCancelledError(self.where)
        elif self._over_budget():
            error = LLMBudgetExceededError(
                f"the plan's LLM time budget of {self.budget_s:g} s (CAMPAIGN_LLM_PLAN_BUDGET_S) is spent: "
                f"{self.spent_s():.1f} s waiting on {self.calls_started} LLM call(s), stopped {self.where}")
        if error is None:
            return
        with self._lock:
            self._error = self._error or error
            listeners = list(self._stop_listeners)
        for listener in listeners:
            listener()
        raise self._error

    def on_stop(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when the run is cancelled or stops; return the function that unregisters it."""
        with self._lock:
            self._stop_listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._stop_listeners:
                    self._stop_listeners.remove(listener)

        return remove

    @contextmanager
    def llm_call(self) -> Iterator[None]:
        """Account one LLM call: refused when the run must stop; its time counts against the budget.

        Raises:
            PlanStoppedError: Before the call, when the run must stop; after it, when it spent the budget.
        """
        self.check()
        with self._lock:
            if self._in_flight == 0:
                self._since = self.clock()
            self._in_flight += 1
            self.calls_started += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._spent += self.clock() - self._since
        self.check()


class GuardedModel:
    """A chat model whose calls go through a :class:`PlanGuard` (refused once the run must stop, and timed).

    Args:
        model: The model that answers.
        guard: The run's guard.
    """

    def __init__(self, model: ChatModel, guard: PlanGuard) -> None:
        self.model = model
        self.guard = guard
        self.name = model.name

    def chat(self, request: ChatRequest) -> ChatReply:
        """Answer one request, unless the run must stop."""
        with self.guard.llm_call():
            return self.model.chat(request)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the reply in pieces, unless the run must stop."""
        with self.guard.llm_call():
            yield from self.model.stream(request)


def run_guarded(work: Callable[[T], R], items: Sequence[T], concurrency: int, guard: PlanGuard) -> list[R]:
    """Run ``work`` on every item in a thread pool; stop waiting as soon as the guard stops the run.

    Args:
        work: What to do with one item (an LLM call through a :class:`GuardedModel`).
        items: The items.
        concurrency: Threads.
        guard: The run's guard.

    Returns:
        The results, in the order of ``items``.

    Raises:
        PlanStoppedError: The run was cancelled or spent its LLM budget; items not started are dropped and calls in
            flight are not waited for.
        Exception: A failure of ``work`` (the first in item order among those finished), without waiting for the
            other calls.
    """
    if not items:
        return []
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="plan-llm")
    wake = threading.Event()
    lock = threading.Lock()
    left = [len(items)]

    def finished(future: Future[R]) -> None:
        with lock:
            left[0] -= 1
            if left[0] == 0 or future.exception() is not None:
                wake.set()

    forget = guard.on_stop(wake.set)
    try:
        futures = [pool.submit(work, item) for item in items]
        for future in futures:
            future.add_done_callback(finished)
        while not wake.wait(guard.remaining_s()):
            guard.check()  # the budget ran out while calls were still in flight
        guard.check()
        failed = [f for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
        if failed:  # raised without waiting for calls still in flight
            raise failed[0].exception()  # type: ignore[misc]
        return [future.result() for future in futures]
    finally:
        forget()
        pool.shutdown(wait=False, cancel_futures=True)


def guarded_copy_tool(tool: CopyTool, guard: PlanGuard) -> CopyTool:
    """Return a copy of the copy tool whose model calls go through ``guard`` (the original is shared by runs)."""
    clone = copy.copy(tool)
    clone.model = GuardedModel(tool.model, guard)
    return clone
