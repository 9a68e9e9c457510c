"""LLM copy against the fact template on the copy-effect model, and rewrite success, in each run's summary."""

from __future__ import annotations

import pytest

from eval.copy_effect import CopyEffectComparison, RewriteCounts
from eval.results import CaseResult, summarise
from eval.scoring import not_applicable
from eval.suite import SCORERS


def _case(case_id: str, compared: CopyEffectComparison | None, rewrites: RewriteCounts | None) -> CaseResult:
    return CaseResult(case_id=case_id, expect="plan", outcome="plan", copy_effect=compared, rewrites=rewrites,
                      scores=[not_applicable(name, "", "not scored here") for name in SCORERS])


def test_summary_pools_the_cells_of_every_plan_and_the_rewrites():
    cases = [_case("a", CopyEffectComparison(cells=2, llm_index_sum=2.4, template_index_sum=2.0),
                   RewriteCounts(attempted=3, accepted=1)),
             _case("b", CopyEffectComparison(cells=1, llm_index_sum=0.9, template_index_sum=1.0),
                   RewriteCounts(attempted=1, accepted=1)),
             _case("c", CopyEffectComparison(cells=0, llm_index_sum=0.0, template_index_sum=0.0), None),
             _case("refused", None, None)]
    summary = summarise(cases)
    assert summary.llm_vs_template_effect == pytest.approx(3.3 / 3.0) and summary.llm_vs_template_cells == 3
    assert (summary.rewrites_attempted, summary.rewrites_accepted) == (4, 2) and summary.rewrite_success_rate == 0.5
    empty = summarise([_case("refused", None, None)])
    assert empty.llm_vs_template_effect is None and empty.rewrite_success_rate is None
    assert cases[0].copy_effect.ratio == pytest.approx(1.2) and cases[2].copy_effect.ratio is None
