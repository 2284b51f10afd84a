"""Monte Carlo power and sample-size planning on Dask.

Replications are grouped into tasks and mapped over a Dask cluster: a ``LocalCluster``
of single-threaded worker processes by default (BLAS pinned to one thread each), or an
existing scheduler when its address is given. Dask is used rather than a process pool
because the same code then scales from a laptop to a cluster. Every replication's seed
depends only on the study seed, the sample size and the replication number
(:func:`analysis.seeding.replication_seed`), so results are identical for any number of
workers and any scheduler.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ConfigError
from analysis.power.design import PowerDesign, hypotheses, parameter_label
from analysis.power.design_truth import design_truth
from analysis.power.replicate import run_replication, wald
from analysis.progress import progress_bar
from analysis.seeding import replication_seed

__all__ = ["POWER_COLUMNS", "PowerResult", "run_power", "summarise", "minimum_sample_sizes", "dask_client"]

POWER_COLUMNS = ["n", "parameter", "true", "mean_estimate", "bias", "rmse", "power", "coverage", "converged"]
_CHUNK = 10  # replications per task: large enough to amortise scheduling, small enough to balance


@dataclass(frozen=True)
class PowerResult:
    """``table`` (one row per sample size and parameter: :data:`POWER_COLUMNS`, judged against
    the population truth of the assumed model, plus ``kind``, ``mean_se``, ``mc_se_coverage``
    and the same judged against the design truth: ``design_true``, ``bias_design``,
    ``coverage_design``), ``minimum_n`` (smallest N reaching the target power per hypothesis)
    and the raw ``draws`` (one row per replication and parameter)."""

    table: pd.DataFrame
    minimum_n: pd.DataFrame
    draws: pd.DataFrame
    design: PowerDesign


def _task(design: PowerDesign, instrument, n: int, replications: list[int]) -> list[dict]:
    from threadpoolctl import threadpool_limits

    out = []
    with threadpool_limits(limits=1):
        for r in replications:
            result = run_replication(design, n, replication_seed(design.seed, n, r), instrument)
            out.append({"n": n, "replication": r, **result})
    return out


def dask_client(n_workers: int | None = None, scheduler: str | None = None):
    """A Dask client: the scheduler at ``scheduler``, else a LocalCluster of single-threaded workers."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"scheduler: cannot connect to {scheduler!r}: {exc}") from None
    workers = max(1, int(n_workers or os.cpu_count() or 1))
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=50)
    return Client(cluster)


def run_power(design: PowerDesign, instrument, *, n_workers: int | None = None, scheduler: str | None = None,
              client=None) -> PowerResult:
    """Run every replication of ``design`` and summarise power, bias, RMSE and coverage."""
    tasks = [(n, list(range(start, min(start + _CHUNK, design.replications))))
             for n in design.sample_sizes for start in range(0, design.replications, _CHUNK)]
    own = client is None
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the cluster's start/stop chatter is not for the reader
    client = client or dask_client(n_workers, scheduler)
    rows: list[dict] = []
    try:
        from dask.distributed import as_completed

        design_future, instrument_future = client.scatter([design, instrument], broadcast=True, hash=False)
        target_future = client.submit(design_truth, design_future, instrument_future, pure=False)
        futures = [client.submit(_task, design_future, instrument_future, n, reps, pure=False)
                   for n, reps in tasks]
        with progress_bar(total=len(tasks) * _CHUNK, description="power") as bar:
            for future in as_completed(futures):
                done = future.result()
                rows.extend(done)
                bar.update(len(done))
        targets = target_future.result()
    finally:
        if own:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        quiet.setLevel(level)
    return summarise(design, rows, targets)


def summarise(design: PowerDesign, rows: list[dict], targets: dict[str, float] | None = None) -> PowerResult:
    """Power, bias, RMSE, coverage and convergence per sample size and parameter."""
    wanted = hypotheses(design.truth)
    targets = targets or {}
    rows = sorted(rows, key=lambda r: (r["n"], r["replication"]))
    records = []
    for row in rows:
        significant, low, high = wald(row["estimate"], row["se"], design.alpha)
        for k, (kind, outcome, cause, true) in enumerate(wanted):
            label = parameter_label(kind, outcome, cause)
            target = targets.get(label, np.nan)
            records.append({"n": row["n"], "replication": row["replication"], "kind": kind,
                            "parameter": label, "true": true, "design_true": target,
                            "estimate": row["estimate"][k], "se": row["se"][k], "significant": bool(significant[k]),
                            "covers": bool(low[k] <= true <= high[k]),
                            "covers_design": bool(low[k] <= target <= high[k]), "converged": row["converged"]})
    draws = pd.DataFrame(records)
    table = []
    for (n, parameter), group in draws.groupby(["n", "parameter"], sort=False):
        ok = group[group["converged"]]
        error = ok["estimate"] - ok["true"]
        coverage = float(ok["covers"].mean()) if len(ok) else np.nan
        table.append({"n": int(n), "parameter": parameter, "kind": group["kind"].iloc[0],
                      "true": float(group["true"].iloc[0]), "mean_estimate": float(ok["estimate"].mean()),
                      "bias": float(error.mean()), "rmse": float(np.sqrt((error ** 2).mean())),
                      "power": float(ok["significant"].mean()) if len(ok) else np.nan, "coverage": coverage,
                      "converged": float(group["converged"].mean()), "mean_se": float(ok["se"].mean()),
                      "mc_se_coverage": float(np.sqrt(coverage * (1 - coverage) / max(len(ok), 1))),
                      "design_true": float(group["design_true"].iloc[0]),
                      "bias_design": float((ok["estimate"] - ok["design_true"]).mean()),
                      "coverage_design": float(ok["covers_design"].mean()) if len(ok) else np.nan,
                      "mc_se_mean": float(ok["estimate"].std(ddof=1) / np.sqrt(max(len(ok), 1)))})
    table = pd.DataFrame(table)
    return PowerResult(table, minimum_sample_sizes(table, design.target), draws, design)


def minimum_sample_sizes(table: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per hypothesis, the smallest simulated N whose power reaches ``target`` (NaN if none)."""
    rows = []
    for parameter, group in table.groupby("parameter", sort=False):
        reached = group[group["power"] >= target].sort_values("n")
        rows.append({"parameter": parameter, "kind": group["kind"].iloc[0], "true": group["true"].iloc[0],
                     "target_power": target, "minimum_n": int(reached["n"].iloc[0]) if len(reached) else np.nan,
                     "power_at_largest_n": float(group.sort_values("n")["power"].iloc[-1])})
    return pd.DataFrame(rows)
