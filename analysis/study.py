"""The study pipeline, one function per stage, as called by notebooks/study.ipynb.

Each stage takes plain values (the context, a DataFrame, a fitted model), returns a
result object, and saves its tables/figures into the report's output folder through
the :class:`StudyContext`. The notebook only calls these and displays what they
return, so everything it shows is testable here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .instrument import Instrument, load_instrument
from .measurement import (
    ValidityThresholds, average_variance_extracted, discriminant_validity_table, fornell_larcker, htmt,
    item_loadings_table, loadings_from_estimates, reliability_table,
)
from .paths import simulated_data_folder
from .quality import ScreeningResult, screen_responses
from .atomic import atomic_write_text
from .sem import (
    BootstrapResult, StructuralEquationModel, bootstrap_effects, specific_indirect_effects, structural_effects,
)
from .simulate import GroundTruth, measurement_model_syntax, simulate_survey, structural_model_syntax
from .simulate.crm import CRMDatabase, CRMParams
from .simulate.linked import read_crm_export, simulate_linked_study, write_linked_study

__all__ = [
    "StudyContext", "StudyData", "load_study_data", "data_overview", "screen", "MeasurementResults",
    "measurement_analysis", "StructuralResults", "structural_analysis", "indirect_effects",
    "recovery_table", "fit_table", "structural_model_syntax_for", "measurement_model_syntax_for", "screening_confusion", "EFFECT_PAIRS",
]

#: Effects whose indirect and total parts the report bootstraps (cause, outcome).
EFFECT_PAIRS = [("ESQ", "LOY"), ("TRU", "LOY"), ("ESQ", "SAT")]


@dataclass
class StudyContext:
    """Parameters of one report run and where its outputs go."""

    params: dict[str, Any]
    output_dir: Path
    instrument: Instrument
    saved: list[Path] = field(default_factory=list)

    @classmethod
    def from_namespace(cls, namespace: dict[str, Any]) -> StudyContext:
        """Build the context from the notebook's globals (the papermill parameters)."""
        from .profile import parameter_names

        names = set(parameter_names()) | {"output_dir", "instrument_path"}
        return cls.from_parameters({k: v for k, v in namespace.items() if k in names})

    @classmethod
    def from_parameters(cls, params: dict[str, Any]) -> StudyContext:
        output_dir = Path(params.get("output_dir") or "reports/_output/scratch").resolve()
        for sub in ("tables", "figures"):
            (output_dir / sub).mkdir(parents=True, exist_ok=True)
        return cls(dict(params), output_dir, load_instrument(params.get("instrument_path")))

    @property
    def seed(self) -> int:
        return int(self.params["seed"])

    def thresholds(self) -> dict[str, float]:
        return {k.removeprefix("threshold_"): float(v) for k, v in self.params.items() if k.startswith("threshold_")}

    def fit_thresholds(self) -> dict[str, float]:
        return {k: v for k, v in self.thresholds().items() if k in ("cfi", "tli", "rmsea", "srmr")}

    def validity_thresholds(self) -> ValidityThresholds:
        t = self.thresholds()
        return ValidityThresholds(alpha=t.get("alpha", 0.70), ave=t.get("ave", 0.50), htmt=t.get("htmt", 0.85))

    def save_table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        """Write ``tables/<name>.csv`` (fixed float format, so reruns are byte-identical)."""
        path = self.output_dir / "tables" / f"{name}.csv"
        self.saved.append(atomic_write_text(path, table.to_csv(index=False, float_format="%.6g")))
        return table

    def save_figure(self, fig, name: str) -> None:
        """Write ``figures/<name>.png`` and show exactly that image in the notebook."""
        from .plots import save_figure

        path = save_figure(fig, self.output_dir / "figures", name)
        self.saved.append(path)
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:  # plain Python without IPython: the file is the output
            return
        if get_ipython() is not None:
            display(Image(filename=str(path)))


@dataclass(frozen=True)
class StudyData:
    """Responses to analyse, the truth when they were simulated, and the CRM when linked.

    ``crm`` is the customer database the behavioural chapter analyses: simulated
    together with the survey (``linked_truth`` then holds the response-bias truth), or the
    client's own export (``behaviour.crm_path``); ``behaviour_note`` says where it came
    from, or why there is none.
    """

    responses: pd.DataFrame
    source: str
    truth: GroundTruth | None = None
    respondent_truth: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    crm: CRMDatabase | None = None
    linked_truth: dict | None = None
    behaviour_note: str = ""


