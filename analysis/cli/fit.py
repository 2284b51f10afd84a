"""Writing a fitted model's results: estimates.csv, fit.json, fit.txt (+ bootstrap).

This is what ``python -m analysis fit`` produces for any data file and model, and the
same tables the study notebook saves. Every file is written atomically.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError, ModelError, shorten
from analysis.sem.bootstrap import BootstrapResult, bootstrap_effects
from analysis.sem.engine import SEMEngine

__all__ = ["format_summary", "write_fit_outputs", "read_model_file", "run_fit", "run_invariance"]

_FIT_LINES = [
    ("Estimator", "estimator", "{}"), ("Observations used", "n", "{:.0f}"),
    ("Rows dropped (missing)", "n_dropped", "{:.0f}"), ("Free parameters", "npar", "{:.0f}"),
    ("Chi-square", "chisq", "{:.3f}"), ("Degrees of freedom", "df", "{:.0f}"), ("P-value", "pvalue", "{:.3f}"),
    ("CFI", "cfi", "{:.3f}"), ("TLI", "tli", "{:.3f}"), ("RMSEA", "rmsea", "{:.3f}"),
    ("  90% CI lower", "rmsea_ci_lower", "{:.3f}"), ("  90% CI upper", "rmsea_ci_upper", "{:.3f}"),
    ("SRMR", "srmr", "{:.3f}"), ("Log-likelihood", "loglik", "{:.3f}"), ("AIC", "aic", "{:.3f}"),
    ("BIC", "bic", "{:.3f}"),
    ("Scaled chi-square", "chisq_scaled", "{:.3f}"), ("  scaling factor", "chisq_scaling_factor", "{:.3f}"),
    ("  scaled p-value", "pvalue_scaled", "{:.3f}"), ("CFI (scaled)", "cfi_scaled", "{:.3f}"),
    ("TLI (scaled)", "tli_scaled", "{:.3f}"), ("RMSEA (scaled)", "rmsea_scaled", "{:.3f}"),
    ("CFI (robust)", "cfi_robust", "{:.3f}"), ("RMSEA (robust)", "rmsea_robust", "{:.3f}"),
]
_SECTIONS = (("=~", "Latent variables"), ("~", "Regressions"), ("~1", "Intercepts"), ("|", "Thresholds"),
             ("~~", "Covariances and variances"), (":=", "Defined parameters"))


def _estimator_line(fitted) -> str:
    engine = {"SEMEngine": "workbench engine",
              "OrdinalCFA": "polychoric + DWLS"}.get(type(fitted).__name__, type(fitted).__name__)
    return f"Structural equation model: estimator {fitted.fit_.get('estimator', 'ML')} ({engine}; lavaan-comparable)"


def _parameter_lines(block: pd.DataFrame, op: str) -> list[str]:
    lines = []
    for rec in block.itertuples():
        rhs = "" if op == "~1" else f" {rec.rhs}"
        name = f"{rec.lhs} {op}{rhs}" + (f" ({rec.label})" if rec.label and op != ":=" else "")
        se = "" if pd.isna(rec.se) else f"{rec.se:10.3f}"
        z = "" if pd.isna(rec.z) else f"{rec.z:10.3f}"
        p = "" if pd.isna(rec.pvalue) else f"{rec.pvalue:10.3f}"
        std = "" if pd.isna(rec.std_all) else f"{rec.std_all:10.3f}"
        lines.append(f"  {name:<28}{rec.est:10.3f}{se:>10}{z:>10}{p:>10}{std:>10}")
    return lines


def format_summary(fitted, bootstrap: BootstrapResult | None = None, defined_bootstrap: pd.DataFrame | None = None) -> str:
    """A plain-text summary in the spirit of ``lavaan::summary(fit, fit.measures = TRUE)``."""
    lines = [_estimator_line(fitted), ""]
    for label, key, fmt in _FIT_LINES:
        value = fitted.fit_.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        lines.append(f"  {label:<28}{fmt.format(value):>14}")
    estimates = fitted.estimates_
    groups = list(estimates["group"].unique()) if "group" in estimates.columns else [None]
    for group in groups:
        part = estimates if group is None else estimates[estimates["group"] == group]
        if group is not None:
            lines += ["", f"Group {group}:"]
        for op, title in _SECTIONS:
            block = part[part["op"] == op]
            if block.empty:
                continue
            lines += ["", f"{title}:",
                      f"  {'':<28}{'Estimate':>10}{'Std.Err':>10}{'z-value':>10}{'P(>|z|)':>10}{'Std.all':>10}"]
            lines += _parameter_lines(block, op)
    r2 = getattr(fitted, "r2_", None)
    if r2 is not None and len(r2):
        lines += ["", "R-square:"] + [f"  {str(name):<28}{value:10.3f}" for name, value in r2.items()]
    if bootstrap is not None:
        lines += ["", f"Bootstrap effects (standardized, {bootstrap.n_draws} draws, {bootstrap.n_failed} failed, "
                      f"seed {bootstrap.seed}; percentile CIs):"]
        for rec in bootstrap.summary.itertuples():
            lines.append(f"  {rec.from_ + ' -> ' + rec.to + ' ' + rec.kind:<28}{rec.est:10.3f}"
                         f"  [{rec.ci_lower:.3f}, {rec.ci_upper:.3f}]")
    if defined_bootstrap is not None and len(defined_bootstrap):
        lines += ["", "Bootstrap of defined parameters (percentile and bias-corrected CIs):"]
        for rec in defined_bootstrap.itertuples():
            lines.append(f"  {rec.name:<28}{rec.est:10.3f}  perc [{rec.ci_lower:.3f}, {rec.ci_upper:.3f}]"
                         f"  BC [{rec.bc_lower:.3f}, {rec.bc_upper:.3f}]  ({rec.n_draws} draws, {rec.n_failed} failed)")
    if fitted.warnings_:
        lines += ["", "Warnings (admissibility):"] + [f"  - {w}" for w in fitted.warnings_]
    return "\n".join(lines) + "\n"


def _json_ready(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def write_fit_outputs(fitted, out_dir: str | Path, bootstrap: BootstrapResult | None = None,
                      defined_bootstrap: pd.DataFrame | None = None,
                      modindices: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write estimates.csv, fit.json, fit.txt (and bootstrap/modification-index tables)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "estimates": atomic_write_text(out / "estimates.csv", fitted.estimates_.to_csv(index=False)),
        "fit": atomic_write_text(out / "fit.json", json.dumps(
            {k: _json_ready(v) for k, v in fitted.fit_.items()} | {"warnings": fitted.warnings_}, indent=2)),
        "summary": atomic_write_text(out / "fit.txt", format_summary(fitted, bootstrap, defined_bootstrap)),
    }
    if defined_bootstrap is not None:
        paths["defined_bootstrap"] = atomic_write_text(out / "bootstrap_defined.csv",
                                                       defined_bootstrap.to_csv(index=False))
    if modindices is not None:
        paths["modindices"] = atomic_write_text(out / "modindices.csv", modindices.to_csv(index=False))
    if bootstrap is not None:
        paths["bootstrap"] = atomic_write_text(out / "bootstrap_effects.csv", bootstrap.summary.to_csv(index=False))
    return paths


def _effect_pairs(effects: list[str] | None) -> list[tuple[str, str]]:
    pairs = []
    for spec in effects or []:
        cause, sep, outcome = spec.partition(":")
        if not sep or not cause.strip() or not outcome.strip():
            raise ConfigError(f"--effect {spec!r}: expected CAUSE:OUTCOME, e.g. ESQ:LOY")
        pairs.append((cause.strip(), outcome.strip()))
    return pairs


def _model_frame(frame: pd.DataFrame, syntax: str, source: str) -> pd.DataFrame:
    """Convert the model's variables to numbers, naming the file line of any text cell."""
    from analysis.data.ingest import numeric_columns
    from analysis.sem.defined import split_defined
    from analysis.sem.syntax import parse_model

    core, _ = split_defined(syntax)
    names = {name for row in parse_model(core).rows for name in (row.lhs, row.rhs)}
    return numeric_columns(frame, [c for c in frame.columns if c in names], source=source)


