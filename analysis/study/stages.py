"""The study pipeline, one function per stage, as called by notebooks/study.ipynb.

Each stage takes plain values (the context, a DataFrame, a fitted model), returns a
result object, and saves its tables/figures into the report's output folder through
the :class:`StudyContext`. The notebook only calls these and displays what they
return, so everything it shows is testable here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.behaviour.database import LINK_KEY, check_linkage, read_crm_export
from analysis.i18n import format_integer, format_number, text
from analysis.instrument import Instrument
from analysis.measurement import (
    average_variance_extracted,
    discriminant_validity_table,
    fornell_larcker,
    htmt,
    item_loadings_table,
    loadings_from_estimates,
    reliability_table,
)
from analysis.paths import simulated_data_folder
from analysis.privacy import (
    DEFAULT_MIN_CELL_SIZE,
    Pseudonymiser,
    drop_crm_identifiers,
    drop_identifying_columns,
    pseudonymise_crm,
    pseudonymise_table,
    suppress_counts,
)
from analysis.screening.rules import ScreeningResult, screen_responses
from analysis.sem import (
    BootstrapResult,
    bootstrap_effects,
    specific_indirect_effects,
    structural_effects,
)
from analysis.sem.api import fit_model
from analysis.sem.fitted import FittedSEM
from analysis.simulate import (
    GroundTruth,
    measurement_model_syntax,
    simulate_survey,
    structural_model_syntax,
)
from analysis.simulate.crm import CRMDatabase, CRMParams
from analysis.simulate.linked import (
    simulate_linked_study,
    write_linked_study,
)
from analysis.study.context import StudyContext

__all__ = [
    "StudyData", "load_study_data", "validation_report", "data_overview", "screen", "MeasurementResults",
    "measurement_analysis", "StructuralResults", "structural_analysis", "indirect_effects",
    "fit_table", "structural_model_syntax_for", "measurement_model_syntax_for", "screening_confusion", "EFFECT_PAIRS",
]

#: Effects whose indirect and total parts the report bootstraps (cause, outcome).
EFFECT_PAIRS = [("ESQ", "LOY"), ("TRU", "LOY"), ("ESQ", "SAT"), ("VAL", "LOY"), ("SAT", "LOY")]


@dataclass(frozen=True)
class StudyData:
    """Responses to analyse, the truth when they were simulated, and the CRM when linked.

    ``crm`` is the customer database the behavioural chapter analyses: simulated
    together with the survey (``linked_truth`` then holds the response-bias truth), or the
    client's own export (``behaviour.crm_path``); ``behaviour_note`` says where it came
    from, or why there is none. ``source`` and ``behaviour_note`` are sentences for the
    reader, in the report language; they name files and folders, never absolute paths.
    """

    responses: pd.DataFrame
    source: str
    truth: GroundTruth | None = None
    respondent_truth: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    crm: CRMDatabase | None = None
    linked_truth: dict | None = None
    behaviour_note: str = ""
    #: k of the small-cell suppression of group tables (``privacy.min_cell_size``).
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE
    #: Problems found while reading a client's export (``tables/validation_report.csv``); None when simulated.
    validation: pd.DataFrame | None = None
    #: How the export was read: file, format, detected encoding, sheet, layout, rows, columns.
    ingest: dict | None = None
    #: For the reader: identifiers were pseudonymised and small cells are suppressed (k).
    privacy_note: str = ""


def _crm_settings(ctx: StudyContext) -> dict:
    """CRM parameters and the observation length from the profile's behaviour section."""
    b = ctx.settings.behaviour
    return {"crm_params": CRMParams(repeat_rate_12m=b.repeat_rate, return_rate=b.return_rate,
                                    on_time_rate=b.on_time_rate),
            "months": b.months, "n_customers": b.n_customers, "response_bias": b.response_bias}


