"""A launched plan's outcomes: imported against its send list (all rows or none), idempotent, and measured.

The plan is the Hillstrom experiment's first 600 customers (data/hillstrom_dev.csv, a real e-mail test): men's
e-mail is variant V1, women's V2, no e-mail the holdout, segments by zip code; the outcomes are its real visits
(``clicked``). The data set gives no send date, so every row carries the same one (stated here, not measured).
The database tests run on SQLite and on a throwaway PostgreSQL server (tests/serve/conftest.py).
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import serve.outcomes
from agent.audience_file import audience_dir, read_send_list, write_audience_file
from agent.brief import parse_brief
from agent.cli import app as cli_app
from agent.llm import FunctionModel
from agent.plan import AudienceSummary, CampaignPlan, CopyVariant, LaunchDesign, Segment
from agent.settings import Settings
from serve.api import create_app
from serve.auth import create_key
from serve.outcomes import (
    OutcomeImportError,
    PlanNotReadyError,
    UnknownPlanError,
    assignments,
    import_outcomes,
    load_plan,
    plan_results,
    results_report,
)
from serve.store import Store
from tests.fixtures.offline_cli import plan_offline
from tests.serve.api_harness import chat_llm
from tools.effect import EffectEstimate
from tools.outcomes import ExperimentRequest, analyse_experiment, wilson_interval

ARMS = {"Mens E-Mail": "V1", "Womens E-Mail": "V2", "No E-Mail": "holdout"}
SENT_AT = "2008-03-03T09:00:00Z"  # one date for every row: the data set has none
PLAN_ID = "hillstrom600"


@pytest.fixture(scope="module")
def hillstrom(settings: Settings) -> pd.DataFrame:
    """The first 600 customers of the Hillstrom experiment: id (row number), zip segment, arm, visit."""
    data = pd.read_csv(settings.shared_data_dir / "hillstrom_dev.csv", nrows=600)
    return pd.DataFrame({"customer_id": data.index.astype(str), "segment_id": data["zip_code"].str.lower(),
                         "arm": data["segment"].map(ARMS), "visit": data["visit"]})


def _plan(hillstrom: pd.DataFrame, folder: Path) -> CampaignPlan:
    brief = parse_brief({"name": "Hillstrom", "goal": "Visits", "audience": "customers", "channels": ["email"],
                         "send_budget": 600})
    held = hillstrom["arm"].eq("holdout")
    plan = CampaignPlan(
        plan_id=PLAN_ID, created_at=datetime(2026, 1, 2, tzinfo=UTC), brief=brief, llm_model="m",
        audience=AudienceSummary(query="customers", filter_used={}, size=len(hillstrom)),
        segments=[Segment(segment_id=s, name=s, description=s, size=int(n), top_genres=[], lifecycle_mix={})
                  for s, n in hillstrom["segment_id"].value_counts().sort_index().items()],
        launch=LaunchDesign(send_budget=600, reachable_customers=len(hillstrom), holdout_customers=int(held.sum()),
                            holdout_fraction=float(held.mean()), planned_sends=int((~held).sum()), allocations=[]))
    send_list = pd.DataFrame({"customer_id": hillstrom["customer_id"], "segment_id": hillstrom["segment_id"],
                              "channel": pd.Series("email", index=hillstrom.index).mask(held),
                              "variant_id": hillstrom["arm"]})
    ref = write_audience_file(folder / "audiences", plan, send_list, "Hillstrom's random assignment")
    return plan.model_copy(update={"audience_file": ref})


def _outcomes(hillstrom: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": hillstrom["customer_id"], "arm": hillstrom["arm"], "sent_at": SENT_AT,
                         "clicked": hillstrom["visit"]})


@pytest.fixture
def store(hillstrom: pd.DataFrame, tmp_path: Path, new_url: Callable[[], str]) -> Iterator[Store]:
    """A database (SQLite, or PostgreSQL) holding the finished Hillstrom plan (as a done job)."""
    store = Store(new_url())
    plan = _plan(hillstrom, tmp_path)
    store.add_job(PLAN_ID, "someone", plan.brief.model_dump(mode="json"), 1)
    assert store.set_status(PLAN_ID, "done", plan=plan.model_dump_json(), steps_done=1)
    yield store
    store.engine.dispose()  # the database can be dropped


def test_outcomes_import_once_and_reimporting_them_changes_nothing(store: Store, hillstrom: pd.DataFrame) -> None:
    rows = _outcomes(hillstrom)
    first = import_outcomes(store, None, PLAN_ID, rows, "outcomes.csv")
    assert (first.rows, first.inserted, first.unchanged, first.replaced) == (600, 600, 0, 0)
    stored = store.outcomes(PLAN_ID)
    again = import_outcomes(store, None, PLAN_ID, rows, "outcomes.csv")
    assert (again.inserted, again.unchanged, again.replaced) == (0, 600, 0)
    assert store.outcomes(PLAN_ID) == stored  # not even imported_at moved
    by_customer = {(r.customer_id, r.arm): r for r in stored}
    one = by_customer[("0", "V2")]  # row 0 of the file: women's e-mail, no visit
    assert one.clicked is False and one.opened is None and one.revenue is None and one.wave == 1
    assert one.sent_at == datetime(2008, 3, 3, 9, tzinfo=UTC)
    assert sum(bool(r.clicked) for r in stored) == int(hillstrom["visit"].sum())


def test_a_row_changing_a_stored_outcome_is_rejected_unless_replace(store: Store, hillstrom: pd.DataFrame) -> None:
    rows = _outcomes(hillstrom)
    import_outcomes(store, None, PLAN_ID, rows, "outcomes.csv")
    changed = rows.copy()
    changed.loc[3, "clicked"] = 1 - changed.loc[3, "clicked"]
    with pytest.raises(OutcomeImportError) as rejected:
        import_outcomes(store, None, PLAN_ID, changed, "outcomes.csv")
    assert [e.row for e in rejected.value.errors] == ["line 5"]
    assert "changes the stored outcome of customer '3'" in rejected.value.errors[0].message
    assert {r.customer_id: r.clicked for r in store.outcomes(PLAN_ID)}["3"] == bool(rows.loc[3, "clicked"])
    done = import_outcomes(store, None, PLAN_ID, changed, "outcomes.csv", replace=True)
    assert (done.inserted, done.unchanged, done.replaced) == (0, 599, 1)
    assert {r.customer_id: r.clicked for r in store.outcomes(PLAN_ID)}["3"] == bool(changed.loc[3, "clicked"])


def test_a_later_wave_appends(store: Store, hillstrom: pd.DataFrame) -> None:
    rows = _outcomes(hillstrom)
    import_outcomes(store, None, PLAN_ID, rows.iloc[:400], "wave1.parquet")
    later = rows.iloc[400:].assign(wave=2)
    result = import_outcomes(store, None, PLAN_ID, later, "wave2.parquet")
    assert (result.inserted, result.unchanged) == (200, 0)
    waves = pd.Series([r.wave for r in store.outcomes(PLAN_ID)]).value_counts().to_dict()
    assert waves == {1: 400, 2: 200}


def test_bad_rows_are_named_and_nothing_is_imported(store: Store, hillstrom: pd.DataFrame) -> None:
    rows = _outcomes(hillstrom).iloc[:6].copy()
    assigned = rows.loc[0, "arm"]
    other = next(a for a in ("V1", "V2", "holdout") if a != assigned)
    rows.loc[1, "customer_id"] = "no-such-customer"
    rows.loc[2, "arm"] = "V9"
    rows.loc[3, "sent_at"] = "next tuesday"
    rows = pd.concat([rows, rows.iloc[[0]], rows.iloc[[0]].assign(arm=other)], ignore_index=True)
    rows["revenue"] = [0.0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0, 0.0]
    with pytest.raises(OutcomeImportError) as bad:
        import_outcomes(store, None, PLAN_ID, rows, "outcomes.jsonl")
    found = {(e.row, e.message.split(" ")[0]) for e in bad.value.errors}
    assert found == {("row 2", "unknown"), ("row 3", "unknown"), ("row 4", "unparseable"), ("row 5", "negative"),
                     ("row 7", "duplicate"), ("row 8", "customer")}
    messages = {e.row: e.message for e in bad.value.errors}
    assert messages["row 2"] == "unknown customer 'no-such-customer': not in the plan's send list"
    assert messages["row 3"] == "unknown arm 'V9': the plan's arms are ['V1', 'V2', 'holdout']"
    assert messages["row 7"] == "duplicate of row 1 (same customer and arm)"
    assert messages["row 8"] == f"customer '0' was not assigned to arm '{other}' (assigned: ['{assigned}'])"
    assert bad.value.summary == "outcomes.jsonl: 6 of 8 rows rejected; nothing imported"
    assert store.outcomes(PLAN_ID) == []


def test_unreadable_flags_revenue_and_waves_are_named_by_csv_line(store: Store, hillstrom: pd.DataFrame) -> None:
    rows = _outcomes(hillstrom).iloc[:5].astype({"clicked": object}).assign(revenue="0", wave="1")
    rows.loc[0, "clicked"] = "maybe"
    rows.loc[1, "revenue"] = "ten pounds"
    rows.loc[2, "wave"] = "0"
    rows.loc[3, "sent_at"] = ""
    with pytest.raises(OutcomeImportError) as bad:
        import_outcomes(store, None, PLAN_ID, rows, "outcomes.csv")
    messages = [(e.row, e.message) for e in bad.value.errors]
    assert messages[:2] == [("line 2", "clicked must be 0/1, true/false or yes/no, not 'maybe'"),
                            ("line 3", "revenue 'ten pounds' is not a number")]
    assert messages[2][0] == "line 4" and messages[2][1].startswith("wave must be a whole number from 1")
    assert messages[2][1].endswith("not '0'") and messages[3] == ("line 5", "unparseable sent_at ''")
    assert bad.value.summary == "outcomes.csv: 4 of 5 rows rejected; nothing imported"
    assert store.outcomes(PLAN_ID) == []


def test_outcomes_need_a_finished_plan(store: Store, hillstrom: pd.DataFrame) -> None:
    with pytest.raises(UnknownPlanError):
        import_outcomes(store, None, "nope", _outcomes(hillstrom), "outcomes.csv")
    store.add_job("queued-one", "someone", {}, 1)
    with pytest.raises(PlanNotReadyError, match="queued"):
        import_outcomes(store, None, "queued-one", _outcomes(hillstrom), "outcomes.csv")


def test_results_are_the_experiment_analysis_of_the_stored_outcomes(store: Store, hillstrom: pd.DataFrame) -> None:
    import_outcomes(store, None, PLAN_ID, _outcomes(hillstrom), "outcomes.csv")
    result = plan_results(store, None, PLAN_ID, "clicked")
    direct = analyse_experiment(hillstrom.rename(columns={"visit": "clicked"}),
                                ExperimentRequest(arm_column="arm", control="holdout", outcome="clicked",
                                                  segment="segment_id"))
    assert result.model_dump() == direct.model_dump()
    assert result.control.n == int(hillstrom["arm"].eq("holdout").sum())
    assert {a.arm: a.n for a in result.arms} == hillstrom["arm"].value_counts().drop("holdout").to_dict()
    assert {s.segment for s in result.segments} == set(hillstrom["segment_id"])


def test_a_plan_keeping_members_inline_assigns_its_segment_variants(hillstrom: pd.DataFrame) -> None:
    ids = hillstrom["customer_id"].tolist()[:5]
    brief = parse_brief({"name": "Old", "goal": "Visits", "audience": "customers", "channels": ["email"],
                         "send_budget": 5})
    segment = {"description": "", "top_genres": [], "lifecycle_mix": {}}
    plan = CampaignPlan(
        plan_id="old", created_at=datetime(2026, 1, 2, tzinfo=UTC), brief=brief, llm_model="m",
        audience=AudienceSummary(query="customers", filter_used={}, size=5),
        segments=[Segment(segment_id="s1", name="s1", size=3, customer_ids=ids[:3], **segment),
                  Segment(segment_id="s2", name="s2", size=2, customer_ids=ids[3:], **segment)],
        launch=LaunchDesign(send_budget=5, reachable_customers=5, holdout_customers=2, holdout_fraction=0.4,
                            planned_sends=3, allocations=[], holdout_ids={"s1": [ids[2]], "s2": [ids[4]]}))
    # Only the variant's id, segment and channel decide the arms; the rest of a variant plays no part here.
    variants = [CopyVariant.model_construct(variant_id=v, segment_id=s, channel="email")  # type: ignore[call-arg]
                for v, s in (("V1", "s1"), ("V2", "s1"), ("V3", "s2"))]
    plan = plan.model_copy(update={"variants": variants})
    table = assignments(plan, read_send_list(None, plan))
    assert sorted(zip(table["customer_id"], table["arm"], table["segment_id"], strict=True)) == sorted([
        (ids[0], "V1", "s1"), (ids[0], "V2", "s1"), (ids[1], "V1", "s1"), (ids[1], "V2", "s1"),
        (ids[2], "holdout", "s1"), (ids[3], "V3", "s2"), (ids[4], "holdout", "s2")])


class _UnusedTools:
    """The outcome routes use no planner tools: calling any fails the test (the app may look them up)."""

    def __getattr__(self, name: str) -> Any:
        def used(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"the outcome routes used tools.{name}")

        return used


def test_the_api_imports_outcomes_and_reports_results(store: Store, hillstrom: pd.DataFrame,
                                                      settings: Settings) -> None:
    local = settings.model_copy(update={"db_url": store.url})
    _, key = create_key(store, "analyst")
    headers = {"Authorization": f"Bearer {key}"}
    body = _outcomes(hillstrom).to_csv(index=False).encode()
    tools: Any = _UnusedTools()
    with TestClient(create_app(local, tools, FunctionModel(chat_llm, name="scripted"), store=store,
                               llm_probe=lambda: ["m"])) as client:
        assert client.get(f"/v1/plans/{PLAN_ID}/results", headers=headers).status_code == 409  # nothing stored
        url = f"/v1/plans/{PLAN_ID}/outcomes"
        assert client.post(url, content=body, headers={**headers, "Content-Type": "text/csv"}).json() == {
            "plan_id": PLAN_ID, "rows": 600, "inserted": 600, "unchanged": 0, "replaced": 0}
        assert client.post(url, content=body, headers={**headers, "Content-Type": "text/plain"}).status_code == 415
        assert client.post(url, content=body, headers={"Content-Type": "text/csv"}).status_code == 401
        bad = _outcomes(hillstrom).iloc[:3].assign(customer_id=["0", "1", "ghost"])
        out = io.BytesIO()
        bad.to_parquet(out, index=False)
        rejected = client.post(url, content=out.getvalue(),
                               headers={**headers, "Content-Type": "application/vnd.apache.parquet"})
        assert rejected.status_code == 422
        assert rejected.json()["detail"]["errors"] == [
            {"row": "row 3", "customer_id": "ghost", "arm": bad.loc[2, "arm"],
             "message": "unknown customer 'ghost': not in the plan's send list"}]
        results = client.get(f"/v1/plans/{PLAN_ID}/results?metric=clicked", headers=headers)
        assert results.status_code == 200
        assert results.json() == plan_results(store, None, PLAN_ID, "clicked").model_dump(mode="json")
        assert client.post("/v1/plans/nope/outcomes", content=body,
                           headers={**headers, "Content-Type": "text/csv"}).status_code == 404
        page = client.get(f"/v1/plans/{PLAN_ID}/results.html?metric=clicked", headers=headers)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script runs
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.text.count('<img src="data:image/png;base64,') == 1  # this plan predicts nothing
        plot = client.get(f"/v1/plans/{PLAN_ID}/results/plot.png?kind=lift&metric=clicked", headers=headers)
        assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
        assert plot.content.startswith(b"\x89PNG")
        assert client.get(f"/v1/plans/{PLAN_ID}/results/plot.png?kind=predicted&metric=clicked",
                          headers=headers).status_code == 409  # no prediction to plot
        assert client.get("/v1/plans/nope/results.html", headers=headers).status_code == 404
        assert client.get(f"/v1/plans/{PLAN_ID}/results.html").status_code == 401
        assert "img-src 'self' blob:" in client.get("/").headers["content-security-policy"]  # the page's plots


def test_the_cli_imports_and_analyses_outcomes(store: Store, hillstrom: pd.DataFrame, tmp_path: Path,
                                               settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve.outcomes, "get_settings", lambda: settings.model_copy(update={"db_url": store.url}))
    file = tmp_path / "outcomes.csv"
    _outcomes(hillstrom).to_csv(file, index=False)
    runner = CliRunner()
    done = runner.invoke(cli_app, ["outcomes", "import", PLAN_ID, str(file)])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == f"plan {PLAN_ID}: 600 rows: 600 added, 0 unchanged, 0 replaced"
    changed = _outcomes(hillstrom)
    changed.loc[0, "clicked"] = 1
    changed.to_csv(file, index=False)
    refused = runner.invoke(cli_app, ["outcomes", "import", PLAN_ID, str(file)])
    assert refused.exit_code == 2
    assert "line 2: changes the stored outcome of customer '0' arm 'V2' (clicked False -> True)" in refused.stderr
    assert "outcomes.csv: 1 of 600 rows rejected; nothing imported" in refused.stderr
    replaced = runner.invoke(cli_app, ["outcomes", "import", PLAN_ID, str(file), "--replace"])
    assert replaced.exit_code == 0 and "1 replaced" in replaced.stdout
    analysed = runner.invoke(cli_app, ["outcomes", "analyse", PLAN_ID, "--outcome", "clicked", "--json"])
    assert analysed.exit_code == 0, analysed.output
    assert json.loads(analysed.stdout) == plan_results(store, None, PLAN_ID, "clicked").summary()
    unknown = runner.invoke(cli_app, ["outcomes", "analyse", "nope", "--json"])
    assert unknown.exit_code == 2 and "no plan nope" in unknown.stderr
    _predicting(store)
    report = tmp_path / "results.html"
    shown = runner.invoke(cli_app, ["outcomes", "analyse", PLAN_ID, "--outcome", "clicked", "--html", str(report)])
    assert shown.exit_code == 0, shown.output
    assert "predicted response per send (visit) against observed clicked" in shown.stdout
    assert "arms inside their 90% interval" in shown.stdout
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count('<img src="data:image/png;base64,') == 2


PUBLISHED = {"V1": 0.183, "V2": 0.151}
"""Hillstrom's published full-data visit rates of men's and women's e-mail, used here as the plan's predictions
(with a ±0.02 interval set here): the first 600 customers are observed against them."""


def _predicting(store: Store) -> CampaignPlan:
    """Give the stored Hillstrom plan a variant per e-mail predicting its published visit rate."""
    plan = load_plan(store, PLAN_ID)
    variants = [CopyVariant(variant_id=v, segment_id=plan.segments[0].segment_id, channel="email", language="en",
                            product_id=v, product_title=v, headline="h", body="b", cta="c", source="template",
                            effect=EffectEstimate(product_id=v, metric="visit", point=r, low=r - 0.02, high=r + 0.02,
                                                  n_customers=600, factors=[]))
                for v, r in PUBLISHED.items()]
    plan = plan.model_copy(update={"variants": variants, "brief": plan.brief.model_copy(
        update={"name": 'Tom & Jerry\'s "gift" sale'})})
    assert store.set_status(PLAN_ID, "done", plan=plan.model_dump_json(), steps_done=1)
    return plan


def test_each_variant_is_checked_against_its_predicted_interval(store: Store, hillstrom: pd.DataFrame) -> None:
    plan = _predicting(store)
    import_outcomes(store, None, PLAN_ID, _outcomes(hillstrom), "outcomes.csv")
    result = plan_results(store, None, PLAN_ID, "clicked")
    (check,) = result.predictions
    assert check.predicted_metric == "response per send (visit)" and check.observed_metric == "clicked"
    assert "compared with the share of the arm's customers with clicked" in check.pairing
    errors = []
    for c in check.arms:
        visits = hillstrom.loc[hillstrom["arm"] == c.arm, "visit"]
        assert (c.n, c.observed) == (len(visits), pytest.approx(visits.mean()))
        assert (c.observed_low, c.observed_high) == pytest.approx(wilson_interval(int(visits.sum()), len(visits)))
        assert (c.predicted, c.predicted_low, c.predicted_high) == pytest.approx(
            (PUBLISHED[c.arm], PUBLISHED[c.arm] - 0.02, PUBLISHED[c.arm] + 0.02))
        assert c.inside == (abs(visits.mean() - PUBLISHED[c.arm]) <= 0.02)
        errors.append(PUBLISHED[c.arm] - visits.mean())
    assert check.mean_error == pytest.approx(sum(errors) / 2)
    assert check.share_inside == sum(c.inside for c in check.arms) / 2
    page = results_report(plan, result)
    assert "Results: Tom &amp; Jerry&#x27;s &quot;gift&quot; sale" in page  # escaped (markup is refused earlier)
    assert page.count('<img src="data:image/png;base64,') == 2  # lift per arm, predicted against observed


def test_a_cli_plan_is_recorded_in_the_api_database_and_takes_outcomes(
        api_retail_tools: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``campaign plan`` on the retail shop (scripted copywriter), then import and analyse its outcomes by plan id.

    The shop was never sent this campaign, so the outcomes are derived, not observed: ``converted`` is whether the
    customer really ordered in the shop's last 30 days (any product), ``revenue`` what they spent then.
    """
    local = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'api.db'}"})
    tools = dataclasses.replace(api_retail_tools, audience_dir=audience_dir(local))  # as build_tools sets it
    plan_offline(monkeypatch, local, tools, serve.outcomes)
    brief = tmp_path / "brief.yaml"
    brief.write_text("name: Lapsed buyers\nshop: retail\ngoal: Bring lapsed buyers back\naudience: lapsed customers\n"
                     "audience_filter: {lifecycle: [lapsed]}\nchannels: [email]\nsend_budget: 2000\n"
                     "variants_per_channel: 2\nmax_revisions: 1\n", encoding="utf-8")
    runner = CliRunner()
    planned = runner.invoke(cli_app, ["plan", str(brief), "--out", str(tmp_path / "out")])
    assert planned.exit_code == 0, planned.output
    plan = CampaignPlan.model_validate_json((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert f"recorded plan {plan.plan_id} in the API database" in planned.output
    assert plan.launch is not None and plan.audience_file is not None and plan.audience_file.sends > 0
    store = Store(local.database_url)
    try:
        job = store.job(plan.plan_id)
        assert job is not None and (job.owner, job.status) == ("cli", "done")
        assert CampaignPlan.model_validate_json(job.plan or "").audience_file == plan.audience_file
        assert plan.plan_id in [j.id for j in store.jobs()]  # GET /v1/plans lists it
    finally:
        store.engine.dispose()
    sent = read_send_list(local, plan).dropna(subset=["variant_id"])
    orders = api_retail_tools.shop.orders
    last = orders[(orders["timestamp"] > orders["timestamp"].max() - 30 * 86400) & orders["cancelled"].ne(1)]
    spent = (last["quantity"] * last["unit_price"]).groupby(last["customer_id"]).sum()
    outcomes = pd.DataFrame({"customer_id": sent["customer_id"], "arm": sent["variant_id"], "sent_at": SENT_AT,
                             "converted": sent["customer_id"].isin(spent.index).astype(int),
                             "revenue": sent["customer_id"].map(spent).fillna(0.0).round(2)})
    file = tmp_path / "outcomes.parquet"
    outcomes.to_parquet(file, index=False)
    imported = runner.invoke(cli_app, ["outcomes", "import", plan.plan_id, str(file)])
    assert imported.exit_code == 0, imported.output
    assert f"{len(outcomes)} rows: {len(outcomes)} added" in imported.stdout
    report = tmp_path / "results.html"
    analysed = runner.invoke(cli_app, ["outcomes", "analyse", plan.plan_id, "--json", "--html", str(report)])
    assert analysed.exit_code == 0, analysed.output
    summary = json.loads(analysed.stdout)
    assert summary["rows"] == len(outcomes)
    assert {a["arm"] for a in summary["arms"]} == set(outcomes["arm"]) - {"holdout"}
    result = plan_results(Store(local.database_url), local, plan.plan_id)
    assert [c.observed_metric for c in result.predictions] == ["converted", "revenue per customer"]
    assert {c.arm for c in result.predictions[0].arms} == set(outcomes["arm"]) - {"holdout"}
    assert report.read_text(encoding="utf-8").count('<img src="data:image/png;base64,') == 3  # lift, 2 × predicted