#: Largest model file read (bytes): lavaan syntax is a page of text, not data.
MAX_MODEL_BYTES = 1024 * 1024


def read_model_file(model: str | Path) -> str:
    """The model syntax of a file: UTF-8 text that is not empty; one-line errors naming the file.

    Raises
    ------
    ConfigError
        The file does not exist, is a folder, is too large, is not UTF-8 (the byte offset
        is named) or holds no model statements.
    """
    path = Path(model)
    if not path.is_file():
        what = "is a folder, expected a file with lavaan model syntax" if path.is_dir() else "not found"
        raise ConfigError(f"--model {path}: model file {what}")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ConfigError(f"--model {path}: the file is {path.stat().st_size // 1024} kB; expected model syntax "
                          f"of at most {MAX_MODEL_BYTES // 1024} kB")
    try:
        syntax = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--model {path}: not valid UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "save the model file as UTF-8") from None
    statements = [line.split("#")[0].split("!")[0].strip() for line in syntax.splitlines()]
    if not any(statements):
        raise ConfigError(f"--model {path}: the model file has no model statements (it is empty or only "
                          "comments); expected lavaan syntax such as 'f =~ x1 + x2 + x3'")
    return syntax


def _check_out_folder(out: str | Path) -> None:
    """``--out`` must be a folder (existing or new), never an existing file: checked before any work."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path}: is an existing file; expected an output folder (existing or new)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {path}: {parent} is a file; expected an output folder")
            break


def run_fit(data: str | Path, model: str | Path, out: str | Path, *, estimator: str | None = None,
            group: str | None = None, group_equal: str = "", ordered: str | None = None,
            missing: str = "listwise", bootstrap: int = 0, seed: int = 1, n_jobs: int = 2,
            effects: list[str] | None = None, modindices: bool = False) -> dict[str, Path]:
    """Read a data file and a model file, fit, and write the outputs (the ``fit`` command)."""
    from analysis.data.ingest import read_table
    from analysis.sem.api import fit_model
    from analysis.sem.bootstrap import bootstrap_defined

    syntax = read_model_file(model)
    _check_out_folder(out)
    frame = _model_frame(read_table(data), syntax, str(data))
    equal = tuple(part.strip() for part in group_equal.split(",") if part.strip())
    fitted = fit_model(frame, syntax, estimator=estimator, group=group, group_equal=equal, ordered=ordered,
                       missing=missing)
    effect_result = defined_result = mi_table = None
    pairs = _effect_pairs(effects)
    if bootstrap:
        if not isinstance(fitted, SEMEngine) or len(fitted.groups_) > 1 or fitted.missing != "listwise":
            raise ConfigError("--bootstrap is available for single-group continuous fits (estimator ML or MLR "
                              "without --group, --ordered or --missing fiml)")
        if not pairs and not fitted.parsed_.defined:
            raise ConfigError("--bootstrap needs a defined parameter (name := expression) in the model or "
                              "at least one --effect CAUSE:OUTCOME")
        if pairs:
            unknown = [v for pair in pairs for v in pair if v not in fitted.structure_.names]
            if unknown:
                raise ModelError(f"--effect names variables that are not in the structural model: "
                                 f"{', '.join(unknown)}; known: {', '.join(fitted.structure_.names)}")
            effect_result = bootstrap_effects(fitted, frame, pairs, n_draws=bootstrap, random_state=seed,
                                              n_jobs=n_jobs)
        if fitted.parsed_.defined:
            defined_result = bootstrap_defined(fitted, frame, n_draws=bootstrap, random_state=seed, n_jobs=n_jobs)
    elif pairs:
        raise ConfigError("--effect needs --bootstrap N (the number of bootstrap draws)")
    if modindices:
        if ordered or str(estimator).upper() in ("WLSMV", "DWLS"):
            raise ConfigError("--modindices is available for continuous (ML) models")
        from analysis.sem.modindices import modification_indices

        mi_table = modification_indices(fitted)
    for problem in getattr(fitted, "problems_", []):  # improper solutions are said on the terminal too
        print(f"warning: {problem.message}", file=sys.stderr)
    return write_fit_outputs(fitted, out, effect_result, defined_result, mi_table)


def run_invariance(data: str | Path, model: str | Path, group: str, out: str | Path,
                   missing: str = "listwise") -> dict[str, Path]:
    """Fit configural, metric, scalar and strict models and write invariance.csv/.txt."""
    from analysis.data.ingest import read_table
    from analysis.sem.invariance import measurement_invariance

    syntax = read_model_file(model)
    _check_out_folder(out)
    frame = _model_frame(read_table(data), syntax, str(data))
    if group not in frame.columns:
        raise ModelError(f"--group {shorten(group)} is not a column of {data}; available: "
                         f"{', '.join(map(str, frame.columns))}")
    table = measurement_invariance(syntax, frame, group, missing=missing)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {"table": atomic_write_text(out_dir / "invariance.csv", table.to_csv(index=False)),
            "summary": atomic_write_text(out_dir / "invariance.txt", table.to_string(index=False) + "\n")}
