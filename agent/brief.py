"""The marketer's brief: what the campaign should do, for whom, where and with how many sends."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.audience import AudienceFilter
from tools.copywriting import CHANNEL_LIMITS, MIN_MESSAGE_ROOM, Channel, Language
from tools.shop import SHOP_NAME_PATTERN, Offer
from tools.untrusted_text import text_problem

_M = TypeVar("_M", bound=BaseModel)


class BriefError(ValueError):
    """A brief could not be read or is invalid; the message is one line naming the field."""


class Brief(BaseModel):
    """A campaign brief, as written in ``BRIEF.yaml``.

    Attributes:
        name: Short campaign name.
        shop: Which shop to plan for: ``retail``, ``movielens`` or a shop added with ``campaign data import``;
            None: the default shop (``CAMPAIGN_DEFAULT_SHOP``, ``retail`` unless set).
        offer: An offer the campaign may state (code, percent or amount off, validity, eligible products or
            categories), besides the shop's own offers. Copy never states any other.
        goal: What the campaign should achieve, in the marketer's words.
        audience: Who to reach, in the marketer's words (used as the semantic query).
        audience_filter: Optional structured constraints on the audience.
        channels: Channels to plan for (email, push, sms).
        send_budget: Total sends allowed across channels, holdout excluded.
        language: Language of the copy (en or zh).
        max_segments: Upper bound on segments formed from the audience.
        variants_per_channel: Copy variants per segment and channel (for the launch test).
        max_revisions: Upper bound on revision rounds against predicted effect.
        strategy_rounds: Rounds in which the LLM proposes each segment's strategy (angle, products, offer) with
            the predictions of its earlier proposals as feedback; 0: the rules choose (best predicted products).
        holdout_fraction: Share of the reachable audience kept as an untreated holdout.
        target_lift: The lift the launch test should be able to detect: absolute, in the response rate (0.02 =
            two percentage points more buyers or responders than the holdout), with 80% power at alpha 0.05. The
            launch sizes each segment's holdout and number of variants for it; None: each segment × channel's
            predicted lift. When the audience is too small, the plan says so and suggests fewer variants or a
            longer campaign.
        disclaimer: Text every message must carry, if any.
        banned_phrases: Phrases no message may use (checked case-insensitively).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    shop: str | None = Field(None, pattern=SHOP_NAME_PATTERN, description="Shop to plan for; None: the default.")
    offer: Offer | None = Field(None, description="An offer the copy may state (besides the shop's own).")
    goal: str = Field(min_length=3, max_length=1000)
    audience: str = Field(min_length=3, max_length=1000)
    audience_filter: AudienceFilter = Field(default_factory=AudienceFilter)
    channels: list[Channel] = Field(min_length=1)
    send_budget: int = Field(gt=0, le=100_000_000)
    language: Language = "en"
    max_segments: int = Field(3, ge=1, le=10)
    variants_per_channel: int = Field(2, ge=1, le=5)
    max_revisions: int = Field(2, ge=1, le=10)
    strategy_rounds: int = Field(2, ge=0, le=5, description="LLM strategy rounds per segment; 0: rules only.")
    holdout_fraction: float = Field(0.1, ge=0.0, le=0.5)
    target_lift: float | None = Field(None, gt=0.0, lt=1.0, description="Absolute lift of the response rate the "
                                      "launch test should detect (0.02: two percentage points); None: the "
                                      "predicted lift.")
    disclaimer: str | None = Field(None, max_length=300)
    banned_phrases: list[str] = Field(default_factory=list, description="Phrases no message may use.")

    @field_validator("name", "goal", "audience", "disclaimer", "banned_phrases")
    @classmethod
    def _safe_text(cls, value: str | list[str] | None) -> str | list[str] | None:
        """Refuse markup and text addressed to the assistant (pasted text reaches prompts, copy and the page)."""
        for text in value if isinstance(value, list) else [value]:
            problem = text_problem(text) if isinstance(text, str) else None
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value

    @model_validator(mode="after")
    def _disclaimer_fits(self) -> Brief:
        for channel in self.channels:
            room = CHANNEL_LIMITS[channel].total - len(self.disclaimer or "")
            if room < MIN_MESSAGE_ROOM:
                raise ValueError(
                    f"field 'disclaimer': {len(self.disclaimer or '')} characters leave {max(room, 0)} for the message "
                    f"in {channel} (limit {CHANNEL_LIMITS[channel].total} including the disclaimer; "
                    f"at least {MIN_MESSAGE_ROOM} needed)"
                )
        return self


def one_line(error: ValidationError, prefix: str = "", whole: str = "brief") -> str:
    """Summarise a validation error as one line naming the first invalid field.

    Args:
        error: The pydantic error.
        prefix: Field path the validated object sits under (e.g. ``"audience_filter"``).
        whole: Name used when the error concerns the whole object.
    """
    first = error.errors(include_url=False)[0]
    field = ".".join(str(p) for p in (prefix, *first["loc"]) if p != "") or whole
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        message = f"{message}, got {first['input']!r}"
    more = len(error.errors()) - 1
    if not first["loc"] and message.startswith("field '"):  # a check across fields names its field itself
        field, message = message[len("field '"):].split("': ", 1)
    return f"field '{field}': {message}" + (f" (and {more} more problem(s))" if more else "")


