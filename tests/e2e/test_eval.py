"""End to end: a smoke brief of each shop planned by the real embedded model and scored by `campaign eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from eval.cli import eval_command

pytestmark = pytest.mark.e2e
EVAL = Path(__file__).resolve().parents[2] / "eval"

app = typer.Typer(add_completion=False)
app.command("eval")(eval_command)
app.command("version")(lambda: None)


@pytest.mark.parametrize(("case_id", "shop"), [("push-documentary-en", "movielens"),
                                               ("retail-xmas10-email-en", "retail")])
def test_smoke_brief_on_the_embedded_model(llm_url, tmp_path, case_id, shop):
    del llm_url  # the session's server; the eval command reuses it
    result = CliRunner().invoke(app, ["eval", str(EVAL / "suites" / "smoke.yaml"), "--config",
                                      str(EVAL / "configs" / "embedded.yaml"), "--case", case_id,
                                      "--out", str(tmp_path)])
    assert result.exit_code in (0, 1), result.output  # 1: a gate failed, which the results must show
    run = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    assert run["is_model"] is True and run["model_name"] == "smollm2-135m-instruct"
    assert (result.exit_code == 1) == (not all(g["passed"] for g in run["gates"]))
    case = run["cases"][0]
    assert case["outcome"] == "plan" and case["llm_calls"] >= 1 and case["tokens"] > 0
    assert json.loads(Path(case["plan_file"]).read_text())["shop"] == shop
    scores = {s["scorer"]: s for s in case["scores"]}
    assert scores["outcome"]["status"] == "pass" and scores["schema"]["status"] == "pass"
    assert all(s["status"] in {"pass", "fail", "n/a"} and s["evidence"] for s in scores.values())
    assert "Model results" in (tmp_path / "report.html").read_text()
