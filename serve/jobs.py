"""Background plan jobs: a bounded queue served by a fixed pool of worker threads.

:meth:`JobManager.submit` stores the job and returns at once; a worker runs the planner (CPU work and
blocking LLM calls, hence threads) and records every step event and the outcome in the :class:`Store`.
At most ``queue_size`` jobs wait; one more raises :class:`QueueFullError` (the API answers 429).

:meth:`JobManager.cancel` ends a queued job at once (it never runs). A running job is cancelled
cooperatively through its :class:`~agent.plan_guard.PlanGuard`: the planner stops at its next LLM call or step
start or end (the copy pool does not wait for calls in flight, so a hanging LLM does not hold the cancel), the
worker catches :class:`PlanCancelledError` and the job ends ``cancelled`` with where it stopped; the partial plan
is dropped (so is a whole one, when the cancel arrives after the last step). The same guard bounds the LLM time
of each plan (``llm_budget_s``): past it the job fails with :class:`~agent.plan_guard.LLMBudgetExceededError`.

One server runs the jobs of a database. :meth:`JobManager.start` takes the database's server lease first
(:meth:`~serve.store.Store.acquire_server_lease`; a second server on the same database is refused with
:class:`~serve.store.ServerBusyError`) and a heartbeat thread renews it every third of ``lease_s``; a lease
without a heartbeat for ``lease_s`` (or whose process on this host is gone) may be taken over. Every write of a
job is conditional on this server running it (:meth:`~serve.store.Store.claim_job`, ``runner=``), so a server
that lost its lease never overwrites a state it does not own; it stops taking jobs and cancels its plans.

On start, jobs a previous process left ``running`` are failed with the reason ``"interrupted by a server
restart"`` (or cancelled, if a cancel had been asked for) and jobs left ``queued`` are queued again, so
nothing hangs.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from agent.brief import Brief
from agent.loop import expected_steps
from agent.plan import CampaignPlan
from agent.plan_guard import PlanCancelledError, PlanGuard
from agent.trace import StepEvent, StepListener, TraceStep
from serve.database import now
from serve.store import RESTART_REASON, TERMINAL, JobRecord, ServerBusyError, Store

__all__ = ["JobFinishedError", "JobManager", "PlanCancelledError", "PlanRunner", "PlannerFactory", "QueueFullError",
           "ServerBusyError", "UnknownJobError"]

log = logging.getLogger(__name__)


class PlanRunner(Protocol):
    """What a worker runs: :class:`agent.loop.Planner` or a test double."""

    def run(self, brief: Brief) -> CampaignPlan:
        """Produce the plan for ``brief``."""
        ...


PlannerFactory = Callable[[StepListener], PlanRunner]
"""Builds the runner of one job, reporting its steps to the given listener."""


class QueueFullError(RuntimeError):
    """Every worker is busy and the queue holds ``queue_size`` jobs already."""


class UnknownJobError(LookupError):
    """No job has this id."""


class JobFinishedError(RuntimeError):
    """The job already ended (done, failed or cancelled), so it cannot be cancelled."""


class JobManager:
    """Runs plan jobs in worker threads.

    Args:
        store: Where jobs, events and plans are kept.
        planner_factory: Builds a planner reporting to the given step listener.
        workers: Worker threads (plans computed at the same time).
        queue_size: Jobs allowed to wait for a worker.
        llm_budget_s: LLM time each plan may spend (see :class:`~agent.plan_guard.PlanGuard`); None: no limit.
        clock: Monotonic seconds the budget is measured with (tests pass a simulated clock).
        lease_s: How long the server lease stays live without a heartbeat.
    """

    def __init__(self, store: Store, planner_factory: PlannerFactory, workers: int = 2, queue_size: int = 16,
                 llm_budget_s: float | None = None, clock: Callable[[], float] = time.monotonic,
                 lease_s: float = 30.0) -> None:
        self.store = store
        self.llm_budget_s = llm_budget_s
        self.clock = clock
        self.lease_s = lease_s
        self.server_id = uuid.uuid4().hex  # this server's lease holder id; the runner of the jobs it starts
        self._heartbeat: threading.Thread | None = None
        self._beat_stop = threading.Event()
        self._lease_lost = False
        self._guards: dict[str, PlanGuard] = {}  # running job id -> its guard
        self.planner_factory = planner_factory
        self.workers = workers
        self.queue_size = queue_size
        self._pending: collections.deque[str] = collections.deque()
        self._cv = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._running: set[str] = set()
        self._cancel: dict[str, str] = {}  # running job id -> name of who asked it to stop
        self._listeners: dict[str, set[Callable[[], None]]] = collections.defaultdict(set)
        self._listeners_lock = threading.Lock()

    def start(self) -> tuple[list[str], list[str]]:
        """Recover jobs of a previous process and start the workers.

        Returns:
            Ids of the jobs failed as interrupted and of the queued jobs resumed.

        Raises:
            ServerBusyError: Another live server runs this database's jobs (nothing was changed).
        """
        previous = self.store.acquire_server_lease(self.server_id, self.lease_s)
        if previous is not None:
            log.warning("took the jobs of this database over from %s", previous.describe(now()))
        failed, queued = self.store.recover()
        for job_id in failed:
            log.warning("job %s: %s", job_id, RESTART_REASON)
        with self._cv:
            self._stopping = False
            self._pending.extend(queued)
        self._threads = [threading.Thread(target=self._work, name=f"plan-worker-{i}", daemon=True)
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()
        self._beat_stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="server-lease", daemon=True)
        self._heartbeat.start()
        return failed, queued

    def _beat(self) -> None:
        """Renew the server lease every third of ``lease_s``; stop taking jobs if another server took it."""
        while not self._beat_stop.wait(self.lease_s / 3):
            try:
                held = self.store.renew_server_lease(self.server_id)
            except Exception:  # the database is unreachable for a moment: the lease may still be renewed in time
                log.exception("cannot renew the server lease")
                continue
            if not held:
                log.error("another server took this database's jobs over; this one stops taking jobs")
                with self._cv:
                    self._stopping = self._lease_lost = True
                    self._cv.notify_all()
                    guards = list(self._guards.values())
                for guard in guards:
                    guard.cancel("the server (it lost the database's server lease)")
                return

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking jobs and wait up to ``grace_s`` for the workers.

        A running plan is not interrupted; if the process ends first, the next start fails it as interrupted
        (or cancels it, if a cancel had been asked for).
        """
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._beat_stop.set()
        for thread in self._threads:
            thread.join(grace_s)
        if self._heartbeat is not None:
            self._heartbeat.join(grace_s)
        # A plan still running here can no longer end the job: the next server fails it, and this worker's
        # final write is refused (it is conditional on this server running the job).
        self.store.release_server_lease(self.server_id)

    def submit(self, brief: Brief, owner: str) -> JobRecord:
        """Queue a plan for ``brief`` (already validated against the shop).

        Raises:
            QueueFullError: when ``queue_size`` jobs are already waiting, or this server lost the database's
                server lease.
        """
        with self._cv:
            if self._lease_lost:
                raise QueueFullError("this server no longer runs plans: another server took its database over")
            if len(self._pending) >= self.queue_size:
                raise QueueFullError(
                    f"{len(self._pending)} plans are waiting for {self.workers} busy worker(s); retry later"
                )
            # The progress total is the loop's upper bound; it becomes the real count once the plan is done.
            job = self.store.add_job(uuid.uuid4().hex[:16], owner, brief.model_dump(mode="json"),
                                     expected_steps(brief))
            self._pending.append(job.id)
            self._cv.notify()
        return job

    def cancel(self, job_id: str, by: str) -> tuple[JobRecord, bool]:
        """Cancel a queued job at once, or ask a running job to stop at its next step.

        Args:
            job_id: The job.
            by: Who cancels (the API key's name), kept in the job's reason.

        Returns:
            The job as stored now, and whether it is already ``cancelled`` (False: a running job that stops
            at its next step; asking again is harmless).

        Raises:
            UnknownJobError: no job has this id.
            JobFinishedError: the job is done, failed or cancelled already.
        """
        with self._cv:  # the worker starts and finishes jobs under this lock too, so no transition is lost
            job = self.store.job(job_id)
            if job is None:
                raise UnknownJobError(f"no plan {job_id}")
            if job.status in TERMINAL:
                raise JobFinishedError(f"plan {job_id} is already {job.status}; only a queued or running plan "
                                       "can be cancelled")
            if job.status == "queued":
                if job_id in self._pending:
                    self._pending.remove(job_id)
                self.store.set_status(job_id, "cancelled", error=f"cancelled by {by} before it started",
                                      expected="queued")
            elif job_id not in self._cancel:
                self._cancel[job_id] = by
                self.store.request_cancel(job_id, by)
                guard = self._guards.get(job_id)
                if guard is not None:  # no further LLM call starts; the copy pool stops waiting
                    guard.cancel(by)
            now = self.store.job(job_id) or job
        self._notify(job_id)
        return now, now.status == "cancelled"

    @property
    def queued(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._pending)

    @property
    def running(self) -> int:
        """Jobs being computed."""
        return len(self._running)

    def add_listener(self, job_id: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from a worker thread) whenever the job records an event."""
        with self._listeners_lock:
            self._listeners[job_id].add(callback)

    def remove_listener(self, job_id: str, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        with self._listeners_lock:
            self._listeners[job_id].discard(callback)
            if not self._listeners[job_id]:
                del self._listeners[job_id]

    def _notify(self, job_id: str) -> None:
        with self._listeners_lock:
            callbacks = list(self._listeners.get(job_id, ()))
        for callback in callbacks:
            callback()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                job_id = self._pending.popleft()
                self._running.add(job_id)
            try:
                self._run(job_id)
            finally:
                with self._cv:
                    self._running.discard(job_id)

    def _run(self, job_id: str) -> None:
        with self._cv:  # a job cancelled while queued (or started by another server) is never started here
            job = self.store.job(job_id)
            if job is None or not self.store.claim_job(job_id, self.server_id):
                return
            guard = self._guards[job_id] = PlanGuard(self.llm_budget_s, self.clock)
        self._notify(job_id)

        def on_step(event: StepEvent, step: TraceStep) -> None:
            if event == "start":  # checked first, so a step that will not run leaves no start event
                guard.at(f"before step {step.index} ({step.step})")
                guard.check()
            if not self.store.add_step_event(job_id, f"step_{event}", step.model_dump(mode="json"), self.server_id):
                guard.cancel("another server (this one lost the job)")
                guard.check()
            self._notify(job_id)
            guard.at(f"{'during' if event == 'start' else 'after'} step {step.index} ({step.step})")
            if event == "end":
                guard.check()

        try:
            with guard.active():  # the planner's LLM calls and copy pool answer to this job's guard
                plan = self.planner_factory(on_step).run(Brief.model_validate(job.brief))
        except PlanCancelledError as exc:
            self._finish_cancelled(job_id, exc.where)
        except Exception as exc:  # the job fails with a reason; the server goes on
            log.exception("job %s failed", job_id)
            with self._cv:
                self._cancel.pop(job_id, None)
                self._record(job_id, "failed", error=f"{type(exc).__name__}: {exc}")
        else:
            with self._cv:  # a cancel asked for after the last step still wins: the plan is dropped
                if job_id in self._cancel:
                    self._finish_cancelled(job_id, "after the last step")
                else:
                    self._record(job_id, "done", plan=plan.model_dump_json(), steps_done=len(plan.trace))
        finally:
            with self._cv:
                self._guards.pop(job_id, None)
        self._notify(job_id)

    def _finish_cancelled(self, job_id: str, where: str) -> None:
        with self._cv:
            by = self._cancel.pop(job_id, "someone")
            self._record(job_id, "cancelled", error=f"cancelled by {by} {where}; no plan was kept")
        log.info("job %s cancelled by %s %s", job_id, by, where)

    def _record(self, job_id: str, status: str, **values: Any) -> None:
        """End a job this server runs; a job another server took over keeps the state that server gave it."""
        if not self.store.set_status(job_id, status, runner=self.server_id, **values):
            log.warning("job %s is no longer run by this server; its outcome (%s) was not recorded", job_id, status)
