"""Background plan jobs: a bounded queue served by a fixed pool of worker threads.

:meth:`JobManager.submit` stores the job and returns at once; a worker runs the planner (CPU work and
blocking LLM calls, hence threads) and records every step event and the outcome in the :class:`Store`.
At most ``queue_size`` jobs wait; one more raises :class:`QueueFullError` (the API answers 429).
On start, jobs a previous process left ``running`` are failed with the reason
``"interrupted by a server restart"`` and jobs left ``queued`` are queued again, so nothing hangs.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Protocol

from agent.brief import Brief
from agent.plan import CampaignPlan
from agent.trace import TraceStep
from serve.store import RESTART_REASON, JobRecord, Store

log = logging.getLogger(__name__)

StepCallback = Callable[[str, TraceStep], None]
FIXED_STEPS = 6  # retrieve, segment, score, predict, write copy, design launch; plus one per revision round


class PlanRunner(Protocol):
    """What a worker runs: :class:`agent.loop.Planner` or a test double."""

    def run(self, brief: Brief) -> CampaignPlan:
        """Produce the plan for ``brief``."""
        ...


PlannerFactory = Callable[[StepCallback], PlanRunner]


class QueueFullError(RuntimeError):
    """Every worker is busy and the queue holds ``queue_size`` jobs already."""


def expected_steps(brief: Brief) -> int:
    """Upper bound of the plan loop's steps (revision may stop early; the count is exact once done)."""
    return FIXED_STEPS + brief.max_revisions


class JobManager:
    """Runs plan jobs in worker threads.

    Args:
        store: Where jobs, events and plans are kept.
        planner_factory: Builds a planner reporting to the given step callback.
        workers: Worker threads (plans computed at the same time).
        queue_size: Jobs allowed to wait for a worker.
    """

    def __init__(self, store: Store, planner_factory: PlannerFactory, workers: int = 2, queue_size: int = 16) -> None:
        self.store = store
        self.planner_factory = planner_factory
        self.workers = workers
        self.queue_size = queue_size
        self._pending: collections.deque[str] = collections.deque()
        self._cv = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._running: set[str] = set()
        self._listeners: dict[str, set[Callable[[], None]]] = collections.defaultdict(set)
        self._listeners_lock = threading.Lock()

    def start(self) -> tuple[list[str], list[str]]:
        """Recover jobs of a previous process and start the workers.

        Returns:
            Ids of the jobs failed as interrupted and of the queued jobs resumed.
        """
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
        return failed, queued

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking jobs and wait up to ``grace_s`` for the workers.

        A running plan is not interrupted; if the process ends first, the next start fails it as interrupted.
        """
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for thread in self._threads:
            thread.join(grace_s)

    def submit(self, brief: Brief, owner: str) -> JobRecord:
        """Queue a plan for ``brief`` (already validated against the shop).

        Raises:
            QueueFullError: when ``queue_size`` jobs are already waiting.
        """
        with self._cv:
            if len(self._pending) >= self.queue_size:
                raise QueueFullError(
                    f"{len(self._pending)} plans are waiting for {self.workers} busy worker(s); retry later"
                )
            job = self.store.add_job(uuid.uuid4().hex[:16], owner, brief.model_dump(mode="json"),
                                     expected_steps(brief))
            self._pending.append(job.id)
            self._cv.notify()
        return job

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
        job = self.store.job(job_id)
        if job is None or job.status != "queued":
            return
        self.store.set_status(job_id, "running")
        self._notify(job_id)

        def on_step(event: str, step: TraceStep) -> None:
            self.store.add_step_event(job_id, f"step_{event}", step.model_dump(mode="json"))
            self._notify(job_id)

        try:
            plan = self.planner_factory(on_step).run(Brief.model_validate(job.brief))
        except Exception as exc:  # the job fails with a reason; the server goes on
            log.exception("job %s failed", job_id)
            self.store.set_status(job_id, "failed", error=f"{type(exc).__name__}: {exc}")
        else:
            self.store.set_status(job_id, "done", plan=plan.model_dump_json(), steps_done=len(plan.trace))
        self._notify(job_id)
