"""The scale benchmark breaks a plan's wall time down by step."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.trace import TraceStep
from eval.bench_scale import _step_seconds


def _step(index: int, name: str, seconds: float) -> TraceStep:
    return TraceStep(index=index, step=name, tool="t", started_at=datetime(2026, 11, 30, tzinfo=UTC),
                     duration_s=seconds)


def test_step_seconds_keep_trace_order_and_add_up_a_repeated_step() -> None:
    trace = [_step(0, "retrieve audience", 1.26), _step(1, "form segments", 20.06),
             _step(2, "retrieve audience", 0.46)]
    assert _step_seconds(trace) == {"retrieve audience": 1.7, "form segments": 20.1}  # 1.72, rounded once
    assert list(_step_seconds(trace)) == ["retrieve audience", "form segments"]
