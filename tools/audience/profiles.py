"""The profiles tool: find an audience among the customer portraits.

pydantic in (:class:`AudienceQuery`), pydantic out (:class:`AudienceResult`). Unless told not to, the
tool reads a structured filter out of the description itself (:mod:`tools.audience.terms`: age, region,
lifecycle, gender, occupation, genre, segment, spend band; English or Chinese) and merges it with the
explicit filter (explicit values win); the result shows which words produced which constraint. The
filter (:mod:`tools.audience.filters`) becomes an exact Chroma ``where`` clause (returned with the result,
for the trace), evaluated on the in-memory mirror of the index (:mod:`tools.portraits.memory_index`); the
remaining meaningful text ranks the matching customers by cosine similarity of their portrait texts.
Opted-out customers are always excluded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.audience.filters import AudienceFilter
from tools.audience.terms import Derivation, derive_filter
from tools.portraits import PortraitStore

__all__ = [
    "AudienceFound",
    "AudienceQuery",
    "AudienceResult",
    "AudienceTable",
    "PortraitHit",
    "ProfilesTool",
]


class AudienceQuery(BaseModel):
    """Who to find: free text (ranks customers), structured filter (restricts them), and a limit."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000, description="The audience in words (English or Chinese).")
    filter: AudienceFilter = Field(default_factory=AudienceFilter)
    limit: int = Field(200, ge=1, le=5000, description="Maximum number of customers returned.")
    derive_filter: bool = Field(
        True, description="Read constraints (age, region, lifecycle, genre, …) out of the text too."
    )


class PortraitHit(BaseModel):
    """One retrieved customer."""

    customer_id: str
    score: float = Field(ge=0.0, le=1.0, description="Cosine similarity of portrait and query, clipped to 0..1.")
    text: str
    metadata: dict[str, Any]


class AudienceFound(BaseModel):
    """How an audience was found: the query, the filter and where clause used, and a message."""

    query_text: str
    filter_used: AudienceFilter
    where: dict[str, Any] = Field(description="The exact Chroma where clause that was applied.")
    message: str
    semantic_text: str = Field("", description="The English text the customers were ranked by.")
    derived_from_text: dict[str, str] = Field(
        default_factory=dict, description="Words of the text → the constraint they produced (check and correct)."
    )
    notes: list[str] = Field(default_factory=list, description="Overridden, unavailable or untranslated terms.")


class AudienceResult(AudienceFound):
    """The retrieved audience, a hit per customer with its portrait text and metadata, and how it was found."""

    portraits: list[PortraitHit]


