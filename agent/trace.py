"""The explanation trail: every step of the loop with its tool, inputs, outputs and time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

StepEvent = Literal["start", "end"]
"""When a step listener is called: as a step starts, and as it ends (also when it raised)."""


class TraceStep(BaseModel):
    """One step of the plan loop as it happened."""

    index: int
    step: str = Field(description="What the loop was doing, e.g. 'retrieve audience'.")
    tool: str = Field(description="The tool (or model) that did it.")
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    duration_s: float = 0.0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = Field(default_factory=list)


class StepListener(Protocol):
    """Progress callback of the plan loop: told when each step starts and ends.

    The step is the live record: at ``"start"`` only its index, name, tool and inputs are filled; at ``"end"``
    its outputs, notes, LLM counts and duration too. An exception raised here propagates out of the loop
    (the API cancels a running plan this way).
    """

    def __call__(self, event: StepEvent, step: TraceStep, /) -> None:
        """Handle ``event`` for ``step``."""
        ...


class TraceRecorder:
    """Collects :class:`TraceStep` records and reports progress to an optional callback.

    Args:
        on_event: Called with ``(event, step)`` when a step starts (``"start"``) and ends (``"end"``).
    """

    def __init__(self, on_event: StepListener | None = None) -> None:
        self.steps: list[TraceStep] = []
        self._on_event = on_event

    @contextmanager
    def step(self, step: str, tool: str, inputs: dict[str, Any] | None = None) -> Iterator[TraceStep]:
        """Record one step; fill ``outputs``, ``notes`` and LLM counts on the yielded record."""
        record = TraceStep(
            index=len(self.steps) + 1, step=step, tool=tool, inputs=inputs or {}, started_at=datetime.now(UTC)
        )
        self.steps.append(record)
        if self._on_event is not None:
            self._on_event("start", record)
        started = time.perf_counter()
        try:
            yield record
        finally:
            record.duration_s = round(time.perf_counter() - started, 4)
            if self._on_event is not None:
                self._on_event("end", record)

    @property
    def llm_calls(self) -> int:
        """Total LLM calls recorded."""
        return sum(s.llm_calls for s in self.steps)

    def time_where(self, llm: bool) -> float:
        """Wall time of steps that did (``llm=True``) or did not call the LLM."""
        return round(sum(s.duration_s for s in self.steps if (s.llm_calls > 0) == llm), 3)