def load_study_data(ctx: StudyContext) -> StudyData:
    """The study's data (:func:`_read_study_data`), private before any analysis sees them.

    Columns the analysis does not need (e-mail, phone, names, IP addresses, free text,
    panel metadata) are dropped, with a note naming their headers, never their values;
    ``respondent_id`` and ``customer_id`` in the responses, the simulation truth and
    every CRM table become keyed pseudonyms under the client's secret salt
    (:mod:`analysis.privacy`), the same route for simulated and real data.
    """
    data = _read_study_data(ctx)
    instrument = ctx.instrument
    keep = [*instrument.likert_items, *instrument.demographic_ids, "respondent_id", "customer_id", "duration_sec"]
    responses, dropped = drop_identifying_columns(data.responses, keep, check=instrument.demographic_ids)
    notes = list(data.notes)
    if dropped.columns:  # the reader's "kept other columns" note no longer holds
        notes = [n for n in notes if not n.startswith("kept ")] + [dropped.note()]
    crm, crm_dropped = drop_crm_identifiers(data.crm)
    if crm_dropped.columns:
        notes.append("CRM export: " + crm_dropped.note())
    pseudonyms = Pseudonymiser.for_client(ctx.settings.client.id, ctx.settings.privacy.salt_file)
    k = ctx.settings.privacy.min_cell_size
    privacy = text("privacy.pseudonymised", ctx.language, k=format_integer(k, ctx.language))
    return dataclasses.replace(
        data, privacy_note=privacy, responses=pseudonymise_table(responses, pseudonyms), notes=tuple(notes),
        respondent_truth=pseudonymise_table(data.respondent_truth, pseudonyms),
        crm=pseudonymise_crm(crm, pseudonyms), min_cell_size=k)


def _read_study_data(ctx: StudyContext) -> StudyData:
    """Simulate the study (seeded) or read the client's survey file (never modified).

    With ``behaviour.enabled`` a simulated study is a linked one: a customer base with CRM
    records is simulated first and the respondents are drawn from it (response bias
    included). A file-based study reads the client's CRM export from ``crm_path``.
    """
    s = ctx.settings
    lang = ctx.language
    behaviour = s.behaviour.enabled
    if s.data.source == "simulated":
        n = s.simulation.sample_size
        folder = simulated_data_folder(s.client.id, ctx.seed, n)
        common = {"careless_share": s.simulation.careless_share, "missing_share": s.simulation.missing_share,
                  "language": s.report.language, "random_state": ctx.seed}
        if behaviour:
            settings = _crm_settings(ctx)
            linked = simulate_linked_study(ctx.instrument, sample_size=n, **settings, **common)
            write_linked_study(linked, folder)
            sim = linked.survey
            # reader-visible sentences in the report language; the folder by name, never its absolute path
            source = text("narrative.data.source_linked", lang, seed=str(ctx.seed),
                          respondents=format_integer(len(sim.responses), lang),
                          customers=format_integer(settings["n_customers"], lang),
                          months=format_integer(settings["months"], lang), folder=folder.name)
            note = text("narrative.behaviour.note.linked", lang,
                        customers=format_integer(settings["n_customers"], lang),
                        bias=format_number(settings["response_bias"], lang, 2))
            return StudyData(sim.responses, source, sim.truth, sim.respondent_truth, crm=linked.crm,
                             linked_truth=linked.truth, behaviour_note=note)
        from analysis.simulate import write_simulated_survey

        sim = simulate_survey(ctx.instrument, n=n, **common)
        write_simulated_survey(sim, folder)
        source = text("narrative.data.source_simulated", lang, seed=str(ctx.seed),
                      respondents=format_integer(len(sim.responses), lang), folder=folder.name)
        return StudyData(sim.responses, source, sim.truth, sim.respondent_truth,
                         behaviour_note=text("narrative.behaviour.note.off", lang))
    from analysis.data.ingest import load_survey_file

    d = s.data  # every non-fatal problem of the file goes to the validation report (collect=True)
    frame, report = load_survey_file(d.path, ctx.instrument, format=d.format, sheet=d.sheet, encoding=d.encoding,
                                     layout=d.layout, columns=d.columns, recode=d.recode,
                                     missing_codes=d.missing_codes, collect=True)
    source = text("narrative.data.source_file", lang, file=Path(str(report.source)).name, sha=report.sha256[:12])
    crm, note = None, text("narrative.behaviour.note.off", lang)
    if behaviour and s.behaviour.crm_path is not None:
        crm = read_crm_export(s.behaviour.crm_path, months=s.behaviour.months)  # every order checked
        note = text("narrative.behaviour.note.crm_export", lang, folder=Path(s.behaviour.crm_path).name,
                    orders=format_integer(len(crm.orders), lang))
        if LINK_KEY in frame:  # no respondent in the CRM is an error; a few unknown ones are said
            unknown, total = check_linkage(frame[LINK_KEY], crm.orders[LINK_KEY],
                                           folder=Path(s.behaviour.crm_path).name)
            if unknown:
                note += " " + text("crm_check.unlinked", lang, unknown=format_integer(unknown, lang),
                                   respondents=format_integer(total, lang), key=LINK_KEY)
    elif behaviour:
        note = text("narrative.behaviour.note.no_crm_export", lang)
    ingest = {"file": Path(str(report.source)).name, "format": report.format, "encoding": report.encoding or "",
              "sheet": report.sheet or "", "layout": report.layout, "rows_read": report.n_rows,
              "columns_read": report.n_columns, "rows_kept": len(frame)}
    return StudyData(frame, source, notes=tuple(report.notes), crm=crm, behaviour_note=note,
                     validation=report.problems, ingest=ingest)