def _crm_settings(p: dict[str, Any]) -> dict[str, Any]:
    """CRM parameters and the observation length from the behaviour parameters."""
    overrides = {"repeat_rate_12m": float(p.get("repeat_rate", 0.25)),
                 "return_rate": float(p.get("return_rate", 0.18)),
                 "on_time_rate": float(p.get("on_time_rate", 0.85))}
    return {"crm_params": CRMParams(**overrides), "months": int(p.get("crm_months", 24)),
            "n_customers": int(p.get("n_customers", 20000)),
            "response_bias": float(p.get("response_bias", 0.5))}


def load_study_data(ctx: StudyContext) -> StudyData:
    """Simulate the study (seeded) or read the client's survey file (never modified).

    With ``behaviour_enabled`` a simulated study is a linked one: a customer base with CRM
    records is simulated first and the respondents are drawn from it (response bias
    included). A file-based study reads the client's CRM export from ``crm_path``.
    """
    p = ctx.params
    behaviour = bool(p.get("behaviour_enabled", False))
    if p.get("data_source", "simulated") == "simulated":
        folder = simulated_data_folder(p.get("client_id", "study"), ctx.seed, int(p["sample_size"]))
        common = {"careless_share": float(p["careless_share"]), "missing_share": float(p["missing_share"]),
                  "language": p.get("language", "en"), "random_state": ctx.seed}
        if behaviour:
            settings = _crm_settings(p)
            linked = simulate_linked_study(ctx.instrument, sample_size=int(p["sample_size"]), **settings, **common)
            write_linked_study(linked, folder)
            sim = linked.survey
            source = (f"simulated (seed {ctx.seed}): {len(sim.responses)} respondents drawn from "
                      f"{settings['n_customers']:,} simulated customers observed for {settings['months']} months; "
                      f"stored in {folder}")
            note = (f"Simulated CRM database of {settings['n_customers']:,} customers linked to the survey by a "
                    f"pseudonymous customer_id (response bias {settings['response_bias']:g} log-odds per SD of "
                    "satisfaction).")
            return StudyData(sim.responses, source, sim.truth, sim.respondent_truth, crm=linked.crm,
                             linked_truth=linked.truth, behaviour_note=note)
        from .simulate import write_simulated_survey

        sim = simulate_survey(ctx.instrument, n=int(p["sample_size"]), **common)
        write_simulated_survey(sim, folder)
        return StudyData(sim.responses, f"simulated (seed {ctx.seed}, n = {len(sim.responses)}); stored in {folder}",
                         sim.truth, sim.respondent_truth,
                         behaviour_note="The behavioural chapter is switched off (behaviour.enabled: false).")
    from .ingest import load_survey_file

    frame, report = load_survey_file(p["data_path"], ctx.instrument, format=p.get("data_format", "auto"))
    source = f"file {report.source} (SHA-256 {report.sha256[:12]}...)"
    crm, note = None, "The behavioural chapter is switched off (behaviour.enabled: false)."
    if behaviour and p.get("crm_path"):
        crm = read_crm_export(p["crm_path"])
        note = f"CRM export read from {p['crm_path']} ({len(crm.orders):,} orders)."
    elif behaviour:
        note = ("Behavioural loyalty needs the client's CRM export (orders with customer_id, timestamp and "
                "amount; optionally customers and sessions) in a folder named by behaviour.crm_path in the "
                "client profile, and a customer_id column in the survey export to link the two. "
                "None was given, so this chapter is skipped.")
    return StudyData(frame, source, notes=tuple(report.notes), crm=crm, behaviour_note=note)


def data_overview(data: StudyData, instrument: Instrument) -> pd.DataFrame:
    """Sample size, items, missing answers and completion time at a glance."""
    items = instrument.substantive_items
    present = [i for i in items if i in data.responses.columns]
    answers = data.responses[present]
    rows = [("respondents", len(data.responses)), ("substantive items", len(present)),
            ("constructs", len(instrument.construct_codes)),
            ("missing answers (share of cells)", round(float(answers.isna().to_numpy().mean()), 4)),
            ("mean answer (1-7)", round(float(np.nanmean(answers.to_numpy(dtype=float))), 3))]
    if "duration_sec" in data.responses:
        rows.append(("median completion time (min)", round(float(data.responses["duration_sec"].median()) / 60, 2)))
    # one column mixes counts and shares: format each value for reading
    return pd.DataFrame([(name, f"{value:,}" if isinstance(value, int) else f"{value:g}") for name, value in rows],
                        columns=["quantity", "value"])


