"""Splink 5 (DuckDB backend) on the synthetic population: the reference for issue 13's matcher.

Usage::

    python -m bench.population -n 100000 --out /tmp/pop-100k.parquet
    python -m bench.splink_reference /tmp/pop-100k.parquet            # truth: /tmp/pop-100k.truth.csv

Writes the predicted pairs (``record_id_l, record_id_r, match_weight, match_probability``, every pair
with a probability of at least ``--keep``) to ``<stem>.splink-pairs.parquet`` and a JSON summary to
``bench/results/splink-reference-<n>.json``: wall and CPU time of each step, and precision, recall and
F1 (``bench.dup_eval``) at the best threshold and at 0.5, overall, per error type and on the hard
negatives. Nothing printed names a trait.

Configured following Splink's documentation, as well as we could for French identities:

- Input columns are derived in DuckDB before Splink sees them (``PREPARE_SQL``): ``surname_compact``
  (birth name without spaces, hyphens or apostrophes: DE LA FONTAINE = DELAFONTAINE), the birth and
  used name parts without particles (``name_parts``), the first first name and the list of first
  names (``first_names_list``), ``dob`` (ISO text), ``birth_year``, ``birth_department`` (2 characters,
  3 overseas, ``99`` abroad) and ``ins`` (the matricule).
- Comparisons (``comparisons()``): birth name (exact with term frequencies; same letters; birth name
  = the other's used name; Jaro-Winkler >= 0.92; Damerau-Levenshtein <= 2; a name part in common;
  Jaro-Winkler >= 0.8); first names (whole list exact; first name exact with term frequencies; a
  first name in common; Jaro-Winkler >= 0.92 and >= 0.8 on the first name); birth date with the
  library's ``DateOfBirthComparison`` (exact, Levenshtein <= 1, 1 month, 1 year, 10 years); birth
  place (exact with term frequencies, same département); sex exact; INS exact.
- Blocking (``BLOCKING_RULES``): first name + date; compact birth name + date; compact birth name +
  first name; date + birth place; birth name = used name (both ways) + first name; first name +
  birth place; compact birth name + birth place.
- Training, as the docs recommend: ``estimate_probability_two_random_records_match`` from a strict
  deterministic rule, ``estimate_u_using_random_sampling`` (``max_pairs`` 1e7 by default, seeded),
  then ``estimate_parameters_using_expectation_maximisation`` twice, blocked on first name + compact
  birth name, then on the date of birth, so that each comparison is trained in at least one session;
  each session iterates over at most ``EM_MAX_PAIRS`` pairs (Splink 5's ``max_pairs`` sampling).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.dup_eval import Evaluation, Prediction, best_threshold, evaluate, format_evaluation
from bench.population import read_truth, truth_path_for

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Derived columns; {source} is a DuckDB table function reading the population file.
PREPARE_SQL = r"""
create or replace table population as
with src as (select * from {source}),
parts as (
    select record_id, list_filter(
        string_split(regexp_replace(coalesce(birth_name, '') || ' ' || coalesce(used_name, ''),
                                    '[''-]', ' ', 'g'), ' '),
        lambda x: x <> '' and x not in ('DE', 'D', 'DU', 'DES', 'LE', 'LA', 'LES', 'L', 'DA', 'DOS',
                                   'DI', 'DEL', 'VAN', 'VON', 'DER')) as name_parts
    from src
)
select
    src.record_id,
    src.birth_name,
    regexp_replace(src.birth_name, '[ ''-]', '', 'g') as surname_compact,
    nullif(src.used_name, '') as used_name,
    parts.name_parts,
    src.first_name,
    src.first_names,
    string_split(src.first_names, ' ') as first_names_list,
    src.birth_date as dob,
    cast(substr(src.birth_date, 1, 4) as integer) as birth_year,
    nullif(src.birth_place_code, '') as birth_place_code,
    case when src.birth_place_code is null or src.birth_place_code = '' then null
         when src.birth_place_code like '97%' then substr(src.birth_place_code, 1, 3)
         else substr(src.birth_place_code, 1, 2) end as birth_department,
    src.sex,
    nullif(src.ins_matricule, '') as ins
