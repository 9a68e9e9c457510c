"""Plan state: the campaign plan the loop builds, revises and returns (JSON via pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field, field_validator

from agent.brief import Brief
from agent.trace import TraceStep
from tools.copywriting import Channel, Language
from tools.effect import Amount, EffectEstimate, SendValue, VariantEffect
from tools.outcomes import LaunchPower
from tools.recommend import ScoredProduct


class AudienceSummary(BaseModel):
    """What the audience step retrieved."""

    query: str
    filter_used: dict[str, Any]
    where: dict[str, Any] | None = None
    size: int
    message: str = ""


class StrategyProposal(BaseModel):
    """One proposed strategy of a segment (by the LLM, or the rule baseline) and what the models predict for it.

    ``predicted`` is derived: the mean over the featured products of the effect tool's segment × product estimate
    times the copy-effect (headline) model's index of the angle written as a headline about the product.
    """

    label: str = Field(description="'R': the rule baseline (best predicted products); 'A', 'B', …: LLM proposals.")
    round: int = Field(description="Strategy round that proposed it (0: the rule baseline).")
    source: Literal["llm", "rules"]
    angle: str = Field(description="The theme of the segment's messages (one of the grounded angle options).")
    product_ids: list[str]
    product_titles: list[str]
    offer: str | None = Field(None, description="The offer code to feature; None: no offer.")
    predicted: float = Field(description="Mean predicted response per send over the featured products (derived).")
    product_predictions: list[float] = Field(default_factory=list, description="Each featured product's prediction.")
    headline_index: float = Field(1.0, description="Mean headline index of the angle over the featured products.")
    in_intent: int = Field(0, description="Featured products belonging to the brief's named intent.")


class SegmentStrategy(BaseModel):
    """The strategy step of one segment: its options, the proposals of every round, and why one won."""

    intent: list[str] = Field(default_factory=list, description="Genres, categories or themes the brief names.")
    intent_note: str | None = Field(None, description="Why featured products are outside the intent, if any are.")
    rounds: int = Field(0, description="LLM rounds run (0: the rules chose, no LLM proposal).")
    llm_calls: int = 0
    angles: list[str] = Field(default_factory=list, description="The angle options offered.")
    offers: list[str] = Field(default_factory=list, description="The offer options offered ('none' included).")
    options: list[str] = Field(default_factory=list, description="The product ids offered, best predicted first.")
    proposals: list[StrategyProposal] = Field(default_factory=list)
    winner: str = Field("R", description="Label of the proposal the plan follows.")
    reason: str = ""
    errors: list[str] = Field(default_factory=list, description="Why LLM proposals were invalid or missing.")

    def chosen(self) -> StrategyProposal | None:
        """Return the winning proposal."""
        return next((p for p in self.proposals if p.label == self.winner), None)


class Segment(BaseModel):
    """A group of similar customers from the audience, with its candidate products."""

    segment_id: str
    name: str
    description: str
    size: int
    customer_ids: list[str] = Field(default_factory=list, description="The members, in plans that keep them inline "
                                    "(earlier releases); empty when the plan's audience file holds them "
                                    "(agent.audience_file.segment_members reads either).")
    sample_ids: list[str] = Field(default_factory=list, exclude=True, description=(
        "Its members in the audience's planning sample (tools.portraits.planning_sample): what the plan's "
        "estimates of the segment read while it is planned. Emptied when the plan is done: a plan keeps counts, "
        "and its JSON never holds the sample."))
    top_genres: list[str]
    lifecycle_mix: dict[str, int]
    median_age: float | None = Field(None, description="Median age of the members; None when the shop records no ages.")
    products: list[ScoredProduct] = Field(default_factory=list)
    product_effects: list[EffectEstimate] = Field(default_factory=list)
    strategy: SegmentStrategy | None = Field(None, description="The strategy step: proposals, predictions, winner "
                                             "(plans before the LLM proposed strategies: None).")

    def planning_ids(self) -> list[str]:
        """Return the members the plan's estimates read: the planning sample, else every member kept inline."""
        return self.sample_ids or self.customer_ids

    def sampled_from(self) -> int | None:
        """Return the segment's size when its planning sample is smaller (estimates are scaled to it), else None."""
        return self.size if self.sample_ids and len(self.sample_ids) < self.size else None


