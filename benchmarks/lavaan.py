"""Time lavaan calls in one Rscript process, on the same data the Python side uses.

This module has one job: given a list of :class:`LavaanCase` (a lavaan function,
model syntax, a data frame and the call's arguments), write the data and a generated
R script to a temporary directory, run ``Rscript --vanilla`` once, and return the
median elapsed seconds per call (measured inside R with ``system.time``, so R's
start-up and the CSV read are excluded), plus lavaan's parameter estimates for the
sanity check against ours.

R and lavaan are never runtime dependencies of the package: :func:`find_lavaan`
reports whether they are present, and the benchmarks fall back to in-process
baselines when they are not. lavaan is called with its own defaults plus only the
arguments a case names (no ``meanstructure`` or other option the Python side does not
also default to).
"""

from __future__ import annotations

import math
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = [
    "LavaanCase",
    "LavaanInfo",
    "LavaanTiming",
    "find_lavaan",
    "max_estimate_difference",
    "r_literal",
    "render_script",
    "time_lavaan",
]


@dataclass(frozen=True)
class LavaanInfo:
    """Whether ``Rscript`` with lavaan can be run here, and which versions.

    ``available`` is False when ``Rscript`` is not on the PATH, lavaan is not installed
    in R, or the probe failed; ``reason`` then says which, in one line.
    """

    available: bool
    reason: str = ""
    rscript: str | None = None
    r_version: str | None = None
    lavaan_version: str | None = None


@dataclass(frozen=True)
class LavaanCase:
    """One lavaan call to time: ``function(model, data = data, **options)``.

    ``options`` maps lavaan argument names to Python values (str, bool, int, float or a
    sequence of str), converted by :func:`r_literal`. ``repeats`` timed calls follow
    ``warmup`` untimed ones; ``estimates`` asks for ``parameterEstimates()`` of the last fit.
    """

    name: str
    model: str
    data: pd.DataFrame
    function: str = "sem"
    options: Mapping[str, object] = field(default_factory=dict)
    repeats: int = 5
    warmup: int = 1
    estimates: bool = True


@dataclass
class LavaanTiming:
    """What one case returned: seconds per timed call, their median, estimates, errors."""

    name: str
    times: list[float] = field(default_factory=list)
    estimates: pd.DataFrame | None = None
    warnings: int = 0
    error: str | None = None

    @property
    def median_sec(self) -> float:
        """Median elapsed seconds of the timed calls (NaN if none succeeded)."""
        return statistics.median(self.times) if self.times else math.nan


