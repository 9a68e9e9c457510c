"""The profiles tool: find an audience among the customer portraits.

pydantic in (:class:`AudienceQuery`), pydantic out (:class:`AudienceResult`). The filter becomes an exact
Chroma ``where`` clause (returned with the result, for the trace); the query text ranks the matching
customers by cosine similarity of their portrait texts. Opted-out customers are always excluded.
"""

from __future__ import annotations

import re
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from tools.portrait_store import PortraitStore, open_portrait_store
from tools.portraits import Lifecycle, genre_key

__all__ = [
    "AudienceFilter",
    "AudienceQuery",
    "AudienceResult",
    "PortraitHit",
    "PortraitStore",
    "ProfilesTool",
    "open_portrait_store",
]

#: Words accepted for single-letter gender codes.
_GENDER_WORDS = {"female": "f", "woman": "f", "women": "f", "male": "m", "man": "m", "men": "m"}
_NOT_OPTED_OUT: dict[str, Any] = {"opted_out": False}


def _norm(value: str) -> str:
    return re.sub(r"[^0-9a-z]", "", value.lower())


def _canonical(values: list[str], valid: list[str], what: str) -> list[str]:
    """Map values to the vocabulary ignoring case and punctuation ("sci fi" → "Sci-Fi")."""
    by_norm = {_norm(v): v for v in valid}
    out = []
    for value in values:
        key = _norm(value)
        if what == "gender" and key not in by_norm:
            key = _GENDER_WORDS.get(key, key)
        if key not in by_norm:
            raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
        out.append(by_norm[key])
    return out


