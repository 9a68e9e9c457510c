"""Eval results: per-case verdicts, per-scorer aggregates over a suite, and the suite's gates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from eval.checks import Outcome
from eval.config import EvalConfig
from eval.copy_effect import CopyEffectComparison, RewriteCounts
from eval.intent import StrategyCounts
from eval.scoring import ScoreResult
from eval.stats import Interval, bootstrap_mean
from eval.suite import SCORERS, Expectation


class CaseResult(BaseModel):
    """What one brief produced under one configuration, and every scorer's verdict."""

    case_id: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    expect: Expectation
    outcome: Outcome
    message: str = ""
    warnings: list[str] = Field(default_factory=list)
    plan_time_s: float | None = Field(None, description="Wall time of the plan loop (None: no plan).")
    llm_calls: int = 0
    tokens: int = 0
    plan_file: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list, description="The plan's active copy.")
    strategy: StrategyCounts | None = Field(None, description="What the strategy step did; None: no plan.")
    copy_effect: CopyEffectComparison | None = Field(
        None, description="The plan's LLM headlines against the fact template's for the same cells (predicted "
        "headline index, derived); None: no plan.")
    rewrites: RewriteCounts | None = Field(None, description="Rewrites attempted and kept; None: no plan.")
    scores: list[ScoreResult]

    @property
    def passed(self) -> bool:
        """True when no scorer failed."""
        return not any(s.failed for s in self.scores)

    def score(self, scorer: str) -> ScoreResult:
        """Return the verdict of ``scorer``."""
        return next(s for s in self.scores if s.scorer == scorer)


class ScorerSummary(BaseModel):
    """One scorer over a suite: how many cases it applied to, passed, and the mean score."""

    scorer: str
    unit: str
    applicable: int
    passed: int
    pass_rate: float | None
    mean: Interval | None
    median: float | None


class GateResult(BaseModel):
    """One suite gate: the least share of cases that must pass, and the share that did."""

    name: str
    required: float
    actual: float | None
    passed: bool
    note: str = ""


class RunSummary(BaseModel):
    """A suite run at a glance."""

    cases: int
    passed_all: int
    pass_all_rate: float
    outcomes: dict[str, int]
    plans: int
    median_plan_time_s: float | None
    total_plan_time_s: float
    llm_calls: int
    tokens: int
    copy_from_llm: int
    copy_from_template: int
    copy_from_llm_share: float | None = Field(
        None, description="Share of the plans' messages the LLM wrote (the rest: the fact template); None: none.")
    llm_vs_template_effect: float | None = Field(
        None, description="Mean predicted headline index of the plans' active LLM messages over the fact template's "
        "for the same cells (copy-effect model output; rated headlines only: English); None: no such cell.")
    llm_vs_template_cells: int = Field(0, description="Cells behind llm_vs_template_effect.")
    rewrites_attempted: int = 0
    rewrites_accepted: int = 0
    rewrite_success_rate: float | None = Field(
        None, description="Rewrites kept (predicted at least 1% better) over rewrites attempted; None: none tried.")
    strategy_rounds: float | None = Field(
        None, description="Mean over the plans of the LLM strategy rounds run (a plan's most of any segment); None: "
        "no plan.")
    strategy_proposals: int = Field(0, description="LLM strategy proposals scored over the plans.")
    strategy_llm_win_share: float | None = Field(
        None, description="Share of the plans' segments following an LLM proposal (the rest: the rule baseline).")
    strategy_winner_vs_rules: float | None = Field(
        None, description="Mean over segments of the winning strategy's predicted response per send over the rule "
        "baseline's (derived from the effect models).")
    scorers: list[ScorerSummary]


class RunResult(BaseModel):
    """One configuration run on one suite."""

    suite: str
    suite_file: str
    config: EvalConfig
    label: str
    is_model: bool
    model_name: str
    prompt_fingerprint: str
    started_at: datetime
    duration_s: float
    cases: list[CaseResult]
    summary: RunSummary
    gates: list[GateResult]

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return all(g.passed for g in self.gates)


