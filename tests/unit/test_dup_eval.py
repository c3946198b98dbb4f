"""Scoring a duplicate detector against labelled pairs, whichever matcher produced them."""

from __future__ import annotations

import pytest

from bench.dup_eval import (
    Prediction,
    best_threshold,
    evaluate,
    evaluate_grades,
    format_evaluation,
    read_predictions,
)
from bench.population import TruthPair

TRUTH = [
    TruthPair(1, 2, "duplicate", "typo"),
    TruthPair(3, 4, "duplicate", "typo"),
    TruthPair(5, 6, "duplicate", "exact_copy"),
    TruthPair(7, 8, "duplicate", "day_month_swap"),
    TruthPair(9, 10, "hard_negative", "twins"),
    TruthPair(11, 12, "hard_negative", "homonym"),
]


def test_perfect_matcher_scores_one() -> None:
    predictions = [Prediction(t.left_id, t.right_id, 0.99) for t in TRUTH if t.kind == "duplicate"]
    result = evaluate(TRUTH, predictions, threshold=0.5)
    assert (result.overall.precision, result.overall.recall, result.overall.f1) == (1.0, 1.0, 1.0)
    assert all(r.rate == 1.0 for r in result.per_type.values())
    assert all(r.predicted == 0 for r in result.hard_negatives.values())


def test_counts_at_a_threshold_per_type_and_on_hard_negatives() -> None:
    predictions = [
        Prediction(2, 1, 0.9),  # reversed order still counts
        Prediction(5, 6, 0.95),
        Prediction(7, 8, 0.4),  # below the threshold: missed
        Prediction(9, 10, 0.8),  # twins flagged
        Prediction(20, 21, 0.7),  # not in the truth file: a plain false positive
    ]
    result = evaluate(TRUTH, predictions, threshold=0.6)
    o = result.overall
    assert (o.true_positives, o.false_positives, o.false_negatives) == (2, 2, 2)
    assert o.precision == 0.5 and o.recall == 0.5 and o.f1 == 0.5
    assert result.per_type["typo"].pairs == 2 and result.per_type["typo"].predicted == 1
    assert result.per_type["typo"].rate == 0.5
    assert result.per_type["exact_copy"].rate == 1.0
    assert result.per_type["day_month_swap"].rate == 0.0
    assert result.per_type["exact_copy"].f1 == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert result.hard_negatives["twins"].predicted == 1
    assert result.hard_negatives["homonym"].predicted == 0
    assert result.false_positives_outside_truth == 1
    text = format_evaluation(result)
    assert "twins" in text and "day_month_swap" in text


def test_a_pair_predicted_twice_keeps_its_best_score() -> None:
    predictions = [Prediction(1, 2, 0.1), Prediction(2, 1, 0.9)]
    assert evaluate(TRUTH, predictions, threshold=0.5).overall.true_positives == 1


def test_best_threshold_maximises_f1() -> None:
    predictions = [
        Prediction(1, 2, 0.99), Prediction(3, 4, 0.97), Prediction(5, 6, 0.95),
        Prediction(9, 10, 0.93),  # a twin above the last duplicate
        Prediction(7, 8, 0.60),
        Prediction(11, 12, 0.55), Prediction(30, 31, 0.50), Prediction(32, 33, 0.45),
    ]
    threshold, result = best_threshold(TRUTH, predictions)
    # at 0.95: P=1, R=0.75, F1=0.857; at 0.60: P=0.8, R=1, F1=0.889 (best); lower adds false positives
    assert threshold == 0.60
    assert result.overall.f1 == pytest.approx(2 * 0.8 / 1.8)


def test_grades_as_operating_points() -> None:
    predictions = [
        Prediction(1, 2, grade="certain"),
        Prediction(3, 4, grade="probable"),
        Prediction(9, 10, grade="possible"),
        Prediction(5, 6, grade="possible"),
    ]
    certain, probable, possible = evaluate_grades(TRUTH, predictions)
    assert certain.overall.true_positives == 1 and certain.overall.false_positives == 0
    assert probable.overall.true_positives == 2
    assert possible.overall.true_positives == 3 and possible.overall.false_positives == 1
    assert possible.hard_negatives["twins"].predicted == 1


def test_operating_point_must_be_one_of_threshold_or_grades() -> None:
    with pytest.raises(ValueError):
        evaluate(TRUTH, [], threshold=None)
    with pytest.raises(ValueError):
        evaluate(TRUTH, [], threshold=0.5, grades={"certain"})
    with pytest.raises(ValueError):
        evaluate(TRUTH, [Prediction(1, 1, 0.5)], threshold=0.5)  # a record is no pair with itself


def test_pairs_file_with_splink_or_generic_columns(tmp_path) -> None:
    splink_style = tmp_path / "splink.csv"
    splink_style.write_text("record_id_l,record_id_r,match_weight,match_probability\n2,1,9.1,0.99\n9,10,3.0,0.7\n")
    generic = tmp_path / "generic.csv"
    generic.write_text("left_id,right_id,score,grade\n1,2,,certain\n7,8,0.4,\n")
    assert read_predictions(splink_style) == [Prediction(2, 1, 0.99), Prediction(9, 10, 0.7)]
    assert read_predictions(generic) == [Prediction(1, 2, None, "certain"), Prediction(7, 8, 0.4)]
    result = evaluate(TRUTH, read_predictions(splink_style), threshold=0.5)
    assert result.overall.true_positives == 1 and result.hard_negatives["twins"].predicted == 1
