"""Prompt templates, rendered strictly: a missing variable is an error, never an empty string."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

PROMPTS_DIR = Path(__file__).resolve().parent


class PromptError(ValueError):
    """A template is missing or was rendered without a variable it needs."""


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **variables: Any) -> str:
    """Render template ``name`` (a file in ``prompts/``) with ``variables``.

    Args:
        name: File name, e.g. ``"copy_system.jinja"``.
        **variables: Values for the template's variables.

    Returns:
        The rendered text, stripped.

    Raises:
        PromptError: when the template does not exist or uses a variable not given.
    """
    try:
        template = _environment().get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise PromptError(f"no prompt template named {name!r} in {PROMPTS_DIR}") from exc
    try:
        return template.render(**variables).strip()
    except jinja2.UndefinedError as exc:
        raise PromptError(f"prompt {name!r}: {exc.message}") from exc
