"""The attitude side of the behavioural-loyalty chapter: survey scores against behaviour.

Stages after :mod:`analysis.study.behaviour`'s data, RFM, CLV and retention stages:
:func:`attitude_scores`, :func:`attitude_behaviour_analysis`, :func:`response_bias_analysis`,
:func:`segment_analysis`, and the reading helpers :func:`correlation_table`,
:func:`model_table` and :func:`practical_reading`. All are re-exported by
:mod:`analysis.study.behaviour`, which the notebook calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.behaviour.linkage import attitude_behaviour, attitude_behaviour_models
from analysis.behaviour.rfm import repeat_customer_rate
from analysis.behaviour.segments import (
    quantile_segments,
    segment_profile,
    web_behaviour_profile,
)
from analysis.i18n import format_number, format_percent, text
from analysis.privacy import suppress_groups
from analysis.study.behaviour_results import (
    BehaviourData,
    CLVResults,
    RetentionResults,
    RFMResults,
)

__all__ = ["attitude_scores", "AttitudeBehaviourResults", "attitude_behaviour_analysis",
           "response_bias_analysis", "SegmentResults", "segment_analysis", "correlation_table",
           "model_table", "practical_reading", "ATTITUDES"]

#: Survey constructs linked to behaviour, and their names in the CRM truth.
ATTITUDES = {"SAT": "satisfaction", "LOY": "loyalty", "TRU": "trust"}
SURVEY, TRUE_RESPONDENTS, TRUE_ALL = ("survey scores (respondents)", "true latent (respondents)",
                                      "true latent (all customers)")


def attitude_scores(ctx, bd: BehaviourData, structural, clean: pd.DataFrame) -> pd.DataFrame | None:
    """Factor scores of SAT, LOY and TRU from the fitted structural model, by customer id.

    Regression factor scores exist for respondents without missing answers on the
    model's items. None when the survey cannot be linked to the CRM.
    """
    if not bd.available or bd.respondents is None or "customer_id" not in clean:
        return None
    scores = structural.sem.factor_scores(clean, id_column="customer_id")
    return scores.set_index("customer_id")[[c for c in ATTITUDES if c in scores]]


def _true_latents(bd: BehaviourData, ids=None) -> pd.DataFrame:
    truth = bd.customer_truth.set_index("customer_id")[list(ATTITUDES.values())]
    truth = truth.rename(columns={v: k for k, v in ATTITUDES.items()})
    return truth if ids is None else truth.loc[ids]


@dataclass
class AttitudeBehaviourResults:
    correlations: pd.DataFrame
    models: pd.DataFrame
    binned: pd.DataFrame


def _links(attitudes, rfm: RFMResults, clv: CLVResults, churn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Correlations and joint models of every behaviour on the attitudes of one source."""
    window = {"repeat_purchase": "repeat_12m", "log_frequency": "log_frequency_12m"}
    correlations = pd.concat([
        attitude_behaviour(attitudes, rfm.rfm_12m).replace({"behaviour": window}),
        attitude_behaviour(attitudes, rfm.rfm, clv.customers, churn)], ignore_index=True)
    models = pd.concat([
        attitude_behaviour_models(attitudes, rfm.rfm_12m).replace({"behaviour": window}),
        attitude_behaviour_models(attitudes, rfm.rfm, clv.customers, churn)], ignore_index=True)
    return correlations, models


def _binned(attitude: pd.Series, repeat: pd.DataFrame, source: str, bins: int = 5) -> pd.DataFrame:
    """12-month repeat rate (Wilson CI) per quintile of an attitude score."""
    common = attitude.index.intersection(repeat.index)
    score = attitude.loc[common]
    level = pd.qcut(score.rank(method="first"), bins, labels=[f"Q{k + 1}" for k in range(bins)]).astype(str)
    rates = repeat_customer_rate(repeat.loc[common], level)
    centre = score.groupby(level).mean()
    return rates.assign(mean_score=rates["group"].map(centre).to_numpy(), source=source)


