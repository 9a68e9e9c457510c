"""Comparing two configurations on the same suite: paired per-case differences with bootstrap intervals."""

from __future__ import annotations

from pydantic import BaseModel

from eval.results import CaseResult, RunResult
from eval.stats import Interval, paired_difference
from eval.suite import SCORERS


class Difference(BaseModel):
    """B − A of one measure over the cases both configurations could be scored on.

    Attributes:
        measure: What is compared, e.g. "grounding score" or "plan time (s)".
        mean_a: Mean under configuration A.
        mean_b: Mean under configuration B.
        difference: Mean of B − A with a paired bootstrap interval (None when no case pairs).
        verdict: "B higher", "B lower" or "no clear difference" (interval contains 0).
    """

    measure: str
    mean_a: float | None
    mean_b: float | None
    difference: Interval | None
    verdict: str


class Comparison(BaseModel):
    """Configuration B against configuration A on one suite."""

    suite: str
    a: str
    b: str
    a_is_model: bool
    b_is_model: bool
    differences: list[Difference]


def _difference(measure: str, a: list[float], b: list[float], seed: int) -> Difference:
    interval = paired_difference(a, b, seed=seed)
    if interval is None:
        verdict = "no case to compare"
    elif interval.excludes_zero():
        verdict = "B higher" if interval.mean > 0 else "B lower"
    else:
        verdict = "no clear difference"
    mean = (lambda xs: sum(xs) / len(xs) if xs else None)  # noqa: E731
    return Difference(measure=measure, mean_a=mean(a), mean_b=mean(b), difference=interval, verdict=verdict)


def _pairs(a: list[CaseResult], b: list[CaseResult]) -> list[tuple[CaseResult, CaseResult]]:
    by_id = {c.case_id: c for c in b}
    return [(x, by_id[x.case_id]) for x in a if x.case_id in by_id]


def compare_runs(a: RunResult, b: RunResult, seed: int = 0) -> Comparison:
    """Compare run ``b`` with run ``a`` case by case.

    Per scorer: the score and the pass indicator (1/0) over the cases where both runs are applicable.
    Then the share of cases passing every scorer, plan time, LLM calls and tokens over the cases where
    both runs produced a plan. Every interval is a paired bootstrap over cases.

    Raises:
        ValueError: when the runs are of different suites.
    """
    if a.suite != b.suite:
        raise ValueError(f"cannot compare runs of different suites: {a.suite!r} and {b.suite!r}")
    pairs = _pairs(a.cases, b.cases)
    rows = []
    for name in SCORERS:
        both = [(x.score(name), y.score(name)) for x, y in pairs
                if x.score(name).status != "n/a" and y.score(name).status != "n/a"]
        scored = [(s.score, t.score) for s, t in both if s.score is not None and t.score is not None]
        if name != "outcome":
            rows.append(_difference(f"{name} score", [s for s, _ in scored], [t for _, t in scored], seed))
        rows.append(_difference(f"{name} pass", [float(s.status == "pass") for s, _ in both],
                                [float(t.status == "pass") for _, t in both], seed))
    rows.append(_difference("passes every scorer", [float(x.passed) for x, _ in pairs],
                            [float(y.passed) for _, y in pairs], seed))
    planned = [(x, y) for x, y in pairs if x.plan_time_s is not None and y.plan_time_s is not None]
    for measure, get in (("plan time (s)", lambda c: c.plan_time_s), ("LLM calls", lambda c: c.llm_calls),
                         ("tokens", lambda c: c.tokens)):
        rows.append(_difference(measure, [float(get(x)) for x, _ in planned], [float(get(y)) for _, y in planned],
                                seed))
    return Comparison(suite=a.suite, a=a.label, b=b.label, a_is_model=a.is_model, b_is_model=b.is_model,
                      differences=rows)
