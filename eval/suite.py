"""Eval suites: the briefs to plan, what outcome each should have, and the thresholds plans are held to.

A suite is a YAML file::

    name: smoke
    config: ../configs/scripted-template.yaml   # default configuration (relative to this file)
    banned_phrases: [guaranteed, act now]       # no message may contain these (case-insensitive)
    thresholds: {grounding: {min_score: 1.0}}   # per-plan pass/fail of each scorer (defaults below)
    gates: {all: 0.5, schema: 1.0}              # least share of cases passing; a miss exits non-zero
    cases:
      - id: scifi-winback
        expect: plan                            # plan | empty | refusal | refusal_or_warning
        brief: {name: ..., goal: ..., ...}      # a brief exactly as `campaign plan` reads it
        banned_phrases: [...]                   # more, for this case only
        thresholds: {cost: {max_llm_calls: 40}} # overrides, for this case only

Briefs stay raw mappings here: they are validated when the case runs, so an invalid brief is a scored
refusal rather than an unreadable suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.brief import one_line as brief_one_line
from agent.brief import read_yaml as read_yaml_file
from agent.brief import validate_mapping

SCORERS: tuple[str, ...] = (
    "outcome", "schema", "constraints", "grounding", "intent", "personalisation", "value", "diversity", "cost",
)
Expectation = Literal["plan", "empty", "refusal", "refusal_or_warning"]
_M = TypeVar("_M", bound=BaseModel)


class SuiteError(ValueError):
    """A suite or config file cannot be read or is invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScoreThreshold(_Strict):
    """Least score of a share-of-checks scorer (constraints, grounding)."""

    min_score: float = Field(1.0, ge=0.0, le=1.0)


class LiftThreshold(_Strict):
    """Least lift over the scorer's baseline (personalisation: cosine; value: relative)."""

    min_lift: float = 0.0


class DiversityThreshold(_Strict):
    """Least text diversity (1 − mean pairwise cosine) and product coverage across segments."""

    min_text_diversity: float = Field(0.05, ge=0.0, le=2.0)
    min_product_coverage: float = Field(0.5, ge=0.0, le=1.0)


class CostThreshold(_Strict):
    """Upper bounds of what producing one plan may cost; None means no bound."""

    max_wall_time_s: float | None = Field(None, gt=0)
    max_llm_calls: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0)


class Thresholds(_Strict):
    """The per-plan thresholds of every scorer that has one."""

    constraints: ScoreThreshold = Field(default_factory=ScoreThreshold)
    grounding: ScoreThreshold = Field(default_factory=ScoreThreshold)
    intent: ScoreThreshold = Field(default_factory=ScoreThreshold)
    personalisation: LiftThreshold = Field(default_factory=LiftThreshold)
    value: LiftThreshold = Field(default_factory=LiftThreshold)
    diversity: DiversityThreshold = Field(default_factory=DiversityThreshold)
    cost: CostThreshold = Field(default_factory=CostThreshold)

    def merged(self, overrides: dict[str, Any]) -> Thresholds:
        """Return these thresholds with a case's partial overrides applied (scorer by scorer)."""
        data = self.model_dump()
        for scorer, values in overrides.items():
            data[scorer] = {**data.get(scorer, {}), **(values or {})}
        return Thresholds.model_validate(data)


class EvalCase(_Strict):
    """One brief of a suite and what should come of it."""

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    expect: Expectation = "plan"
    brief: dict[str, Any]
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    banned_phrases: list[str] = Field(default_factory=list)
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _known_scorers(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = sorted(set(value) - set(Thresholds.model_fields))
        if unknown:
            raise ValueError(f"no thresholds for {unknown}; valid: {', '.join(Thresholds.model_fields)}")
        return value


class Suite(_Strict):
    """A named set of cases with shared banned phrases, thresholds and gates."""

    name: str = Field(min_length=1)
    description: str = ""
    config: Path | None = Field(None, description="Default configuration file, relative to the suite file.")
    banned_phrases: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    gates: dict[str, float] = Field(default_factory=dict, description="Least pass share: 'all' or a scorer.")
    cases: list[EvalCase] = Field(min_length=1)

    @field_validator("gates")
    @classmethod
    def _known_gates(cls, value: dict[str, float]) -> dict[str, float]:
        for key, share in value.items():
            if key != "all" and key not in SCORERS:
                raise ValueError(f"unknown gate {key!r}; valid: all, {', '.join(SCORERS)}")
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"gate {key!r} must be a share between 0 and 1, got {share}")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} appears twice")
            seen.add(case.id)
        return self

    def thresholds_for(self, case: EvalCase) -> Thresholds:
        """Return the thresholds of ``case``: the suite's, with the case's overrides."""
        return self.thresholds.merged(case.thresholds)

    def banned_for(self, case: EvalCase) -> list[str]:
        """Return the suite's and the case's banned phrases."""
        return list(dict.fromkeys([*self.banned_phrases, *case.banned_phrases]))

    def select(self, ids: list[str]) -> Suite:
        """Return the suite restricted to the cases ``ids`` (in suite order).

        Raises:
            SuiteError: naming the ids the suite does not have.
        """
        missing = sorted(set(ids) - {c.id for c in self.cases})
        if missing:
            raise SuiteError(f"suite {self.name!r} has no case {', '.join(missing)}")
        return self.model_copy(update={"cases": [c for c in self.cases if c.id in ids]})


def one_line(error: ValidationError) -> str:
    """Summarise a validation error as one line naming the first invalid field (as briefs do)."""
    return brief_one_line(error, whole="file")


def read_model(path: Path, model: type[_M], holding: str) -> _M:
    """Read a YAML mapping from ``path`` and validate it as ``model`` (``holding``: e.g. "with name and cases").

    Raises:
        SuiteError: one line naming the file and what is wrong (unreadable, not YAML, not a mapping, or the
            first invalid field).
    """
    return validate_mapping(read_yaml_file(path, SuiteError), model, str(path), SuiteError, holding, whole="file")


def load_suite(path: Path) -> Suite:
    """Read and validate a suite file; a relative ``config`` is resolved against the suite's folder.

    Raises:
        SuiteError: one line naming the file and the first invalid field.
    """
    suite = read_model(path, Suite, "with name and cases")
    if suite.config is not None and not suite.config.is_absolute():
        suite = suite.model_copy(update={"config": (path.parent / suite.config).resolve()})
    return suite
