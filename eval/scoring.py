"""What every scorer returns: a score, pass/fail against a threshold, and evidence a person can read."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.plan import CopyVariant

Status = Literal["pass", "fail", "n/a"]
MAX_EVIDENCE = 12


class ScoreResult(BaseModel):
    """One scorer's verdict on one case.

    Attributes:
        scorer: Scorer name (see :data:`eval.suite.SCORERS`).
        status: ``pass``/``fail`` against the threshold, ``n/a`` when nothing could be scored.
        score: The score (None when not applicable); ``unit`` says what it measures.
        unit: What ``score`` is, e.g. "share of checks passed".
        threshold: The threshold in words, e.g. "≥ 1.00".
        evidence: Readable lines explaining the verdict, failures first.
        details: Numbers behind the score, for the JSON results and plots.
    """

    scorer: str
    status: Status
    score: float | None
    unit: str
    threshold: str
    evidence: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when the scorer failed."""
        return self.status == "fail"


def not_applicable(scorer: str, unit: str, why: str) -> ScoreResult:
    """Return an ``n/a`` result saying why nothing was scored."""
    return ScoreResult(scorer=scorer, status="n/a", score=None, unit=unit, threshold="-", evidence=[why])


def checks_result(scorer: str, checks: list[tuple[str, bool]], min_score: float,
                  details: dict[str, Any] | None = None) -> ScoreResult:
    """Score a list of named checks as the share passed; evidence lists the failed checks first.

    Args:
        scorer: Scorer name.
        checks: ``(description, passed)`` per check.
        min_score: Least share that passes.
        details: Extra numbers for the results file.
    """
    if not checks:
        return not_applicable(scorer, "share of checks passed", "nothing to check")
    failed = [name for name, ok in checks if not ok]
    score = 1.0 - len(failed) / len(checks)
    evidence = [f"{len(checks) - len(failed)}/{len(checks)} checks passed"]
    evidence += [f"FAILED: {name}" for name in failed[:MAX_EVIDENCE]]
    if len(failed) > MAX_EVIDENCE:
        evidence.append(f"… and {len(failed) - MAX_EVIDENCE} more failed checks")
    return ScoreResult(
        scorer=scorer, status="pass" if score >= min_score else "fail", score=round(score, 4),
        unit="share of checks passed", threshold=f"≥ {min_score:.2f}", evidence=evidence,
        details={"checks": len(checks), "failed": failed, **(details or {})},
    )


def message_text(variant: CopyVariant, with_disclaimer: bool = False) -> str:
    """Return the words of a message: headline, body and cta (and the disclaimer when asked)."""
    parts = [variant.headline, variant.body, variant.cta]
    if with_disclaimer and variant.disclaimer:
        parts.append(variant.disclaimer)
    return "\n".join(parts)


def variant_label(variant: CopyVariant) -> str:
    """Return a short label, e.g. "V3 (S1, sms, Alien)"."""
    return f"{variant.variant_id} ({variant.segment_id}, {variant.channel}, {variant.product_title})"
