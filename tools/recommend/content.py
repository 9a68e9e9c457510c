"""Content similarity of products: MiniLM text embeddings, TF-IDF keywords and genre Jaccard.

Each product is described by the text ``"Title (year): Genre, Genre"``. Three views of it give three
item×item similarities: the cosine of the packaged MiniLM embeddings of the text (``tools.embedding``), the
cosine of TF-IDF vectors over title words and genres, and the Jaccard index of the genre sets.
:class:`ContentRecommender` scores a customer's portrait — the mean of the rated products' vectors in one
view — against every product, so it also serves customers and products the ratings know nothing about.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from agent.settings import Settings

ContentKind = Literal["embedding", "keywords", "genres"]
CONTENT_KINDS: tuple[ContentKind, ...] = ("embedding", "keywords", "genres")


def item_text(title: str, year: object, genres: list[str]) -> str:
    """Return the text that describes a product: ``"Alien (1979): Action, Horror, Sci-Fi"``."""
    dated = title if year is None or pd.isna(year) else f"{title} ({int(year)})"  # type: ignore[call-overload]
    return f"{dated}: {', '.join(genres)}" if genres else dated


def _genre_matrix(genres: list[list[str]], names: pd.Index) -> sp.csr_matrix:
    """Return the binary products×genres matrix (genre names compared case-insensitively)."""
    rows = [i for i, gs in enumerate(genres) for _ in gs]
    cols = names.get_indexer([g.lower() for gs in genres for g in gs])
    keep = np.asarray(cols) >= 0
    data = np.ones(int(keep.sum()))
    return sp.csr_matrix((data, (np.asarray(rows)[keep], np.asarray(cols)[keep])), shape=(len(genres), len(names)))


@dataclass
class ItemContent:
    """The catalog's content views, row-aligned with the product index they were built from.

    Attributes:
        texts: One describing text per product.
        genre_names: Lower-case genre vocabulary.
        genres: Binary products×genres matrix.
        keywords: L2-normalised TF-IDF products×terms matrix.
        vectorizer: The fitted TF-IDF vectoriser (to describe new products and free text).
        settings: Settings selecting the embedding model and the cache folder.
    """

    texts: list[str]
    genre_names: pd.Index
    genres: sp.csr_matrix
    keywords: sp.csr_matrix
    vectorizer: TfidfVectorizer
    settings: Settings
    _embeddings: np.ndarray | None = field(default=None, repr=False)
    _jaccard: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, products: pd.DataFrame, settings: Settings) -> ItemContent:
        """Describe the products (columns ``title``, ``year``, ``genres``) in the three views.

        Embeddings are computed on first use and cached under ``settings.models_dir``.
        """
        genres = [list(g) if isinstance(g, list | tuple | np.ndarray) else [] for g in products["genres"]]
        texts = [item_text(t, y, g) for t, y, g in zip(products["title"], products["year"], genres, strict=True)]
        names = pd.Index(sorted({g.lower() for gs in genres for g in gs}))
        vectorizer = TfidfVectorizer(token_pattern=r"(?u)\b[\w'-]+\b", sublinear_tf=True)
        keywords = sp.csr_matrix(vectorizer.fit_transform(texts))
        return cls(texts, names, _genre_matrix(genres, names), keywords, vectorizer, settings)

    def _cache_file(self) -> Path:
        from tools.embedding import model_dir

        digest = hashlib.sha256("\n".join([str(model_dir(self.settings)), *self.texts]).encode()).hexdigest()
        return self.settings.models_dir / "recommend" / f"item-embeddings-{digest[:16]}.npy"

    @property
    def embeddings(self) -> np.ndarray:
        """Return the normalised MiniLM embeddings of the texts (n_products × 384), cached on disk."""
        if self._embeddings is None:
            path = self._cache_file()
            if path.is_file():
                self._embeddings = np.load(path)
            else:
                from tools.embedding import encode

                self._embeddings = encode(self.texts, self.settings, batch_size=256).astype(np.float64)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, self._embeddings)
        return self._embeddings

    def features(self, kind: ContentKind) -> np.ndarray | sp.csr_matrix:
        """Return the products' row vectors in one view (genres: the binary genre sets)."""
        return {"embedding": lambda: self.embeddings, "keywords": lambda: self.keywords, "genres": lambda: self.genres}[
            kind
        ]()

    def similarity(self, kind: ContentKind, items: np.ndarray) -> np.ndarray:
        """Return the dense (n_products × len(items)) similarity of every product to each target product."""
        return self.similarity_to(kind, _rows(self.features(kind), items))

    def similarity_to(self, kind: ContentKind, vectors: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Return the dense (n_products × m) similarity of every product to ``m`` vectors of the same view."""
        mine = self.features(kind)
        inner = _dense(mine @ vectors.T)
        if kind != "genres":
            return inner
        sizes = np.asarray(mine.sum(axis=1)).ravel()[:, None] + np.asarray(vectors.sum(axis=1)).ravel()[None, :]
        union = sizes - inner
        return np.divide(inner, union, out=np.zeros_like(inner), where=union > 0)

    def describe(self, title: str, year: int | None, genres: list[str]) -> dict[ContentKind, np.ndarray | sp.spmatrix]:
        """Return a new product's vectors in the three views (genres the catalog does not know are ignored)."""
        return self._views([item_text(title, year, genres)], [genres])

    def describe_tastes(self, texts: list[str]) -> dict[ContentKind, np.ndarray | sp.spmatrix]:
        """Return the vectors of free-text tastes ("dark film noir") in the three views, one row per text.

        The genre view holds the catalog genres a text names: compared without punctuation, and a one-word
        genre also matches a word sharing its first five letters ("animated" → Animation).
        """
        named = []
        for text in texts:
            words = _plain(text).split()
            named.append([
                g for g in self.genre_names
                if f" {_plain(g)} " in f" {' '.join(words)} "
                or (" " not in _plain(g) and any(w[:5] == _plain(g)[:5] for w in words if len(w) >= 5))
            ])  # fmt: skip
        return self._views(texts, named)

    def _views(self, texts: list[str], genres: list[list[str]]) -> dict[ContentKind, np.ndarray | sp.spmatrix]:
        from tools.embedding import encode

        return {
            "embedding": encode(texts, self.settings).astype(np.float64),
            "keywords": sp.csr_matrix(self.vectorizer.transform(texts)),
            "genres": _genre_matrix(genres, self.genre_names),
        }


def _plain(text: str) -> str:
    """Return lower-case text with every run of non-alphanumerics (and a possessive 's) as one space."""
    return " ".join(re.sub(r"'s\b|[^a-z0-9]+", " ", text.lower()).split())


def _rows(matrix: np.ndarray | sp.spmatrix, rows: np.ndarray) -> np.ndarray | sp.spmatrix:
    return matrix[np.asarray(rows)]


def _dense(value: np.ndarray | sp.spmatrix) -> np.ndarray:
    return sp.csr_matrix(value).toarray() if sp.issparse(value) else np.asarray(value)


def portrait_scores(
    content: ItemContent, kind: ContentKind, history: sp.csr_matrix, extra: np.ndarray | sp.spmatrix | None = None
) -> np.ndarray:
    """Score every product against customers' portraits in one view (dense customers × products).

    A portrait is the mean of the customer's rated products' vectors (``history`` rows; for genres the mean
    Jaccard index to those products), plus an optional extra vector per customer (a stated taste).

    Args:
        content: The catalog's content views.
        kind: Which view.
        history: Customers × products matrix (nonzero = rated).
        extra: Optional customers × features matrix added to the portraits (for genres: genre sets).

    Returns:
        The similarity of every product to each customer's portrait.
    """
    binary = sp.csr_matrix(history, dtype=np.float64)
    binary.data[:] = 1.0
    counts = np.asarray(binary.sum(axis=1)).ravel() + (0 if extra is None else 1)
    inverse = sp.diags(np.divide(1.0, counts, out=np.zeros(counts.size), where=counts > 0))
    if kind == "genres":
        per_item = _dense(binary @ _jaccard_all(content)) if binary.nnz else np.zeros(binary.shape)
        if extra is not None:
            per_item = per_item + content.similarity_to("genres", extra).T
        return np.asarray(inverse @ per_item)
    features = content.features(kind)
    profile = _dense(binary @ features)
    if extra is not None:
        profile = profile + _dense(extra)
    return _dense(features @ np.asarray(inverse @ profile).T).T


def _jaccard_all(content: ItemContent) -> np.ndarray:
    """Return the dense products×products genre Jaccard matrix (computed once per content)."""
    if content._jaccard is None:
        content._jaccard = content.similarity("genres", np.arange(content.genres.shape[0]))
    return content._jaccard


class ContentRecommender:
    """Score products by their similarity to the customer's portrait in one content view.

    Attributes:
        name: ``content_embedding``, ``content_keywords`` or ``content_genres``.
    """

    def __init__(self, content: ItemContent, kind: ContentKind) -> None:
        """Configure the model on the catalog's content views and one view."""
        if kind not in CONTENT_KINDS:
            raise ValueError(f"unknown content kind {kind!r}; use one of {CONTENT_KINDS}")
        self.content = content
        self.kind = kind
        self.name = f"content_{kind}"

    def fit(self, matrix: sp.csr_matrix) -> Self:
        """Keep the customers' histories (content models learn nothing from ratings)."""
        if matrix.shape[1] != self.content.genres.shape[0]:
            raise ValueError(f"matrix has {matrix.shape[1]} products, the content {self.content.genres.shape[0]}")
        self.matrix_ = sp.csr_matrix(matrix, dtype=np.float64)
        self.matrix_.data[:] = 1.0
        return self

    def score_users(self, user_idx: np.ndarray, mask_seen: bool = True) -> np.ndarray:
        """Return the portrait similarity of every product for the given matrix rows."""
        seen = self.matrix_[np.asarray(user_idx)]
        scores = portrait_scores(self.content, self.kind, seen)
        if mask_seen:
            rows, cols = seen.nonzero()
            scores[rows, cols] = -np.inf
        return scores

    def item_contributions(
        self, user_idx: np.ndarray, row_weights: np.ndarray, evidence: sp.csr_matrix, items: np.ndarray
    ) -> np.ndarray:
        """Return Σ_u row_weights[u]·evidence[u, j]·sim(j, t)/|history of u| for every product j, target t."""
        counts = np.asarray(self.matrix_[np.asarray(user_idx)].sum(axis=1)).ravel()
        scaled = np.divide(row_weights, counts, out=np.zeros(counts.size), where=counts > 0)
        return self.content.similarity(self.kind, items) * (scaled @ evidence)[:, None]
