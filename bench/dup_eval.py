"""Scores a duplicate detector against the population's truth, whichever matcher made the pairs.

Input: the truth pairs (``bench.population.TruthPair``, or any object with ``left_id``, ``right_id``,
``kind``, ``label``) and the predicted pairs as ``Prediction(left_id, right_id, score, grade)``: a
matcher gives a score (Splink's match probability, Identito's score in [0, 1]) and/or a grade
(``certain`` / ``probable`` / ``possible``). A pair is predicted positive when its score is at least
the threshold, or when its grade is one of the accepted grades. Pairs are unordered; a pair predicted
twice keeps its best score.

What is counted:

- Overall precision, recall and F1 against the ``duplicate`` pairs. Every predicted pair that is not
  a duplicate is a false positive (hard negative or not).
- Per error type: pairs of that type, found, recall, and F1 taken with the overall precision (a false
  positive has no error type, so a per-type precision does not exist; this F1 says how the type's
  recall weighs against the matcher's overall precision).
- Hard negatives (twins, homonyms, parent/child, shared NIR): pairs of each kind and how many were
  predicted positive (false positives that matter most: twins and homonyms must not come out as
  duplicates).
- ``best_threshold``: the score threshold maximising overall F1 (scanning the predicted scores).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

GRADES = ("certain", "probable", "possible")


class TruthLike(Protocol):
    """What the evaluation reads from a truth pair."""

    left_id: int
    right_id: int
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class Prediction:
    """One pair proposed by a matcher: a score in [0, 1] and/or a grade."""

    left_id: int
    right_id: int
    score: float | None = None
    grade: str | None = None


@dataclass(frozen=True)
class Metrics:
    """Confusion counts and the usual ratios (0 when undefined)."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 0.0

    @property
    def f1(self) -> float:
        return harmonic(self.precision, self.recall)

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4)}


@dataclass(frozen=True)
class TypeResult:
    """How one error type (or hard-negative kind) fared."""

    label: str
    pairs: int
    predicted: int
    rate: float  # recall for an error type, false-positive rate for a hard negative
    f1: float | None = None  # error types only: F1 of this recall with the overall precision

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rate"] = round(self.rate, 4)
        if self.f1 is not None:
            out["f1"] = round(self.f1, 4)
        return out


@dataclass(frozen=True)
class Evaluation:
    """The result at one operating point (a threshold or a set of grades)."""

    operating_point: str
    overall: Metrics
    per_type: dict[str, TypeResult]
    hard_negatives: dict[str, TypeResult]
    false_positives_outside_truth: int
    extras: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "operating_point": self.operating_point,
            "overall": self.overall.as_dict(),
            "per_type": {k: v.as_dict() for k, v in sorted(self.per_type.items())},
            "hard_negatives": {k: v.as_dict() for k, v in sorted(self.hard_negatives.items())},
            "false_positives_outside_truth": self.false_positives_outside_truth,
            **self.extras,
        }


def harmonic(a: float, b: float) -> float:
    """F1 of a precision and a recall."""
    return 2 * a * b / (a + b) if a + b else 0.0


def pair_key(a: int, b: int) -> tuple[int, int]:
    """An unordered pair as (smaller id, larger id)."""
    if a == b:
        raise ValueError("a pair needs two different records")
    return (a, b) if a < b else (b, a)


def _best_by_pair(predictions: Iterable[Prediction]) -> dict[tuple[int, int], Prediction]:
    best: dict[tuple[int, int], Prediction] = {}
    for p in predictions:
        key = pair_key(p.left_id, p.right_id)
        held = best.get(key)
        if held is None or _rank(p) > _rank(held):
            best[key] = p
    return best


def _rank(p: Prediction) -> tuple[float, float]:
    grade_rank = float(len(GRADES) - GRADES.index(p.grade)) if p.grade in GRADES else 0.0
    return (p.score if p.score is not None else -math.inf, grade_rank)


def _truth_index(truth: Iterable[TruthLike]) -> tuple[dict[tuple[int, int], str], dict[tuple[int, int], str]]:
    duplicates: dict[tuple[int, int], str] = {}
    negatives: dict[tuple[int, int], str] = {}
    for t in truth:
        key = pair_key(t.left_id, t.right_id)
        (duplicates if t.kind == "duplicate" else negatives)[key] = t.label
    return duplicates, negatives


def evaluate(truth: Iterable[TruthLike], predictions: Iterable[Prediction], *,
             threshold: float | None = None, grades: Collection[str] | None = None) -> Evaluation:
    """Scores at one operating point: ``score >= threshold``, or ``grade in grades`` (one of them)."""
    if (threshold is None) == (grades is None):
        raise ValueError("give either a threshold or a set of grades")
    duplicates, negatives = _truth_index(truth)
    best = _best_by_pair(predictions)
    if threshold is not None:
        positive = {k for k, p in best.items() if p.score is not None and p.score >= threshold}
        point = f"score >= {threshold:g}"
    else:
        accepted = set(grades or ())
        positive = {k for k, p in best.items() if p.grade in accepted}
        point = "grade in " + "/".join(g for g in GRADES if g in accepted)
    return _evaluate_positive(duplicates, negatives, positive, point)


