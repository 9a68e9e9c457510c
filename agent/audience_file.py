"""A plan's audience and send list, kept in a Parquet file outside the plan JSON.

A whole-audience plan may cover millions of customers: the plan JSON keeps counts and a reference
(:class:`~agent.plan.AudienceFileRef`: path, SHA-256, counts), and the file ``<home>/audiences/<plan_id>.parquet``
keeps who is in which segment and which variant each customer gets on each channel (columns ``customer_id``,
``segment_id``, ``channel``, ``variant_id``: a variant, null when unsent, or ``"holdout"``).

Plans of earlier releases kept the members inline (``Segment.customer_ids``, ``LaunchDesign.holdout_ids``):
:func:`read_send_list`, :func:`segment_members` and :func:`holdout_members` read either.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from agent.launch import HOLDOUT, SEND_LIST_COLUMNS
from agent.plan import AudienceFileRef, CampaignPlan
from agent.settings import Settings

AUDIENCES = "audiences"
"""The folder under the settings' home where plans' audience files are written."""


class AudienceFileError(RuntimeError):
    """A plan's audience file is missing or is not the file the plan recorded (its SHA-256 differs)."""


def audience_dir(settings: Settings) -> Path:
    """Return the folder of the plans' audience files (``<home>/audiences``)."""
    return settings.home / AUDIENCES


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_audience_file(directory: Path, plan: CampaignPlan, table: pd.DataFrame, chosen_by: str) -> AudienceFileRef:
    """Write a plan's send list to ``directory/<plan_id>.parquet`` and return the reference the plan keeps.

    Args:
        directory: The audiences folder (:func:`audience_dir`).
        plan: The plan (its id names the file).
        table: The send list (:func:`agent.launch.send_list`).
        chosen_by: How each customer's variant was chosen (stated in the reference).

    Returns:
        Path, SHA-256 and counts of the file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{plan.plan_id}.parquet"
    partial = path.with_suffix(".parquet.partial")
    table.loc[:, list(SEND_LIST_COLUMNS)].to_parquet(partial, index=False)
    partial.replace(path)  # a reader never sees a half-written file
    held = table["variant_id"].eq(HOLDOUT).fillna(False).astype(bool)
    sent = table["variant_id"].notna().astype(bool) & ~held
    return AudienceFileRef(
        path=str(path.resolve()), sha256=_sha256(path), rows=len(table), customers=int(table["customer_id"].nunique()),
        treated_customers=int(table.loc[~held, "customer_id"].nunique()),
        holdout_customers=int(table.loc[held, "customer_id"].nunique()), sends=int(sent.sum()),
        sends_by_variant={str(k): int(v) for k, v in table.loc[sent, "variant_id"].value_counts().sort_index().items()},
        chosen_by=chosen_by,
    )


def _path(settings: Settings | None, ref: AudienceFileRef) -> Path:
    """The file where it was written, else under this home's audiences folder (a home moved elsewhere)."""
    written = Path(ref.path)
    if written.exists() or settings is None:
        return written
    return audience_dir(settings) / written.name


def read_send_list(settings: Settings | None, plan: CampaignPlan) -> pd.DataFrame:
    """Return a plan's send list: who is in which segment and gets which variant on which channel.

    Issue 17's outcome import validates rows against it. A plan of an earlier release (members inline) has no
    per-customer variants: its treated customers get one row per channel with a null ``variant_id``.

    Args:
        settings: Settings (where the audiences folder is, if the file moved with its home); None: the recorded path.
        plan: The plan.

    Returns:
        Columns ``customer_id``, ``segment_id``, ``channel``, ``variant_id`` (strings; ``variant_id`` a variant id,
        ``"holdout"``, or null), one row per treated customer × channel and one per holdout customer.

    Raises:
        AudienceFileError: The plan's file is missing or its SHA-256 is not the recorded one.
    """
    ref = plan.audience_file
    if ref is None:
        return _inline_send_list(plan)
    path = _path(settings, ref)
    if not path.exists():
        raise AudienceFileError(f"plan {plan.plan_id}: its audience file {path} is missing")
    found = _sha256(path)
    if found != ref.sha256:
        raise AudienceFileError(f"plan {plan.plan_id}: {path} has SHA-256 {found}, the plan recorded {ref.sha256}")
    return pd.read_parquet(path).astype({c: "string" for c in SEND_LIST_COLUMNS})


def _inline_send_list(plan: CampaignPlan) -> pd.DataFrame:
    """The send list of a plan keeping its members inline (no per-customer variant is known)."""
    held = plan.launch.holdout_ids if plan.launch else {}
    channels = list(plan.brief.channels)
    parts = []
    for seg in plan.segments:
        out = set(held.get(seg.segment_id, []))
        treated = [c for c in seg.customer_ids if c not in out]
        parts += [pd.DataFrame({"customer_id": treated, "segment_id": seg.segment_id, "channel": ch,
                                "variant_id": None}) for ch in channels]
        parts.append(pd.DataFrame({"customer_id": sorted(out), "segment_id": seg.segment_id, "channel": None,
                                   "variant_id": HOLDOUT}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(SEND_LIST_COLUMNS))
    return table.astype({c: "string" for c in SEND_LIST_COLUMNS})


def segment_members(settings: Settings | None, plan: CampaignPlan) -> dict[str, list[str]]:
    """Return every segment's customers (treated and holdout), from the audience file or the inline lists."""
    if plan.audience_file is None:
        return {s.segment_id: list(s.customer_ids) for s in plan.segments}
    table = read_send_list(settings, plan).drop_duplicates(["segment_id", "customer_id"])
    grouped = table.groupby("segment_id", sort=False)["customer_id"]
    members = {str(k): v.astype(str).tolist() for k, v in grouped}
    return {s.segment_id: members.get(s.segment_id, []) for s in plan.segments}


def holdout_members(settings: Settings | None, plan: CampaignPlan) -> dict[str, list[str]]:
    """Return every segment's holdout customers, from the audience file or the inline lists."""
    if plan.audience_file is None:
        return dict(plan.launch.holdout_ids) if plan.launch else {}
    table = read_send_list(settings, plan)
    held = table[table["variant_id"].eq(HOLDOUT).fillna(False).astype(bool)]
    return {str(k): sorted(v.astype(str)) for k, v in held.groupby("segment_id", sort=False)["customer_id"]}