class CopyVariant(BaseModel):
    """One message for one segment and channel, with its predicted effect."""

    variant_id: str
    segment_id: str
    channel: Channel
    language: Language
    product_id: str
    product_title: str
    product_price: float | None = Field(None, description="The product's current catalog price (None: no prices).")
    offer_code: str | None = Field(None, description="The offer the message may state, when one applies.")
    price_after_offer: float | None = Field(None, description="The price after that offer.")
    headline: str
    body: str
    cta: str
    disclaimer: str | None = None
    source: Literal["llm", "template"]
    llm_attempts: int = 0
    llm_errors: list[str] = Field(default_factory=list)
    effect: EffectEstimate = Field(description="Segment × product estimate (the click model).")
    predicted: VariantEffect | None = Field(
        None, description="Effect of this message: segment × product estimate × headline index (predict_effect)."
    )
    round_added: int = 0
    rewrite_of: str | None = Field(None, description="The variant this message rewrites (revision), if any.")
    active: bool = True

    def rate(self) -> tuple[float, float, float]:
        """Predicted response per send (point, low, high): the message's effect, else the product's."""
        e = self.predicted or self.effect
        return e.point, e.low, e.high

    @computed_field  # type: ignore[prop-decorator]
    @property
    def expected_value(self) -> SendValue | None:
        """:meth:`value`, in the plan's JSON for clients (the web page shows it)."""
        return self.value()

    def value(self) -> SendValue | None:
        """Expected orders and revenue of the segment with this message (the product's value × the headline index).

        None on a shop without a send value (ratings, or the observed category rate).
        """
        value, p = self.effect.value, self.predicted
        if value is None or p is None:
            return value
        return value.with_index(Amount(point=p.headline_index, low=p.headline_index_low, high=p.headline_index_high))


class Revision(BaseModel):
    """One decision of a revision round, with the predictions behind it."""

    round: int
    segment_id: str
    channel: Channel
    action: Literal["replace", "keep", "reject", "rewrite", "reject-rewrite"] = Field(description=(
        "replace/reject: a message about an unused product replaced the weakest variant, or was rejected; "
        "rewrite/reject-rewrite: a rewrite of a weak variant with its prediction as feedback was kept (it "
        "predicts better), or rejected; keep: nothing tried"))
    removed_variant: str | None = None
    added_variant: str | None = None
    reason: str


class Allocation(BaseModel):
    """Sends given to one variant in the launch test, and the outcome predicted for them."""

    segment_id: str
    channel: Channel
    variant_id: str
    sends: int
    expected_positive: float = Field(description="sends × predicted response per send (point): positives, or on a "
                                     "shop of orders the expected incremental revenue.")
    expected_low: float
    expected_high: float
    value: SendValue | None = Field(None, description="On a shop of orders: expected orders and revenue of these "
                                    "sends, with and without them (the variant's segment value, scaled to the sends).")


class CampaignValue(BaseModel):
    """What the launch is expected to bring in 30 days, beside the organic baseline of the same customers.

    Sums of the allocations' :class:`~tools.effect.SendValue`; the bounds of a sum are the sums of the bounds, so
    each interval is conservative (at least 90%).
    """

    sends: int
    currency: str
    organic_orders: Amount = Field(description="Orders of the promoted products the sent customers place anyway.")
    with_send_orders: Amount
    incremental_orders: Amount
    organic_revenue: Amount
    with_send_revenue: Amount
    incremental_revenue: Amount
    lift_source: str
    assumption: str

    @classmethod
    def total(cls, values: list[SendValue]) -> CampaignValue | None:
        """Return the sum of ``values`` (None when there are none)."""
        if not values:
            return None
        names = ("organic_orders", "with_send_orders", "incremental_orders", "organic_revenue", "with_send_revenue",
                 "incremental_revenue")
        sums = {n: sum((getattr(v, n) for v in values[1:]), getattr(values[0], n)) for n in names}
        first = values[0]
        return cls(sends=sum(v.customers for v in values), currency=first.currency, lift_source=first.lift_source,
                   assumption=first.assumption, **sums)


class LaunchDesign(BaseModel):
    """How to launch: holdout, sends per variant, and why."""

    send_budget: int
    reachable_customers: int
    holdout_customers: int
    holdout_ids: dict[str, list[str]] = Field(default_factory=dict, description="Holdout customers per segment, in "
                                              "plans that keep them inline (earlier releases); empty when the plan's "
                                              "audience file holds them.")
    holdout_fraction: float
    planned_sends: int
    allocations: list[Allocation]
    notes: list[str] = Field(default_factory=list)
    power: LaunchPower | None = Field(None, description="What the launch can measure: each variant's minimum "
                                      "detectable lift against its holdout, and the sizing for a target lift.")
    value: CampaignValue | None = Field(None, description="On a shop of orders: expected orders and revenue of "
                                        "the sends, beside the organic baseline (no send).")


