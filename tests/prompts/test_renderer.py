"""The one prompt renderer: any folder, strict variables, errors that name the template and the folder."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from prompts import PRODUCTION_PROMPTS, PROMPTS_DIR, PromptError, PromptRenderer, render

REPO = Path(__file__).resolve().parents[2]


def test_another_folder_renders_its_own_template(tmp_path):
    (tmp_path / "copy_system.jinja").write_text("{# a comment #}\nVersion B, in {{ language }}.\n")
    own = PromptRenderer(tmp_path)
    assert own.directory == tmp_path
    assert own.render("copy_system.jinja", language="en") == "Version B, in en."
    production = render("copy_system.jinja", language="en")
    assert production.startswith("You are a marketing copywriter") and "Version B" not in production
    assert PromptRenderer().directory == PROMPTS_DIR == PRODUCTION_PROMPTS.directory


def test_a_missing_variable_names_the_variable_template_and_folder(tmp_path):
    (tmp_path / "greeting.jinja").write_text("Hello {{ name }}")
    with pytest.raises(PromptError, match="'name' is undefined") as caught:
        PromptRenderer(tmp_path).render("greeting.jinja")
    assert "'greeting.jinja'" in str(caught.value) and str(tmp_path) in str(caught.value)
    with pytest.raises(PromptError, match="goal"):
        render("copy_user.jinja", language="en")


def test_a_missing_template_names_the_folder(tmp_path):
    with pytest.raises(PromptError, match=r"no prompt template named 'copy_user\.jinja'") as caught:
        PromptRenderer(tmp_path).render("copy_user.jinja")
    assert str(tmp_path) in str(caught.value)
    with pytest.raises(PromptError, match=re.escape(f"no prompt template named 'missing.jinja' in {PROMPTS_DIR}")):
        render("missing.jinja")


def test_a_template_that_does_not_parse_names_its_line(tmp_path):
    (tmp_path / "broken.jinja").write_text("fine\n{% if x %}never closed\n")
    with pytest.raises(PromptError, match=r"'broken\.jinja' in .*, line 2"):
        PromptRenderer(tmp_path).render("broken.jinja", x=True)


def test_the_chat_and_retry_prompts_render_from_the_prompts_folder():
    assert "find_audience" in render("chat_system.jinja")
    assert "request 1: one of find_audience, recommend_products" in render(
        "chat_route.jinja", shop="movielens", message="m", steps=[["find_audience", "recommend_products"]],
        spans=["m"], language="en")
    retry = render("structured_retry.jinja", problem="body too long")
    assert retry == ("That reply was not valid: body too long. "
                     "Answer again with only the JSON object, fixing these problems.")


def test_every_prompt_file_ships_with_the_package():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["prompts"]
    files = [p.name for p in PROMPTS_DIR.iterdir() if p.is_file() and p.suffix != ".py"]
    assert "chat_system.jinja" in files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in data)] == []
