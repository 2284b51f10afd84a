"""Benchmarks of the planning tools: power replications and the coverage check.

* 500 replications of the default model and design at one N on the default
  LocalCluster, against the target of 60 s on this 2-core machine;
* 1,000 replications at N = 500 on clean data with robust ML: the mean coverage of the
  95% intervals of the design truth must lie in 93-97%, stated with its Monte Carlo
  standard error (100 replications with ``--quick``).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

__all__ = ["planning_targets"]


def planning_targets(quick: bool):
    """TargetResult rows for the power and coverage benchmarks."""
    from analysis.instrument import load_instrument
    from analysis.power import dask_client, design_from_settings, run_power
    from analysis.profile import load_profile
    from benchmarks.bench import TargetResult

    settings, instrument = load_profile("default"), load_instrument()
    rows = []
    client = dask_client()
    try:
        reps = 100 if quick else 500
        design = design_from_settings(settings, instrument, sample_sizes=[500], replications=reps)
        run_power(dataclasses.replace(design, replications=2 * 10), instrument, client=client)  # warm the workers
        started = time.perf_counter()
        run_power(design, instrument, client=client)
        seconds = time.perf_counter() - started
        limit = 60.0 * reps / 500
        rows.append(TargetResult(f"power: {reps} replications of the default design at N=500", seconds, None,
                                 float("nan"), f"< {limit:.0f} s", seconds < limit,
                                 f"{len(client.scheduler_info()['workers'])} Dask workers (LocalCluster)"))
        reps = 100 if quick else 1000
        clean = dataclasses.replace(design, replications=reps, careless_share=0.0, missing_share=0.0, screen=False,
                                    estimator="MLR")
        started = time.perf_counter()
        table = run_power(clean, instrument, client=client).table
        seconds = time.perf_counter() - started
        coverage = float(table["coverage_design"].mean())
        mc_se = math.sqrt(0.95 * 0.05 / reps)
        worst = table.sort_values("coverage_design").iloc[0]
        relative = np.abs(table["bias_design"]) / np.abs(table["design_true"])
        rows.append(TargetResult(f"coverage: {reps} replications, N=500, clean data, MLR", seconds, None,
                                 float("nan"), "93-97%", 0.93 <= coverage <= 0.97,
                                 f"mean coverage {coverage:.3f} (MC SE per parameter {mc_se:.3f}); lowest "
                                 f"{worst['coverage_design']:.3f} ({worst['parameter']}); largest relative bias "
                                 f"{relative.max():.1%}"))
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    return rows