class AudienceFileRef(BaseModel):
    """Where a plan's audience and send list are kept (a Parquet file outside the plan JSON), with its counts.

    The file has one row per treated customer × channel (``variant_id``: the variant sent, or null when the send
    budget leaves that customer unsent on that channel) and one row per holdout customer (``channel`` null,
    ``variant_id`` "holdout"); columns ``customer_id``, ``segment_id``, ``channel``, ``variant_id``.
    """

    path: str = Field(description="Where the file was written (absolute); read it with agent.audience_file.")
    sha256: str = Field(description="SHA-256 of the file's bytes, checked on reading.")
    rows: int
    customers: int = Field(description="Distinct customers in the file: the whole matching audience.")
    treated_customers: int
    holdout_customers: int
    sends: int = Field(description="Rows with a variant: the launch's planned sends.")
    sends_by_variant: dict[str, int] = Field(default_factory=dict)
    chosen_by: str = Field("", description="How each treated customer's variant was chosen among the cell's.")


WarningKind = Literal["empty_audience", "skipped_message", "unsent_variants", "legacy"]


class PlanWarning(BaseModel):
    """Something the marketer should know about the plan, as a sentence and as data.

    Attributes:
        kind: ``empty_audience`` (no customer matches the audience), ``skipped_message`` (no message about a
            product fits a channel, so that segment × channel × product has no copy), ``unsent_variants`` (the
            send budget leaves variants without sends), ``legacy`` (read from a plan stored before warnings
            had kinds: only the sentence is known).
        message: The sentence shown to people.
        segment_id: The segment concerned (``skipped_message``).
        channel: The channel concerned (``skipped_message``).
        product_id: The product concerned (``skipped_message``).
        variant_ids: The variants concerned (``unsent_variants``: those left without sends).
    """

    kind: WarningKind
    message: str
    segment_id: str | None = None
    channel: Channel | None = None
    product_id: str | None = None
    variant_ids: list[str] = Field(default_factory=list)


class RunTotals(BaseModel):
    """Cost of producing the plan."""

    wall_time_s: float
    llm_time_s: float = Field(description="Wall time of steps that called the LLM.")
    other_time_s: float
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    copy_from_llm: int
    copy_from_template: int


class CampaignPlan(BaseModel):
    """The result of the plan loop."""

    plan_id: str
    created_at: datetime
    brief: Brief
    shop: str = Field("movielens", description="The shop planned for (plans before shops were named: movielens).")
    currency: str | None = Field(None, description="ISO 4217 code of every price in the plan; None: no prices.")
    llm_model: str
    status: Literal["ok", "empty"] = "ok"
    audience: AudienceSummary
    segments: list[Segment] = Field(default_factory=list)
    variants: list[CopyVariant] = Field(default_factory=list)
    revisions: list[Revision] = Field(default_factory=list)
    launch: LaunchDesign | None = None
    audience_file: AudienceFileRef | None = Field(None, description="The audience and send list, kept outside "
                                                  "the plan JSON (None: plans keeping members inline).")
    warnings: list[PlanWarning] = Field(default_factory=list)
    effect_model_card: dict[str, Any] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list, description="What the predictions assume, in words (e.g. "
                                   "the uplift prior borrowed from another experiment).")
    totals: RunTotals | None = None
    trace: list[TraceStep] = Field(default_factory=list)

    @field_validator("warnings", mode="before")
    @classmethod
    def _legacy_warnings(cls, value: Any) -> Any:
        """Read a plan stored by an earlier release, whose warnings were plain sentences, as ``legacy`` warnings."""
        if isinstance(value, list):
            return [{"kind": "legacy", "message": w} if isinstance(w, str) else w for w in value]
        return value

    def variant(self, variant_id: str) -> CopyVariant:
        """Return the variant with ``variant_id``."""
        return next(v for v in self.variants if v.variant_id == variant_id)

    def active_variants(self) -> list[CopyVariant]:
        """Variants still in the plan after revision."""
        return [v for v in self.variants if v.active]
