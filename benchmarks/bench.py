"""Benchmarks (``make bench``): every result is a ratio against a baseline run in the same process.

Wall-clock seconds depend on the machine and on what else it is doing; a ratio against a
baseline measured moments earlier in the same process does much less. Each benchmark
names its baseline: either the obvious alternative (one worker instead of two, a cold
start instead of a warm one, semopy's own fit instead of ours) or, where there is no
alternative, a fixed NumPy workload (``numpy_unit``) that calibrates the machine.

Results are printed as a table and written to ``reports/_output/bench/bench.json``
(``bench-<name>.json`` for a partial run with ``--only``).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from analysis.paths import OUTPUT_ROOT
from analysis.atomic import atomic_write_text

__all__ = ["BenchResult", "run_benchmarks", "time_call"]


@dataclass(frozen=True)
class BenchResult:
    name: str
    baseline: str
    baseline_sec: float
    candidate_sec: float
    ratio: float  # baseline / candidate: > 1 means the candidate is faster
    note: str = ""


def time_call(func: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of ``repeat`` calls (the minimum is the least noisy estimate)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _numpy_unit() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((300, 300)) + 300 * np.eye(300)
    for _ in range(20):
        np.linalg.inv(matrix)


def _study_sample(n: int, seed: int = 1):
    from analysis.instrument import load_instrument
    from analysis.simulate import simulate_survey, structural_model_syntax

    instrument = load_instrument()
    sim = simulate_survey(instrument, n=n, careless_share=0.0, missing_share=0.0, random_state=seed)
    return instrument, sim, structural_model_syntax(instrument, sim.truth)


def _bench_simulate(unit: float, quick: bool) -> BenchResult:
    from analysis.instrument import load_instrument
    from analysis.simulate import simulate_survey

    instrument = load_instrument()
    n = 5_000 if quick else 50_000
    sec = time_call(lambda: simulate_survey(instrument, n=n, random_state=1), repeat=3)
    return BenchResult(f"simulate_survey n={n}", "numpy_unit", unit, sec, unit / sec)


def _bench_screening(unit: float, quick: bool) -> BenchResult:
    from analysis.instrument import load_instrument
    from analysis.screening.rules import screen_responses
    from analysis.simulate import simulate_survey

    instrument = load_instrument()
    n = 5_000 if quick else 50_000
    data = simulate_survey(instrument, n=n, random_state=2).responses
    sec = time_call(lambda: screen_responses(data, instrument), repeat=2)
    return BenchResult(f"screen_responses n={n}", "numpy_unit", unit, sec, unit / sec)


def _bench_fit(unit: float, quick: bool) -> BenchResult:
    import semopy

    from analysis.sem import StructuralEquationModel

    _, sim, syntax = _study_sample(1000)
    data = sim.responses
    ours = time_call(lambda: StructuralEquationModel(syntax).fit(data), repeat=2)
    numeric = data.select_dtypes("number").astype(float)
    plain = time_call(lambda: semopy.Model(syntax).fit(numeric), repeat=2)
    return BenchResult("study SEM fit n=1000 (ours: ftol 1e-12 + lavaan indices)", "semopy Model.fit (defaults)",
                       plain, ours, plain / ours, "ratio < 1 is the price of lavaan-grade precision and reporting")


def _bench_bootstrap(unit: float, quick: bool) -> list[BenchResult]:
    from analysis.sem import StructuralEquationModel, bootstrap_effects

    _, sim, syntax = _study_sample(600)
    fitted = StructuralEquationModel(syntax).fit(sim.responses)
    draws = 20 if quick else 100
    pairs = [("ESQ", "LOY")]
    serial = time_call(lambda: bootstrap_effects(fitted, sim.responses, pairs, draws, random_state=1, n_jobs=1))
    parallel = time_call(lambda: bootstrap_effects(fitted, sim.responses, pairs, draws, random_state=1, n_jobs=2))
    cold_model = StructuralEquationModel(syntax)
    rng = np.random.default_rng(1)
    cold_draws = max(5, draws // 10)

    def cold() -> None:
        for _ in range(cold_draws):
            cold_model.fit(sim.responses.iloc[rng.integers(0, len(sim.responses), len(sim.responses))])

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


def run_benchmarks(quick: bool = False, only: str | None = None) -> list[BenchResult]:
    """Run every benchmark, print the ratio table and write bench.json."""
    unit = time_call(_numpy_unit, repeat=5)
    suites: list[Callable[[float, bool], BenchResult | list[BenchResult]]] = [
        _bench_simulate, _bench_screening, _bench_fit, _bench_bootstrap, _bench_behaviour]
    results: list[BenchResult] = []
    for suite in suites:
        if only and only not in suite.__name__:
            continue
        outcome = suite(unit, quick)
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    print(f"numpy_unit (20 inversions of a 300x300 matrix) = {unit:.4f} s on {platform.processor() or platform.machine()}")
    print(f"{'benchmark':<60}{'baseline':<36}{'base s':>9}{'cand s':>9}{'ratio':>8}")
    for r in results:
        print(f"{r.name:<60}{r.baseline:<36}{r.baseline_sec:9.3f}{r.candidate_sec:9.3f}{r.ratio:8.2f}")
        if r.note:
            print(f"    {r.note}")
    # a partial run (--only) gets its own file so it never replaces the full results
    out = OUTPUT_ROOT / "bench" / (f"bench-{only}.json" if only else "bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"numpy_unit_sec": unit, "quick": quick,
                                       "results": [asdict(r) for r in results]}, indent=2))
    print(f"written to {out}")
    return results
