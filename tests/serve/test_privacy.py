"""Privacy operations (issue 18 item 5): opt-out and erasure on the API and the CLI, retraining without an erased
customer, and no raw customer id or individual portrait in any prompt of a plan or a chat session."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pandas as pd
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import agent.assemble
from agent.assemble import build_tools, without_customers
from agent.brief import Brief, check_against_shop
from agent.llm import FunctionModel
from agent.loop import Planner, PlannerTools
from serve.auth import create_key
from serve.privacy import ERASURES_SUFFIX, plan_erasures
from serve.store import Store
from tests.serve.api_harness import SMALL_BRIEF, chat_llm, copywriter, make_app, new_key, sse
from tools.audience import AudienceQuery, ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import ClickModel
from tools.portraits import open_portrait_store
from tools.shop import Shop, load_shop

CUSTOMER_ID = re.compile(r"\bc_[0-9a-f]{16}\b")
PORTRAIT = re.compile(r"\b\d{1,3}-year-old\b|\blast active \d{4}-\d{2}-\d{2}", re.IGNORECASE)


def _lapsed(tools: PlannerTools) -> list[str]:
    found = tools.profiles.retrieve(AudienceQuery(text="lapsed sci-fi fans", limit=50))
    return [h.customer_id for h in found.portraits]


def test_the_api_opts_out_and_erases_with_an_admin_key(own_home, own_tools, tmp_path):
    victim, other = _lapsed(own_tools)[:2]
    plans = own_home.home / "audiences"
    shutil.rmtree(plans, ignore_errors=True)  # the copy holds earlier tests' plans, which may also send to the victim
    plans.mkdir()
    pd.DataFrame({"customer_id": [victim, other], "segment_id": "S1", "channel": "email",
                  "variant_id": ["V1", "holdout"]}).to_parquet(plans / "p1.parquet", index=False)
    pd.DataFrame({"customer_id": [other], "segment_id": "S1", "channel": "email",
                  "variant_id": ["V1"]}).to_parquet(plans / "p2.parquet", index=False)
    saved = own_home.models_dir / "effect" / "click_model.joblib"
    if not saved.is_file():  # an earlier test's erasure in the session's home removed it: fit it in this copy
        ClickModel.train(own_tools.shop, own_home)
    assert saved.is_file()  # fitted on the customers' ratings
    db = tmp_path / "api.db"
    admin = new_key(db, "admin")
    _, key = create_key(Store(f"sqlite:///{db}"), "reader", role="read")
    reader = {"Authorization": f"Bearer {key}"}
    with TestClient(make_app(own_home, own_tools, db)) as client:
        assert client.delete(f"/v1/customers/{victim}", headers=reader).status_code == 403
        assert client.post(f"/v1/customers/{other}/opt-out", headers=reader).status_code == 403
        assert client.delete(f"/v1/customers/{victim}").status_code == 401
        assert client.post("/v1/customers/c_nobody/opt-out", headers=admin).status_code == 404
        assert client.delete("/v1/customers/a b", headers=admin).status_code in (404, 422)

        opted = client.post(f"/v1/customers/{other}/opt-out", headers=admin)
        assert opted.status_code == 200 and opted.json() == {"customer_id": other, "shop": "movielens",
                                                             "opted_out": True}
        erased = client.delete(f"/v1/customers/{victim}", headers=admin)
        assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["portrait"] is True and body["derived_rows"] >= 1 and body["plans"] == ["p1"]
    assert "effect/click_model.joblib" in body["models_removed"] and not saved.exists()
    remaining = _lapsed(own_tools)
    assert victim not in remaining and other not in remaining  # erased and opted out: in no audience
    assert victim in own_tools.profiles.store.erased_ids()
    assert [e["customer_id"] for e in plan_erasures(own_home, "p1")] == [victim] and plan_erasures(own_home, "p2") == []
    assert pd.read_parquet(plans / "p1.parquet")["customer_id"].tolist() == [victim, other]  # the file is unchanged
    assert (plans / f"p1{ERASURES_SUFFIX}").is_file()


def test_a_model_retrained_after_an_erasure_has_no_trace_of_the_customer(own_home, own_tools, monkeypatch):
    victim = _lapsed(own_tools)[0]
    source = load_shop(own_home, "movielens")
    assert victim in set(source.interactions["customer_id"])
    own_tools.profiles.store.erase(victim)
    seen: dict[str, Shop] = {}

    def fit(shop, settings):  # what the recommender and the effect model are trained on
        seen["recommend"] = shop
        return None

    def effect(shop, settings):
        seen["effect"] = shop
        return None

    monkeypatch.setattr(agent.assemble.RecommendTool, "fit", staticmethod(fit))
    monkeypatch.setattr(agent.assemble, "effect_tool", effect)
    monkeypatch.setattr(agent.assemble, "headline_ctr_model", lambda settings: None)
    tools = build_tools(own_home, FunctionModel(copywriter), shop="movielens")
    for shop in (seen["recommend"], seen["effect"], tools.shop):
        assert victim not in set(shop.customers["customer_id"])
        assert victim not in set(shop.interactions["customer_id"])
    assert len(tools.shop.interactions) == len(source.interactions) - int(
        (source.interactions["customer_id"] == victim).sum())
    assert victim in set(load_shop(own_home, "movielens").customers["customer_id"])  # source files untouched
    assert without_customers(source, set()) is source


def test_the_cli_opts_out_and_erases_only_when_confirmed(own_home, own_tools, monkeypatch):
    from agent.cli import app

    victim, other = _lapsed(own_tools)[:2]
    monkeypatch.setenv("CAMPAIGN_HOME", str(own_home.home))
    monkeypatch.setattr("serve.privacy_cli.get_settings", lambda: own_home)
    runner = CliRunner()
    opted = runner.invoke(app, ["customers", "opt-out", other, "c_nobody", "--shop", "movielens"])
    assert opted.exit_code == 2 and "1 customer(s) of movielens opted out; unknown: c_nobody" in opted.stdout
    assert runner.invoke(app, ["customers", "erase", "bad id!"]).exit_code == 2
    declined = runner.invoke(app, ["customers", "erase", victim, "--shop", "movielens"], input="n\n")
    assert declined.exit_code == 2
    store = open_portrait_store(own_home, own_tools.shop)
    assert victim not in store.erased_ids()
    erased = runner.invoke(app, ["customers", "erase", victim, "--shop", "movielens", "--yes", "--json"])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout)[0]["customer_id"] == victim and victim in store.erased_ids()
    assert other not in _lapsed(dataclasses.replace(own_tools, profiles=ProfilesTool(store)))


def test_no_prompt_of_a_plan_or_a_chat_session_holds_a_customer_id_or_a_portrait(settings, api_tools, tmp_path):
    copy_model = FunctionModel(copywriter, name="scripted copy")
    tools = dataclasses.replace(api_tools, copy=CopyTool(copy_model, retries=0))
    brief = check_against_shop(Brief.model_validate(SMALL_BRIEF), tools.profiles.store.vocabulary(), "brief",
                               tools.shop.products)
    plan = Planner(tools).run(brief)
    assert plan.segments and copy_model.requests
    chat_model = FunctionModel(chat_llm, name="scripted chat")
    db = tmp_path / "api.db"
    headers = new_key(db)
    with TestClient(make_app(settings, tools, db, chat=chat_model)) as client:
        for message in ("How many lapsed sci-fi fans are there, and what would they watch?",
                        "Describe the customers who love horror", "Write an email about Star Wars for lapsed fans",
                        "Make a plan for active comedy fans", "What is the age and region of customer 42?"):
            with client.stream("POST", "/v1/chat", json={"message": message}, headers=headers) as reply:
                assert reply.status_code == 200 and sse(reply.iter_lines())[-1][0] == "done"
    assert len(chat_model.requests) >= 4
    ids = set(api_tools.shop.customers["customer_id"])
    for request in copy_model.requests + chat_model.requests:
        text = "\n".join(m.content or "" for m in request.messages)
        assert not CUSTOMER_ID.search(text) and not PORTRAIT.search(text), text[:300]
        assert not {w for w in re.findall(r"\w+", text) if w in ids}