def attitude_behaviour_analysis(ctx, bd: BehaviourData, rfm: RFMResults, clv: CLVResults,
                                retention: RetentionResults,
                                scores: pd.DataFrame | None) -> AttitudeBehaviourResults | None:
    """Attitudes (survey scores; true latents when simulated) against purchasing behaviour.

    ``attitude_behaviour.csv`` has one row per source, attitude, behaviour and method;
    ``true_r`` is the same correlation computed from the true latent of all customers
    (the population value the survey estimate is compared with).
    """
    sources: list[tuple[str, pd.DataFrame]] = []
    if scores is not None:
        sources.append((SURVEY, scores))
    if bd.simulated:
        if scores is not None:
            sources.append((TRUE_RESPONDENTS, _true_latents(bd, scores.index)))
        sources.append((TRUE_ALL, _true_latents(bd)))
    if not sources:
        return None
    correlations, models = [], []
    for source, attitudes in sources:
        corr, model = _links(attitudes, rfm, clv, retention.churn)
        correlations.append(corr.assign(source=source))
        models.append(model.assign(source=source))
    correlations = pd.concat(correlations, ignore_index=True)
    models = pd.concat(models, ignore_index=True)
    keys = ["attitude", "behaviour", "method"]
    population = correlations[correlations["source"] == TRUE_ALL].set_index(keys)["r"]
    correlations["true_r"] = correlations.set_index(keys).index.map(population).to_numpy(float) \
        if len(population) else np.nan
    first = ["source", "attitude", "behaviour", "method"]
    correlations = correlations[first + [c for c in correlations if c not in first]]
    models = models[["source"] + [c for c in models if c != "source"]]
    binned = [_binned(attitudes["LOY"], rfm.rfm_12m, source) for source, attitudes in sources
              if source != TRUE_RESPONDENTS and "LOY" in attitudes]
    binned = suppress_groups(pd.concat(binned, ignore_index=True), "n_customers", ctx.settings.privacy.min_cell_size,
                             values=["repeat_rate", "ci_lower", "ci_upper", "mean_score"], within=["source"],
                             inner=["n_repeat"])
    ctx.save_table(correlations, "attitude_behaviour")
    ctx.save_table(models, "attitude_behaviour_models")
    ctx.save_table(binned, "loyalty_repeat_bins")
    return AttitudeBehaviourResults(correlations, models, binned)


def response_bias_analysis(ctx, bd: BehaviourData, rfm: RFMResults, clv: CLVResults,
                           retention: RetentionResults) -> pd.DataFrame | None:
    """Behaviour of the customers who answered the survey against all customers.

    Observed CRM measures for everybody; when simulated, also the true attitudes
    (standardised latent scores) that drove the response propensity.
    """
    if bd.respondents is None:
        return None
    measures = pd.DataFrame({
        "repeat customer within 12 months (share)": rfm.rfm_12m["frequency"] > 0,
        "repeat customer, whole observation (share)": rfm.rfm["frequency"] > 0,
        "repeat purchases (mean)": rfm.rfm["frequency"],
        "churned (share)": retention.churn["churned"],
        "P(alive) (mean)": clv.customers["probability_alive"],
        "CLV (mean)": clv.customers["clv"],
    }).astype(float)
    kinds = {name: "observed CRM" for name in measures}
    if bd.simulated:
        truth = bd.customer_truth.set_index("customer_id")
        for column, label in (("satisfaction", "true satisfaction (SD units)"),
                              ("satisfaction_experienced", "experienced satisfaction (SD units)"),
                              ("loyalty", "true loyalty (SD units)")):
            measures[label] = truth[column].reindex(measures.index)
            kinds[label] = "simulation truth"
    surveyed = measures.index.isin(bd.respondents["customer_id"])
    answered = measures[surveyed]
    table = pd.DataFrame({"measure": list(measures), "kind": [kinds[m] for m in measures],
                          "all_customers": measures.mean().to_numpy(),
                          "respondents": answered.mean().to_numpy(),
                          "non_respondents": measures[~surveyed].mean().to_numpy()})
    table["difference"] = table["respondents"] - table["all_customers"]
    # The respondents are a small part of the base, so the difference's uncertainty is
    # that of the respondents' mean (normal approximation).
    half = stats.norm.ppf(1 - (1 - ctx.settings.analysis.ci_level) / 2) * (
        answered.std(ddof=1) / np.sqrt(answered.count())).to_numpy()
    table["ci_lower"] = table["difference"] - half
    table["ci_upper"] = table["difference"] + half
    table["relative_difference"] = np.where(table["kind"] == "observed CRM",
                                            table["difference"] / table["all_customers"], np.nan)
    table["n_respondents"] = int(surveyed.sum())
    return ctx.save_table(table, "response_bias")


@dataclass
class SegmentResults:
    profile: pd.DataFrame
    segments: pd.Series
    table: pd.DataFrame


def segment_analysis(ctx, bd: BehaviourData, rfm: RFMResults, clv: CLVResults,
                     retention: RetentionResults, scores: pd.DataFrame | None) -> SegmentResults | None:
    """Engagement segments from web behaviour, described by behaviour and attitudes.

    Customers are cut into thirds of web engagement (visits, pages and dwell time per
    visit); every cell based on fewer than ``privacy.min_cell_size`` customers (default 5)
    is suppressed.
    """
    if bd.sessions is None or not {"pages", "dwell_sec", "referral_source", "keyword_class"} <= set(bd.sessions):
        return None
    profile = web_behaviour_profile(bd.sessions, bd.customers)
    segments = quantile_segments(profile, labels=("low engagement", "medium engagement", "high engagement"))
    described = profile.drop(columns=["device"], errors="ignore").join(pd.DataFrame({
        "repeat_12m": (rfm.rfm_12m["frequency"] > 0).astype(float),
        "clv": clv.customers["clv"], "churned": retention.churn["churned"].astype(float)}))
    attitudes = None
    if scores is not None:
        attitudes = scores.add_prefix("survey_")
    if bd.simulated:
        truth = _true_latents(bd)[["LOY"]].rename(columns={"LOY": "true_loyalty"})
        attitudes = truth if attitudes is None else attitudes.join(truth, how="outer")
    table = segment_profile(described, segments, attitudes, min_cell=ctx.settings.privacy.min_cell_size)
    ctx.save_table(table, "segments")
    return SegmentResults(profile, segments, table)