from src join parts using (record_id)
"""

BLOCKING_RULES = (
    ("first_name", "dob"),
    ("surname_compact", "dob"),
    ("surname_compact", "first_name"),
    ("dob", "birth_place_code"),
    "l.birth_name = r.used_name and l.first_name = r.first_name",
    "l.used_name = r.birth_name and l.first_name = r.first_name",
    ("first_name", "birth_place_code"),
    ("surname_compact", "birth_place_code"),
)
DETERMINISTIC_RULE = ("first_name", "surname_compact", "dob")
# Share of true duplicates that the strict rule above finds: an estimate a user would make from a
# sample review (exact copies, place errors, "first name only", separators and glued particles).
DETERMINISTIC_RECALL = 0.35
EM_BLOCKING = (("first_name", "surname_compact"), ("dob",))
# Splink 5's cap on the pairs one EM session iterates over (a hash sample of the records on both
# sides). Blocking on the date alone gives ~14M pairs at 1M records: uncapped, EM took 612 of the
# 694 s of a 1M run on this machine; capped, the estimates come from 2M pairs.
EM_MAX_PAIRS = 2e6


def comparisons() -> list[Any]:
    """The model's comparisons (Splink objects; imported lazily: splink is a bench-only dependency)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    birth_name = cl.CustomComparison(
        output_column_name="birth_name",
        comparison_description="birth name, French-aware",
        comparison_levels=[
            cll.NullLevel("birth_name"),
            cll.ExactMatchLevel("birth_name").configure(tf_adjustment_column="birth_name"),
            cll.ExactMatchLevel("surname_compact").configure(label_for_charts="same letters"),
            cll.CustomLevel("birth_name_l = used_name_r or used_name_l = birth_name_r",
                            label_for_charts="birth name = the other's used name"),
            cll.JaroWinklerLevel("surname_compact", 0.92),
            cll.DamerauLevenshteinLevel("surname_compact", 2),
            cll.ArrayIntersectLevel("name_parts", 1).configure(label_for_charts="a name part in common"),
            cll.JaroWinklerLevel("surname_compact", 0.8),
            cll.ElseLevel(),
        ],
    )
    first_names = cl.CustomComparison(
        output_column_name="first_names",
        comparison_description="birth first names",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_names"),
            cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
            cll.ArrayIntersectLevel("first_names_list", 1).configure(
                label_for_charts="a first name in common"),
            cll.JaroWinklerLevel("first_name", 0.92),
            cll.JaroWinklerLevel("first_name", 0.8),
            cll.ElseLevel(),
        ],
    )
    birth_place = cl.CustomComparison(
        output_column_name="birth_place",
        comparison_description="birth place (COG)",
        comparison_levels=[
            cll.NullLevel("birth_place_code"),
            cll.ExactMatchLevel("birth_place_code").configure(tf_adjustment_column="birth_place_code"),
            cll.ExactMatchLevel("birth_department").configure(label_for_charts="same département"),
            cll.ElseLevel(),
        ],
    )
    return [
        birth_name,
        first_names,
        cl.DateOfBirthComparison("dob", input_is_string=True),
        birth_place,
        cl.ExactMatch("sex"),
        cl.ExactMatch("ins"),
    ]


def _rule(rule: tuple[str, ...] | str) -> Any:
    from splink import block_on

    return block_on(*rule) if isinstance(rule, tuple) else rule


