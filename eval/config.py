"""Eval configurations: which backend writes the copy, with which prompts and tool settings.

A configuration is a YAML file::

    name: embedded-default
    backend: embedded          # scripted-template | scripted-facts | embedded | openai
    model: null                # embedded: the settings' model; openai: required
    base_url: null             # openai only: an OpenAI-compatible …/v1 URL
    prompt_version: repo       # a label; with prompts_dir the copy prompts are read from that folder
    prompts_dir: null          # a folder holding every copy template: copy_system, copy_user, copy_fallback.jinja
    retries: 2                 # re-asks after an invalid draft
    temperature: 0.7
    concurrency: 4             # parallel copy requests within one plan
    seed: 42
    brief_overrides: {variants_per_channel: 2}   # applied to every brief before it is validated

The two scripted backends run no language model. They exist so CI can run the harness deterministically,
and every result they produce is labelled as a stand-in (:attr:`EvalConfig.is_model` is False).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from eval.suite import SuiteError, read_model
from tools.copywriting import CopyTool

Backend = Literal["scripted-template", "scripted-facts", "embedded", "openai"]

BACKEND_LABELS: dict[str, str] = {
    "scripted-template": "SCRIPTED STAND-IN, no language model: every reply is invalid, so all copy is the "
    "catalog fact template",
    "scripted-facts": "SCRIPTED STAND-IN, no language model: a fixed function writes copy from the prompt's "
    "facts",
    "embedded": "language model: the embedded vLLM server",
    "openai": "language model: an OpenAI-compatible server",
}


class BriefOverrides(BaseModel):
    """Brief fields a configuration may set for every case (tool settings of the loop)."""

    model_config = ConfigDict(extra="forbid")

    max_segments: int | None = Field(None, ge=1, le=10)
    variants_per_channel: int | None = Field(None, ge=1, le=5)
    max_revisions: int | None = Field(None, ge=1, le=10)

    def apply(self, brief: object) -> object:
        """Return ``brief`` with the set overrides (a non-mapping is returned unchanged, to be refused)."""
        if not isinstance(brief, dict):
            return brief
        return {**brief, **self.model_dump(exclude_none=True)}


class EvalConfig(BaseModel):
    """One configuration of the agent under evaluation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    backend: Backend
    model: str | None = None
    base_url: str | None = None
    prompt_version: str = "repo"
    prompts_dir: Path | None = None
    retries: int = Field(2, ge=0, le=5)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    concurrency: int = Field(4, ge=1, le=64)
    seed: int = 42
    brief_overrides: BriefOverrides = Field(default_factory=BriefOverrides)

    @model_validator(mode="after")
    def _backend_fields(self) -> EvalConfig:
        if self.backend == "openai" and not (self.base_url and self.model):
            raise ValueError("backend openai needs base_url and model")
        if self.backend != "openai" and self.base_url:
            raise ValueError(f"base_url is only used by backend openai, not {self.backend}")
        if self.backend.startswith("scripted") and self.model:
            raise ValueError(f"backend {self.backend} runs no model; remove model")
        return self

    @property
    def is_model(self) -> bool:
        """True when a language model writes the copy; False for the scripted stand-ins."""
        return not self.backend.startswith("scripted")

    @property
    def label(self) -> str:
        """Readable description of the backend, naming scripted stand-ins as such."""
        return f"{self.name}: {BACKEND_LABELS[self.backend]}"


def scripted_default() -> EvalConfig:
    """Return the configuration used when neither the command nor the suite names one."""
    return EvalConfig(name="scripted-template", backend="scripted-template", retries=0)


def load_config(path: Path) -> EvalConfig:
    """Read and validate a configuration file; a relative ``prompts_dir`` is resolved against its folder.

    Raises:
        SuiteError: one line naming the file and the first invalid field (a ``prompts_dir`` must be a folder
            holding every template the copy tool renders).
    """
    config = read_model(path, EvalConfig, "with name and backend")
    if config.prompts_dir is not None:
        folder = config.prompts_dir if config.prompts_dir.is_absolute() else path.parent / config.prompts_dir
        if not folder.is_dir():
            raise SuiteError(f"{path}: field 'prompts_dir': {folder} is not a folder")
        missing = [name for name in CopyTool.TEMPLATES if not (folder / name).is_file()]
        if missing:
            raise SuiteError(f"{path}: field 'prompts_dir': {folder} has no {', '.join(missing)} "
                             f"(a prompt version holds every copy template: {', '.join(CopyTool.TEMPLATES)})")
        config = config.model_copy(update={"prompts_dir": folder.resolve()})
    return config
