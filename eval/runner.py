"""Running a suite: plan every brief with one configuration, save the plans, then score them.

Each case is planned on its brief's shop (``shop:``; none: ``settings.default_shop``), with that shop's tools,
and scored against that shop's catalog (grounding), popularity baseline and effect tool (value), each built
once per shop. Planning comes first and scoring second, because the personalisation scorer compares each
plan's copy with the segments of the other plans. An invalid brief (including an unknown shop, an audience
filter outside the shop's vocabulary, or an offer on products or categories the shop does not sell) is a
scored refusal; an exception inside the plan loop is a scored crash that names the exception and where it
was raised. Neither stops the run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent.brief import Brief, BriefError, check_against_shop, parse_brief
from agent.loop import Planner, PlannerTools, SegmentEffect, ToolSource
from agent.plan import CampaignPlan
from agent.settings import Settings
from eval.backends import build_copy_tool, prompt_fingerprint
from eval.checks import Outcome, score_constraints, score_cost, score_outcome, score_schema
from eval.config import EvalConfig
from eval.copy_effect import compare_with_template, rewrite_counts
from eval.groundedness import Catalog, score_grounding
from eval.intent import score_intent, strategy_counts
from eval.results import CaseResult, RunResult, check_gates, summarise
from eval.scoring import ScoreResult, not_applicable
from eval.similarity import Embed, score_diversity, score_personalisation, segment_text
from eval.suite import SCORERS, EvalCase, Suite
from eval.value import PopularityBaseline, score_value
from tools.copywriting import CopyTool
from tools.embedding import encode
from tools.shop import ShopDataError

_REPO = Path(__file__).resolve().parents[1]
OnCase = Callable[[int, int, EvalCase, str], None]


@dataclass
class CaseRun:
    """What planning one case produced, before scoring."""

    case: EvalCase
    outcome: Outcome
    message: str = ""
    plan: CampaignPlan | None = None
    plan_json: str | None = None
    plan_file: str | None = None


def crash_message(exc: BaseException) -> str:
    """Describe an exception in one line with the innermost frame of this project's code.

    Example: ``"ValidationError: … (at tools/copywriting/copywriter.py:158 in fallback)"``.
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve().is_relative_to(_REPO) and "site-packages" not in f.filename]
    where = ""
    if frames:
        frame = frames[-1]
        where = f" (at {Path(frame.filename).resolve().relative_to(_REPO)}:{frame.lineno} in {frame.name})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}{where}"


class CachedEmbedder:
    """Embeds texts with the packaged MiniLM, remembering every text it has embedded.

    Args:
        settings: Settings (select the embedding model).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised row per text."""
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            self._cache.update(zip(new, encode(new, self.settings), strict=True))
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


@dataclass(frozen=True)
class ShopScoring:
    """What the scorers need of one shop.

    Attributes:
        catalog: The shop's catalog, for grounding.
        baseline: The shop's popularity baseline, for the value scorer.
        effect: The shop's effect tool (click model, expected incremental revenue, or observed category purchase
            rates), for the value scorer.
    """

    catalog: Catalog
    baseline: PopularityBaseline
    effect: SegmentEffect

    @classmethod
    def of(cls, tools: PlannerTools) -> ShopScoring:
        """Build the scorers' data from a shop's tools."""
        shop = tools.shop
        return cls(catalog=Catalog(shop), baseline=PopularityBaseline(shop.interactions, shop.products),
                   effect=tools.effect)


class WithCopy:
    """A :class:`agent.loop.ToolSource` giving another source's tools with one configuration's copy tool.

    Args:
        source: The tools of every shop (a Toolbox, or one shop's PlannerTools).
        copy: The copy tool of the configuration under evaluation.
    """

    def __init__(self, source: ToolSource, copy: CopyTool) -> None:
        self.source, self.copy = source, copy
        self._tools: dict[str, PlannerTools] = {}

    def for_shop(self, name: str | None) -> PlannerTools:
        """Return the tools of shop ``name`` (None: the source's default) with this configuration's copy tool."""
        tools = self.source.for_shop(name)
        key = tools.shop.name
        if key not in self._tools or self._tools[key].shop is not tools.shop:
            self._tools[key] = replace(tools, copy=self.copy)
        return self._tools[key]

    def ready(self, name: str) -> bool:
        """Tell whether the source has the tools of shop ``name`` loaded."""
        return self.source.ready(name)