class AudienceFilter(BaseModel):
    """Structured constraints on an audience; every set field must hold (AND).

    Validated with ``context={"vocabulary": {...}}`` (as :meth:`ProfilesTool.retrieve` does), values are
    matched to the index's vocabulary ignoring case and punctuation; an unknown value raises a
    ``ValueError`` listing the valid ones.
    """

    model_config = ConfigDict(extra="forbid")

    age_min: int | None = Field(None, ge=0, le=120, description="Youngest age, inclusive.")
    age_max: int | None = Field(None, ge=0, le=120, description="Oldest age, inclusive.")
    gender: str | None = Field(None, description="Gender code as the shop records it, e.g. 'F' or 'M'.")
    occupations: list[str] = Field(default_factory=list, description="Any of these occupations.")
    regions: list[str] = Field(default_factory=list, description="Any of these regions.")
    lifecycle: list[Lifecycle] = Field(default_factory=list, description="Any of these lifecycle stages.")
    genres: list[str] = Field(
        default_factory=list, description="Any of these genres is among the customer's top interest genres."
    )

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}")
        vocabulary = (info.context or {}).get("vocabulary") if info is not None else None
        if vocabulary:
            if self.gender is not None:
                self.gender = _canonical([self.gender], vocabulary.get("genders", []), "gender")[0]
            self.occupations = _canonical(self.occupations, vocabulary.get("occupations", []), "occupation")
            self.regions = _canonical(self.regions, vocabulary.get("regions", []), "region")
            self.genres = _canonical(self.genres, vocabulary.get("genres", []), "genre")
        return self

    def conditions(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Return each set constraint as (human label, its Chroma clauses)."""
        out: list[tuple[str, list[dict[str, Any]]]] = []
        if self.age_min is not None and self.age_max is not None:
            ages = [{"age": {"$gte": self.age_min}}, {"age": {"$lte": self.age_max}}]
            out.append((f"age {self.age_min}–{self.age_max}", ages))
        elif self.age_min is not None:
            out.append((f"age ≥ {self.age_min}", [{"age": {"$gte": self.age_min}}]))
        elif self.age_max is not None:
            out.append((f"age ≤ {self.age_max}", [{"age": {"$lte": self.age_max}}]))
        if self.gender is not None:
            out.append((f"gender={self.gender}", [{"gender": self.gender}]))
        for key, values in (
            ("occupation", self.occupations),
            ("region", self.regions),
            ("lifecycle", list(self.lifecycle)),
        ):
            if len(values) == 1:
                out.append((f"{key}={values[0]}", [{key: values[0]}]))
            elif values:
                out.append((f"{key} in {', '.join(values)}", [{key: {"$in": values}}]))
        flags: list[dict[str, Any]] = [{genre_key(g): True} for g in self.genres]
        if flags:
            out.append(
                (f"genre {' or '.join(self.genres)}", [flags[0] if len(flags) == 1 else {"$or": flags}])
            )
        return out

    def to_where(self) -> dict[str, Any]:
        """Return the exact Chroma ``where`` clause (always excluding opted-out customers)."""
        return self.combine([clause for _, clauses in self.conditions() for clause in clauses])

    @staticmethod
    def combine(clauses: list[dict[str, Any]]) -> dict[str, Any]:
        """AND clauses together with the opt-out exclusion into one Chroma ``where`` clause.

        Args:
            clauses: Chroma clauses.

        Returns:
            ``{"$and": [...]}``, or the opt-out clause alone when there is no other clause.
        """
        every = [*clauses, _NOT_OPTED_OUT]
        return every[0] if len(every) == 1 else {"$and": every}

    def describe(self) -> str:
        """Return the constraints in words, e.g. "lifecycle=lapsed AND genre Sci-Fi"."""
        return " AND ".join(label for label, _ in self.conditions()) or "no constraint"


class AudienceQuery(BaseModel):
    """Who to find: free text (ranks customers), structured filter (restricts them), and a limit."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000, description="The audience in words.")
    filter: AudienceFilter = Field(default_factory=AudienceFilter)
    limit: int = Field(200, ge=1, le=5000, description="Maximum number of customers returned.")


class PortraitHit(BaseModel):
    """One retrieved customer."""

    customer_id: str
    score: float = Field(
        ge=0.0, le=1.0, description="Cosine similarity of portrait and query, clipped to 0..1."
    )
    text: str
    metadata: dict[str, Any]


class AudienceResult(BaseModel):
    """The retrieved audience and how it was found."""

    query_text: str
    filter_used: AudienceFilter
    where: dict[str, Any] = Field(description="The exact Chroma where clause that was applied.")
    portraits: list[PortraitHit]
    message: str


class ProfilesTool:
    """Find audiences among the indexed customers (dependencies injected).

    Args:
        store: The portrait store.
    """

    def __init__(self, store: PortraitStore) -> None:
        self.store = store

    def retrieve(self, query: AudienceQuery) -> AudienceResult:
        """Return the customers satisfying the filter, most similar to the query text first.

        Args:
            query: Text, filter and limit.

        Returns:
            The hits, the filter used (values canonicalised), the exact Chroma ``where`` clause, and a
            message (naming which condition to widen when nothing matches).

        Raises:
            ValueError: A filter value is not in the index's vocabulary (the message lists valid values).
        """
        try:
            checked = AudienceFilter.model_validate(
                query.filter.model_dump(), context={"vocabulary": self.store.vocabulary()}
            )
        except ValidationError as exc:
            problems = (str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
            raise ValueError("invalid audience filter: " + "; ".join(problems)) from None
        where = checked.to_where()
        found = self.store.collection.query(
            query_texts=[query.text],
            n_results=query.limit,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids, docs = found["ids"][0], (found["documents"] or [[]])[0]
        metas, distances = (found["metadatas"] or [[]])[0], (found["distances"] or [[]])[0]
        hits = [
            PortraitHit(
                customer_id=cid,
                score=float(np.clip(1.0 - distance, 0.0, 1.0)),
                text=doc or "",
                metadata=dict(meta or {}),
            )
            for cid, doc, meta, distance in zip(ids, docs, metas, distances, strict=True)
        ]
        if hits:
            capped = " (limit reached: raise the limit for more)" if len(hits) == query.limit else ""
            message = f"{len(hits)} customers match {checked.describe()}, ranked by similarity{capped}."
        else:
            message = self._empty_message(checked)
        return AudienceResult(
            query_text=query.text, filter_used=checked, where=where, portraits=hits, message=message
        )

    def _count(self, where: dict[str, Any]) -> int:
        return len(self.store.collection.get(where=where, include=[])["ids"])

    def _empty_message(self, audience: AudienceFilter) -> str:
        """Explain an empty result and name the condition whose removal matches the most customers."""
        conditions = audience.conditions()
        if not conditions:
            return "No customer matches: the index is empty or every customer opted out."
        widened = []
        for index, (label, _) in enumerate(conditions):
            rest = [clause for i, (_, clauses) in enumerate(conditions) if i != index for clause in clauses]
            widened.append((self._count(AudienceFilter.combine(rest)), label))
        best_count, best_label = max(widened)
        text = audience.describe()
        if best_count == 0:
            return f"No customer matches: {text} — try widening several of these conditions."
        return (
            f"No customer matches: {text} — try widening {best_label} "
            f"({best_count} customers match without it)."
        )

    def embeddings(self, customer_ids: list[str]) -> np.ndarray:
        """Return the stored portrait vectors in the order of ``customer_ids`` (for clustering).

        Args:
            customer_ids: Pseudonymised ids, e.g. from :meth:`retrieve`.

        Returns:
            Array of shape ``(len(customer_ids), 384)``, float32, rows L2-normalised.

        Raises:
            ValueError: An id is unknown or opted out.
        """
        got = self.store.collection.get(ids=list(customer_ids), include=["embeddings", "metadatas"])
        metas = got["metadatas"] or [{}] * len(got["ids"])
        vectors = {
            cid: vector
            for cid, vector, meta in zip(got["ids"], got["embeddings"], metas, strict=True)  # type: ignore[arg-type]
            if not (meta or {}).get("opted_out")
        }
        missing = [cid for cid in customer_ids if cid not in vectors]
        if missing:
            raise ValueError(
                f"{len(missing)} customer(s) unknown or opted out, e.g. {', '.join(missing[:5])}"
            )
        return np.asarray([vectors[cid] for cid in customer_ids], dtype=np.float32).reshape(
            len(customer_ids), -1
        )