def _evaluate_positive(duplicates: dict[tuple[int, int], str], negatives: dict[tuple[int, int], str],
                       positive: set[tuple[int, int]], point: str) -> Evaluation:
    tp = sum(1 for k in positive if k in duplicates)
    overall = Metrics(tp, len(positive) - tp, len(duplicates) - tp)
    totals = Counter(duplicates.values())
    found = Counter(label for k, label in duplicates.items() if k in positive)
    per_type = {
        label: TypeResult(label, count, found[label], found[label] / count,
                          harmonic(overall.precision, found[label] / count))
        for label, count in totals.items()
    }
    negative_totals = Counter(negatives.values())
    flagged = Counter(label for k, label in negatives.items() if k in positive)
    hard = {label: TypeResult(label, count, flagged[label], flagged[label] / count)
            for label, count in negative_totals.items()}
    outside = sum(1 for k in positive if k not in duplicates and k not in negatives)
    return Evaluation(point, overall, per_type, hard, outside)


def best_threshold(truth: Iterable[TruthLike], predictions: Iterable[Prediction]) -> tuple[float, Evaluation]:
    """The score threshold with the best overall F1 (ties: the higher threshold), and its evaluation."""
    truth = list(truth)
    duplicates, _ = _truth_index(truth)
    best = _best_by_pair(predictions)
    scored = sorted(((p.score, k in duplicates) for k, p in best.items() if p.score is not None),
                    key=lambda item: -item[0])
    if not scored:
        return 1.0, evaluate(truth, [], threshold=1.0)
    tp = fp = 0
    best_f1, best_at = -1.0, scored[0][0]
    for i, (score, is_duplicate) in enumerate(scored):
        tp += is_duplicate
        fp += not is_duplicate
        if i + 1 < len(scored) and scored[i + 1][0] == score:
            continue  # all pairs with the same score go in together
        f1 = harmonic(tp / (tp + fp), tp / len(duplicates) if duplicates else 0.0)
        if f1 > best_f1:
            best_f1, best_at = f1, score
    return best_at, evaluate(truth, best.values(), threshold=best_at)


def evaluate_grades(truth: Iterable[TruthLike], predictions: Iterable[Prediction]) -> list[Evaluation]:
    """One evaluation per cumulative grade: certain, probable or better, possible or better."""
    truth = list(truth)
    predictions = list(predictions)
    return [evaluate(truth, predictions, grades=GRADES[: i + 1]) for i in range(len(GRADES))]


def format_evaluation(evaluation: Evaluation) -> str:
    """A plain-text table (no traits: labels and counts only)."""
    o = evaluation.overall
    lines = [
        f"{evaluation.operating_point}: precision {o.precision:.4f}  recall {o.recall:.4f}  F1 {o.f1:.4f}"
        f"  (TP {o.true_positives}, FP {o.false_positives}, FN {o.false_negatives};"
        f" FP outside the truth file {evaluation.false_positives_outside_truth})",
        f"  {'error type':30s} {'pairs':>6s} {'found':>6s} {'recall':>7s} {'F1*':>7s}",
    ]
    for label in sorted(evaluation.per_type, key=lambda k: evaluation.per_type[k].rate):
        r = evaluation.per_type[label]
        lines.append(f"  {label:30s} {r.pairs:6d} {r.predicted:6d} {r.rate:7.3f} {r.f1 or 0.0:7.3f}")
    lines.append(f"  {'hard negative':30s} {'pairs':>6s} {'flagged':>7s} {'FP rate':>7s}")
    for label, r in sorted(evaluation.hard_negatives.items()):
        lines.append(f"  {label:30s} {r.pairs:6d} {r.predicted:7d} {r.rate:7.3f}")
    lines.append("  (F1* = the type's recall with the overall precision)")
    return "\n".join(lines)


def read_predictions(path: str | Path) -> list[Prediction]:
    """Predicted pairs from CSV or Parquet: ``left_id, right_id`` (or Splink's ``record_id_l,
    record_id_r``), and ``score`` (or ``match_probability``) and/or ``grade``."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows: Iterable[dict[str, Any]] = pq.read_table(path).to_pylist()
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        left = row.get("left_id", row.get("record_id_l"))
        right = row.get("right_id", row.get("record_id_r"))
        score = row.get("score", row.get("match_probability"))
        grade = row.get("grade") or None
        out.append(Prediction(int(left), int(right),  # type: ignore[arg-type]
                              None if score in (None, "") else float(score), grade))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.dup_eval TRUTH PAIRS [--threshold T]``: prints the evaluation."""
    from bench.population import read_truth

    parser = argparse.ArgumentParser(description="Evaluate predicted duplicate pairs against the truth.")
    parser.add_argument("truth", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--threshold", type=float, default=None, help="default: the best one, and 0.5")
    args = parser.parse_args(argv)
    truth = read_truth(args.truth)
    predictions = read_predictions(args.pairs)
    if args.threshold is not None:
        print(format_evaluation(evaluate(truth, predictions, threshold=args.threshold)))
    elif any(p.score is not None for p in predictions):
        threshold, result = best_threshold(truth, predictions)
        print(f"best threshold {threshold:.6g}")
        print(format_evaluation(result))
        print(format_evaluation(evaluate(truth, predictions, threshold=0.5)))
    if any(p.grade for p in predictions):
        for result in evaluate_grades(truth, predictions):
            print(format_evaluation(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
