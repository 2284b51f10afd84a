"""Benchmark of the batch command: 10 simulated clients against one report.

Eleven copies of ``reports/clients/default.yml`` with their own ids and seeds are written
to a temporary clients folder (inside ``reports/_output/bench/``, because profiles must
lie in the project); one is built alone as ``make report`` builds it, the other ten by
:func:`analysis.report.batch.run_batch` on the default LocalCluster. Targets: the batch
takes at most 6 times as long as the one report, and the whole process tree (this
process, the Dask nannies and workers, the notebook kernels and their bootstrap
processes) stays under 4 GB, sampled every 0.2 s with psutil. The target is judged on the
summed proportional set size (PSS: a page shared by k processes counts 1/k in each, so the
sum is the physical memory the tree holds); the summed RSS, which counts the shared
libraries of every process again (about 14 processes load NumPy, pandas, matplotlib ...),
is reported beside it as an upper bound.

The note also gives the floor the machine sets: the one report's CPU time (this process
and its waited-for children: kernel, bootstrap processes, pandoc) over its wall time is
the number of cores it keeps busy, c; ``count`` reports on ``k`` cores cannot take less
than ``count * c / k`` times the one report, however they are scheduled.

Each client has its own seed, so each computes its design truths once (then cached in
``data/cache``): the one report and every batch client pay the same first-run cost.
The temporary profiles, reports and simulated data are removed afterwards.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import yaml

__all__ = ["PeakMemory", "batch_targets", "BATCH_CLIENTS", "RATIO_TARGET", "MEMORY_TARGET_GB"]

BATCH_CLIENTS = 10
RATIO_TARGET = 6.0
MEMORY_TARGET_GB = 4.0
_SEED = 20261000


class PeakMemory:
    """Largest summed PSS (and RSS) of this process and all its descendants, sampled in a thread.

    PSS comes from ``/proc/<pid>/smaps_rollup`` (Linux); where it is not available the
    RSS is used for both figures.
    """

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._root = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak_bytes = 0  # summed PSS
        self.peak_rss_bytes = 0
        self.peak_processes = 0

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total, rss, count = 0, 0, 0
            for process in [self._root, *self._root.children(recursive=True)]:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue  # ended between listing and reading: nothing left to count
                total += getattr(info, "pss", info.rss)
                rss += info.rss
                count += 1
            if total > self.peak_bytes:
                self.peak_bytes, self.peak_processes = total, count
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its waited-for descendants."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _profiles(folder: Path, count: int, quick: bool) -> list[Path]:
    """``count`` + 1 copies of default.yml (ids bench-batch-00.., seeds _SEED + k)."""
    from analysis.paths import CLIENTS_DIR

    base = yaml.safe_load((CLIENTS_DIR / "default.yml").read_text(encoding="utf-8"))
    folder.mkdir(parents=True)
    paths = []
    for k in range(count + 1):
        cid = f"bench-batch-{k:02d}"
        raw = {**base, "client": {"name": f"Benchmark client {k}", "id": cid},
               "analysis": {**base["analysis"], "seed": _SEED + k}}
        if quick:  # a smoke run: small reports
            raw["simulation"] = {**base["simulation"], "sample_size": 300}
            raw["analysis"]["bootstrap_draws"] = 100
            raw["report"] = {**base["report"], "formats": ["html"]}
        path = folder / f"{cid}.yml"
        path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def _cleanup(root: Path, profiles: list[Path], existing: set[Path]) -> None:
    """Remove the temporary folder and the simulated data and salts the benchmark created."""
    from analysis.paths import DATA_DIR

    shutil.rmtree(root, ignore_errors=True)
    for profile in profiles:
        for pattern in (f"simulated/{profile.stem}-seed*", f"secrets/{profile.stem}.salt"):
            for path in DATA_DIR.glob(pattern):
                if path not in existing:
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def batch_targets(quick: bool):
    """TargetResult rows: batch time against one report (<= 6x) and peak memory (< 4 GB)."""
    from analysis.paths import DATA_DIR, OUTPUT_ROOT
    from analysis.report.batch import run_batch
    from analysis.report.build import build_report
    from benchmarks.bench import TargetResult

    count = 4 if quick else BATCH_CLIENTS
    (OUTPUT_ROOT / "bench").mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=".batch-", dir=OUTPUT_ROOT / "bench"))
    existing = set(DATA_DIR.glob("simulated/bench-batch-*")) | set(DATA_DIR.glob("secrets/bench-batch-*"))
    profiles = _profiles(root / "clients", count, quick)
    try:
        with PeakMemory() as memory:
            started, cpu_before = time.perf_counter(), _cpu_seconds()
            build_report(client=str(profiles[0]), output_root=root / "single")
            single = time.perf_counter() - started
            busy = (_cpu_seconds() - cpu_before) / single
            result = run_batch([p.stem for p in profiles[1:]], clients_dir=root / "clients",
                               output_root=root / "out", force=True)
    finally:
        _cleanup(root, profiles, existing)
    ratio = result.seconds / single
    workers = min(os.cpu_count() or 1, count)
    failed = [f"{o.client}: {o.error}" for o in result.failed]
    floor = count * busy / (os.cpu_count() or 1)
    note = (f"one report {single:.1f} s, {count} reports {result.seconds:.1f} s = {ratio:.2f}x on {workers} "
            f"Dask workers ({os.cpu_count()} cores); the one report keeps {busy:.2f} cores busy, so "
            f"{count} cannot take less than {floor:.2f}x here" + (f"; FAILED {'; '.join(failed)}" if failed else ""))
    peak_gb, rss_gb = memory.peak_bytes / 2 ** 30, memory.peak_rss_bytes / 2 ** 30
    return [
        TargetResult(f"batch: {count} simulated clients vs one report", result.seconds, None, math.nan,
                     f"<= {RATIO_TARGET:g}x", ratio <= RATIO_TARGET and not failed, note),
        TargetResult(f"batch: peak memory of the process tree ({peak_gb:.2f} GB)", result.seconds, None, math.nan,
                     f"< {MEMORY_TARGET_GB:g} GB", peak_gb < MEMORY_TARGET_GB,
                     f"peak PSS {peak_gb:.2f} GB summed over {memory.peak_processes} processes (single report "
                     f"and batch); summed RSS peak {rss_gb:.2f} GB (shared libraries counted in every process)"),
    ]
