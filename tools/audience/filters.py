"""The structured audience filter: constraints checked against the index's vocabulary, as a Chroma ``where``.

:class:`AudienceFilter` holds what an audience must satisfy (age range, gender, occupations, regions,
lifecycle, genres, segments, spend bands; every set field must hold). Validated with the index's
vocabulary, its values are matched ignoring case and punctuation ("sci fi" → "Sci-Fi"); it merges with a
filter read out of text (explicit values win), and translates to the exact Chroma ``where`` clause,
always excluding opted-out customers, plus a description in words of each constraint.
"""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from tools.portraits import Lifecycle, genre_key

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

    Validated with ``context={"vocabulary": {...}}`` (as :meth:`~tools.audience.profiles.ProfilesTool.retrieve`
    does), values are matched to the index's vocabulary ignoring case and punctuation; an unknown value
    raises a ``ValueError`` listing the valid ones.
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

    def checked(self, vocabulary: dict[str, list[str]]) -> AudienceFilter:
        """Return this filter checked against a shop's vocabulary, values in the shop's spelling ("sci fi" → "Sci-Fi").

        The one check of audience values: the brief, the API and the profiles tool all call it.

        Args:
            vocabulary: The index's filterable values (``PortraitStore.vocabulary()``).

        Raises:
            pydantic.ValidationError: A value is not in the vocabulary (the message lists the valid ones).
        """
        return AudienceFilter.model_validate(self.model_dump(), context={"vocabulary": vocabulary})

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
