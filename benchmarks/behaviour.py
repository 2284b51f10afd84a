"""Benchmark: simulate a CRM, then time the RFM summary and the BG/NBD fit.

Run ``python -m benchmarks.behaviour --customers 1000000`` for the JSON figures.
The simulation is timed separately; for the RFM + BG/NBD phase the peak of traced
(numpy and Python) allocations is measured with :mod:`tracemalloc`, and the process'
peak resident set size with :func:`resource.getrusage` (which also covers simulation).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time
import tracemalloc

from analysis.behaviour.clv import BGNBDModel
from analysis.behaviour.rfm import rfm_summary
from analysis.simulate.crm import CRMParams, simulate_crm

__all__ = ["HEAVY_BUYERS", "bench_rfm_bgnbd"]

# Frequent buyers (mean purchase rate 0.5/week, rare dropout): about 10 orders per
# customer over 24 months, i.e. ~10 million orders for a million customers.
HEAVY_BUYERS = CRMParams(alpha=0.5, a=0.4, b=10.0, repeat_rate_12m=None)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def bench_rfm_bgnbd(n_customers: int = 1_000_000, months: int = 24, freq: str = "W",
                    random_state: int = 0, params: CRMParams | None = None) -> dict:
    """Simulate ``n_customers``, then build the RFM summary and fit BG/NBD, timing each.

    ``params`` defaults to the CDNOW-based :class:`CRMParams` (about 2 orders per
    customer); pass :data:`HEAVY_BUYERS` for about 10.

    Returns a dict with sizes, wall times in seconds (``simulate_seconds``,
    ``rfm_seconds``, ``fit_seconds``, ``rfm_fit_seconds``), memory in MB
    (``rfm_fit_peak_traced_mb``: extra memory allocated during RFM + fit;
    ``orders_table_mb``; ``process_peak_rss_mb``) and the fitted parameters.
    """
    started = time.perf_counter()
    db = simulate_crm(n_customers, months=months, params=params, random_state=random_state)
    simulate_seconds = time.perf_counter() - started
    orders, end = db.orders, db.observation_end
    del db
    gc.collect()

    tracemalloc.start()
    started = time.perf_counter()
    rfm = rfm_summary(orders, observation_end=end, freq=freq)
    rfm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = BGNBDModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    fit_seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "n_customers": int(n_customers),
        "n_orders": len(orders),
        "freq": freq,
        "simulate_seconds": round(simulate_seconds, 3),
        "rfm_seconds": round(rfm_seconds, 3),
        "fit_seconds": round(fit_seconds, 3),
        "rfm_fit_seconds": round(rfm_seconds + fit_seconds, 3),
        "rfm_fit_peak_traced_mb": round(traced_peak / 2 ** 20, 1),
        "orders_table_mb": round(orders.memory_usage(deep=True).sum() / 2 ** 20, 1),
        "process_peak_rss_mb": round(_peak_rss_mb(), 1),
        "bgnbd_params": {k: round(float(v), 4) for k, v in model.params_.items()},
        "bgnbd_iterations": model.n_iterations_,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--freq", default="W")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heavy", action="store_true",
                        help="use HEAVY_BUYERS (about 10 orders per customer)")
    args = parser.parse_args(argv)
    result = bench_rfm_bgnbd(args.customers, args.months, args.freq, args.seed,
                             HEAVY_BUYERS if args.heavy else None)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