@dataclass
class Harness:
    """Everything a suite run needs: the tools of every shop (copy replaced per configuration) and the scorers' data.

    Attributes:
        tools: The plan loop's tools: a :class:`agent.assemble.Toolbox` (each case plans on its brief's shop) or
            one shop's :class:`agent.loop.PlannerTools`; ``copy`` is replaced by each configuration's.
        settings: Settings (LLM server address and timeout, embedding model, default shop).
        embed: Text embedder for the personalisation and diversity scorers.
    """

    tools: ToolSource
    settings: Settings
    embed: Embed
    _scoring: dict[str, ShopScoring] = field(default_factory=dict, repr=False)

    @classmethod
    def from_tools(cls, tools: ToolSource, settings: Settings) -> Harness:
        """Build the harness around a source of tools (shops are loaded when a case first needs them)."""
        return cls(tools=tools, settings=settings, embed=CachedEmbedder(settings))

    def scoring(self, shop: str) -> ShopScoring:
        """Return the scorers' data of ``shop`` (its catalog, popularity baseline and effect tool), built once."""
        if shop not in self._scoring:
            self._scoring[shop] = ShopScoring.of(self.tools.for_shop(shop))
        return self._scoring[shop]

    def shop_of(self, brief: Brief, source: str = "brief") -> PlannerTools:
        """Return the tools of the brief's shop (none named: the default shop, or the only shop of one PlannerTools).

        Raises:
            BriefError: the shop is unknown or its data is missing (one line naming ``source`` and field 'shop').
        """
        try:
            return self.tools.for_shop(brief.shop)
        except ShopDataError as exc:
            where = "field 'shop'" if brief.shop else "setting CAMPAIGN_DEFAULT_SHOP"
            raise BriefError(f"{source}: {where}: {exc}") from None

    def run(self, suite: Suite, config: EvalConfig, suite_file: str = "", plans_dir: Path | None = None,
            on_case: OnCase | None = None) -> RunResult:
        """Plan and score every case of ``suite`` with ``config``.

        Args:
            suite: The suite.
            config: The configuration under evaluation.
            suite_file: Path of the suite, for the results.
            plans_dir: Folder to write each plan's JSON to (None: plans are not written).
            on_case: Progress callback ``(index, total, case, status line)``.
        """
        started_at, started = datetime.now(UTC), time.perf_counter()
        copy = build_copy_tool(config, self.settings)
        planner = Planner(WithCopy(self.tools, copy), concurrency=config.concurrency, seed=config.seed)
        runs = []
        for i, case in enumerate(suite.cases):
            run = self.plan_case(case, planner, config, suite.banned_for(case))
            if run.plan_json is not None and plans_dir is not None:
                plans_dir.mkdir(parents=True, exist_ok=True)
                path = plans_dir / f"{case.id}.json"
                path.write_text(run.plan_json, encoding="utf-8")
                run.plan_file = str(path)
            runs.append(run)
            if on_case:
                took = f" in {run.plan.totals.wall_time_s:.1f} s" if run.plan and run.plan.totals else ""
                on_case(i + 1, len(suite.cases), case, f"{run.outcome}{took}" + (f": {run.message}"
                                                                              if run.message else ""))
        texts = {r.case.id: [segment_text(s) for s in r.plan.segments] for r in runs if r.plan}
        cases = []
        for run in runs:
            reference = [t for cid, seg_texts in texts.items() if cid != run.case.id for t in seg_texts]
            cases.append(self.score_case(run, suite, reference, copy))
        summary = summarise(cases, seed=config.seed)
        return RunResult(
            suite=suite.name, suite_file=suite_file, config=config, label=config.label, is_model=config.is_model,
            model_name=copy.model.name, prompt_fingerprint=prompt_fingerprint(config), started_at=started_at,
            duration_s=round(time.perf_counter() - started, 3), cases=cases, summary=summary,
            gates=check_gates(suite.gates, summary),
        )

    def plan_case(self, case: EvalCase, planner: Planner, config: EvalConfig, banned: list[str] | None = None
                  ) -> CaseRun:
        """Validate the case's brief against its shop and run the plan loop; refusals and crashes are outcomes.

        The brief is checked as ``campaign plan`` checks it: its fields, its shop, its audience filter against the
        shop's vocabulary and its offer against the shop's catalog. ``banned`` (the suite's and the case's banned
        phrases, which the constraints scorer checks) joins the brief's own ``banned_phrases``, so the agent is
        told every phrase it is scored against, as a marketer's brief would tell it.
        """
        try:
            fields = config.brief_overrides.apply(case.brief)
            own = (fields.get("banned_phrases") if isinstance(fields, dict) else None) or []
            if banned and isinstance(fields, dict) and isinstance(own, list):  # else refused by parse_brief
                fields = {**fields, "banned_phrases": list(dict.fromkeys([*own, *banned]))}
            brief = parse_brief(fields, source=case.id)
            tools = self.shop_of(brief, case.id)
            brief = check_against_shop(brief.model_copy(update={"shop": tools.shop.name}),
                                       tools.profiles.store.vocabulary(), case.id, products=tools.shop.products)
        except BriefError as exc:
            return CaseRun(case, "refused", str(exc))
        try:
            plan = planner.run(brief)
        except Exception as exc:  # a crash of the agent is a finding to score, not a reason to stop the suite
            return CaseRun(case, "crashed", crash_message(exc))
        return CaseRun(case, "empty" if plan.status == "empty" else "plan", plan=plan,
                       plan_json=plan.model_dump_json(indent=2))

    def score_case(self, run: CaseRun, suite: Suite, reference: list[str], copy: CopyTool | None = None
                   ) -> CaseResult:
        """Score one planned case with every scorer, and compare its LLM copy with the template's.

        Args:
            run: The planned case.
            suite: Its suite (thresholds, banned phrases).
            reference: Other cases' segment texts (personalisation).
            copy: The configuration's copy tool, whose template the LLM copy is compared with (None: the shop
                tools').
        """
        case, thresholds = run.case, suite.thresholds_for(run.case)
        warnings = [w.message for w in run.plan.warnings] if run.plan else []
        scores: list[ScoreResult] = [score_outcome(case.expect, run.outcome, run.message, warnings)]
        plan = None
        if run.plan_json is not None:
            schema, plan = score_schema(run.plan_json)
            scores.append(schema)
        if plan is not None:
            shop = self.scoring(plan.shop)
            scores += [
                score_constraints(plan, suite.banned_for(case), thresholds.constraints),
                score_grounding(plan, shop.catalog, thresholds.grounding),
                score_intent(plan, shop.catalog, thresholds.intent),
                score_personalisation(plan, self.embed, reference, thresholds.personalisation),
                score_value(plan, shop.effect, shop.baseline, thresholds.value),
                score_diversity(plan, self.embed, thresholds.diversity),
                score_cost(plan, thresholds.cost),
            ]
        done = {s.scorer for s in scores}
        why = f"no plan to score ({run.outcome})"
        scores += [not_applicable(name, "", why) for name in SCORERS if name not in done]
        totals = plan.totals if plan else None
        compared = None
        if plan is not None:
            tools = self.tools.for_shop(plan.shop)
            compared = compare_with_template(plan, tools, copy or tools.copy)
        return CaseResult(
            case_id=case.id, description=case.description, tags=case.tags, expect=case.expect,
            outcome=run.outcome, message=run.message, warnings=warnings,
            plan_time_s=totals.wall_time_s if totals else None, llm_calls=totals.llm_calls if totals else 0,
            tokens=totals.prompt_tokens + totals.completion_tokens if totals else 0, plan_file=run.plan_file,
            messages=[{"variant": v.variant_id, "segment": v.segment_id, "channel": v.channel,
                       "product": v.product_title, "source": v.source, "headline": v.headline, "body": v.body,
                       "cta": v.cta, "disclaimer": v.disclaimer} for v in (plan.active_variants() if plan else [])],
            copy_effect=compared, rewrites=rewrite_counts(plan) if plan else None,
            strategy=strategy_counts(plan) if plan else None,
            scores=sorted(scores, key=lambda s: SCORERS.index(s.scorer)),
        )