def settings() -> Any:
    """The Splink settings (SettingsCreator)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[_rule(r) for r in BLOCKING_RULES],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


@dataclass
class Timer:
    """Wall and CPU (process-wide: DuckDB's threads included) seconds per step."""

    steps: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.steps[name] = {"wall_s": round(time.perf_counter() - wall, 3),
                            "cpu_s": round(time.process_time() - cpu, 3)}

    def total(self) -> dict[str, float]:
        return {"wall_s": round(sum(s["wall_s"] for s in self.steps.values()), 3),
                "cpu_s": round(sum(s["cpu_s"] for s in self.steps.values()), 3)}


def _source(path: Path) -> str:
    text = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{text}')"
    return f"read_csv('{text}', header=true, all_varchar=true)"


def run(population_path: Path, *, threads: int = 2, max_pairs: float = 1e7, seed: int = 13,
        keep: float = 0.01, pairs_out: Path | None = None) -> tuple[list[Prediction], Timer, dict[str, Any]]:
    """Train and predict; returns the predicted pairs (probability >= ``keep``), the timings, the model."""
    import duckdb
    from splink import DuckDBAPI, Linker

    timer = Timer()
    with timer.step("load"):
        con = duckdb.connect()
        con.execute(f"set threads = {int(threads)}")
        con.execute(PREPARE_SQL.format(source=_source(population_path)))
        db_api = DuckDBAPI(connection=con)
        frame = db_api.register("population")
        linker = Linker(frame, settings(), log_level=logging.WARNING)
    with timer.step("train_prior"):
        linker.training.estimate_probability_two_random_records_match(
            [_rule(DETERMINISTIC_RULE)], recall=DETERMINISTIC_RECALL)
    with timer.step("train_u"):
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    with timer.step("train_em"):
        for rule in EM_BLOCKING:
            linker.training.estimate_parameters_using_expectation_maximisation(_rule(rule),
                                                                               max_pairs=EM_MAX_PAIRS)
    with timer.step("predict"):
        predicted = linker.inference.predict(threshold_match_probability=keep)
        query = (f"select record_id_l, record_id_r, match_weight, match_probability "
                 f"from {predicted.physical_name}")
        rows = con.execute(query).fetchall()
    if pairs_out is not None:
        out = str(pairs_out).replace("'", "''")
        con.execute(f"copy ({query}) to '{out}' (format parquet)")
    model = linker.misc.save_model_to_json()
    predictions = [Prediction(int(a), int(b), float(p)) for a, b, _, p in rows]
    con.close()
    return predictions, timer, model


def summarise(population_path: Path, truth_path: Path, predictions: list[Prediction], timer: Timer,
              records: int, model: dict[str, Any],
              max_pairs: float) -> tuple[dict[str, Any], Evaluation, Evaluation]:
    """The JSON summary (timings, evaluations at the best threshold and at 0.5) and the evaluations."""
    truth = read_truth(truth_path)
    threshold, at_best = best_threshold(truth, predictions)
    at_half = evaluate(truth, predictions, threshold=0.5)
    import duckdb
    import splink

    summary = {
        "tool": "splink",
        "splink_version": splink.__version__,
        "duckdb_version": duckdb.__version__,
        "records": records,
        "population": population_path.name,
        "cpu_count": os.cpu_count(),
        "predicted_pairs_kept": len(predictions),
        "timings": {**timer.steps, "total": timer.total()},
        "best_threshold": threshold,
        "at_best_threshold": at_best.as_dict(),
        "at_0.5": at_half.as_dict(),
        "settings": {
            "blocking_rules": [list(r) if isinstance(r, tuple) else r for r in BLOCKING_RULES],
            "deterministic_rule": list(DETERMINISTIC_RULE),
            "deterministic_recall": DETERMINISTIC_RECALL,
            "em_blocking": [list(r) for r in EM_BLOCKING],
            "em_max_pairs": EM_MAX_PAIRS,
            "u_max_pairs": max_pairs,
            "trained_model": model,
        },
    }
    return summary, at_best, at_half


def _count_records(path: Path) -> int:
    import duckdb

    con = duckdb.connect()
    try:
        return int(con.execute(f"select count(*) from {_source(path)}").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("population", type=Path, help="records file written by bench.population")
    parser.add_argument("--truth", type=Path, default=None, help="default: <stem>.truth.csv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-pairs", type=float, default=1e7, help="u estimation sample")
    parser.add_argument("--keep", type=float, default=0.01, help="lowest match probability kept")
    parser.add_argument("--json", type=Path, default=None,
                        help="default: bench/results/splink-reference-<n>.json")
    args = parser.parse_args(argv)
    truth_path = args.truth or truth_path_for(args.population)
    records = _count_records(args.population)
    stem = args.population.name.split(".")[0]
    pairs_out = args.population.with_name(f"{stem}.splink-pairs.parquet")
    predictions, timer, model = run(args.population, threads=args.threads, max_pairs=args.max_pairs,
                                    keep=args.keep, pairs_out=pairs_out)
    summary, at_best, at_half = summarise(args.population, truth_path, predictions, timer, records, model,
                                          args.max_pairs)
    out = args.json or RESULTS_DIR / f"splink-reference-{records}.json"
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    total = summary["timings"]["total"]
    print(f"Splink {summary['splink_version']} on {records} records: wall {total['wall_s']:.1f} s, "
          f"CPU {total['cpu_s']:.1f} s; {len(predictions)} pairs kept -> {pairs_out}")
    for name, step in timer.steps.items():
        print(f"  {name:12s} wall {step['wall_s']:8.2f} s  CPU {step['cpu_s']:8.2f} s")
    print(f"best threshold {summary['best_threshold']:.4f}")
    print(format_evaluation(at_best))
    print(format_evaluation(at_half))
    print(f"summary -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
