"""Choosing a segment's candidates: retrieved by the recommender, ranked by predicted effect, distinct per segment."""

from __future__ import annotations

import pytest

from agent.candidates import Candidate, rank_by_effect, shortlist
from tools.effect import EffectEstimate
from tools.recommend import ScoredProduct


def product(pid: str, score: float) -> ScoredProduct:
    return ScoredProduct(product_id=pid, title=f"Title {pid}", year=1990, genres=["Drama"], score=score,
                         reason=f"because these customers rated something like {pid}")


def estimate(pid: str, point: float) -> EffectEstimate:
    return EffectEstimate(product_id=pid, metric="p_like", point=point, low=point - 0.05, high=point + 0.05,
                          n_customers=30, factors=[])


def ranked(points: dict[str, float]) -> list[Candidate]:
    """Candidates retrieved in the dict's order (most relevant first) with these predicted p_like."""
    products = [product(pid, 1.0 - i / 10) for i, pid in enumerate(points)]
    return rank_by_effect(products, [estimate(pid, p) for pid, p in reversed(points.items())])


def test_candidates_are_ordered_by_predicted_effect_not_relevance():
    order = ranked({"a": 0.40, "b": 0.70, "c": 0.55, "d": 0.70})
    assert [c.product_id for c in order] == ["b", "d", "c", "a"]  # equal p_like: the more relevant first
    assert [c.relevance_rank for c in order] == [2, 4, 3, 1] and [c.effect_rank for c in order] == [1, 2, 3, 4]


def test_a_candidate_without_an_estimate_is_an_error():
    with pytest.raises(KeyError):
        rank_by_effect([product("a", 1.0), product("b", 0.5)], [estimate("a", 0.5)])


def test_explanation_names_the_effect_and_keeps_the_recommenders_reason():
    best = ranked({"a": 0.40, "b": 0.70})[0]
    kept = best.explained(2)
    assert kept.reason == ("predicted p_like 0.700, #1 of the 2 products the recommender retrieved "
                           "(relevance #2: because these customers rated something like b)")
    assert kept.score == best.product.score and best.product.reason.startswith("because")


def test_shortlist_keeps_the_best_k_by_predicted_effect():
    kept, notes = shortlist({"S1": ranked({"a": 0.4, "b": 0.7, "c": 0.6, "d": 0.5})}, slots=1, k=3)
    assert [c.product_id for c in kept["S1"]] == ["b", "c", "d"] and notes == []


def test_a_product_a_larger_segment_gets_is_left_to_it_when_an_alternative_is_close():
    segments = {"S1": ranked({"a": 0.80, "b": 0.60}), "S2": ranked({"a": 0.78, "c": 0.75, "d": 0.50})}
    kept, notes = shortlist(segments, slots=1, k=2, tolerance=0.05)
    assert [c.product_id for c in kept["S1"]] == ["a", "b"]
    assert [c.product_id for c in kept["S2"]] == ["c", "d"]
    assert notes == ["S2: Title a (p_like 0.780) left to S1: the best product no other segment sends, "
                     "Title c (0.750), is within 0.05"]


def test_each_product_left_to_another_segment_costs_at_most_the_tolerance():
    # S1 sends a and b; for S2, c may stand in for a (0.04 less) but d may not stand in for b (0.13 less).
    segments = {"S1": ranked({"a": 0.84, "b": 0.83}), "S2": ranked({"a": 0.84, "b": 0.83, "c": 0.80, "d": 0.70})}
    kept, notes = shortlist(segments, slots=2, k=3, tolerance=0.05)
    assert [c.product_id for c in kept["S2"]] == ["c", "b", "d"]
    assert len(notes) == 1 and notes[0].startswith("S2: Title a (p_like 0.840) left to S1")


def test_a_product_clearly_best_for_both_segments_goes_to_both():
    segments = {"S1": ranked({"a": 0.80, "b": 0.60}), "S2": ranked({"a": 0.78, "c": 0.70})}
    kept, notes = shortlist(segments, slots=1, k=2, tolerance=0.05)
    assert [c.product_id for c in kept["S2"]] == ["a", "c"] and notes == []


def test_only_sent_products_are_reserved_for_a_segment():
    # S1 sends "a" (one slot); "b" is only its reserve, so S2 may send it.
    segments = {"S1": ranked({"a": 0.80, "b": 0.79}), "S2": ranked({"b": 0.78, "c": 0.77})}
    kept, _ = shortlist(segments, slots=1, k=2, tolerance=0.05)
    assert [c.product_id for c in kept["S2"]] == ["b", "c"]


def test_a_shared_product_is_kept_when_the_segment_has_nothing_else():
    segments = {"S1": ranked({"a": 0.80}), "S2": ranked({"a": 0.70})}
    kept, notes = shortlist(segments, slots=1, k=2, tolerance=0.05)
    assert [c.product_id for c in kept["S2"]] == ["a"] and notes == []
