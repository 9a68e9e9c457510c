"""``campaign outcomes analyse --file``: the stand-alone JSON, the three file kinds, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import serve.outcomes
from agent.cli import app
from agent.settings import Settings

runner = CliRunner()


def _small(path: Path) -> Path:
    """A test of 40 customers: control 4/20 visited, arm A 10/20 (rows ordered control then A)."""
    rows = [{"customer": i, "group": "holdout", "clicked": int(i < 4), "revenue": 5.0 * (i < 4)} for i in range(20)]
    rows += [{"customer": 20 + i, "group": "A", "clicked": int(i < 10), "revenue": 8.0 * (i < 10)} for i in range(20)]
    data = pd.DataFrame(rows)
    if path.suffix == ".csv":
        data.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        data.to_parquet(path, index=False)
    else:
        data.to_json(path, orient="records", lines=True)
    return path


def _analyse(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["outcomes", "analyse", *args])
    return result.exit_code, result.stdout, result.stderr


def test_hillstrom_json_lists_the_e_mails_against_no_e_mail(settings: Settings) -> None:
    code, out, _ = _analyse("--file", str(settings.shared_data_dir / "hillstrom_dev.csv"), "--arm-column", "segment",
                            "--control", "No E-Mail", "--outcome", "visit", "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"rows", "arms", "winner"}
    assert result["rows"] == 48_000
    assert [a["arm"] for a in result["arms"]] == ["Mens E-Mail", "Womens E-Mail"]
    assert all(set(a) == {"arm", "n", "rate", "lift", "ci_low", "ci_high", "p_value"} for a in result["arms"])
    mens = result["arms"][0]
    assert mens["ci_low"] < 0.077 < mens["ci_high"]
    assert result["winner"] == "Mens E-Mail"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_file_kind_gives_the_same_answer(tmp_path: Path, suffix: str) -> None:
    path = _small(tmp_path / f"test{suffix}")
    code, out, _ = _analyse("--file", str(path), "--arm-column", "group", "--control", "holdout", "--outcome",
                            "clicked", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["rows"] == 40
    (arm,) = result["arms"]
    assert (arm["arm"], arm["n"], arm["rate"]) == ("A", 20, 0.5)
    assert arm["lift"] == pytest.approx(0.3)
    assert arm["ci_low"] < 0.3 < arm["ci_high"]


def test_the_table_shows_revenue_and_the_power_note(tmp_path: Path) -> None:
    path = _small(tmp_path / "test.csv")
    code, out, _ = _analyse("--file", str(path), "--arm-column", "group", "--control", "holdout", "--outcome",
                            "clicked", "--revenue", "revenue")
    assert code == 0
    assert "revenue/customer" in out and "4.00" in out  # arm A: 10 × 8.0 / 20
    assert "winner:" in out


def test_a_small_test_without_a_winner_gets_a_power_note(tmp_path: Path) -> None:
    rows = [{"g": "holdout", "y": int(i < 3)} for i in range(30)] + [{"g": "B", "y": int(i < 5)} for i in range(30)]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    code, out, _ = _analyse("--file", str(tmp_path / "t.csv"), "--arm-column", "g", "--control", "holdout",
                            "--outcome", "y")
    assert code == 0
    assert "winner: none" in out
    assert "power: B:" in out


def _bad(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    return path


@pytest.mark.parametrize(("content", "args", "message"), [
    (None, ["--outcome", "clicked"], "no such file"),
    ("group,clicked\nholdout,1\nA,0\n", ["--outcome", "visit"], "no column 'visit'"),
    ("group,clicked\ncontrol,1\nA,0\n", ["--outcome", "clicked"], "control 'holdout' not found in column 'group'"),
    ("group,clicked\nholdout,1\nA,yes\n", ["--outcome", "clicked"],
     "line 3: column 'clicked' must be 0 or 1, got 'yes'"),
    ("group,clicked\nholdout,1\nA,3\n", ["--outcome", "clicked"], "line 3: column 'clicked' must be 0 or 1, got 3"),
    ("group,clicked\nholdout,1\nA,0,7,8\n", ["--outcome", "clicked"], "line 3"),
    ("group,clicked,rev\nholdout,1,2.5\nA,0,lots\n", ["--outcome", "clicked", "--revenue", "rev"],
     "line 3: column 'rev' must be a number, got 'lots'"),
])
def test_bad_input_is_one_line_with_exit_2(tmp_path: Path, content: str | None, args: list[str], message: str) -> None:
    path = _bad(tmp_path, content) if content is not None else tmp_path / "missing.csv"
    code, out, err = _analyse("--file", str(path), "--arm-column", "group", "--control", "holdout", *args, "--json")
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_plan_id_is_looked_up_in_the_api_database(settings: Settings, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    local = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'api.db'}"})
    monkeypatch.setattr(serve.outcomes, "get_settings", lambda: local)
    code, _, err = _analyse("plan-123", "--outcome", "clicked")
    assert (code, err) == (2, "error: no plan plan-123\n")
    code, _, err = _analyse("plan-123", "--outcome", "visits")
    assert (code, err) == (2, "error: a plan's outcome is one of ['opened', 'clicked', 'converted'], not 'visits'\n")
    code, _, err = _analyse("plan-123", "--file", str(_small(tmp_path / "t.csv")), "--outcome", "clicked")
    assert (code, err) == (2, "error: give a PLAN_ID or --file FILE, not both\n")


def test_file_mode_writes_the_html_report_with_the_lift_plot(settings: Settings, tmp_path: Path) -> None:
    report = tmp_path / "hillstrom.html"
    result = runner.invoke(app, ["outcomes", "analyse", "--file", str(settings.shared_data_dir / "hillstrom_dev.csv"),
                                 "--arm-column", "segment", "--control", "No E-Mail", "--outcome", "visit",
                                 "--html", str(report)])
    assert result.exit_code == 0, result.output
    page = report.read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 1  # the lifts; a file holds no predictions
    assert "Mens E-Mail" in page and "Womens E-Mail" in page and "No predictions to compare" in page
    assert "<b>Winner:</b> Mens E-Mail" in page