def screen(ctx: StudyContext, data: StudyData) -> ScreeningResult:
    """Careless-response screening; flags and excluded rows are saved, never dropped silently."""
    result = screen_responses(data.responses, ctx.instrument)
    ctx.save_table(result.summary, "screening_summary")
    ctx.save_table(result.flags, "screening_flags")
    ctx.save_table(result.excluded, "excluded_respondents")
    if data.respondent_truth is not None:
        ctx.save_table(screening_confusion(result, data), "screening_vs_truth")
    return result


def screening_confusion(result: ScreeningResult, data: StudyData) -> pd.DataFrame:
    """True respondent type (simulated data) against the screening decision."""
    kinds = data.respondent_truth.set_index("respondent_id")["careless_type"]
    confusion = pd.crosstab(result.flags["respondent_id"].map(kinds).rename("true_type"),
                            result.flags["excluded"].map({True: "excluded", False: "kept"}).rename("decision"))
    return confusion.reset_index().rename_axis(columns=None)


def _blocks(instrument: Instrument, constructs: list[str]) -> dict[str, list[str]]:
    return {code: instrument.items_of(code) for code in constructs}


@dataclass
class MeasurementResults:
    cfa: StructuralEquationModel
    reliability: pd.DataFrame
    loadings: pd.DataFrame
    discriminant: pd.DataFrame
    htmt: pd.DataFrame
    fornell_larcker: pd.DataFrame


def _reflective_constructs(instrument: Instrument) -> list[str]:
    return [c.code for c in instrument.constructs if c.role not in ("marker", "attention")]


def measurement_analysis(ctx: StudyContext, clean: pd.DataFrame) -> MeasurementResults:
    """CFA of all reflective constructs, reliability, convergent and discriminant validity."""
    cfa = StructuralEquationModel(measurement_model_syntax(ctx.instrument)).fit(clean)
    constructs = _reflective_constructs(ctx.instrument)
    blocks = _blocks(ctx.instrument, constructs)
    std_loadings = loadings_from_estimates(cfa.estimates_)
    thresholds = ctx.validity_thresholds()
    reliability = reliability_table(clean, blocks, std_loadings, thresholds)
    loadings = item_loadings_table(std_loadings, thresholds)
    ratios = htmt(clean, blocks)
    ave = pd.Series({code: average_variance_extracted(std_loadings.query("construct == @code")["std_all"])
                     for code in constructs})
    fl = fornell_larcker(ave, cfa.latent_correlations().loc[constructs, constructs])
    discriminant = discriminant_validity_table(ratios, fl, thresholds)
    ctx.save_table(reliability, "reliability")
    ctx.save_table(loadings, "loadings")
    ctx.save_table(discriminant, "discriminant_validity")
    ctx.save_table(ratios.reset_index(names="construct"), "htmt")
    return MeasurementResults(cfa, reliability, loadings, discriminant, ratios, fl.matrix)


@dataclass
class StructuralResults:
    sem: StructuralEquationModel
    paths: pd.DataFrame
    effects: pd.DataFrame
    specific: pd.DataFrame


def structural_analysis(ctx: StudyContext, clean: pd.DataFrame, truth: GroundTruth | None = None) -> StructuralResults:
    """The hypothesised model: e-SQ (second order) -> trust, value -> satisfaction -> loyalty."""
    sem = StructuralEquationModel(structural_model_syntax(ctx.instrument, truth)).fit(clean)
    est = sem.estimates_
    paths = est[(est["op"] == "~") | ((est["op"] == "=~") & est["lhs"].eq("ESQ"))].reset_index(drop=True)
    if truth is not None:
        true = {**{f"{o}~{p}": v for (o, p), v in truth.paths.items()},
                **{f"ESQ=~{d}": v for d, v in truth.second_order.items()}}
        paths = paths.assign(true=[true.get(f"{r.lhs}{r.op}{r.rhs}" if r.op == "=~" else f"{r.lhs}~{r.rhs}")
                                   for r in paths.itertuples()])
    effects = structural_effects(sem.structure_, EFFECT_PAIRS)
    specific = pd.concat([specific_indirect_effects(sem.structure_, c, o) for c, o in EFFECT_PAIRS[:2]],
                         ignore_index=True)
    ctx.save_table(paths, "paths")
    ctx.save_table(sem.estimates_, "estimates_structural")
    ctx.save_table(sem.r2_.rename_axis("variable").reset_index(), "r_squared")
    ctx.save_table(specific, "specific_indirect")
    return StructuralResults(sem, paths, effects, specific)