def validate_mapping(
    data: object, model: type[_M], source: str, error: type[Exception], holding: str = "of fields", whole: str = "brief"
) -> _M:
    """Validate parsed YAML/JSON ``data`` as ``model``, or raise ``error`` with one line naming ``source``.

    Args:
        data: The parsed document.
        model: The pydantic model it must satisfy.
        source: File or origin named first in the error.
        error: Exception class to raise.
        holding: What the mapping should hold, for the error ("of fields", "with name and cases").
        whole: How :func:`one_line` names a problem with the whole document.
    """
    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping {holding}, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{source}: {one_line(exc, whole=whole)}") from None


def parse_brief(data: object, source: str = "brief") -> Brief:
    """Validate brief data (already parsed from YAML/JSON).

    Raises:
        BriefError: one line naming the first invalid field.
    """
    return validate_mapping(data, Brief, source, BriefError)


def load_brief(path: Path) -> Brief:
    """Read and validate a brief from a YAML (or JSON) file.

    Raises:
        BriefError: one line naming the file and the first invalid field.
    """
    return parse_brief(read_yaml(path, BriefError), source=str(path))


MAX_YAML_VALUES = 100_000
"""Most values a YAML file may expand to once its aliases are resolved (a brief or suite has a few hundred)."""


def _expanded_values(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """Count the values ``node`` expands to, each alias counted as a full copy (memoised per node).

    Raises:
        ValueError: for an alias to a node that contains it (a structure that never ends).
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise ValueError("an alias refers to a node that contains it")
    open_nodes.add(key)
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_values(child, sizes, open_nodes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_values(k, sizes, open_nodes) + _expanded_values(v, sizes, open_nodes)
                       for k, v in node.value)
    else:
        size = 1
    open_nodes.discard(key)
    sizes[key] = size
    return size


def read_yaml(path: Path, error: type[Exception]) -> object:
    """Read a YAML (or JSON) file.

    Aliases (``*name``) are allowed, but the file's size once they are resolved is counted on the parsed node
    graph (where an alias is one shared node) before anything is built: a "billion laughs" of a few lines would
    otherwise expand to millions of values.

    Raises:
        error: one line naming the file, when it cannot be read, is not valid YAML (with the line), or expands
            to more than :data:`MAX_YAML_VALUES` values or without end.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        try:
            values = _expanded_values(root, {}, set()) if root is not None else 0
        except (ValueError, RecursionError) as exc:
            raise error(f"{path}: YAML aliases that expand without end: {exc}") from None
        if values > MAX_YAML_VALUES:
            raise error(f"{path}: YAML aliases (*name) expand to {values:,} values, more than {MAX_YAML_VALUES:,}")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}: not valid YAML{where}") from None


def check_against_shop(
    brief: Brief, vocabulary: dict[str, list[str]], source: str = "brief", products: pd.DataFrame | None = None
) -> Brief:
    """Check the audience filter against the shop's vocabulary and the offer against its catalog.

    Filter values must be in the vocabulary (genres, regions, …); the offer's products and categories must be
    ones the shop sells.

    Args:
        brief: The validated brief.
        vocabulary: The shop's audience vocabulary (``PortraitStore.vocabulary()``).
        source: File or origin named first in an error.
        products: The shop's products table (``Shop.products``: ``product_id`` and, where the shop has them,
            ``category``); None: the offer is not checked.

    Returns:
        The brief with filter values in the shop's spelling ("sci fi" → "Sci-Fi").

    Raises:
        BriefError: one line naming the field and listing the valid values, or the offer's products or
            categories the shop does not sell.
    """
    try:
        checked = brief.audience_filter.checked(vocabulary)
    except ValidationError as exc:
        raise BriefError(f"{source}: {one_line(exc, 'audience_filter')}") from None
    if products is not None and brief.offer is not None:
        check_offer(brief.offer, products, source)
    return brief.model_copy(update={"audience_filter": checked})


def check_offer(offer: Offer, products: pd.DataFrame, source: str = "brief") -> None:
    """Check that the shop has prices and sells every product and category an offer names.

    An offer on products the shop does not sell applies to nothing, so copy could never state it; the brief is
    refused rather than planned without its offer.

    Raises:
        BriefError: one line naming ``offer`` (a shop without prices), ``offer.product_ids`` or
            ``offer.categories`` and the unknown values.
    """
    if "price" not in products.columns or not products["price"].notna().any():
        raise BriefError(f"{source}: field 'offer': this shop's catalog has no prices, so no offer can be stated "
                         f"(offer {offer.code}); plan on a shop with prices or drop the offer")
    sold = set(products["product_id"].astype(str))
    unknown = [p for p in offer.product_ids if p not in sold]
    if unknown:
        raise BriefError(f"{source}: field 'offer.product_ids': the shop does not sell {_quoted(unknown)} "
                         f"(offer {offer.code}; {len(sold):,} products in the catalog)")
    if offer.categories:
        has = "category" in products.columns
        categories = sorted(set(products["category"].dropna().astype(str))) if has else []
        missing = [c for c in offer.categories if c not in categories]
        if missing:
            valid = ", ".join(categories) if categories else "none (the catalog has no categories)"
            raise BriefError(f"{source}: field 'offer.categories': the shop has no category {_quoted(missing)}; "
                             f"valid: {valid}")


def _quoted(values: list[str], shown: int = 5) -> str:
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(repr(v) for v in values[:shown]) + more
