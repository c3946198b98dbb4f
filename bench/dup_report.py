"""The duplicate benchmark's report: growth curve, targets, and the tables printed (labels and counts,
never a trait)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.dup_eval import Evaluation

F1_TARGET = 0.95
SCAN_SECONDS_TARGET = 120.0
P95_TARGET_MS = 50.0
EXPONENT_TARGET = 1.15  # cost per record at most 10 ** 0.15 = 1.41 times higher at 10 times the size


def _fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """Slope of log(time) against log(size), least squares (None below two sizes)."""
    if len(points) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-9)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else None


def growth(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Time per 100,000 records at each size and the log-log exponent, Identito's scan and Splink."""
    series: dict[str, list[tuple[int, float]]] = {
        "identito_scan_job": [], "identito_scan_wall": [], "identito_scan_cpu": [],
        "splink_run_wall": [], "splink_run_cpu": []}
    for n, run in sorted(runs.items()):
        scan = run["identito"]["scan"]
        series["identito_scan_job"].append((n, run["identito"]["job"]["job_seconds"]))
        series["identito_scan_wall"].append((n, scan["wall_s"]))
        series["identito_scan_cpu"].append((n, scan["cpu_s"] + scan["database_cpu_s"]))
        if "splink" in run:
            series["splink_run_wall"].append((n, run["splink"]["run"]["wall_s"]))
            series["splink_run_cpu"].append((n, run["splink"]["run"]["cpu_s"]))
    return {
        name: {"per_100k_s": {str(n): round(t * 100_000 / n, 2) for n, t in points},
               "exponent": None if (e := _fit_exponent(points)) is None else round(e, 3)}
        for name, points in series.items() if points
    }


def _target(what: str, measured: float | None, limit: float, met: bool | None,
            unit: str = "") -> dict[str, Any]:
    return {"target": what, "measured": None if measured is None else round(measured, 4),
            "limit": round(limit, 4), "unit": unit, "met": met}