def summarise(cases: list[CaseResult], seed: int = 0) -> RunSummary:
    """Aggregate case results per scorer, with bootstrap intervals of the mean scores."""
    scorers = []
    for name in SCORERS:
        results = [c.score(name) for c in cases if any(s.scorer == name for s in c.scores)]
        applicable = [r for r in results if r.status != "n/a"]
        values = [r.score for r in applicable if r.score is not None]
        passed = sum(r.status == "pass" for r in applicable)
        scorers.append(ScorerSummary(
            scorer=name, unit=next((r.unit for r in results), ""), applicable=len(applicable), passed=passed,
            pass_rate=passed / len(applicable) if applicable else None, mean=bootstrap_mean(values, seed=seed),
            median=float(np.median(values)) if values else None,
        ))
    times = [c.plan_time_s for c in cases if c.plan_time_s is not None]
    cost = [c.score("cost").details for c in cases if c.score("cost").status != "n/a"]
    outcomes: dict[str, int] = {}
    for c in cases:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    passed_all = sum(c.passed for c in cases)
    planned = [c.strategy for c in cases if c.strategy is not None and c.strategy.segments]
    segments = sum(s.segments for s in planned)
    ratios = [s.winner_vs_rules for s in planned if s.winner_vs_rules is not None]
    from_llm = sum(d.get("copy_from_llm", 0) for d in cost)
    from_template = sum(d.get("copy_from_template", 0) for d in cost)
    compared = [c.copy_effect for c in cases if c.copy_effect is not None and c.copy_effect.cells]
    template_sum = sum(c.template_index_sum for c in compared)
    attempted = sum(c.rewrites.attempted for c in cases if c.rewrites)
    accepted = sum(c.rewrites.accepted for c in cases if c.rewrites)
    return RunSummary(
        cases=len(cases), passed_all=passed_all, pass_all_rate=passed_all / len(cases) if cases else 0.0,
        outcomes=outcomes, plans=len(times), median_plan_time_s=float(np.median(times)) if times else None,
        total_plan_time_s=round(float(sum(times)), 3), llm_calls=sum(c.llm_calls for c in cases),
        tokens=sum(c.tokens for c in cases), copy_from_llm=from_llm, copy_from_template=from_template,
        copy_from_llm_share=from_llm / (from_llm + from_template) if from_llm + from_template else None,
        llm_vs_template_effect=sum(c.llm_index_sum for c in compared) / template_sum if template_sum else None,
        llm_vs_template_cells=sum(c.cells for c in compared), rewrites_attempted=attempted,
        rewrites_accepted=accepted, rewrite_success_rate=accepted / attempted if attempted else None,
        strategy_rounds=round(float(np.mean([s.rounds for s in planned])), 3) if planned else None,
        strategy_proposals=sum(s.proposals for s in planned),
        strategy_llm_win_share=round(sum(s.llm_wins for s in planned) / segments, 4) if segments else None,
        strategy_winner_vs_rules=round(float(np.mean(ratios)), 4) if ratios else None,
        scorers=scorers,
    )


def check_gates(gates: dict[str, float], summary: RunSummary) -> list[GateResult]:
    """Compare the suite's gates with the run: ``all`` is the share passing every scorer."""
    out = []
    for name, required in gates.items():
        if name == "all":
            out.append(GateResult(name=name, required=required, actual=summary.pass_all_rate,
                                  passed=summary.pass_all_rate >= required))
            continue
        scorer = next(s for s in summary.scorers if s.scorer == name)
        if scorer.pass_rate is None:
            out.append(GateResult(name=name, required=required, actual=None, passed=True,
                                  note="no case this scorer applies to"))
        else:
            out.append(GateResult(name=name, required=required, actual=scorer.pass_rate,
                                  passed=scorer.pass_rate >= required))
    return out