def validation_report(ctx: StudyContext, data: StudyData) -> pd.DataFrame:
    """Every problem found while reading the export, saved as ``validation_report``; returned grouped
    by kind and column, in the report language, for the "Data validation" section (empty: none)."""
    from analysis.data.validation import COLUMNS, summarise

    table = data.validation if data.validation is not None else pd.DataFrame(columns=list(COLUMNS))
    ctx.save_table(table, "validation_report")
    if data.ingest:  # the detected encoding, sheet and layout, hashed with the outputs in manifest.json
        ctx.save_table(pd.DataFrame(list(data.ingest.items()), columns=["setting", "value"]), "data_source")
    summary, lang, points = summarise(table), ctx.language, ctx.instrument.scale.points
    return pd.DataFrame({
        "validation_problem": [text(f"validation.problem.{p}", lang) for p in summary["problem"]],
        "validation_column": summary["column"], "validation_cells": summary["cells"],
        "validation_rows": summary["first_rows"],
        "validation_expected": [text(f"validation.expected.{p}", lang, points=points) for p in summary["problem"]]})


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
    confusion = confusion.reset_index().rename_axis(columns=None)
    # the decision totals are published (screening summary): complement down the columns
    return suppress_counts(confusion, [c for c in confusion.columns if c != "true_type"],
                           data.min_cell_size, by_row=False)


def _blocks(instrument: Instrument, constructs: list[str]) -> dict[str, list[str]]:
    return {code: instrument.items_of(code) for code in constructs}


@dataclass
class MeasurementResults:
    cfa: FittedSEM
    reliability: pd.DataFrame
    loadings: pd.DataFrame
    discriminant: pd.DataFrame
    htmt: pd.DataFrame
    fornell_larcker: pd.DataFrame


def _reflective_constructs(instrument: Instrument) -> list[str]:
    return [c.code for c in instrument.constructs if c.role not in ("marker", "attention")]


def measurement_analysis(ctx: StudyContext, clean: pd.DataFrame) -> MeasurementResults:
    """CFA of all reflective constructs, reliability, convergent and discriminant validity."""
    cfa = fit_model(clean, measurement_model_syntax(ctx.instrument))
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
    sem: FittedSEM
    paths: pd.DataFrame
    effects: pd.DataFrame
    specific: pd.DataFrame


def structural_analysis(ctx: StudyContext, clean: pd.DataFrame, truth: GroundTruth | None = None) -> StructuralResults:
    """The hypothesised model: e-SQ (second order) -> trust, value -> satisfaction -> loyalty."""
    sem = fit_model(clean, structural_model_syntax(ctx.instrument, truth))
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


def fit_table(ctx: StudyContext, models: dict[str, FittedSEM]) -> pd.DataFrame:
    """Global fit of each model beside the cut-offs (Hu & Bentler 1999)."""
    t = ctx.fit_thresholds()
    rows = []
    for name, model in models.items():
        f = model.fit_
        rows.append({"model": name, "n": f["n"], "chisq": f["chisq"], "df": f["df"], "pvalue": f["pvalue"],
                     "cfi": f["cfi"], "tli": f["tli"], "rmsea": f["rmsea"], "rmsea_ci_lower": f["rmsea_ci_lower"],
                     "rmsea_ci_upper": f["rmsea_ci_upper"], "srmr": f["srmr"], "aic": f["aic"], "bic": f["bic"],
                     "meets_cfi": f["cfi"] >= t["cfi"], "meets_tli": f["tli"] >= t["tli"],
                     "meets_rmsea": f["rmsea"] <= t["rmsea"], "meets_srmr": f["srmr"] <= t["srmr"]})
    return ctx.save_table(pd.DataFrame(rows), "fit")


def indirect_effects(ctx: StudyContext, structural: StructuralResults, clean: pd.DataFrame,
                     truth: GroundTruth | None = None) -> BootstrapResult | None:
    """Percentile-bootstrap CIs of direct, indirect and total effects (seeded, parallel)."""
    analysis = ctx.settings.analysis
    draws = analysis.bootstrap_draws
    if draws == 0:
        table = structural.effects.melt(id_vars=["from_", "to"], var_name="kind", value_name="est")
        ctx.save_table(table, "indirect")
        return None
    result = bootstrap_effects(structural.sem, clean, EFFECT_PAIRS, n_draws=draws, random_state=ctx.seed,
                               n_jobs=ctx.n_jobs, ci_level=analysis.ci_level)
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

