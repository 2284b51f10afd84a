"""The honest truth check of a simulated report: estimate, design truth, population truth.

Beside the population truth that generated the data, every row carries the design truth:
what the same analysis (screening, listwise deletion, ML on 7-point answers) estimates on
one very large sample drawn with the study's design: the same careless share, missing
share, discretisation and, for a study linked to a customer base, the same selection of
respondents by satisfaction (Poisson sampling with the study's response-bias log odds and
sampling fraction, the large-sample form of the study's draw). The difference
estimate - truth then splits into

* sampling error, estimate - design truth, judged against the row's interval;
* design effects, design truth - population truth (selection, careless answers left after
  screening, discretisation, deletion), which no sample size removes.

Every row has an interval: Wald intervals from the delta-method standard errors of the
standardized solution for paths and loadings, ``1 -`` the interval of the standardized
residual variance for R², percentile-bootstrap intervals for indirect and total effects.
The design truth is cached by the study's settings (``data/cache/recovery/``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.atomic import atomic_write_text
from analysis.i18n import format_integer, format_percent, text
from analysis.paths import DATA_DIR
from analysis.screening import screen_responses
from analysis.sem.api import fit_model
from analysis.sem.effects import structural_effects
from analysis.seeding import component_rng, seed_sequence
from analysis.simulate import GroundTruth, simulate_survey, structural_model_syntax
from analysis.study.context import StudyContext

__all__ = ["DESIGN_N", "design_estimates", "recovery_analysis", "recovery_summary"]

#: Respondents in the large design sample (sampling error of a standardized path about .003).
DESIGN_N = 100_000
_CACHE = DATA_DIR / "cache" / "recovery"


def _selected_latents(ctx: StudyContext, truth: GroundTruth, n: int, rng: np.random.Generator) -> pd.DataFrame | None:
    """Latent SAT of ``n`` respondents selected by satisfaction as the linked study selects them."""
    b = ctx.settings.behaviour
    if not (b.enabled and ctx.settings.data.source == "simulated") or b.response_bias == 0:
        return None
    fraction = ctx.settings.simulation.sample_size / b.n_customers
    chosen: list[np.ndarray] = []
    probe = rng.standard_normal(200_000)
    intercept = float(np.log(fraction / (1 - fraction)))
    for _ in range(60):  # intercept such that the mean propensity is the sampling fraction
        intercept -= (special.expit(intercept + b.response_bias * probe).mean() - fraction) / max(fraction, 1e-3)
    while sum(len(c) for c in chosen) < n:
        z = rng.standard_normal(400_000)
        chosen.append(z[rng.random(len(z)) < special.expit(intercept + b.response_bias * z)])
    return pd.DataFrame({"SAT": np.concatenate(chosen)[:n]})


def _key(ctx: StudyContext, truth: GroundTruth, n: int) -> str:
    s = ctx.settings
    spec = {"paths": sorted((f"{o}~{p}", v) for (o, p), v in truth.paths.items()),
            "second": sorted(truth.second_order.items()), "loadings": sorted(truth.loadings.items()),
            "simulation": [s.simulation.careless_share, s.simulation.missing_share, s.simulation.sample_size],
            "behaviour": [s.behaviour.enabled, s.behaviour.response_bias, s.behaviour.n_customers],
            "seed": s.analysis.seed, "n": n, "instrument": str(ctx.instrument.id), "version": 1}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]


def design_estimates(ctx: StudyContext, truth: GroundTruth, pairs, n: int = DESIGN_N,
                     cache: Path | None = _CACHE) -> dict[str, float]:
    """Recovery-row label -> the value the study's analysis targets under its design (cached)."""
    path = None if cache is None else Path(cache) / f"{_key(ctx, truth, n)}.json"
    if path is not None and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    root = seed_sequence(ctx.seed)
    rng = component_rng(root, "design-truth")
    s = ctx.settings.simulation
    survey = simulate_survey(ctx.instrument, n=n, truth=truth, careless_share=s.careless_share,
                             missing_share=s.missing_share, latent_scores=_selected_latents(ctx, truth, n, rng),
                             random_state=component_rng(root, "design-truth-survey"))
    clean = screen_responses(survey.responses, ctx.instrument).clean
    fitted = fit_model(clean, structural_model_syntax(ctx.instrument, truth))
    values = {}
    for rec in fitted.estimates_.itertuples():
        if rec.op == "~" or (rec.op == "=~" and rec.lhs == truth.second_order_name):
            values[_label(rec.lhs, rec.op, rec.rhs)] = float(rec.std_all)
    for name, value in fitted.r2_.items():
        values[f"R2 {name}"] = float(value)
    effects = structural_effects(fitted.structure_, pairs)
    for rec in effects.itertuples():
        values[f"indirect {rec.from_} -> {rec.to}"] = float(rec.indirect)
        values[f"total {rec.from_} -> {rec.to}"] = float(rec.total)
    if path is not None:
        atomic_write_text(path, json.dumps(values, indent=1, sort_keys=True) + "\n")
    return values


