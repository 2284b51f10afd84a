"""Writing a fitted model's results: estimates.csv, fit.json, fit.txt (+ bootstrap).

This is what ``python -m analysis fit`` produces for any data file and model, and the
same tables the study notebook saves. Every file is written atomically.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, ModelError
from ..atomic import atomic_write_text
from .bootstrap import BootstrapResult, bootstrap_effects
from .model import StructuralEquationModel

__all__ = ["format_summary", "write_fit_outputs", "run_fit"]

_FIT_LINES = [
    ("Estimator", "estimator", "{}"), ("Observations used", "n", "{:.0f}"),
    ("Rows dropped (missing)", "n_dropped", "{:.0f}"), ("Free parameters", "npar", "{:.0f}"),
    ("Chi-square", "chisq", "{:.3f}"), ("Degrees of freedom", "df", "{:.0f}"), ("P-value", "pvalue", "{:.3f}"),
    ("CFI", "cfi", "{:.3f}"), ("TLI", "tli", "{:.3f}"), ("RMSEA", "rmsea", "{:.3f}"),
    ("  90% CI lower", "rmsea_ci_lower", "{:.3f}"), ("  90% CI upper", "rmsea_ci_upper", "{:.3f}"),
    ("SRMR", "srmr", "{:.3f}"), ("Log-likelihood", "loglik", "{:.3f}"), ("AIC", "aic", "{:.3f}"),
    ("BIC", "bic", "{:.3f}"),
]


def format_summary(fitted: StructuralEquationModel, bootstrap: BootstrapResult | None = None) -> str:
    """A plain-text summary in the spirit of ``lavaan::summary(fit, fit.measures = TRUE)``."""
    lines = ["Structural equation model (maximum likelihood, semopy; lavaan-comparable indices)", ""]
    for label, key, fmt in _FIT_LINES:
        value = fitted.fit_.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        lines.append(f"  {label:<28}{fmt.format(value):>14}")
    for op, title in (("=~", "Latent variables"), ("~", "Regressions"), ("~~", "Covariances and variances"),
                      (":=", "Defined parameters")):
        block = fitted.estimates_[fitted.estimates_["op"] == op]
        if block.empty:
            continue
        lines += ["", f"{title}:", f"  {'':<28}{'Estimate':>10}{'Std.Err':>10}{'z-value':>10}{'P(>|z|)':>10}{'Std.all':>10}"]
        for rec in block.itertuples():
            name = f"{rec.lhs} {op} {rec.rhs}" + (f" ({rec.label})" if rec.label and op != ":=" else "")
            se = "" if pd.isna(rec.se) else f"{rec.se:10.3f}"
            z = "" if pd.isna(rec.z) else f"{rec.z:10.3f}"
            p = "" if pd.isna(rec.pvalue) else f"{rec.pvalue:10.3f}"
            lines.append(f"  {name:<28}{rec.est:10.3f}{se:>10}{z:>10}{p:>10}{rec.std_all:10.3f}")
    if len(fitted.r2_):
        lines += ["", "R-square:"] + [f"  {name:<28}{value:10.3f}" for name, value in fitted.r2_.items()]
    if bootstrap is not None:
        lines += ["", f"Bootstrap effects (standardized, {bootstrap.n_draws} draws, {bootstrap.n_failed} failed, "
                      f"seed {bootstrap.seed}; percentile CIs):"]
        for rec in bootstrap.summary.itertuples():
            lines.append(f"  {rec.from_ + ' -> ' + rec.to + ' ' + rec.kind:<28}{rec.est:10.3f}"
                         f"  [{rec.ci_lower:.3f}, {rec.ci_upper:.3f}]")
    if fitted.warnings_:
        lines += ["", "Warnings (admissibility):"] + [f"  - {w}" for w in fitted.warnings_]
    return "\n".join(lines) + "\n"


def _json_ready(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def write_fit_outputs(fitted: StructuralEquationModel, out_dir: str | Path,
                      bootstrap: BootstrapResult | None = None) -> dict[str, Path]:
    """Write estimates.csv, fit.json, fit.txt (and bootstrap_effects.csv) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "estimates": atomic_write_text(out / "estimates.csv", fitted.estimates_.to_csv(index=False)),
        "fit": atomic_write_text(out / "fit.json", json.dumps(
            {k: _json_ready(v) for k, v in fitted.fit_.items()} | {"warnings": fitted.warnings_}, indent=2)),
        "summary": atomic_write_text(out / "fit.txt", format_summary(fitted, bootstrap)),
    }
    if bootstrap is not None:
        paths["bootstrap"] = atomic_write_text(out / "bootstrap_effects.csv", bootstrap.summary.to_csv(index=False))
    return paths


def run_fit(data: str | Path, model: str | Path, out: str | Path, bootstrap: int = 0, seed: int = 1,
            n_jobs: int = 2, effects: list[str] | None = None) -> dict[str, Path]:
    """Read a data file and a model file, fit, and write the outputs (the ``fit`` command)."""
    from ..ingest import read_table

    model_path = Path(model)
    if not model_path.is_file():
        raise ConfigError(f"model file not found: {model_path}")
    syntax = model_path.read_text(encoding="utf-8")
    frame = read_table(data)
    fitted = StructuralEquationModel(syntax).fit(frame)
    result = None
    if bootstrap:
        pairs = []
        for spec in effects or []:
            cause, sep, outcome = spec.partition(":")
            if not sep or not cause or not outcome:
                raise ConfigError(f"--effect {spec!r}: expected CAUSE:OUTCOME, e.g. ESQ:LOY")
            pairs.append((cause.strip(), outcome.strip()))
        if not pairs:
            raise ConfigError("--bootstrap needs at least one --effect CAUSE:OUTCOME")
        unknown = [v for pair in pairs for v in pair if v not in fitted.structure_.names]
        if unknown:
            raise ModelError(f"--effect names variables that are not in the structural model: {', '.join(unknown)}; "
                             f"known: {', '.join(fitted.structure_.names)}")
        result = bootstrap_effects(fitted, frame, pairs, n_draws=bootstrap, random_state=seed, n_jobs=n_jobs)
    return write_fit_outputs(fitted, out, result)
