"""Features of a headline: interpretable style markers plus the MiniLM sentence embedding (cached on disk).

The style markers are the ones copywriters argue about (length, questions, numbers, "you", …); each has a
phrase a marketer can read. The embedding carries wording and topic. Embeddings of every headline seen are
cached under ``settings.models_dir / "headlines"`` because encoding thousands of texts on a CPU takes minutes.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence

import numpy as np

from agent.settings import Settings
from tools.embedding import encode

_YOU = re.compile(r"\byou(r|rs|rself|'re|’re|'ll|’ll|'ve|’ve)?\b", re.IGNORECASE)
_TEASE = re.compile(r"\b(this|these|here's|here’s|here is)\b", re.IGNORECASE)
_WH = re.compile(r"\b(why|how|what|who|when)\b", re.IGNORECASE)
_FIRST = re.compile(r"\b(i|i'm|i’m|me|my|we|our)\b", re.IGNORECASE)


def _words(text: str) -> list[str]:
    return text.split()


#: name → (phrase for marketers, function of the text). Numbers for counts, 0/1 for markers.
STYLE_FEATURES: dict[str, tuple[str, Callable[[str], float]]] = {
    "words": ("length in words", lambda t: float(len(_words(t)))),
    "word_length": ("average word length", lambda t: float(np.mean([len(w) for w in _words(t)] or [0]))),
    "question": ("asks a question", lambda t: float("?" in t)),
    "number": ("contains a number", lambda t: float(bool(re.search(r"\d", t)))),
    "starts_with_number": ("starts with a number", lambda t: float(bool(re.match(r"\s*\d", t)))),
    "you": ("speaks to the reader ('you')", lambda t: float(bool(_YOU.search(t)))),
    "exclamation": ("uses an exclamation mark", lambda t: float("!" in t)),
    "quote": ("quotes someone", lambda t: float(bool(re.search(r"[\"“”]", t)))),
    "colon": ("has a colon or dash break", lambda t: float(bool(re.search(r":|—| - ", t)))),
    "tease": ("teases with 'this', 'these' or 'here's'", lambda t: float(bool(_TEASE.search(t)))),
    "wh_word": ("uses why/how/what/who/when", lambda t: float(bool(_WH.search(t)))),
    "first_person": ("speaks in the first person", lambda t: float(bool(_FIRST.search(t)))),
    "ends_with_period": ("ends with a full stop", lambda t: float(t.rstrip().endswith("."))),
}
EMBEDDING_FACTOR = "wording and topic (MiniLM sentence embedding)"
CACHE_FILE = "embedding_cache.npz"


def style_matrix(texts: Sequence[str]) -> np.ndarray:
    """Return the style features of each text (texts × ``STYLE_FEATURES``)."""
    return np.array([[f(t) for _, f in STYLE_FEATURES.values()] for t in texts], dtype=np.float64).reshape(
        len(texts), len(STYLE_FEATURES)
    )


def embed_cached(texts: Sequence[str], settings: Settings) -> np.ndarray:
    """Return MiniLM embeddings of ``texts``, encoding only those not in the on-disk cache (then saved).

    Returns:
        Array (len(texts), 384), float32, rows L2-normalised.
    """
    folder = settings.models_dir / "headlines"
    path = folder / CACHE_FILE
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path, allow_pickle=False) as cache:
            known = dict(zip(cache["texts"].tolist(), cache["vectors"], strict=True))
    missing = sorted({t for t in texts if t not in known})
    if missing:
        known.update(zip(missing, encode(missing, settings), strict=True))
        folder.mkdir(parents=True, exist_ok=True)
        names = list(known)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp.npz")  # one per writer: two
        # plans saving at once each replace the cache with a whole file (one shared name: the second rename failed)
        np.savez(tmp, texts=np.array(names), vectors=np.stack([known[n] for n in names]).astype(np.float32))
        tmp.replace(path)
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([known[t] for t in texts]).astype(np.float32)


def headline_matrix(texts: Sequence[str], settings: Settings, vectors: np.ndarray | None = None) -> np.ndarray:
    """Return [style features, embedding] per text (unscaled); ``vectors`` are the embeddings if already known."""
    return np.hstack([style_matrix(texts), embed_cached(texts, settings) if vectors is None else vectors])
