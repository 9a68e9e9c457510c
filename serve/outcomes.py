"""A launched plan's outcomes (issue 17 item 1): import them against the plan's send list, and measure them.

:func:`import_outcomes` takes a table (CSV, Parquet or JSON lines, read by :func:`tools.outcomes.read_table`) with
one row per customer and arm: ``customer_id``, ``arm`` (a variant id or ``holdout``), ``sent_at`` (UTC when it
names no time zone), and any of ``opened``, ``clicked``, ``converted`` (0/1, true/false, yes/no) and ``revenue``
(not negative), plus an optional ``wave`` (1 when absent). Every row is checked against the plan's send list
(:func:`agent.audience_file.read_send_list`): the customer must be in it and have been assigned to that arm. Any
bad row (an unknown customer or arm, an arm the customer was not assigned, a duplicate, a negative revenue, an
unparseable date or flag) is reported with its line or row, and nothing is imported. The rows are then stored in
one transaction (:meth:`serve.store.Store.write_outcomes`): a row already stored as given changes nothing, a row
changing a stored outcome is rejected unless ``replace``, new customers or arms (a later wave) are added.

:func:`plan_results` analyses the stored outcomes with :func:`tools.outcomes.analyse_experiment`: each variant
against the holdout, overall and per segment (the segment each customer had in the send list), and each variant's
prediction against what was observed (:func:`plan_predictions` says which predicted quantity pairs with which
observed one; :func:`tools.outcomes.check_predictions` measures). :func:`results_report` renders all of it as one
HTML page with plots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from agent.audience_file import read_send_list
from agent.launch import HOLDOUT
from agent.plan import CampaignPlan
from agent.settings import Settings, get_settings
from serve.store import OutcomeConflictError, OutcomeRecord, Store
from tools.outcomes import (
    ExperimentAnalysis,
    ExperimentRequest,
    OutcomeDataError,
    Prediction,
    analyse_experiment,
    calibration_plot,
    check_predictions,
    lift_plot,
    read_table,
    render_report,
)

REQUIRED = ("customer_id", "arm", "sent_at")
FLAGS = ("opened", "clicked", "converted")
OPTIONAL = (*FLAGS, "revenue", "wave")
MAX_WAVE = 10_000
"""The largest wave number (a larger one would overflow the database's integer column)."""
TRUE = {"1", "1.0", "true", "t", "yes", "y"}
FALSE = {"0", "0.0", "false", "f", "no", "n"}
Metric = Literal["opened", "clicked", "converted"]


class UnknownPlanError(OutcomeDataError):
    """No plan with that id in the database."""


class PlanNotReadyError(OutcomeDataError):
    """The plan has not finished (no plan to hold outcomes), or it has no launch design."""


class RowError(BaseModel):
    """Why one row of an outcomes file was rejected."""

    row: str = Field(description="Where it is: ``line N`` of a CSV (the header is line 1), else ``row N``.")
    customer_id: str | None = None
    arm: str | None = None
    message: str

    def line(self) -> str:
        """The error as one line: ``line 3: customer '7' arm 'V1': <message>``."""
        who = " ".join(f"{k} {v!r}" for k, v in (("customer", self.customer_id), ("arm", self.arm)) if v)
        return f"{self.row}: {who + ': ' if who else ''}{self.message}"


class OutcomeImport(BaseModel):
    """What an import did."""

    plan_id: str
    rows: int
    inserted: int = Field(description="Rows added (customers or arms not stored before).")
    unchanged: int = Field(description="Rows already stored with the same values.")
    replaced: int = Field(description="Stored rows whose values the import changed (only with replace).")

    def line(self) -> str:
        """What the import did, in one line."""
        return (f"plan {self.plan_id}: {self.rows} rows: {self.inserted} added, {self.unchanged} unchanged, "
                f"{self.replaced} replaced")


class OutcomeImportError(OutcomeDataError):
    """An outcomes file with bad rows: nothing was imported. ``errors`` names each row; ``summary`` counts them.

    Its message is one line per error, then the summary.
    """

    def __init__(self, source: str, rows: int, errors: list[RowError]) -> None:
        self.errors = errors
        self.summary = f"{source}: {len({e.row for e in errors})} of {rows} rows rejected; nothing imported"
        super().__init__("\n".join([*(e.line() for e in errors), self.summary]))


def _label(position: int, source: str) -> str:
    return f"line {position + 2}" if source.endswith(".csv") else f"row {position + 1}"


def _text(column: pd.Series) -> pd.Series:
    """Cells as stripped strings; a missing cell is the empty string."""
    return column.astype("string").str.strip().fillna("")


def _flags(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """0/1, true/false, yes/no (any case) as booleans (None when missing), and a mask of unreadable cells."""
    text = column.astype("string").str.strip().str.lower()
    value = pd.Series(None, index=column.index, dtype=object)
    value[text.isin(TRUE).fillna(False).astype(bool)] = True
    value[text.isin(FALSE).fillna(False).astype(bool)] = False
    return value, (text.notna() & ~text.isin(TRUE | FALSE)).fillna(False).astype(bool)


def _times(column: pd.Series) -> pd.Series:
    """Times in UTC (a time without a zone is UTC): ISO 8601 at once, any other format cell by cell; NaT if none."""
    text = column.astype("string")
    times = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    other = times.isna() & text.notna()
    if other.any():
        times[other] = pd.to_datetime(text[other], errors="coerce", utc=True, format="mixed")
    return times


def _bool(value: object) -> bool | None:
    return None if value is None or pd.isna(value) else bool(value)


def parse_outcomes(data: pd.DataFrame, source: str) -> tuple[list[OutcomeRecord], list[RowError]]:
    """Read an outcomes table into records, with an error per bad cell or duplicate (customer, arm).

    Args:
        data: The rows as read from the file.
        source: The file's name (a ``.csv`` name makes row labels CSV lines).

    Returns:
        The good rows and the errors of the others.

    Raises:
        OutcomeImportError: A required column is missing.
    """
    missing = [c for c in REQUIRED if c not in data.columns]
    if missing:
        raise OutcomeImportError(source, len(data), [RowError(row="header", message=f"missing columns {missing}; "
                                 f"an outcomes file has {list(REQUIRED)} and any of {list(OPTIONAL)}")])
    table = data.reset_index(drop=True)
    labels = pd.Series([_label(i, source) for i in range(len(table))], dtype=object)
    customer, arm = _text(table["customer_id"]), _text(table["arm"])
    sent = _times(table["sent_at"])
    problems: list[tuple[pd.Series, pd.Series]] = [  # (rows, message per row)
        (customer.eq(""), pd.Series("empty customer_id", index=table.index)),
        (arm.eq(""), pd.Series("empty arm", index=table.index)),
        (sent.isna(), "unparseable sent_at " + table["sent_at"].map(repr)),
    ]
    flags = {}
    for name in FLAGS:
        if name not in table.columns:
            flags[name] = pd.Series(None, index=table.index, dtype=object)
            continue
        flags[name], bad = _flags(table[name])
        problems.append((bad, f"{name} must be 0/1, true/false or yes/no, not " + table[name].map(repr)))
    raw_revenue = table["revenue"] if "revenue" in table.columns else pd.Series(None, index=table.index, dtype=object)
    revenue = pd.to_numeric(raw_revenue, errors="coerce")
    problems += [(raw_revenue.notna() & revenue.isna(), "revenue " + raw_revenue.map(repr) + " is not a number"),
                 (revenue.lt(0), "negative revenue " + revenue.astype(str)),
                 (revenue.isin([np.inf]), "revenue " + raw_revenue.map(repr) + " is not finite")]
    raw_wave = table["wave"] if "wave" in table.columns else pd.Series(1, index=table.index)
    wave = pd.to_numeric(raw_wave, errors="coerce")
    problems.append((wave.isna() | wave.lt(1) | wave.gt(MAX_WAVE) | wave.ne(wave.round()),
                     f"wave must be a whole number from 1 to {MAX_WAVE:,}, not " + raw_wave.map(repr)))
    keyed = customer.ne("") & arm.ne("")
    first = pd.Series(labels.index, index=table.index).groupby([customer, arm]).transform("first")
    problems.append((keyed & pd.concat([customer, arm], axis=1).duplicated(),
                     "duplicate of " + labels.reindex(first).set_axis(table.index) + " (same customer and arm)"))
    found = pd.concat([pd.DataFrame({"position": rows[rows].index, "message": message[rows]})
                       for rows, message in ((r.fillna(False).astype(bool), m) for r, m in problems)],
                      ignore_index=True).sort_values("position", kind="stable")
    errors = [RowError(row=labels[p], customer_id=customer[p] or None, arm=arm[p] or None, message=m)
              for p, m in zip(found["position"], found["message"], strict=True)]
    good = ~table.index.isin(found["position"])
    columns = {"customer_id": customer, "arm": arm, "sent_at": sent.dt.floor("us"), **flags,
               "revenue": revenue.astype(object).where(revenue.notna(), None), "wave": wave, "row": labels}
    frame = pd.DataFrame(columns)[good]
    records = [OutcomeRecord(customer_id=c, arm=a, sent_at=t.to_pydatetime(), opened=_bool(o), clicked=_bool(k),
                             converted=_bool(v), revenue=None if pd.isna(r) else float(r), wave=int(w), row=label)
               for c, a, t, o, k, v, r, w, label in frame.itertuples(index=False, name=None)]
    return records, errors


def assignments(plan: CampaignPlan, send_list: pd.DataFrame) -> pd.DataFrame:
    """Return who was assigned to which arm: columns ``customer_id``, ``arm``, ``segment_id``.

    A send-list row with a variant gives that arm; a holdout row gives ``holdout``. A plan of an earlier release
    (members inline, no per-customer variant) assigned its treated customers to every variant of their segment on
    their channel, so each of those is an arm they may have been sent.

    Args:
        plan: The plan.
        send_list: Its send list (:func:`agent.audience_file.read_send_list`).
    """
    known = send_list.dropna(subset=["variant_id"]).rename(columns={"variant_id": "arm"})
    parts = [known[["customer_id", "arm", "segment_id"]]]
    if plan.audience_file is None:  # inline members: the variant of each treated customer is not recorded
        variants = pd.DataFrame([{"segment_id": v.segment_id, "channel": v.channel, "arm": v.variant_id}
                                 for v in plan.variants], columns=["segment_id", "channel", "arm"])
        unknown = send_list[send_list["variant_id"].isna()].drop(columns="variant_id")
        parts.append(unknown.merge(variants.astype("string"), on=["segment_id", "channel"])[list(parts[0].columns)])
    return pd.concat(parts, ignore_index=True).astype("string").drop_duplicates(["customer_id", "arm"])


def check_assignments(records: list[OutcomeRecord], assigned: pd.DataFrame) -> list[RowError]:
    """Return an error per record whose customer is not in the send list, or was not assigned that arm."""
    customers = set(assigned["customer_id"])
    arms = set(assigned["arm"])
    pairs = set(zip(assigned["customer_id"], assigned["arm"], strict=True))
    errors = []
    for r in records:
        if r.customer_id not in customers:
            message = f"unknown customer {r.customer_id!r}: not in the plan's send list"
        elif r.arm not in arms:
            message = f"unknown arm {r.arm!r}: the plan's arms are {sorted(arms)}"
        elif (r.customer_id, r.arm) not in pairs:
            given = sorted(assigned.loc[assigned["customer_id"] == r.customer_id, "arm"])
            message = f"customer {r.customer_id!r} was not assigned to arm {r.arm!r} (assigned: {given})"
        else:
            continue
        errors.append(RowError(row=r.row, customer_id=r.customer_id, arm=r.arm, message=message))
    return errors


def load_plan(store: Store, plan_id: str) -> CampaignPlan:
    """Return a finished plan from the database.

    Raises:
        UnknownPlanError: No such plan.
        PlanNotReadyError: It has not finished, or has no launch design (nothing was sent).
    """
    job = store.job(plan_id)
    if job is None:
        raise UnknownPlanError(f"no plan {plan_id}")
    if job.status != "done" or job.plan is None:
        raise PlanNotReadyError(f"plan {plan_id} is {job.status}; outcomes belong to a finished plan")
    plan = CampaignPlan.model_validate_json(job.plan)
    if plan.launch is None:
        raise PlanNotReadyError(f"plan {plan_id} has no launch design: nothing was sent")
    return plan


def import_outcomes(store: Store, settings: Settings | None, plan_id: str, data: pd.DataFrame, source: str,
                    *, replace: bool = False, actor: str = "cli") -> OutcomeImport:
    """Validate an outcomes table against the plan's send list and store it in one transaction.

    Args:
        store: The API database.
        settings: Settings (where the plan's audience file is, if its home moved); None: the recorded path.
        plan_id: The plan (its job id).
        data: The rows (see the module docstring for the columns).
        source: The file's name, for row labels and messages.
        replace: Let rows change outcomes already stored.
        actor: Who imports them, for the audit trail (``key:NAME`` over the API, ``cli`` for the command).

    Returns:
        How many rows were added, unchanged and replaced.

    Raises:
        UnknownPlanError: No such plan.
        PlanNotReadyError: The plan has not finished or has no launch design.
        OutcomeImportError: Bad rows, or rows changing stored outcomes without ``replace``: nothing was imported.
    """
    plan = load_plan(store, plan_id)
    records, errors = parse_outcomes(data, source)
    errors += check_assignments(records, assignments(plan, read_send_list(settings, plan)))
    if errors:
        raise OutcomeImportError(source, len(data), sorted(errors, key=lambda e: _order(e.row)))
    try:
        written = store.write_outcomes(plan_id, records, replace=replace, actor=actor, source=source)
    except OutcomeConflictError as exc:
        raise OutcomeImportError(source, len(data), [RowError(row=row, message=message)
                                                     for row, message in exc.conflicts]) from None
    return OutcomeImport(plan_id=plan_id, rows=len(data), inserted=written.inserted, unchanged=written.unchanged,
                         replaced=written.replaced)


def _order(label: str) -> int:
    return int(label.rsplit(" ", 1)[-1]) if label[-1:].isdigit() else -1


@dataclass(frozen=True)
class PredictionSet:
    """The variants' predictions of one quantity, and the observed outcome they pair with.

    Attributes:
        observed: ``"rate"`` (the 0/1 metric analysed) or ``"revenue"`` (revenue per customer).
        predicted_metric: What the predictions count.
        pairing: Why the two are compared, and how they differ.
        predictions: One per variant.
    """

    observed: Literal["rate", "revenue"]
    predicted_metric: str
    pairing: str
    predictions: list[Prediction]


def plan_predictions(plan: CampaignPlan, metric: str) -> list[PredictionSet]:
    """Pair each variant's prediction (point and 90% interval) with the observed outcome it predicts.

    - A shop of orders (the variant has a send value: retail): the predicted buyers of the variant's product per
      customer sent (``with_send_orders / customers``, 30 days) pair with the share of the arm's customers with
      ``metric``; the predicted revenue per customer sent (``with_send_revenue / customers``) with the observed
      revenue per customer.
    - A response model (``unit`` probability: MovieLens's p_like × headline index): the predicted response per send
      pairs with the ``metric`` rate.
    - Money per send without a send value: the prediction pairs with the observed revenue per customer.

    Args:
        plan: The plan.
        metric: The 0/1 outcome analysed (opened, clicked or converted).

    Returns:
        One set per kind of prediction the plan's variants make (none when they make none).
    """
    orders: list[Prediction] = []
    revenue: list[Prediction] = []
    response: list[Prediction] = []
    money: list[Prediction] = []
    for v in plan.active_variants():  # replaced variants were never sent
        value = v.value()
        if value is not None and value.customers > 0:
            n = value.customers
            for target, amount in ((orders, value.with_send_orders), (revenue, value.with_send_revenue)):
                target.append(Prediction(arm=v.variant_id, point=amount.point / n, low=amount.low / n,
                                         high=amount.high / n))
            continue
        point, low, high = v.rate()
        unit = getattr(v.effect, "unit", "probability")
        (response if unit == "probability" else money).append(Prediction(arm=v.variant_id, point=point, low=low,
                                                                         high=high))
    currency = plan.currency or "money"
    sets = []
    if orders:
        sets.append(PredictionSet("rate", "buyers of the variant's product per customer sent (30 days)", (
            f"The plan predicts, per customer sent, the buyers of the promoted product in 30 days (the segment's "
            f"expected orders with the send / its customers); it is compared with the share of the arm's customers "
            f"with {metric}. The outcome counts any {metric}, not only the promoted product, so observed above "
            f"predicted is expected when customers buy other products too."), orders))
        sets.append(PredictionSet("revenue", f"revenue per customer sent ({currency}, 30 days)", (
            f"The plan predicts, per customer sent, the revenue of the promoted product in 30 days (expected "
            f"revenue with the send / customers); it is compared with the observed revenue per customer of the arm "
            f"({currency}; a customer without reported revenue counts 0)."), revenue))
    if response:
        metrics = sorted({(v.predicted or v.effect).metric for v in plan.active_variants()})
        sets.append(PredictionSet("rate", f"response per send ({', '.join(metrics)})", (
            f"The plan predicts each variant's response per send (the effect model's {', '.join(metrics)} × the "
            f"headline index); it is compared with the share of the arm's customers with {metric}. On a shop of "
            "ratings the prediction is a proxy (a customer liking the title), not a measured click."), response))
    if money:
        sets.append(PredictionSet("revenue", f"money per send ({currency})", (
            "The plan predicts each variant's money per send; it is compared with the observed revenue per customer "
            "of the arm (a customer without reported revenue counts 0)."), money))
    return sets


def plan_results(store: Store, settings: Settings | None, plan_id: str, metric: Metric = "converted",
                 alpha: float = 0.05, seed: int = 0) -> ExperimentAnalysis:
    """Analyse a plan's stored outcomes: each variant against the holdout, overall and per send-list segment.

    Args:
        store: The API database.
        settings: Settings (where the plan's audience file is).
        plan_id: The plan.
        metric: The 0/1 outcome to compare (rows that did not report it are left out).
        alpha: Significance level after Holm's correction.
        seed: Seed of the revenue bootstrap.

    Returns:
        The analysis; revenue is compared too when any row reported revenue. ``predictions`` holds each variant's
        prediction against what was observed (see :func:`plan_predictions` for the pairs).

    Raises:
        UnknownPlanError: No such plan.
        PlanNotReadyError: The plan has not finished or has no launch design.
        OutcomeDataError: No outcomes with ``metric`` are stored, or they do not allow a comparison (no holdout).
    """
    plan = load_plan(store, plan_id)
    stored = pd.DataFrame([asdict(r) for r in store.outcomes(plan_id)])
    if stored.empty or stored[metric].isna().all():
        raise OutcomeDataError(f"plan {plan_id}: no outcomes with {metric} are stored; import them first")
    segments = assignments(plan, read_send_list(settings, plan))[["customer_id", "arm", "segment_id"]]
    table = stored.dropna(subset=[metric]).merge(segments, on=["customer_id", "arm"], how="left")
    table[metric] = table[metric].astype(int)
    revenue = "revenue" if table["revenue"].notna().any() else None
    if revenue:
        table["revenue"] = table["revenue"].fillna(0.0)  # a converted customer without revenue: none reported
    request = ExperimentRequest(arm_column="arm", control=HOLDOUT, outcome=metric, revenue=revenue,
                                segment="segment_id", alpha=alpha, seed=seed)
    analysis = analyse_experiment(table, request, source=f"plan {plan_id}'s outcomes")
    checks = []
    for kind in plan_predictions(plan, metric):
        if kind.observed == "revenue" and not revenue:
            continue
        column = metric if kind.observed == "rate" else "revenue"
        observed = table[["arm", column]].rename(columns={column: "value"})
        check = check_predictions(observed, kind.predictions, binary=kind.observed == "rate",
                                  predicted_metric=kind.predicted_metric,
                                  observed_metric=metric if kind.observed == "rate" else "revenue per customer",
                                  pairing=kind.pairing)
        if check is not None:
            checks.append(check)
    return analysis.model_copy(update={"predictions": checks})


def results_report(plan: CampaignPlan, analysis: ExperimentAnalysis) -> str:
    """The plan's results as one HTML page: lift per arm (forest plot), predicted against observed, per segment.

    Args:
        plan: The plan (its name and id head the page; every text is escaped).
        analysis: :func:`plan_results` of the plan.
    """
    return render_report(analysis, analysis.predictions, title=f"Results: {plan.brief.name}",
                         context=[f"plan {plan.plan_id} · shop {plan.shop} · created {plan.created_at:%Y-%m-%d}",
                                  f"each variant against the holdout; outcome {analysis.outcome}"])


REPORT_HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                             "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff"}
"""Headers of the HTML report served by the API: no script runs in it, its plots are data URIs."""
PlotKind = Literal["lift", "predicted"]


def results_page(store: Store, settings: Settings | None, plan_id: str, metric: Metric = "converted") -> str:
    """The plan's results as one HTML page (:func:`results_report` of :func:`plan_results`).

    Raises:
        UnknownPlanError: No such plan.
        PlanNotReadyError: The plan has not finished or has no launch design.
        OutcomeDataError: No outcomes with ``metric`` are stored.
    """
    analysis = plan_results(store, settings, plan_id, metric)
    return results_report(load_plan(store, plan_id), analysis)


def results_plot(store: Store, settings: Settings | None, plan_id: str, kind: PlotKind, index: int = 0,
                 metric: Metric = "converted") -> bytes:
    """One plot of the plan's results as PNG bytes: the lift per arm, or predicted against observed.

    Args:
        store: The API database.
        settings: Settings (where the plan's audience file is).
        plan_id: The plan.
        kind: ``lift`` (each variant against the holdout, 95% CI) or ``predicted`` (predicted against observed).
        index: Which of the results' ``predictions`` (``predicted`` only; 0: the metric's rate).
        metric: The 0/1 outcome.

    Raises:
        UnknownPlanError: No such plan.
        PlanNotReadyError: The plan has not finished or has no launch design.
        OutcomeDataError: No outcomes stored, or no such prediction to plot.
    """
    analysis = plan_results(store, settings, plan_id, metric)
    if kind == "lift":
        return lift_plot(analysis, metric)
    if index >= len(analysis.predictions):
        raise OutcomeDataError(f"plan {plan_id}: {len(analysis.predictions)} prediction(s) to compare, no index "
                               f"{index}")
    return calibration_plot(analysis.predictions[index])


def import_file(plan_id: str, file: Path, replace: bool = False) -> str:
    """Import an outcomes file into the configured database (``campaign outcomes import``); return what it did.

    Raises:
        OutcomeDataError: An unreadable file, no such or no finished plan, or bad rows (nothing imported).
    """
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        return import_outcomes(store, settings, plan_id, read_table(file), file.name, replace=replace).line()
    finally:
        store.engine.dispose()


def stored_results(plan_id: str, metric: str, html: Path | None = None) -> ExperimentAnalysis:
    """Analyse a plan's outcomes stored in the configured database (``campaign outcomes analyse PLAN_ID``).

    Args:
        plan_id: The plan.
        metric: The 0/1 outcome (opened, clicked or converted).
        html: Also write the HTML report (:func:`results_report`) there.

    Raises:
        OutcomeDataError: No such or no finished plan, an unknown metric, or no outcomes stored.
    """
    if metric not in FLAGS:
        raise OutcomeDataError(f"a plan's outcome is one of {list(FLAGS)}, not {metric!r}")
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        analysis = plan_results(store, settings, plan_id, cast(Metric, metric))
        if html is not None:
            html.write_text(results_report(load_plan(store, plan_id), analysis), encoding="utf-8")
        return analysis
    finally:
        store.engine.dispose()