def structural_model_syntax_for(ctx: StudyContext, data: StudyData) -> str:
    """The hypothesised structural model for this instrument (and truth, when simulated)."""
    return structural_model_syntax(ctx.instrument, data.truth)


def measurement_model_syntax_for(ctx: StudyContext) -> str:
    """The CFA of every reflective construct of the instrument."""
    return measurement_model_syntax(ctx.instrument)


def fit_table(ctx: StudyContext, models: dict[str, StructuralEquationModel]) -> pd.DataFrame:
    """Global fit of each model beside the cut-offs (Hu & Bentler 1999)."""
    t = ctx.thresholds()
    rows = []
    for name, model in models.items():
        f = model.fit_
        rows.append({"model": name, "n": f["n"], "chisq": f["chisq"], "df": f["df"], "pvalue": f["pvalue"],
                     "cfi": f["cfi"], "tli": f["tli"], "rmsea": f["rmsea"], "rmsea_ci_lower": f["rmsea_ci_lower"],
                     "rmsea_ci_upper": f["rmsea_ci_upper"], "srmr": f["srmr"], "aic": f["aic"], "bic": f["bic"],
                     "meets_cfi": f["cfi"] >= t.get("cfi", .95), "meets_tli": f["tli"] >= t.get("tli", .95),
                     "meets_rmsea": f["rmsea"] <= t.get("rmsea", .06), "meets_srmr": f["srmr"] <= t.get("srmr", .08)})
    return ctx.save_table(pd.DataFrame(rows), "fit")


def indirect_effects(ctx: StudyContext, structural: StructuralResults, clean: pd.DataFrame,
                     truth: GroundTruth | None = None) -> BootstrapResult | None:
    """Percentile-bootstrap CIs of direct, indirect and total effects (seeded, parallel)."""
    draws = int(ctx.params.get("bootstrap_draws", 1000))
    if draws == 0:
        table = structural.effects.melt(id_vars=["from_", "to"], var_name="kind", value_name="est")
        ctx.save_table(table, "indirect")
        return None
    result = bootstrap_effects(structural.sem, clean, EFFECT_PAIRS, n_draws=draws, random_state=ctx.seed,
                               n_jobs=int(ctx.params.get("n_jobs", 2)), ci_level=float(ctx.params.get("ci_level", .95)))
    table = result.summary
    if truth is not None:
        true = _true_effects(truth)
        table = table.assign(true=[true.get((r.from_, r.to, r.kind), np.nan) for r in table.itertuples()])
    ctx.save_table(table, "indirect")
    return result


def _true_effects(truth: GroundTruth) -> dict[tuple[str, str, str], float]:
    """(cause, outcome, direct | indirect | total) -> true standardized effect."""
    kinds = {"direct": "direct", "total_indirect": "indirect", "total": "total"}
    table = truth.indirect_effects(EFFECT_PAIRS)
    return {(r.from_, r.to, kinds[r.effect]): float(r.est) for r in table.itertuples() if r.effect in kinds}


def recovery_table(ctx: StudyContext, truth: GroundTruth, structural: StructuralResults,
                   boot: BootstrapResult | None) -> pd.DataFrame:
    """Every true structural parameter beside its estimate (simulated data only)."""
    rows = []
    for rec in structural.paths.itertuples():
        name = f"{rec.lhs} ~ {rec.rhs}" if rec.op == "~" else f"{rec.lhs} =~ {rec.rhs}"
        rows.append({"parameter": name, "true": rec.true, "estimate": rec.std_all})
    true_r2 = truth.r_squared()
    for name, value in structural.sem.r2_.items():
        if name in true_r2.index:
            rows.append({"parameter": f"R2 {name}", "true": float(true_r2[name]), "estimate": float(value)})
    if boot is not None:
        true = _true_effects(truth)
        for rec in boot.summary.itertuples():
            if rec.kind != "direct":
                rows.append({"parameter": f"{rec.kind} {rec.from_} -> {rec.to}",
                             "true": true.get((rec.from_, rec.to, rec.kind), np.nan), "estimate": rec.est,
                             "ci_lower": rec.ci_lower, "ci_upper": rec.ci_upper})
    table = pd.DataFrame(rows)
    table["difference"] = table["estimate"] - table["true"]
    return ctx.save_table(table, "recovery")