def correlation_table(links: AttitudeBehaviourResults, method: str = "pearson") -> pd.DataFrame:
    """Wide view for reading: one row per attitude and behaviour, one column per source."""
    data = links.correlations[links.correlations["method"] == method]
    wide = data.pivot_table(index=["attitude", "behaviour"], columns="source", values="r", sort=False)
    survey = data[data["source"] == SURVEY].set_index(["attitude", "behaviour"])
    if len(survey):
        wide[f"{SURVEY}: 95% CI"] = [f"[{lo:.2f}, {hi:.2f}]" for lo, hi in
                                     survey.loc[wide.index, ["ci_lower", "ci_upper"]].to_numpy()]
    wide.columns.name = None
    return wide.reset_index()


def model_table(links: AttitudeBehaviourResults) -> pd.DataFrame:
    """Joint models (attitudes standardised) of the main behaviours, attitude terms only."""
    main = ("repeat_12m", "churned", "log_clv")
    rows = links.models[(links.models["term"] != "intercept") & links.models["behaviour"].isin(main)]
    return rows[["source", "behaviour", "model", "term", "coef", "ci_lower", "ci_upper", "pvalue", "n",
                 "r_squared"]].reset_index(drop=True)


def practical_reading(rfm: RFMResults, clv: CLVResults, retention: RetentionResults,
                      links: AttitudeBehaviourResults | None, bias: pd.DataFrame | None,
                      service: pd.DataFrame | None, segments: SegmentResults | None, *,
                      language: str = "en") -> str:
    """The chapter's results in the terms of the CRM essays, as Markdown bullets.

    The sentences come from the catalog (``narrative.practice.*``) in ``language``, with
    shares and coefficients formatted for that language.
    """
    def say(key: str, **values) -> str:
        return text(f"narrative.practice.{key}", language, **values)

    def pct(share) -> str:
        return format_percent(share, language)

    repeat = rfm.repeat.query("grouping == 'all customers' and window == '12 months'")["repeat_rate"].iloc[0]
    top = clv.concentration.query("top_share_of_customers == 0.2")["share_of_total_clv"].iloc[0]
    lines = [say("buy_once", repeat=pct(repeat)), say("target", top=pct(top))]
    summary = retention.summary.set_index(["source", "group"])
    who = {SURVEY: "survey", TRUE_ALL: "true_all"}
    for source in (SURVEY, TRUE_ALL):
        keys = [(source, f"{level} satisfaction") for level in ("low", "high")]
        if all(k in summary.index for k in keys):
            low, high = (summary.loc[k, "retained_52w"] for k in keys)
            lines.append(say("satisfied_stay" if high > low else "satisfaction_retention",
                             who=say(f"who.{who[source]}"), high=pct(high), low=pct(low)))
            break
    if service is not None:
        rates = service.set_index("group")["repeat_rate"]
        if {"first order on time", "first order late"} <= set(rates.index):
            lines.append(say("service", on_time=pct(rates["first order on time"]),
                             late=pct(rates["first order late"]),
                             resolved=pct(rates.get("complaint resolved", np.nan)),
                             unresolved=pct(rates.get("complaint unresolved", np.nan))))
    if links is not None:
        survey = links.correlations.query("method == 'pearson' and behaviour == 'repeat_12m'")
        survey = survey.set_index(["source", "attitude"])["r"]
        key = (SURVEY, "LOY") if (SURVEY, "LOY") in survey.index else (TRUE_ALL, "LOY")
        if key in survey.index:
            whose = {SURVEY: "survey", TRUE_ALL: "true_all"}
            lines.append(say("stated_loyalty", whose=say(f"whose.{whose[key[0]]}"),
                             r=format_number(survey[key], language, 2, bounded=True)))
    if bias is not None:
        sat = bias.set_index("measure")
        repeat_key = "repeat customer within 12 months (share)"
        behaviour = (say("crm_repeat", respondents=pct(sat.loc[repeat_key, "respondents"]),
                         all=pct(sat.loc[repeat_key, "all_customers"])) if repeat_key in sat.index else "")
        if "true satisfaction (SD units)" in sat.index:
            difference = float(sat.loc["true satisfaction (SD units)", "difference"])
            lines.append(say("surveys_hear_satisfied", difference=format_number(difference, language, 2),
                             behaviour=behaviour))
        elif behaviour:
            lines.append(say("who_answers", behaviour=behaviour))
    if segments is not None:
        clv_rows = segments.table[segments.table["variable"] == "clv"].set_index("segment")["mean"]
        if {"high engagement", "low engagement"} <= set(clv_rows.index):
            lines.append(say("segments", high=format_number(clv_rows["high engagement"], language, 1),
                             low=format_number(clv_rows["low engagement"], language, 1)))
    return "\n".join(lines)