def _label(lhs: str, op: str, rhs: str) -> str:
    return f"{lhs} ~ {rhs}" if op == "~" else f"{lhs} =~ {rhs}"


def _true_effects(truth: GroundTruth, pairs) -> dict[str, float]:
    table = truth.indirect_effects(pairs)
    kinds = {"total_indirect": "indirect", "total": "total"}
    return {f"{kinds[r.effect]} {r.from_} -> {r.to}": float(r.est) for r in table.itertuples() if r.effect in kinds}


def recovery_analysis(ctx: StudyContext, truth: GroundTruth, structural, boot, pairs) -> pd.DataFrame:
    """``recovery.csv``: parameter, true, design_true, estimate, ci_lower, ci_upper, sampling_error,
    design_effect, difference, covers_design, covers_true."""
    level = ctx.settings.analysis.ci_level
    std = structural.sem.standardized_solution(level=level)
    by_key = std.set_index(["lhs", "op", "rhs"])
    rows = []
    for (outcome, predictor), value in truth.paths.items():
        r = by_key.loc[(outcome, "~", predictor)]
        rows.append({"parameter": _label(outcome, "~", predictor), "true": value, "estimate": r["est_std"],
                     "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"]})
    for dimension, value in truth.second_order.items():
        r = by_key.loc[(truth.second_order_name, "=~", dimension)]
        rows.append({"parameter": _label(truth.second_order_name, "=~", dimension), "true": value,
                     "estimate": r["est_std"], "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"]})
    true_r2 = truth.r_squared()
    crit = stats.norm.ppf(0.5 + level / 2)
    for name, value in structural.sem.r2_.items():
        if name in true_r2.index and (name, "~~", name) in by_key.index:
            r = by_key.loc[(name, "~~", name)]  # R² = 1 - standardized residual variance
            rows.append({"parameter": f"R2 {name}", "true": float(true_r2[name]), "estimate": float(value),
                         "ci_lower": float(value - crit * r["se"]), "ci_upper": float(value + crit * r["se"])})
    true_effects = _true_effects(truth, pairs)
    if boot is not None:
        for rec in boot.summary.itertuples():
            if rec.kind != "direct" and rec.ci_upper > rec.ci_lower:  # effects with a path to bootstrap
                label = f"{rec.kind} {rec.from_} -> {rec.to}"
                rows.append({"parameter": label, "true": true_effects.get(label, np.nan), "estimate": rec.est,
                             "ci_lower": rec.ci_lower, "ci_upper": rec.ci_upper})
    table = pd.DataFrame(rows)
    design = design_estimates(ctx, truth, pairs)
    table.insert(2, "design_true", [design.get(p, np.nan) for p in table["parameter"]])
    table["sampling_error"] = table["estimate"] - table["design_true"]
    table["design_effect"] = table["design_true"] - table["true"]
    table["difference"] = table["estimate"] - table["true"]
    table["covers_design"] = (table["ci_lower"] <= table["design_true"]) & (table["design_true"] <= table["ci_upper"])
    table["covers_true"] = (table["ci_lower"] <= table["true"]) & (table["true"] <= table["ci_upper"])
    return ctx.save_table(table, "recovery")


def recovery_summary(ctx: StudyContext, table: pd.DataFrame) -> str:
    """How many intervals cover the design truth against how many are expected to (Markdown)."""
    lang = ctx.language
    rows = table.dropna(subset=["design_true", "ci_lower", "ci_upper"])
    m, level = len(rows), ctx.settings.analysis.ci_level
    spread = 2 * np.sqrt(m * level * (1 - level))
    design_effect = rows["design_effect"].abs()
    return text("recovery.summary", lang, covered=format_integer(int(rows["covers_design"].sum()), lang),
                rows=format_integer(m, lang), level=format_percent(level, lang),
                expected=format_integer(round(m * level), lang), low=format_integer(max(0, round(m * level - spread)), lang),
                high=format_integer(min(m, round(m * level + spread)), lang),
                covered_true=format_integer(int(rows["covers_true"].sum()), lang),
                largest=f"{design_effect.max():.3f}", where=rows.loc[design_effect.idxmax(), "parameter"] if m else "")
