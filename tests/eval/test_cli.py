"""`campaign eval` end to end with the scripted stand-in backends: results, report, comparison, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from agent.settings import get_settings
from eval.cli import eval_command

EVAL = Path(__file__).resolve().parents[2] / "eval"
SMOKE = EVAL / "suites" / "smoke.yaml"
CONFIGS = EVAL / "configs"

app = typer.Typer(add_completion=False)
app.command("eval")(eval_command)
app.command("version")(lambda: None)  # a second command keeps "eval" a subcommand, as in agent/cli.py


@pytest.fixture
def home(settings, store, monkeypatch):
    """Point the CLI's settings at the session's temporary home (portrait index built by the fixture)."""
    del store
    monkeypatch.setenv("CAMPAIGN_HOME", str(settings.home))
    get_settings.cache_clear()
    yield settings.home
    get_settings.cache_clear()


def _invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args], catch_exceptions=False)


def test_smoke_suite_on_the_scripted_stand_in(home, tmp_path):
    result = _invoke(str(SMOKE), "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run = summary["runs"][0]
    assert run["config"] == "scripted-template" and run["is_model"] is False and run["passed"]
    assert run["summary"]["cases"] == 8 and run["summary"]["outcomes"] == {"plan": 6, "empty": 1, "refused": 1}
    assert run["summary"]["copy_from_llm"] == 0 and run["summary"]["copy_from_template"] > 0
    assert run["summary"]["copy_from_llm_share"] == 0.0
    results = json.loads((tmp_path / "results.json").read_text())
    cases = {c["case_id"]: c for c in results["runs"][0]["cases"]}
    for case in cases.values():
        assert {s["scorer"] for s in case["scores"]} == {
            "outcome", "schema", "constraints", "grounding", "intent", "personalisation", "value", "diversity", "cost"}
        assert all(s["evidence"] for s in case["scores"])
    assert cases["edge-age-min-above-max"]["outcome"] == "refused"
    assert "age_min 60 is above age_max 20" in cases["edge-age-min-above-max"]["message"]
    assert cases["edge-nobody-matches"]["warnings"][0].startswith("No customer matches")
    plan_file = Path(cases["push-documentary-en"]["plan_file"])
    assert plan_file.is_file() and json.loads(plan_file.read_text())["status"] == "ok"
    shops = {cid: json.loads(Path(c["plan_file"]).read_text())["shop"] for cid, c in cases.items() if c["plan_file"]}
    assert shops == {"push-documentary-en": "movielens", "scifi-winback-email-push-en": "movielens",
                     "drama-sms-zh": "movielens", "edge-nobody-matches": "movielens",
                     "retail-xmas10-email-en": "retail", "retail-candles-sms-zh": "retail",
                     "comedy-welcome-new-en": "movielens"}
    intent = {s["scorer"]: s for s in cases["comedy-welcome-new-en"]["scores"]}["intent"]
    assert intent["status"] == "pass" and intent["details"]["intent"] == ["Comedy"]
    assert intent["details"]["intent_share"] == 1.0
    assert run["summary"]["strategy_rounds"] == 1.0  # the stand-in's invalid reply stops each segment's first round
    assert run["summary"]["strategy_llm_win_share"] == 0.0
    for cid in ("retail-xmas10-email-en", "retail-candles-sms-zh"):
        scores = {s["scorer"]: s for s in cases[cid]["scores"]}
        assert scores["grounding"]["status"] == "pass" and scores["grounding"]["details"]["shop"] == "retail"
        assert scores["value"]["details"]["effect_tool"] == "PurchaseEffect"
        assert all("£" in m["body"] for m in cases[cid]["messages"])
    assert all("XMAS10" in m["body"] for m in cases["retail-xmas10-email-en"]["messages"])
    report = (tmp_path / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 4
    assert "SCRIPTED STAND-IN — NOT A MODEL RESULT" in report and "edge-nobody-matches" in report


def test_compare_two_configurations_reports_paired_differences(home, tmp_path):
    result = _invoke(str(SMOKE), "--compare", str(CONFIGS / "scripted-template.yaml"),
                     str(CONFIGS / "scripted-facts.yaml"), "--case", "push-documentary-en", "--case", "drama-sms-zh",
                     "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["config"]["name"] for r in results["runs"]] == ["scripted-template", "scripted-facts"]
    facts = results["runs"][1]["summary"]
    assert facts["copy_from_llm"] > 0  # the facts stand-in's drafts pass the copy tool's validation
    rows = {d["measure"]: d for d in results["comparison"]["differences"]}
    assert rows["grounding score"]["difference"]["n"] == 2
    assert rows["LLM calls"]["verdict"] in {"B higher", "B lower", "no clear difference"}
    assert "Comparison: B against A" in (tmp_path / "report.html").read_text()


def test_a_failed_gate_exits_non_zero(home, tmp_path):
    suite = yaml.safe_load(SMOKE.read_text())
    suite["config"] = str(CONFIGS / "scripted-template.yaml")
    suite["thresholds"] = {"cost": {"max_llm_calls": 0}}  # every plan with messages makes at least one call
    suite["gates"] = {"cost": 1.0}
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(suite, allow_unicode=True))
    result = _invoke(str(path), "--case", "push-documentary-en", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "gate failed: cost" in result.output
    gates = json.loads((tmp_path / "out" / "results.json").read_text())["runs"][0]["gates"]
    assert gates == [{"name": "cost", "required": 1.0, "actual": 0.0, "passed": False, "note": ""}]


def test_invalid_inputs_exit_2_with_one_line(tmp_path):
    (tmp_path / "suite.yaml").write_text("name: s\ncases: []\n")
    result = _invoke(str(tmp_path / "suite.yaml"), "--out", str(tmp_path))
    assert result.exit_code == 2 and "field 'cases'" in result.output
    result = _invoke(str(SMOKE), "--case", "nope", "--out", str(tmp_path))
    assert result.exit_code == 2 and "no case nope" in result.output
    result = _invoke(str(SMOKE), "--config", str(tmp_path / "missing.yaml"), "--compare", "a", "b")
    assert result.exit_code == 2 and "either --config or --compare" in result.output