def targets(runs: dict[int, dict[str, Any]], curve: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 13's targets at the largest size, each with its measured value."""
    n = max(runs)
    run = runs[n]
    f1 = run["identito"]["_eval"]["probable_or_better"].overall.f1
    scan_s = run["identito"]["scan"]["wall_s"]
    out = [_target(f"F1 >= {F1_TARGET} (grade probable or better, {n:,})", f1, F1_TARGET, f1 >= F1_TARGET)]
    if "splink" in run:
        splink_f1 = run["splink"]["_eval"]["best_threshold"].overall.f1
        splink_s = run["splink"]["run"]["wall_s"]
        out.append(_target("F1 >= Splink's best F1", f1, splink_f1, f1 >= splink_f1))
    out.append(_target(f"full scan <= 2 min ({n:,})", scan_s, SCAN_SECONDS_TARGET,
                       scan_s <= SCAN_SECONDS_TARGET, "s"))
    if "splink" in run:
        out.append(_target("full scan no slower than Splink's run", scan_s, splink_s,
                           scan_s <= splink_s, "s"))
    if "api" in run:
        p95 = run["api"]["candidates"]["p95_ms"]
        out.append(_target(f"POST /identities/candidates p95 <= {P95_TARGET_MS:g} ms", p95, P95_TARGET_MS,
                           p95 <= P95_TARGET_MS, "ms"))
    exponent = curve["identito_scan_job"]["exponent"]
    if exponent is not None:
        out.append(_target("near-linear growth: log-log exponent of the scan job's time", exponent,
                           EXPONENT_TARGET, exponent <= EXPONENT_TARGET))
    return out


def _prf(e: Evaluation) -> str:
    o = e.overall
    return f"{o.f1:.4f} ({o.precision:.3f} / {o.recall:.3f})"


def _time_table(runs: dict[int, dict[str, Any]]) -> Table:
    table = Table(title="Full scan through PostgreSQL vs Splink 5 (DuckDB), same file, same run")
    for column in ("records", "setup: load + keys", "Identito scan wall", "CPU: scan + DB", "peak RSS",
                   "Splink run wall", "Splink CPU", "Splink RSS", "wall ratio", "others' CPU: scan / Splink"):
        table.add_column(column, justify="right")
    for n, run in sorted(runs.items()):
        ident, splink = run["identito"], run.get("splink")
        scan, setup = ident["scan"], ident["setup"]
        row = [f"{n:,}", f"{setup['load']['seconds']:.0f} + {setup['match_keys']['wall_s']:.0f} s",
               f"{scan['wall_s']:.1f} s", f"{scan['cpu_s']:.1f} + {scan['database_cpu_s']:.1f} s",
               f"{scan['peak_rss_mib']:,.0f} MiB"]
        if splink:
            r = splink["run"]
            row += [f"{r['wall_s']:.1f} s", f"{r['cpu_s']:.1f} s",
                    f"{splink['process']['peak_rss_mib']:,.0f} MiB", f"{scan['wall_s'] / r['wall_s']:.2f}"]
        else:
            row += ["", "", "", ""]
        others = [f"{scan['others_cpu_percent']:.0f} %"]
        if splink:
            others.append(f"{splink['process']['others_cpu_percent']:.0f} %")
        table.add_row(*row, " / ".join(others))
    return table


def _quality_table(runs: dict[int, dict[str, Any]]) -> Table:
    table = Table(title="F1 (precision / recall) against the truth")
    for column in ("records", "Identito: probable or better", "Identito: best threshold (score)",
                   "Identito: possible or better", "Splink: best threshold (prob.)", "Splink: at 0.5"):
        table.add_column(column, justify="right")
    for n, run in sorted(runs.items()):
        e = run["identito"]["_eval"]
        best = e["best_threshold"]
        row = [f"{n:,}", _prf(e["probable_or_better"]), f"{_prf(best)} @ {best.extras['threshold']:.3f}",
               _prf(e["possible_or_better"])]
        if "splink" in run:
            s = run["splink"]["_eval"]
            row += [f"{_prf(s['best_threshold'])} @ {s['best_threshold'].extras['threshold']:.3f}",
                    _prf(s["at_0.5"])]
        table.add_row(*row)
    return table


def _types_table(run: dict[str, Any], n: int) -> Table:
    ident = run["identito"]["_eval"]["probable_or_better"]
    splink = run["splink"]["_eval"]["best_threshold"] if "splink" in run else None
    table = Table(title=f"Per error type at {n:,} (recall) and hard negatives (flagged)")
    for column in ("label", "pairs", "Identito probable+", "Splink best threshold"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, r in sorted(ident.per_type.items(), key=lambda kv: kv[1].rate):
        other = splink.per_type.get(label) if splink else None
        table.add_row(label, str(r.pairs), f"{r.rate:.3f}", f"{other.rate:.3f}" if other else "")
    for label, r in sorted(ident.hard_negatives.items()):
        other = splink.hard_negatives.get(label) if splink else None
        table.add_row(f"hard negative: {label}", str(r.pairs), f"{r.predicted} ({r.rate:.3f})",
                      f"{other.predicted} ({other.rate:.3f})" if other else "")
    return table


def _api_table(api: dict[str, Any]) -> Table:
    table = Table(title=f"Through the API: 2 uvicorn workers, concurrency {api['concurrency']}, ms")
    for column in ("series", "p50", "p95", "p99", "req/s", "errors"):
        table.add_column(column, justify="left" if column == "series" else "right")
    for label, key in (("GET /_bench/constant (floor)", "bare_endpoint"),
                       ("GET /identities/{id} (authenticated read)", "identity_read"),
                       ("POST /identities/candidates", "candidates")):
        s = api[key]
        table.add_row(label, f"{s['p50_ms']:.2f}", f"{s['p95_ms']:.2f}", f"{s['p99_ms']:.2f}",
                      f"{s['throughput_per_s']:,.0f}", str(s["errors"]))
    return table


def print_api(console: Console, api: dict[str, Any]) -> None:
    """The candidate check's latency next to its floors, and the machine's load meanwhile."""
    console.print(_api_table(api))
    load = api["machine_load_while_measuring"]
    console.print(f"  bodies: {api['bodies']}; while measuring: other processes "
                  f"{load['other_processes_percent']} % of the CPU, load average "
                  f"{load['load_average_before']} -> {load['load_average_after']}")


def print_report(console: Console, runs: dict[int, dict[str, Any]], curve: dict[str, Any],
                 checks: list[dict[str, Any]]) -> None:
    """Every table, then the targets."""
    console.print(_time_table(runs))
    for n, run in sorted(runs.items()):
        job, f = run["identito"]["job"], run["identito"]["job"]["figures"]
        console.print(f"  {n:,}: scan job {job['job_seconds']:.1f} s (read+build {f.get('load_seconds')} s, "
                      f"group {f.get('group_seconds')} s, score {f.get('score_seconds')} s, "
                      f"record {f.get('record_seconds')} s); "
                      f"{job['comparisons']:,} pairs compared, {job['pairs_found']:,} found, "
                      f"{job['pairs_alert']:,} probable or certain; {f.get('processes')} scoring processes; "
                      f"capped keys {f.get('capped_groups')}")
    console.print(_quality_table(runs))
    for name, values in curve.items():
        per = ", ".join(f"{int(n):,}: {s:.2f} s" for n, s in values["per_100k_s"].items())
        console.print(f"growth {name}: per 100k records {per}; log-log exponent {values['exponent']}")
    largest = max(runs)
    console.print(_types_table(runs[largest], largest))
    if "api" in runs[largest]:
        print_api(console, runs[largest]["api"])
    table = Table(title="Targets (issue 13)")
    for column in ("target", "measured", "limit", ""):
        table.add_column(column, justify="left" if column == "target" else "right")
    for t in checks:
        mark = "[green]met[/green]" if t["met"] else "[red]MISSED[/red]"
        table.add_row(t["target"], f"{t['measured']:g} {t['unit']}", f"{t['limit']:g} {t['unit']}", mark)
    console.print(table)
