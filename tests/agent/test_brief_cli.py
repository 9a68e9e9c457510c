from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.brief import BriefError, load_brief
from agent.cli import EXAMPLE_BRIEF, app

runner = CliRunner()
GOOD = EXAMPLE_BRIEF.read_text()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "brief.yaml"
    path.write_text(text)
    return path


def test_example_brief_is_valid():
    brief = load_brief(EXAMPLE_BRIEF)
    assert brief.channels == ["email", "push"] and brief.language == "en" and brief.send_budget == 20000
    assert brief.shop == "retail" and brief.offer is not None and brief.offer.code == "XMAS10"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace("send_budget: 20000\n", ""), "send_budget"),
        (lambda t: t.replace("send_budget: 20000", "send_budget: lots"), "send_budget"),
        (lambda t: t.replace("channels: [email, push]", "channels: [email, fax]"), "channels.1"),
        (lambda t: t.replace("language: en", "language: fr"), "language"),
        (lambda t: t + "colour: blue\n", "colour"),
        (lambda t: t.replace("lifecycle: [lapsed]", "lifecycle: [sleepy]"), "audience_filter.lifecycle.0"),
        (lambda t: t.replace("channels: [email, push]", "channels: [sms]") + f"disclaimer: {'x' * 120}\n",
         "disclaimer"),
        (lambda t: t.replace("  code: XMAS10\n", ""), "offer.code"),
        (lambda t: t.replace("percent_off: 10", "percent_off: 150"), "offer.percent_off"),
        (lambda t: t.replace("percent_off: 10", "percent_off: -5"), "offer.percent_off"),
        (lambda t: t.replace("valid_to: 2011-12-09", "valid_to: 2011-10-01"), "offer"),
        (lambda t: t.replace("shop: retail", "shop: Not A Shop"), "shop"),
    ],
)
def test_malformed_brief_exits_nonzero_with_one_line_naming_the_field(tmp_path, edit, field):
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(BriefError, match=f"field '{field}'"):
        load_brief(path)
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2
    output = result.output.strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert f"field '{field}'" in output


def test_unknown_channel_message_lists_valid_ones(tmp_path):
    path = _write(tmp_path, GOOD.replace("channels: [email, push]", "channels: [fax]"))
    result = runner.invoke(app, ["plan", str(path)])
    assert "'email', 'push' or 'sms'" in result.output and "'fax'" in result.output


def test_missing_and_unparsable_brief_files(tmp_path):
    result = runner.invoke(app, ["plan", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read" in result.output
    path = _write(tmp_path, "name: [unclosed\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and "not valid YAML at line" in result.output
    path = _write(tmp_path, "- a list\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and "expected a mapping" in result.output


def test_help_teaches():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("plan", "demo", "llm", "data", "train", "index"):
        assert command in result.output
    result = runner.invoke(app, ["plan", "--help"])
    assert "BRIEF" in result.output and "--out" in result.output


@pytest.mark.parametrize(("edit", "args", "where"), [
    (lambda t: t.replace("shop: retail", "shop: nosuchshop"), [], "field 'shop'"),
    (lambda t: t, ["--shop", "nosuchshop"], "option '--shop'"),
])
def test_unknown_shop_exits_2_with_one_line_listing_the_shops(tmp_path, edit, args, where):
    path = _write(tmp_path, edit(GOOD))
    result = runner.invoke(app, ["plan", str(path), *args])
    assert result.exit_code == 2
    output = result.output.strip()
    assert len(output.splitlines()) == 1, output
    assert where in output and "unknown shop 'nosuchshop'" in output and "retail, movielens" in output