class AudienceTable(AudienceFound):
    """A whole retrieved audience as columns, and how it was found (:meth:`ProfilesTool.retrieve_all`).

    No object per customer: at 470,420 matching customers of the 1M scale test, a :class:`PortraitHit` each (with
    its metadata dict) added about a gigabyte to the planning process.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    customer_ids: list[str] = Field(description="Every matching customer, most similar to the query first.")
    scores: list[float] = Field(description="Their cosine similarity with the query, clipped to 0..1.")
    metadata: pd.DataFrame = Field(
        exclude=True, repr=False,
        description="Their portrait metadata, a row per customer in the same order (typed columns, as the "
                    "index's mirror keeps them; missing values are NA).",
    )

    def top(self, k: int) -> list[dict[str, Any]]:
        """Return the first ``k`` customers with their scores (for a trace)."""
        return [{"customer_id": c, "score": round(s, 4)}
                for c, s in zip(self.customer_ids[:k], self.scores[:k], strict=True)]


class ProfilesTool:
    """Find audiences among the indexed customers (dependencies injected).

    Args:
        store: The portrait store.
    """

    def __init__(self, store: PortraitStore) -> None:
        self.store = store

    def _check(self, audience: AudienceFilter, vocabulary: dict[str, list[str]]) -> AudienceFilter:
        try:
            return audience.checked(vocabulary)
        except ValidationError as exc:
            problems = (str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
            raise ValueError("invalid audience filter: " + "; ".join(problems)) from None

    @staticmethod
    def _derive(query: AudienceQuery, vocabulary: dict[str, list[str]]) -> tuple[AudienceFilter, Derivation, list[str]]:
        """The explicit filter merged with the one read out of the text, the derivation, and notes on overrides."""
        derivation = (
            derive_filter(query.text, vocabulary) if query.derive_filter else Derivation(semantic_text=query.text)
        )
        merged, overridden = query.filter.merged_with(derivation.fields)
        notes = list(derivation.notes)
        for name in overridden:
            words = [w for w, c in derivation.derived_from_text.items() if c.startswith(name.split("_")[0].rstrip("s"))]
            notes.append(f"explicit filter wins over {', '.join(repr(w) for w in words) or name} for {name}")
        return merged, derivation, notes

    def retrieve(self, query: AudienceQuery) -> AudienceResult:
        """Return the customers satisfying the filter, most similar to the query text first.

        Args:
            query: Text, filter, limit, and whether to read more constraints out of the text.

        Returns:
            The hits, the filter used (explicit merged with derived, values canonicalised), the words that
            produced derived constraints, the exact Chroma ``where`` clause, the ranking text, and a message
            (naming which condition to widen when nothing matches).

        Raises:
            ValueError: A filter value is not in the index's vocabulary (the message lists valid values).
        """
        vocabulary = self.store.vocabulary()
        merged, derivation, notes = self._derive(query, vocabulary)
        vector = self.store.embed([derivation.semantic_text])[0]
        result = self.search_vector(vector, merged, query.limit, vocabulary)
        return result.model_copy(
            update={
                "query_text": query.text,
                "semantic_text": derivation.semantic_text,
                "derived_from_text": derivation.derived_from_text,
                "notes": notes,
            }
        )

    def retrieve_all(self, query: AudienceQuery, page_size: int = 5000) -> AudienceTable:
        """Return every customer satisfying the filter, most similar to the query text first (no limit).

        The whole-audience plan's retrieval: the filter is evaluated on the mirror of the full store and every
        match is ranked exactly by its similarity to the query text (``query.limit`` is ignored); the portraits'
        metadata rows are then read in pages of ``page_size``, so no single read holds the mirror's lock for the
        whole audience. A customer erased between pages is left out. The audience comes back as columns
        (:class:`AudienceTable`), never as an object per customer.

        Args:
            query: Text, filter, and whether to read more constraints out of the text.
            page_size: Customers read per page.

        Returns:
            The customers, their scores and metadata, with how they were found (as :meth:`retrieve`).

        Raises:
            ValueError: A filter value is not in the index's vocabulary, or ``page_size`` is not positive.
        """
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        vocabulary = self.store.vocabulary()
        merged, derivation, notes = self._derive(query, vocabulary)
        checked = self._check(merged, vocabulary)
        where = checked.to_where()
        index = self.store.index()
        ids, scores = index.rank_all(self.store.embed([derivation.semantic_text])[0], where)
        found, found_scores, metadata = index.table_of(ids, scores, page_size)
        message = (f"{len(found)} customers match {checked.describe()}, ranked by similarity (all of them)."
                   if found else self._empty_message(checked))
        return AudienceTable(query_text=query.text, filter_used=checked, where=where, message=message,
                             semantic_text=derivation.semantic_text, derived_from_text=derivation.derived_from_text,
                             notes=notes, customer_ids=found, scores=np.clip(found_scores, 0.0, 1.0).tolist(),
                             metadata=metadata)

    def search_vector(
        self,
        vector: np.ndarray,
        audience: AudienceFilter | None = None,
        limit: int = 200,
        vocabulary: dict[str, list[str]] | None = None,
    ) -> AudienceResult:
        """Return the customers satisfying a filter, most similar to a precomputed query vector first.

        Args:
            vector: L2-normalised query embedding (384 floats).
            audience: Structured filter (checked against the vocabulary); None for no constraint.
            limit: Maximum number of customers.
            vocabulary: The index's vocabulary, when the caller already has it.

        Returns:
            The hits, filter used, Chroma ``where`` clause and message (``query_text`` is empty).
        """
        checked = self._check(
            audience or AudienceFilter(), vocabulary if vocabulary is not None else self.store.vocabulary()
        )
        where = checked.to_where()
        found = self.store.index().search_hits(vector, where, limit, self.store.propose)  # rows read under its lock
        hits = [
            PortraitHit(customer_id=h.customer_id, score=float(np.clip(h.score, 0.0, 1.0)), text=h.document,
                        metadata=h.metadata)
            for h in found
        ]
        if hits:
            capped = " (limit reached: raise the limit for more)" if len(hits) == limit else ""
            message = f"{len(hits)} customers match {checked.describe()}, ranked by similarity{capped}."
        else:
            message = self._empty_message(checked)
        return AudienceResult(query_text="", filter_used=checked, where=where, portraits=hits, message=message)

    def count(self, audience: AudienceFilter) -> int:
        """Return how many customers satisfy a filter (opted-out customers excluded)."""
        checked = self._check(audience, self.store.vocabulary())
        return int(self.store.index().mask(checked.to_where()).sum())

    def _empty_message(self, audience: AudienceFilter) -> str:
        """Explain an empty result and name the condition whose removal matches the most customers."""
        conditions = audience.conditions()
        if not conditions:
            return "No customer matches: the index is empty or every customer opted out."
        index = self.store.index()
        widened = []
        for position, (label, _) in enumerate(conditions):
            rest = [clause for i, (_, clauses) in enumerate(conditions) if i != position for clause in clauses]
            widened.append((int(index.mask(AudienceFilter.combine(rest)).sum()), label))
        best_count, best_label = max(widened)
        text = audience.describe()
        if best_count == 0:
            return f"No customer matches: {text} — try widening several of these conditions."
        return f"No customer matches: {text} — try widening {best_label} ({best_count} customers match without it)."
