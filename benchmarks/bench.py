"""Benchmarks (``make bench``): ratios against lavaan (when R has it) and against in-process baselines.

Wall-clock seconds depend on the machine and on what else it is doing; a ratio against a
baseline measured moments earlier in the same process does much less. Each benchmark
names its baseline: either the obvious alternative (one worker instead of two, a cold
start instead of a warm one, semopy's own fit instead of ours) or, where there is no
alternative, a fixed NumPy workload (``numpy_unit``) that calibrates the machine.

The project's speed targets are measured side by side with lavaan on the default
structural model at N = 800 (``_bench_lavaan_targets``; ``--only lavaan``): one ML, MLR,
FIML and WLSMV fit, a bootstrap of 2,000 draws, and the start-up of ``python -m analysis
fit --help``. lavaan runs in one ``Rscript`` process on the same data (see
:mod:`benchmarks.lavaan`); its times exclude R's start-up. Without ``Rscript`` or lavaan
one line says why and only the in-process baselines (and the start-up time) are measured.

Results are printed as tables and written to ``reports/_output/bench/bench.json``
(``bench-<name>.json`` for a partial run with ``--only``), with the R and lavaan versions
and the load averages at the start and end of the run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.atomic import atomic_write_text
from analysis.paths import OUTPUT_ROOT
from benchmarks.lavaan import (
    LavaanCase,
    LavaanInfo,
    LavaanTiming,
    find_lavaan,
    max_estimate_difference,
    time_lavaan,
)

__all__ = ["BenchResult", "TargetResult", "median_time", "run_benchmarks", "time_call"]

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BenchResult:
    """One in-process comparison: the candidate's seconds against a named baseline's."""

    name: str
    baseline: str
    baseline_sec: float
    candidate_sec: float
    ratio: float  # baseline / candidate: > 1 means the candidate is faster
    note: str = ""


@dataclass(frozen=True)
class TargetResult:
    """One speed target: our seconds against lavaan's (or a fixed limit) and whether it is met.

    ``ratio`` is lavaan / ours (> 1: we are faster) and NaN for a fixed limit;
    ``lavaan_sec`` is None where lavaan has no counterpart or its call failed.
    """

    name: str
    ours_sec: float
    lavaan_sec: float | None
    ratio: float
    target: str
    met: bool
    note: str = ""


def median_time(func: Callable[[], object], repeat: int = 5, warmup: int = 1) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls after ``warmup`` untimed ones, and the last call's result."""
    result = None
    for _ in range(warmup):
        result = func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def time_call(func: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of ``repeat`` calls (the minimum is the least noisy estimate)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _numpy_unit() -> None:
    """The machine-calibrating workload: 20 inversions of a 300x300 matrix."""
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((300, 300)) + 300 * np.eye(300)
    for _ in range(20):
        np.linalg.inv(matrix)


def _study_sample(n: int, seed: int = 1):
    """(instrument, simulated survey without careless or missing answers, structural model syntax)."""
    from analysis.instrument import load_instrument
    from analysis.simulate import simulate_survey, structural_model_syntax

    instrument = load_instrument()
    sim = simulate_survey(instrument, n=n, careless_share=0.0, missing_share=0.0, random_state=seed)
    return instrument, sim, structural_model_syntax(instrument, sim.truth)


def _bench_simulate(unit: float, quick: bool) -> BenchResult:
    """``simulate_survey`` against ``numpy_unit``."""
    from analysis.instrument import load_instrument
    from analysis.simulate import simulate_survey

    instrument = load_instrument()
    n = 5_000 if quick else 50_000
    sec = time_call(lambda: simulate_survey(instrument, n=n, random_state=1), repeat=3)
    return BenchResult(f"simulate_survey n={n}", "numpy_unit", unit, sec, unit / sec)


def _bench_screening(unit: float, quick: bool) -> BenchResult:
    """``screen_responses`` against ``numpy_unit``."""
    from analysis.instrument import load_instrument
    from analysis.screening.rules import screen_responses
    from analysis.simulate import simulate_survey

    instrument = load_instrument()
    n = 5_000 if quick else 50_000
    data = simulate_survey(instrument, n=n, random_state=2).responses
    sec = time_call(lambda: screen_responses(data, instrument), repeat=2)
    return BenchResult(f"screen_responses n={n}", "numpy_unit", unit, sec, unit / sec)


def _bench_fit(unit: float, quick: bool) -> BenchResult:
    """The study's SEM fit (``fit_model``, as the study stages call it) against semopy's plain fit."""
    import semopy

    from analysis.sem.api import fit_model

    _, sim, syntax = _study_sample(1000)
    data = sim.responses
    ours = time_call(lambda: fit_model(data, syntax), repeat=2)
    numeric = data.select_dtypes("number").astype(float)
    plain = time_call(lambda: semopy.Model(syntax).fit(numeric), repeat=2)
    return BenchResult("study SEM fit n=1000 (ours: fit_model + lavaan indices)", "semopy Model.fit (defaults)",
                       plain, ours, plain / ours, "ours includes SEs, fit indices and the lavaan-style tables")


def _bench_bootstrap(unit: float, quick: bool) -> list[BenchResult]:
    """Bootstrap with 2 workers against 1, and a warm-started draw against a fresh fit."""
    from analysis.sem.api import fit_model
    from analysis.sem.bootstrap import bootstrap_effects

    _, sim, syntax = _study_sample(600)
    fitted = fit_model(sim.responses, syntax)
    draws = 20 if quick else 100
    pairs = [("ESQ", "LOY")]
    serial = time_call(lambda: bootstrap_effects(fitted, sim.responses, pairs, draws, random_state=1, n_jobs=1))
    parallel = time_call(lambda: bootstrap_effects(fitted, sim.responses, pairs, draws, random_state=1, n_jobs=2))
    rng = np.random.default_rng(1)
    cold_draws = max(5, draws // 10)

    def cold() -> None:
        """``cold_draws`` resamples, each fitted from scratch."""
        for _ in range(cold_draws):
            fit_model(sim.responses.iloc[rng.integers(0, len(sim.responses), len(sim.responses))], syntax)

    cold_per_draw = time_call(cold) / cold_draws
    return [
        BenchResult(f"bootstrap {draws} draws, 2 workers", "same draws, 1 worker", serial, parallel,
                    serial / parallel, "identical draws either way (SeedSequence.spawn)"),
        BenchResult("bootstrap draw, warm start", "cold start (fresh fit per draw)", cold_per_draw,
                    serial / draws, cold_per_draw / (serial / draws)),
    ]


def _bench_behaviour(unit: float, quick: bool) -> list[BenchResult]:
    """RFM summary + BG/NBD fit on the HEAVY_BUYERS CRM: 1,000,000 customers, ~10,000,000 orders.

    Wall time of RFM + fit is the candidate (against ``numpy_unit``); the note carries the
    simulation time, the peak of memory traced during RFM + fit and the process' peak RSS.
    """
    try:
        from benchmarks.behaviour import HEAVY_BUYERS, bench_rfm_bgnbd
    except ImportError:
        return []
    n = 100_000 if quick else 1_000_000
    result = bench_rfm_bgnbd(n_customers=n, params=HEAVY_BUYERS)
    seconds = float(result["rfm_fit_seconds"])
    note = (f"{result['n_orders']:,} orders; simulate {result['simulate_seconds']:.1f} s, "
            f"RFM {result['rfm_seconds']:.1f} s, BG/NBD fit {result['fit_seconds']:.1f} s "
            f"({result['bgnbd_iterations']} iterations); peak memory traced during RFM + fit "
            f"{result['rfm_fit_peak_traced_mb']:,.0f} MB (orders table {result['orders_table_mb']:,.0f} MB), "
            f"process peak RSS {result['process_peak_rss_mb']:,.0f} MB")
    return [BenchResult(f"RFM + BG/NBD fit, {n:,} customers (HEAVY_BUYERS)", "numpy_unit", unit, seconds,
                        unit / seconds, note)]


# ----------------------------------------------------------- side by side with lavaan
LAVAAN_N = 800
FIML_MISSING_SHARE = 0.05
BOOTSTRAP_PAIRS = [("ESQ", "LOY"), ("TRU", "LOY")]
CLI_HELP_LIMIT_SEC = 1.0


def _observed_columns(model: str, data: pd.DataFrame) -> list[str]:
    """The columns of ``data`` that the model syntax names, in the data's order."""
    names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", re.sub(r"#[^\n]*", "", model)))
    return [column for column in data.columns if column in names]


def _first_order_factors(model: str, columns: list[str]) -> list[str]:
    """Factors of ``model`` measured by observed columns only (``F =~ x1 + x2``, all x in ``columns``)."""
    factors = []
    for line in re.sub(r"#[^\n]*", "", model).splitlines():
        left, op, right = line.partition("=~")
        indicators = [term.strip() for term in right.split("+")]
        if op and all(term in columns for term in indicators):
            factors.append(left.strip())
    return factors


def _with_mcar(data: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A copy of ``data`` with ``share`` of its cells missing completely at random (seeded)."""
    return data.mask(np.random.default_rng(seed).random(data.shape) < share)


def _attempt(func: Callable[[], object], repeat: int, warmup: int = 1) -> tuple[float, object, str]:
    """:func:`median_time`, with an exception turned into (NaN, None, message) so one failure ends no run."""
    try:
        seconds, result = median_time(func, repeat, warmup)
        return seconds, result, ""
    except Exception as error:  # noqa: BLE001 - the fitting API may change under the benchmark
        return math.nan, None, f"ours failed: {type(error).__name__}: {error}"


def _ordinal_case(model: str, data: pd.DataFrame, instrument) -> tuple[str, str, str]:
    """(label, syntax, lavaan function) of the WLSMV case: the structural model if ours fits it, else a CFA.

    The CFA has the structural model's first-order factors, from
    ``measurement_model_syntax``; the label says which was used.
    """
    from analysis.sem.api import fit_model
    from analysis.simulate import measurement_model_syntax

    try:
        fit_model(data, model, estimator="WLSMV")
        return "structural model", model, "sem"
    except Exception as error:  # noqa: BLE001 - fall back as the benchmark's name then says
        factors = _first_order_factors(model, list(data.columns))
        print(f"    ours cannot fit the structural model by WLSMV ({type(error).__name__}: {error}); "
              f"timing a CFA of its {len(factors)} first-order factors instead")
        return f"CFA of {len(factors)} first-order factors", measurement_model_syntax(instrument, factors), "cfa"


def _estimate_note(fitted: object, timing: LavaanTiming | None) -> str:
    """``max |est - lavaan| = ... over k/n parameters`` for a fitted model (empty if either side lacks one)."""
    ours = getattr(fitted, "estimates_", None)
    if timing is None or timing.estimates is None or not isinstance(ours, pd.DataFrame):
        return ""
    diff, matched, total, unmatched = max_estimate_difference(ours, timing.estimates)
    extra = "" if not unmatched else " (not in ours: " + ", ".join(f"{n} {op}" for op, n in unmatched.items()) + ")"
    return f"max |est - lavaan est| = {diff:.2g} over {matched}/{total} lavaan parameters{extra}"


def _target_row(name: str, ours_sec: float, timing: LavaanTiming | None, at_least: float,
                notes: list[str]) -> TargetResult:
    """A row against lavaan: ratio = lavaan / ours, met when it reaches ``at_least``."""
    lavaan_sec = timing.median_sec if timing is not None and timing.times else None
    if timing is not None and timing.error:
        notes = [*notes, f"lavaan failed: {timing.error}"]
    if timing is not None and timing.warnings:
        notes = [*notes, f"lavaan warnings: {timing.warnings}"]
    ratio = lavaan_sec / ours_sec if lavaan_sec is not None and ours_sec > 0 else math.nan
    met = bool(ratio >= at_least) if math.isfinite(ratio) else False
    return TargetResult(name, ours_sec, lavaan_sec, ratio, f">= {at_least:g}x", met, "; ".join(n for n in notes if n))


def _versus_lavaan(info: LavaanInfo, quick: bool) -> list[TargetResult]:
    """ML, MLR, FIML, WLSMV fits and the bootstrap at N = 800: ours first, then lavaan in one Rscript."""
    from analysis.instrument import load_instrument
    from analysis.sem.api import fit_model
    from analysis.sem.bootstrap import bootstrap_effects
    from analysis.simulate import simulate_survey, structural_model_syntax

    repeat = 3 if quick else 5
    draws = 200 if quick else 2000
    instrument = load_instrument()
    sim = simulate_survey(instrument, n=LAVAAN_N, careless_share=0.0, missing_share=0.0, random_state=1)
    model = structural_model_syntax(instrument, sim.truth)
    data = sim.responses[_observed_columns(model, sim.responses)].astype(float)
    incomplete = _with_mcar(data, FIML_MISSING_SHARE, seed=1)
    ordinal_label, ordinal_model, ordinal_function = _ordinal_case(model, data, instrument)
    ordinal_data = data[_observed_columns(ordinal_model, data)]

    ml = _attempt(lambda: fit_model(data, model), repeat)
    mlr = _attempt(lambda: fit_model(data, model, estimator="MLR"), repeat)
    fiml = _attempt(lambda: fit_model(incomplete, model, missing="fiml"), repeat)
    wlsmv = _attempt(lambda: fit_model(ordinal_data, ordinal_model, estimator="WLSMV"), repeat)
    fitted = ml[1] if ml[1] is not None else fit_model(data, model)
    boot = _attempt(lambda: bootstrap_effects(fitted, data, BOOTSTRAP_PAIRS, n_draws=draws, random_state=1,
                                              n_jobs=2), repeat=1, warmup=0)

    cases = [
        LavaanCase("ML", model, data, repeats=repeat),
        LavaanCase("MLR", model, data, options={"estimator": "MLR"}, repeats=repeat),
        LavaanCase("FIML", model, incomplete, options={"missing": "fiml"}, repeats=repeat),
        LavaanCase("WLSMV", ordinal_model, ordinal_data, function=ordinal_function,
                   options={"ordered": list(ordinal_data.columns), "estimator": "WLSMV"}, repeats=repeat),
        LavaanCase("bootstrap", model, data, options={"se": "bootstrap", "bootstrap": draws, "parallel": "no",
                                                      "iseed": 1}, repeats=1, warmup=0, estimates=False),
    ]
    try:
        lavaan = time_lavaan(cases, info, timeout=900.0 if quick else 3600.0)
    except RuntimeError as error:
        print(f"    lavaan run failed: {error}")
        lavaan = {}

    boot_note = ""
    if boot[1] is not None:
        boot_note = f"ours: {getattr(boot[1], 'n_failed', '?')} failed draws, 2 worker processes; lavaan: 1 process"
    n = f"N={LAVAAN_N}"
    return [
        _target_row(f"ML fit, structural model {n}", ml[0], lavaan.get("ML"), 2.0,
                    [ml[2], _estimate_note(ml[1], lavaan.get("ML"))]),
        _target_row(f"MLR fit, structural model {n}", mlr[0], lavaan.get("MLR"), 1.0,
                    [mlr[2], _estimate_note(mlr[1], lavaan.get("MLR"))]),
        _target_row(f"FIML fit, structural model {n}, {FIML_MISSING_SHARE:.0%} MCAR cells", fiml[0],
                    lavaan.get("FIML"), 1.0, [fiml[2], _estimate_note(fiml[1], lavaan.get("FIML"))]),
        _target_row(f"WLSMV fit, {ordinal_label} {n}, items ordered", wlsmv[0], lavaan.get("WLSMV"), 1.0,
                    [wlsmv[2], _estimate_note(wlsmv[1], lavaan.get("WLSMV"))]),
        _target_row(f"bootstrap {draws:,} draws, structural model {n}", boot[0], lavaan.get("bootstrap"), 5.0,
                    [boot[2], boot_note]),
    ]


def _cli_help_target(repeat: int = 3) -> TargetResult:
    """Wall time of ``python -m analysis fit --help`` in a fresh interpreter: median of ``repeat`` runs."""
    command = [sys.executable, "-m", "analysis", "fit", "--help"]
    times, failure = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            failure = f"exit {done.returncode}: " + " | ".join(done.stderr.strip().splitlines()[-2:])
    seconds = statistics.median(times)
    note = f"runs: {', '.join(f'{t:.2f}' for t in times)} s" + (f"; {failure}" if failure else "")
    return TargetResult("`python -m analysis fit --help` (wall, new process)", seconds, None, math.nan,
                        f"< {CLI_HELP_LIMIT_SEC:g} s", seconds < CLI_HELP_LIMIT_SEC and not failure, note)


def _bench_lavaan_targets(info: LavaanInfo, quick: bool) -> list[TargetResult]:
    """The issue's speed targets: side by side with lavaan when it is here, plus the CLI start-up."""
    rows = _versus_lavaan(info, quick) if info.available else []
    return [*rows, _cli_help_target()]


def _lavaan_line(info: LavaanInfo) -> str:
    """One line on the R side: versions, or why lavaan cannot be used."""
    if info.available:
        return f"lavaan {info.lavaan_version} on {info.r_version} ({info.rscript})"
    return f"lavaan not found: {info.reason}; the lavaan comparisons are skipped, in-process baselines only"


def _print_targets(targets: list[TargetResult]) -> None:
    """The side-by-side table: ours, lavaan, lavaan / ours, target, met."""
    def number(value: float | None, width: int, digits: int = 3) -> str:
        """A right-aligned number, or ``-`` when not measured."""
        return f"{'-':>{width}}" if value is None or not math.isfinite(value) else f"{value:{width}.{digits}f}"

    print(f"{'target':<62}{'ours s':>9}{'lavaan s':>10}{'ratio':>8}  {'target':<9}{'met':<7}")
    for t in targets:
        print(f"{t.name:<62}{number(t.ours_sec, 9)}{number(t.lavaan_sec, 10)}{number(t.ratio, 8, 2)}  "
              f"{t.target:<9}{'met' if t.met else 'NOT MET':<7}")
        if t.note:
            print(f"    {t.note}")
    print("ratio = lavaan s / ours s (> 1: ours is faster); lavaan timed inside R (system.time), R start-up excluded")


def _json_safe(value: object) -> object:
    """``value`` with every non-finite float (NaN: not measured) replaced by None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def run_benchmarks(quick: bool = False, only: str | None = None) -> list[BenchResult]:
    """Run every benchmark, print the ratio tables and write bench.json."""
    load_start = os.getloadavg()
    info = find_lavaan()
    print(_lavaan_line(info))
    unit = time_call(_numpy_unit, repeat=5)
    suites: list[Callable[[float, bool], BenchResult | list[BenchResult]]] = [
        _bench_simulate, _bench_screening, _bench_fit, _bench_bootstrap, _bench_behaviour]
    results: list[BenchResult] = []
    for suite in suites:
        if only and only not in suite.__name__:
            continue
        outcome = suite(unit, quick)
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    targets = [] if only and only not in _bench_lavaan_targets.__name__ else _bench_lavaan_targets(info, quick)
    if not only or only in "planning power coverage":
        from benchmarks.planning import planning_targets

        targets += planning_targets(quick)
    if not only or only in "report":
        from benchmarks.report import report_targets

        targets += report_targets(quick)
    if not only or only in "batch":
        from benchmarks.batch import batch_targets

        targets += batch_targets(quick)
    load_end = os.getloadavg()
    print(f"numpy_unit (20 inversions of a 300x300 matrix) = {unit:.4f} s on {platform.processor() or platform.machine()}")
    if results:
        print(f"{'benchmark':<60}{'baseline':<36}{'base s':>9}{'cand s':>9}{'ratio':>8}")
    for r in results:
        print(f"{r.name:<60}{r.baseline:<36}{r.baseline_sec:9.3f}{r.candidate_sec:9.3f}{r.ratio:8.2f}")
        if r.note:
            print(f"    {r.note}")
    if targets:
        _print_targets(targets)
    print(_lavaan_line(info))
    print("load average (1, 5, 15 min): start " + " ".join(f"{x:.2f}" for x in load_start)
          + ", end " + " ".join(f"{x:.2f}" for x in load_end) + f" ({os.cpu_count()} cores)")
    # a partial run (--only) gets its own file so it never replaces the full results
    out = OUTPUT_ROOT / "bench" / (f"bench-{only}.json" if only else "bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(_json_safe({
        "numpy_unit_sec": unit, "quick": quick, "results": [asdict(r) for r in results],
        "targets": [asdict(t) for t in targets], "lavaan": asdict(info),
        "loadavg_start": list(load_start), "loadavg_end": list(load_end), "cpu_count": os.cpu_count(),
        "python": platform.python_version()}), indent=2, allow_nan=False))
    print(f"written to {out}")
    return results