def find_lavaan(rscript: str | None = None, timeout: float = 60.0) -> LavaanInfo:
    """Probe ``Rscript`` (default: the one on the PATH) for R and lavaan versions."""
    path = rscript or shutil.which("Rscript")
    if not path:
        return LavaanInfo(False, "Rscript not found on the PATH")
    probe = ('cat(R.version.string, "\\n", sep = ""); '
             'if (!requireNamespace("lavaan", quietly = TRUE)) quit(status = 3); '
             'cat(as.character(utils::packageVersion("lavaan")), "\\n", sep = "")')
    try:
        done = subprocess.run([path, "--vanilla", "-e", probe], check=False, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return LavaanInfo(False, f"Rscript at {path} could not be run ({type(error).__name__}: {error})", path)
    lines = done.stdout.strip().splitlines()
    r_version = lines[0].strip() if lines else None
    if done.returncode == 3:
        return LavaanInfo(False, f"lavaan is not installed in {r_version or 'R'} ({path})", path, r_version)
    if done.returncode != 0 or len(lines) < 2:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return LavaanInfo(False, f"Rscript at {path} failed (exit {done.returncode}: {detail})", path, r_version)
    return LavaanInfo(True, "", path, r_version, lines[1].strip())


def r_literal(value: object) -> str:
    """R source for a Python value: str -> "..." (escaped), bool -> TRUE/FALSE, number, c(...)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, Sequence):
        return "c(" + ", ".join(r_literal(v) for v in value) + ")"
    raise TypeError(f"no R literal for {type(value).__name__}")


_PRELUDE = """\
suppressPackageStartupMessages(library(lavaan))
out <- file({out}, open = "w")
emit <- function(...) writeLines(paste(..., sep = "\\t"), out)
emit("VERSION", as.character(packageVersion("lavaan")), R.version.string)
run_case <- function(name, call_fit, data_path, model_path, repeats, warmup, estimates) {{
  data <- read.csv(data_path, check.names = FALSE)
  model <- paste(readLines(model_path), collapse = "\n")
  n_warn <- 0L
  fit <- NULL
  one <- function() withCallingHandlers(call_fit(model, data), warning = function(w) {{
    n_warn <<- n_warn + 1L
    invokeRestart("muffleWarning")
  }})
  result <- tryCatch({{
    for (i in seq_len(warmup)) fit <- one()
    for (i in seq_len(repeats)) {{
      elapsed <- system.time(fit <- one())[["elapsed"]]
      emit("TIME", name, format(elapsed, digits = 6))
    }}
    if (estimates) {{
      pe <- parameterEstimates(fit, se = FALSE, zstat = FALSE, pvalue = FALSE, ci = FALSE)
      for (k in seq_len(nrow(pe)))
        emit("EST", name, pe$lhs[k], pe$op[k], pe$rhs[k], format(pe$est[k], digits = 15))
    }}
    NULL
  }}, error = function(e) conditionMessage(e))
  emit("WARN", name, n_warn)
  if (!is.null(result)) emit("ERROR", name, gsub("[\\t\\n]", " ", result))
  flush(out)
}}
"""

_CASE = """\
run_case({name}, function(model, data) {function}(model = model, data = data{options}),
         {data}, {model}, {repeats}L, {warmup}L, {estimates})
"""


def render_script(cases: Sequence[LavaanCase], data_files: Sequence[Path], model_files: Sequence[Path],
                  out_file: Path) -> str:
    """The R script that times ``cases`` (one data and one model file per case) into ``out_file``."""
    parts = [_PRELUDE.format(out=r_literal(str(out_file)))]
    for case, data_file, model_file in zip(cases, data_files, model_files):
        options = "".join(f", {key} = {r_literal(value)}" for key, value in case.options.items())
        parts.append(_CASE.format(name=r_literal(case.name), function=case.function, model=r_literal(str(model_file)),
                                  options=options, data=r_literal(str(data_file)), repeats=int(case.repeats),
                                  warmup=int(case.warmup), estimates=r_literal(bool(case.estimates))))
    parts.append("close(out)\n")
    return "".join(parts)


def _write_inputs(cases: Sequence[LavaanCase], folder: Path) -> tuple[list[Path], list[Path]]:
    """Write each distinct data frame (CSV, NA for missing) and each model once; paths per case."""
    data_files: dict[int, Path] = {}
    model_files: dict[str, Path] = {}
    per_case_data, per_case_model = [], []
    for case in cases:
        if id(case.data) not in data_files:
            path = folder / f"data{len(data_files)}.csv"
            case.data.to_csv(path, index=False, na_rep="NA")
            data_files[id(case.data)] = path
        if case.model not in model_files:
            path = folder / f"model{len(model_files)}.lav"
            path.write_text(case.model, encoding="utf-8")
            model_files[case.model] = path
        per_case_data.append(data_files[id(case.data)])
        per_case_model.append(model_files[case.model])
    return per_case_data, per_case_model


def _parse_output(text: str, cases: Sequence[LavaanCase]) -> dict[str, LavaanTiming]:
    """Read the tab-separated TIME/EST/WARN/ERROR lines back into one :class:`LavaanTiming` per case."""
    results = {case.name: LavaanTiming(case.name) for case in cases}
    rows: dict[str, list[tuple[str, str, str, float]]] = {case.name: [] for case in cases}
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "TIME" and fields[0] in results:
            results[fields[0]].times.append(float(fields[1]))
        elif kind == "EST" and fields[0] in rows:
            estimate = float(fields[4]) if fields[4] != "NA" else math.nan
            rows[fields[0]].append((fields[1], fields[2], fields[3], estimate))
        elif kind == "WARN" and fields[0] in results:
            results[fields[0]].warnings = int(fields[1])
        elif kind == "ERROR" and fields[0] in results:
            results[fields[0]].error = fields[1]
    for name, estimate_rows in rows.items():
        if estimate_rows:
            results[name].estimates = pd.DataFrame(estimate_rows, columns=["lhs", "op", "rhs", "est"])
    return results


def time_lavaan(cases: Sequence[LavaanCase], info: LavaanInfo | None = None,
                timeout: float = 1800.0) -> dict[str, LavaanTiming]:
    """Run every case in one ``Rscript --vanilla`` process; results by case name.

    Raises ``RuntimeError`` when lavaan is unavailable, the process times out or exits
    with an error before writing its results; a case whose lavaan call fails has its
    ``error`` set and no times.
    """
    info = info or find_lavaan()
    if not info.available:
        raise RuntimeError(f"lavaan unavailable: {info.reason}")
    if len({case.name for case in cases}) != len(cases):
        raise ValueError("lavaan case names must be unique")
    with tempfile.TemporaryDirectory(prefix="bench-lavaan-") as tmp:
        folder = Path(tmp)
        data_files, model_files = _write_inputs(cases, folder)
        out_file = folder / "result.tsv"
        script = folder / "bench.R"
        script.write_text(render_script(cases, data_files, model_files, out_file), encoding="utf-8")
        try:
            done = subprocess.run([info.rscript, "--vanilla", str(script)], check=False, capture_output=True, text=True,
                                  timeout=timeout, cwd=folder)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"Rscript did not finish within {timeout:.0f} s") from error
        text = out_file.read_text(encoding="utf-8") if out_file.exists() else ""
        if done.returncode != 0 and "TIME" not in text:
            detail = " | ".join(done.stderr.strip().splitlines()[-3:]) or "no output"
            raise RuntimeError(f"Rscript exited with {done.returncode}: {detail}")
    return _parse_output(text, cases)


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    """Row key with the two sides of a (co)variance in a fixed order."""
    if op == "~~":
        lhs, rhs = sorted((str(lhs), str(rhs)))
    return str(lhs), str(op), str(rhs)


def max_estimate_difference(ours: pd.DataFrame, lavaan: pd.DataFrame) -> tuple[float, int, int, dict[str, int]]:
    """Max |est difference| over the parameters both tables hold (matched on lhs, op, rhs).

    Returns ``(max_abs_diff, n_matched, n_lavaan, unmatched)``: ``n_lavaan`` counts
    lavaan's rows except defined parameters (``:=``), and ``unmatched`` counts by
    operator the lavaan rows ours does not report (e.g. fixed ``~*~`` scales, ``~1``).
    """
    theirs = {_key(r.lhs, r.op, r.rhs): float(r.est) for r in lavaan.itertuples() if r.op != ":="}
    mine = {_key(r.lhs, r.op, r.rhs): float(r.est) for r in ours[["lhs", "op", "rhs", "est"]].itertuples()}
    common = [k for k in theirs if k in mine and math.isfinite(theirs[k]) and math.isfinite(mine[k])]
    diff = max((abs(theirs[k] - mine[k]) for k in common), default=math.nan)
    unmatched: dict[str, int] = {}
    for key in theirs:
        if key not in common:
            unmatched[key[1]] = unmatched.get(key[1], 0) + 1
    return diff, len(common), len(theirs), unmatched
