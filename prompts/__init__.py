"""Prompt templates, rendered strictly: a missing variable is an error, never an empty string.

Every text sent to a language model is a ``*.jinja`` file in this folder, rendered by one
:class:`PromptRenderer`. :data:`PRODUCTION_PROMPTS` renders this folder; a renderer over another folder
(e.g. a prompt version under evaluation) renders that folder's files with the same rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

PROMPTS_DIR = Path(__file__).resolve().parent


class PromptError(ValueError):
    """A template is missing, does not parse, or was rendered without a variable it needs."""


class PromptRenderer:
    """Renders the templates of one folder with strict undefined variables.

    Args:
        directory: Folder holding the ``*.jinja`` templates (default: this package's folder).
    """

    def __init__(self, directory: Path = PROMPTS_DIR) -> None:
        self.directory = Path(directory)
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def __repr__(self) -> str:
        return f"PromptRenderer({str(self.directory)!r})"

    def render(self, name: str, **variables: Any) -> str:
        """Render template ``name`` (a file in :attr:`directory`) with ``variables``.

        Args:
            name: File name, e.g. ``"copy_system.jinja"``.
            **variables: Values for the template's variables.

        Returns:
            The rendered text, stripped.

        Raises:
            PromptError: when the template does not exist, does not parse, or uses a variable not given;
                the message names the template and the folder.
        """
        try:
            template = self._environment.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise PromptError(f"no prompt template named {name!r} in {self.directory}") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"prompt {name!r} in {self.directory}, line {exc.lineno}: {exc.message}") from exc
        try:
            return template.render(**variables).strip()
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt {name!r} in {self.directory}: {exc.message}") from exc


PRODUCTION_PROMPTS = PromptRenderer(PROMPTS_DIR)
"""The renderer of the prompts shipped in this package."""


def render(name: str, **variables: Any) -> str:
    """Render production template ``name`` (a file in ``prompts/``) with ``variables``.

    Args:
        name: File name, e.g. ``"chat_system.jinja"``.
        **variables: Values for the template's variables.

    Returns:
        The rendered text, stripped.

    Raises:
        PromptError: when the template does not exist, does not parse, or uses a variable not given.
    """
    return PRODUCTION_PROMPTS.render(name, **variables)
