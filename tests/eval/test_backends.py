"""Prompt versions: an eval config with its own prompts folder runs the production copy tool over that folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from eval.backends import build_copy_tool, prompt_fingerprint
from eval.config import EvalConfig, load_config
from eval.suite import SuiteError
from prompts import PRODUCTION_PROMPTS, PROMPTS_DIR
from tools.copywriting import CopyRequest, CopyTool, ProductFacts

MARKER = "PROMPT-VERSION-B"
REQUEST = CopyRequest(goal="win back fans", segment_name="Sci-Fi fans", segment_description="lapsed, 30s",
                      product=ProductFacts(product_id="50", title="Star Wars", year=1977, genres=["Sci-Fi"]),
                      channel="email", language="en")


def _version(tmp_path: Path, backend: str) -> EvalConfig:
    """Write prompt version B (production templates, marked) and a config naming it; return the loaded config."""
    folder = tmp_path / "prompts-b"
    folder.mkdir()
    for name in CopyTool.TEMPLATES:
        shutil.copy(PROMPTS_DIR / name, folder / name)
    user = (folder / "copy_user.jinja").read_text(encoding="utf-8")
    (folder / "copy_user.jinja").write_text(f"{MARKER}\n{user}", encoding="utf-8")
    fallback = (folder / "copy_fallback.jinja").read_text(encoding="utf-8")
    (folder / "copy_fallback.jinja").write_text(fallback.replace("Watch now", "Stream it tonight"), encoding="utf-8")
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump({"name": "b", "backend": backend, "prompt_version": "b",
                                    "prompts_dir": "prompts-b", "retries": 0}))
    return load_config(path)


def test_a_prompt_version_runs_the_production_copy_tool_over_its_folder(tmp_path, settings):
    config = _version(tmp_path, "scripted-facts")
    copy = build_copy_tool(config, settings)
    assert type(copy) is CopyTool and copy.prompts.directory == tmp_path / "prompts-b"
    result = copy.write(REQUEST)
    prompt = copy.model.requests[0].messages[1].content
    assert prompt.startswith(f"{MARKER}\nCampaign goal: win back fans") and "- Title: Star Wars" in prompt
    assert result.source == "llm" and "Star Wars" in result.headline  # the stand-in read the version's prompt

    repo = build_copy_tool(EvalConfig(name="a", backend="scripted-facts", retries=0), settings)
    assert repo.prompts is PRODUCTION_PROMPTS
    repo.write(REQUEST)
    assert MARKER not in repo.model.requests[0].messages[1].content


def test_a_prompt_version_falls_back_to_its_own_fact_template(tmp_path, settings):
    copy = build_copy_tool(_version(tmp_path, "scripted-template"), settings)
    assert copy.write(REQUEST).cta == "Stream it tonight"
    repo = build_copy_tool(EvalConfig(name="a", backend="scripted-template", retries=0), settings)
    assert repo.write(REQUEST).cta == "Watch now"


def test_the_fingerprint_tells_prompt_versions_apart(tmp_path):
    versioned = _version(tmp_path, "embedded")
    repo = EvalConfig(name="a", backend="embedded")
    assert prompt_fingerprint(versioned) != prompt_fingerprint(repo)
    assert prompt_fingerprint(repo) == prompt_fingerprint(EvalConfig(name="again", backend="scripted-facts"))


def test_a_prompt_version_must_hold_every_copy_template(tmp_path):
    (tmp_path / "copy_user.jinja").write_text("Title: {{ title }}\nWrite something.")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "v2", "backend": "embedded", "prompts_dir": "."}))
    with pytest.raises(SuiteError, match=r"has no copy_system\.jinja, copy_fallback\.jinja"):
        load_config(path)
