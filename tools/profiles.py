"""The profiles tool: find an audience among the customer portraits.

pydantic in (:class:`AudienceQuery`), pydantic out (:class:`AudienceResult`). Unless told not to, the
tool reads a structured filter out of the description itself (:mod:`tools.audience_terms`: age, region,
lifecycle, gender, occupation, genre, segment, spend band; English or Chinese) and merges it with the
explicit filter (explicit values win); the result shows which words produced which constraint. The
filter becomes an exact Chroma ``where`` clause (returned with the result, for the trace), evaluated on
the in-memory mirror of the index (:mod:`tools.portrait_index`); the remaining meaningful text ranks the
matching customers by cosine similarity of their portrait texts. Opted-out customers are always excluded.
"""

from __future__ import annotations

import re
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from tools.audience_terms import Derivation, derive_filter
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
    if what == "segment":  # a segment may be named by its number too
        by_norm.update({str(n): v for n, v in enumerate(valid)})
    out = []
    for value in values:
        key = _norm(value)
        if what == "gender" and key not in by_norm:
            key = _GENDER_WORDS.get(key, key)
        if key not in by_norm:
            if not valid and what == "spend band":
                raise ValueError(f"spend band {value!r} is not available: this shop records no money")
            raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid) or 'none in this index'}")
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
    segments: list[str] = Field(default_factory=list, description="Any of these segments (name or number).")
    spend_bands: list[str] = Field(
        default_factory=list, description="Any of these spend bands: low, medium, high (shops with money only)."
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
            self.segments = _canonical(self.segments, vocabulary.get("segments", []), "segment")
            self.spend_bands = _canonical(self.spend_bands, vocabulary.get("spend_bands", []), "spend band")
        return self

    def is_set(self, name: str) -> bool:
        """Tell whether a field constrains the audience."""
        value = getattr(self, name)
        return value is not None and value != []

    def merged_with(self, derived: dict[str, Any]) -> tuple[AudienceFilter, list[str]]:
        """Merge a derived filter into this explicit one: explicit fields win (ages as one pair).

        Args:
            derived: Field values read from the text.

        Returns:
            The merged filter (not yet checked against a vocabulary) and the derived fields that were
            overridden by explicit ones.
        """
        merged = self.model_dump()
        overridden = []
        explicit_age = self.is_set("age_min") or self.is_set("age_max")
        for name, value in derived.items():
            taken = explicit_age if name in ("age_min", "age_max") else self.is_set(name)
            if value is None or value == []:
                continue
            if taken:
                overridden.append(name)
            else:
                merged[name] = value
        return AudienceFilter.model_construct(**merged), overridden

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
            ("segment_name", self.segments),
            ("spend_band", self.spend_bands),
        ):
            if len(values) == 1:
                out.append((f"{key}={values[0]}", [{key: values[0]}]))
            elif values:
                out.append((f"{key} in {', '.join(values)}", [{key: {"$in": values}}]))
        flags: list[dict[str, Any]] = [{genre_key(g): True} for g in self.genres]
        if flags:
            out.append((f"genre {' or '.join(self.genres)}", [flags[0] if len(flags) == 1 else {"$or": flags}]))
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


class AudienceResult(BaseModel):
    """The retrieved audience and how it was found."""

    query_text: str
    filter_used: AudienceFilter
    where: dict[str, Any] = Field(description="The exact Chroma where clause that was applied.")
    portraits: list[PortraitHit]
    message: str
    semantic_text: str = Field("", description="The English text the customers were ranked by.")
    derived_from_text: dict[str, str] = Field(
        default_factory=dict, description="Words of the text → the constraint they produced (check and correct)."
    )
    notes: list[str] = Field(default_factory=list, description="Overridden, unavailable or untranslated terms.")


class ProfilesTool:
    """Find audiences among the indexed customers (dependencies injected).

    Args:
        store: The portrait store.
    """

    def __init__(self, store: PortraitStore) -> None:
        self.store = store

    def _check(self, audience: AudienceFilter, vocabulary: dict[str, list[str]]) -> AudienceFilter:
        try:
            return AudienceFilter.model_validate(audience.model_dump(), context={"vocabulary": vocabulary})
        except ValidationError as exc:
            problems = (str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
            raise ValueError("invalid audience filter: " + "; ".join(problems)) from None

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
        derivation = (
            derive_filter(query.text, vocabulary) if query.derive_filter else Derivation(semantic_text=query.text)
        )
        merged, overridden = query.filter.merged_with(derivation.fields)
        notes = list(derivation.notes)
        for name in overridden:
            words = [w for w, c in derivation.derived_from_text.items() if c.startswith(name.split("_")[0].rstrip("s"))]
            notes.append(f"explicit filter wins over {', '.join(repr(w) for w in words) or name} for {name}")
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
        index = self.store.index()
        found = index.search(vector, where, limit, self.store.propose)
        hits = [
            PortraitHit(
                customer_id=index.ids[row],
                score=float(np.clip(score, 0.0, 1.0)),
                text=index.documents[row],
                metadata=index.metadata(row),
            )
            for row, score in found
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

    def embeddings(self, customer_ids: list[str]) -> np.ndarray:
        """Return the stored portrait vectors in the order of ``customer_ids`` (for clustering).

        Args:
            customer_ids: Pseudonymised ids, e.g. from :meth:`retrieve`.

        Returns:
            Array of shape ``(len(customer_ids), 384)``, float32, rows L2-normalised.

        Raises:
            ValueError: An id is unknown or opted out.
        """
        index = self.store.index()
        rows = [index.row(cid) for cid in customer_ids]
        opted = index.mask({"opted_out": True})
        missing = [cid for cid, row in zip(customer_ids, rows, strict=True) if row is None or opted[row]]
        if missing:
            raise ValueError(f"{len(missing)} customer(s) unknown or opted out, e.g. {', '.join(missing[:5])}")
        return index.vectors[np.asarray(rows, dtype=np.int64)].astype(np.float32).reshape(len(customer_ids), -1)
