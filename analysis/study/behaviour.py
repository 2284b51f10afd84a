"""The behavioural-loyalty chapter of the study report, one function per stage.

Like :mod:`analysis.study.stages`, every stage takes the :class:`~analysis.study.stages.StudyContext`
and plain values, saves its tables through ``ctx.save_table`` and returns a small result
object for the notebook to display (figures come from :mod:`analysis.plots.behaviour`).
The order is: :func:`behaviour_data` (what CRM there is), :func:`rfm_analysis`,
:func:`clv_analysis`, :func:`attitude_scores`, :func:`retention_analysis`,
:func:`attitude_behaviour_analysis`, :func:`response_bias_analysis`,
:func:`segment_analysis`. Time is in weeks (BTYD conventions of
:func:`~analysis.behaviour.rfm.rfm_summary`).

This module holds the data, RFM, CLV and retention stages; the attitude stages and the
reading helpers live in :mod:`analysis.study.behaviour_attitudes` and are re-exported
here, so ``chapter.<stage>`` reaches every stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.behaviour.clv import BGNBDModel, GammaGammaModel, customer_lifetime_value
from analysis.behaviour.rfm import cohort_retention, repeat_customer_rate, rfm_summary
from analysis.behaviour.survival import (
    churn_table,
    kaplan_meier_retention,
    median_retention,
)
from analysis.i18n import text
from analysis.privacy import suppress_counts, suppress_groups
from analysis.seeding import stream_rng
from analysis.simulate.crm import simulate_bgnbd
from analysis.study.behaviour_attitudes import (
    ATTITUDES,
    SURVEY,
    TRUE_ALL,
    AttitudeBehaviourResults,
    SegmentResults,
    _true_latents,
    attitude_behaviour_analysis,
    attitude_scores,
    correlation_table,
    model_table,
    practical_reading,
    response_bias_analysis,
    segment_analysis,
)
from analysis.study.behaviour_attitudes import (
    TRUE_RESPONDENTS as TRUE_RESPONDENTS,
)
from analysis.study.behaviour_results import (
    BehaviourData,
    CLVResults,
    RetentionResults,
    RFMResults,
)
from analysis.study.behaviour_truth import behaviour_design_truth

__all__ = ["BehaviourData", "behaviour_data", "crm_overview", "RFMResults", "rfm_analysis",
           "CLVResults", "clv_analysis", "attitude_scores", "RetentionResults",
           "retention_analysis", "AttitudeBehaviourResults", "attitude_behaviour_analysis",
           "response_bias_analysis", "SegmentResults", "segment_analysis", "service_retention",
           "correlation_table", "model_table", "practical_reading", "ATTITUDES",
           "MAX_CUSTOMER_ROWS"]

#: Per-customer tables are written only up to this many customers.
MAX_CUSTOMER_ROWS = 5000
WEEKS_PER_YEAR = 52


def behaviour_data(ctx, data) -> BehaviourData:
    """The CRM of the study, or an explanation of why the chapter is skipped.

    ``note`` is a sentence for the reader in the report language (the data's
    ``behaviour_note``, plus a remark when the survey cannot be linked to the CRM).
    """
    if not ctx.settings.behaviour.enabled or data.crm is None:
        return BehaviourData(False, data.behaviour_note or text("narrative.behaviour.note.no_crm", ctx.language))
    crm = data.crm
    note = data.behaviour_note
    respondents = None
    if "customer_id" in data.responses:
        respondents = data.responses[["respondent_id", "customer_id"]].dropna()
    else:
        note += " " + text("narrative.behaviour.note.no_customer_id", ctx.language)
    truth = crm.truth if crm.customer_truth is not None else None
    return BehaviourData(True, note.strip(), crm.customers, crm.orders, crm.sessions, crm.deliveries,
                         crm.complaints, pd.Timestamp(crm.truth["observation_end"]), crm.customer_truth,
                         truth, data.linked_truth, respondents)


def crm_overview(ctx, bd: BehaviourData) -> pd.DataFrame:
    """Size of the customer database and its service base rates."""
    orders = bd.orders
    start = pd.Timestamp(orders["timestamp"].min())
    rows = [("customers with orders", f"{orders['customer_id'].nunique():,}"),
            ("orders", f"{len(orders):,}"),
            ("observation", f"{start:%Y-%m-%d} to {bd.observation_end:%Y-%m-%d}"),
            ("mean order value", f"{orders['amount'].mean():.2f}")]
    if bd.crm_truth is not None:
        t = bd.crm_truth
        rows += [("on-time deliveries", f"{t['on_time_rate']:.1%}"),
                 ("orders returned", f"{t['return_rate']:.1%}"),
                 ("orders with a complaint", f"{t['complaint_rate']:.1%}"),
                 ("complaints resolved", f"{t['resolution_rate']:.1%}")]
    if bd.respondents is not None:
        rows.append(("survey respondents linked by customer_id", f"{len(bd.respondents):,}"))
    return ctx.save_table(pd.DataFrame(rows, columns=["quantity", "value"]), "crm_overview")


def _distribution(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    quantiles = {"q10": 0.10, "q25": 0.25, "median": 0.50, "q75": 0.75, "q90": 0.90}
    rows = []
    for column in columns:
        values = frame[column].astype(float)
        rows.append({"variable": column, "n": int(values.count()), "mean": values.mean(),
                     "sd": values.std(), "min": values.min(),
                     **{k: values.quantile(q) for k, q in quantiles.items()}, "max": values.max()})
    return pd.DataFrame(rows)


def _first_year_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Each customer's orders within 52 weeks of their first order."""
    stamps = pd.to_datetime(orders["timestamp"])
    first = stamps.groupby(orders["customer_id"]).transform("min")
    return orders[stamps <= first + pd.Timedelta(weeks=WEEKS_PER_YEAR)]


def rfm_analysis(ctx, bd: BehaviourData) -> RFMResults:
    """RFM summary (BTYD conventions), repeat-customer rate and monthly cohort retention."""
    rfm = rfm_summary(bd.orders, observation_end=bd.observation_end, freq="W")
    rfm_12m = rfm_summary(_first_year_orders(bd.orders), observation_end=bd.observation_end)
    summary = _distribution(rfm, ["frequency", "recency", "T", "monetary_value"])
    summary.insert(1, "unit", ["repeat purchase weeks", "weeks", "weeks", "currency per repeat"])
    rates = [repeat_customer_rate(rfm).assign(grouping="all customers", window="whole observation"),
             repeat_customer_rate(rfm_12m).assign(grouping="all customers", window="12 months")]
    customers = bd.customers
    for column in ("city_tier", "acquisition_channel"):
        if customers is not None and column in customers:
            groups = customers.set_index("customer_id")[column].astype(str)
            rates.append(repeat_customer_rate(rfm_12m, groups).assign(grouping=column, window="12 months"))
    repeat = pd.concat(rates, ignore_index=True)[["grouping", "group", "window", "n_customers", "n_repeat",
                                                  "repeat_rate", "ci_lower", "ci_upper"]]
    # groups of fewer than privacy.min_cell_size customers are not published (analysis.privacy)
    k = ctx.settings.privacy.min_cell_size
    repeat = suppress_groups(repeat, "n_customers", k, values=["repeat_rate", "ci_lower", "ci_upper"],
                             within=["grouping", "window"], inner=["n_repeat"])
    cohorts = None
    if customers is not None and "signup_date" in customers:
        cohorts = suppress_groups(cohort_retention(bd.orders, customers, freq="M"), "cohort_size", k,
                                  values=["retention"], within=["period"], inner=["n_active"])
        cohorts = ctx.save_table(cohorts, "cohort_retention")
    ctx.save_table(summary, "rfm_summary")
    ctx.save_table(repeat, "repeat_customer_rate")
    if len(rfm) <= MAX_CUSTOMER_ROWS:
        ctx.save_table(rfm.reset_index(), "rfm_customers")
    return RFMResults(rfm, rfm_12m, summary, repeat, cohorts)


def _seed(ctx, stream: int) -> np.random.Generator:
    return stream_rng(ctx.seed, stream)


def _parameter_table(model, true: dict[str, float], note: str) -> pd.DataFrame:
    table = model.summary.copy()
    table["true"] = [true.get(name, np.nan) for name in table["parameter"]]
    table["note"] = note
    return table


def _bgnbd_table(ctx, bd, rfm, model) -> pd.DataFrame:
    backbone = {k: bd.crm_truth["params"][k] for k in ("r", "alpha", "a", "b")} if bd.simulated else {}
    # The simulator adds one-time buyers and attitude effects to this backbone, so the fit
    # is not expected to return it; estimate_pure_backbone shows the fitter does on pure data.
    table = _parameter_table(model, backbone, "true: simulator backbone (before one-time buyers and attitude "
                             "effects)" if backbone else "")
    if bd.simulated:
        pure = simulate_bgnbd(len(rfm), T=rfm["T"].to_numpy(), random_state=_seed(ctx, 1), **backbone)
        check = BGNBDModel().fit(pure["frequency"], pure["recency"], pure["T"])
        table["estimate_pure_backbone"] = check.params_.to_numpy()
    r, alpha = (float(model.params_[k]) for k in ("r", "alpha"))
    implied = 1 - (alpha / (alpha + WEEKS_PER_YEAR)) ** r
    table.loc[len(table)] = {"parameter": "repeat_rate_12m", "estimate": implied,
                             "true": bd.crm_truth["repeat_rate_12m"] if bd.simulated else np.nan,
                             "note": "share buying again within 52 weeks: 1 - (alpha/(alpha+52))^r vs realised"}
    return table


def _frequency_check(ctx, rfm, model, top: int = 7) -> pd.DataFrame:
    """Customers by number of repeat purchases: observed vs drawn from the fitted model."""
    draws = simulate_bgnbd(len(rfm), *model.params_.to_numpy(), T=rfm["T"].to_numpy(),
                           random_state=_seed(ctx, 2))
    bins = [str(k) for k in range(top)] + [f"{top}+"]
    observed = np.minimum(rfm["frequency"].to_numpy(int), top)
    model_counts = np.minimum(draws["frequency"].to_numpy(int), top)
    return pd.DataFrame({"repeat_purchases": bins,
                         "observed": np.bincount(observed, minlength=top + 1),
                         "bgnbd_model": np.bincount(model_counts, minlength=top + 1)})


def clv_analysis(ctx, bd: BehaviourData, rfm: RFMResults) -> CLVResults:
    """BG/NBD and Gamma-Gamma fits, P(alive), expected purchases and CLV per customer."""
    data = rfm.rfm
    bgnbd = BGNBDModel().fit(data["frequency"], data["recency"], data["T"])
    spend = GammaGammaModel().fit(data["frequency"], data["monetary_value"])
    horizon = float(ctx.settings.behaviour.clv_horizon_weeks)
    customers = customer_lifetime_value(bgnbd, spend, data, horizon_weeks=horizon,
                                        discount_rate=ctx.settings.behaviour.discount_rate)
    bgnbd_table = _bgnbd_table(ctx, bd, data, bgnbd)
    spend_truth = {k: bd.crm_truth["params"][k] for k in ("p", "q", "gamma")} if bd.simulated else {}
    spend_table = _parameter_table(spend, spend_truth, "true: simulator's spend model (same-week orders summed)"
                                   if spend_truth else "")
    p, q, gamma = (float(spend.params_[k]) for k in ("p", "q", "gamma"))
    true_mean = (spend_truth["p"] * spend_truth["gamma"] / (spend_truth["q"] - 1)) if spend_truth else np.nan
    spend_table.loc[len(spend_table)] = {"parameter": "mean_spend", "estimate": p * gamma / (q - 1),
                                         "true": true_mean, "note": "mean spend per purchase, p gamma / (q - 1)"}
    summary = _distribution(customers, ["probability_alive", "expected_purchases", "expected_average_value",
                                        "clv"])
    summary.insert(1, "unit", ["probability", f"purchases in {horizon:g} weeks", "currency per purchase",
                               f"discounted currency, {horizon:g} weeks"])
    ranked = np.sort(customers["clv"].to_numpy(float))[::-1]
    total = ranked.sum()
    concentration = pd.DataFrame([{"top_share_of_customers": s,
                                   "n_customers": max(1, int(round(s * len(ranked)))),
                                   "share_of_total_clv": ranked[:max(1, int(round(s * len(ranked))))].sum() / total}
                                  for s in (0.01, 0.05, 0.10, 0.20, 0.50)])
    k = ctx.settings.privacy.min_cell_size
    check = suppress_counts(_frequency_check(ctx, data, bgnbd), ["observed"], k, by_row=False)
    concentration = suppress_groups(concentration, "n_customers", k, values=["share_of_total_clv"],
                                    complement=False)
    if bd.simulated:  # what the fits target on this simulator, beside the backbone values
        target = behaviour_design_truth(ctx)
        for table in (bgnbd_table, spend_table):
            table.insert(table.columns.get_loc("true") + 1, "design_true",
                         [target.get(name, float("nan")) for name in table["parameter"]])
    ctx.save_table(bgnbd_table, "bgnbd")
    ctx.save_table(spend_table, "gamma_gamma")
    ctx.save_table(summary, "clv_summary")
    ctx.save_table(concentration, "clv_concentration")
    ctx.save_table(check, "bgnbd_fit_check")
    if len(customers) <= MAX_CUSTOMER_ROWS:
        ctx.save_table(customers.reset_index(), "clv_customers")
    return CLVResults(bgnbd, spend, customers, bgnbd_table, spend_table, summary, concentration, check)


def _tertiles(values: pd.Series, what: str) -> pd.Series:
    return pd.qcut(values.rank(method="first"), 3, labels=[f"low {what}", f"medium {what}",
                                                            f"high {what}"]).astype(str)


def _retention_summary(curves: pd.DataFrame, medians: pd.DataFrame, weeks=(0, 13, 26, 52)) -> pd.DataFrame:
    """Share still buying ``t`` weeks after the first order, per source and group."""
    keyed = curves.set_index(["source", "group", "timeline"])["survival"]
    summary = medians.rename(columns={"median": "median_weeks", "ci_lower": "median_ci_lower",
                                      "ci_upper": "median_ci_upper"})
    for week in weeks:
        summary[f"retained_{week}w"] = [keyed.get((r.source, r.group, float(week)), np.nan)
                                        for r in summary.itertuples()]
    summary["churned_share"] = summary["n_churned"] / summary["n_customers"]
    first = ["source", "group", "n_customers", "n_churned", "churned_share"]
    order = {"low": 0, "medium": 1, "high": 2}
    rank = summary["group"].str.split().str[0].map(order).fillna(-1)
    summary = summary.assign(_rank=rank)
    source_order = {s: k for k, s in enumerate(dict.fromkeys(medians["source"]))}
    summary = summary.sort_values(["source", "_rank"], key=lambda c: c.map(source_order) if c.name == "source" else c,
                                  kind="stable").drop(columns="_rank").reset_index(drop=True)
    return summary[first + [c for c in summary if c not in first]]


def retention_analysis(ctx, bd: BehaviourData, rfm: RFMResults,
                       scores: pd.DataFrame | None) -> RetentionResults:
    """Churn status and Kaplan-Meier retention, overall and by satisfaction tertile.

    A customer has churned after ``churn_window_weeks`` without a purchase; the curve is
    the share still buying ``t`` weeks after their first order (``S(0)`` below 1 is the
    share who never came back).
    """
    churn = churn_table(rfm.rfm, float(ctx.settings.behaviour.churn_window_weeks))
    timeline = np.arange(0, float(rfm.rfm["T"].max()) + 1)
    parts = [("all customers", churn, pd.Series("all customers", index=churn.index))]
    if scores is not None and "SAT" in scores:
        linked = churn.loc[churn.index.intersection(scores.index)]
        parts.append((SURVEY, linked, _tertiles(scores.loc[linked.index, "SAT"], "satisfaction")))
    if bd.simulated:
        parts.append((TRUE_ALL, churn, _tertiles(_true_latents(bd, churn.index)["SAT"], "satisfaction")))
    curves, medians = [], []
    for source, table, groups in parts:
        curves.append(kaplan_meier_retention(table, groups, timeline=timeline).assign(source=source))
        medians.append(median_retention(table, groups).assign(source=source))
    curves = pd.concat(curves, ignore_index=True)
    curves = curves[["source"] + [c for c in curves if c != "source"]]
    summary = _retention_summary(curves, pd.concat(medians, ignore_index=True))
    k = ctx.settings.privacy.min_cell_size
    summary = suppress_groups(summary, "n_customers", k, within=["source"], inner=["n_churned"],
                              values=[c for c in summary if c not in ("source", "group", "n_customers",
                                                                       "n_churned")])
    hidden = summary.loc[summary["n_customers"].isna(), ["source", "group"]]
    if len(hidden):  # the curve of a suppressed group goes with it
        gone = curves.set_index(["source", "group"]).index.isin(hidden.set_index(["source", "group"]).index)
        curves = curves.copy()
        curves.loc[gone, [c for c in curves if c not in ("source", "group", "timeline")]] = np.nan
        curves.attrs = {**summary.attrs}
    ctx.save_table(curves, "retention_by_satisfaction")
    ctx.save_table(summary, "retention_summary")
    return RetentionResults(churn, curves, summary)


def service_retention(ctx, bd: BehaviourData, rfm: RFMResults) -> pd.DataFrame | None:
    """12-month repeat rate by the service a customer got on their first order.

    Groups: first order delivered on time or late, and whether it led to a complaint
    that was resolved or not (needs the ``deliveries`` and ``complaints`` tables).
    """
    if bd.deliveries is None or bd.complaints is None:
        return None
    first = bd.orders.sort_values("timestamp", kind="stable").drop_duplicates("customer_id")
    first = first.set_index("order_id")["customer_id"]
    on_time = bd.deliveries.set_index("order_id")["on_time"].reindex(first.index)
    delivery = pd.Series(np.where(on_time, "first order on time", "first order late"), index=first.to_numpy())
    complaint = bd.complaints.drop_duplicates("order_id").set_index("order_id")["resolved"].reindex(first.index)
    handled = pd.Series(np.select([complaint.isna(), complaint.astype("boolean").fillna(False)],
                                  ["no complaint", "complaint resolved"], "complaint unresolved"),
                        index=first.to_numpy())
    table = pd.concat([repeat_customer_rate(rfm.rfm_12m, delivery).assign(service="delivery"),
                       repeat_customer_rate(rfm.rfm_12m, handled).assign(service="complaint")],
                      ignore_index=True)
    table = table[["service"] + [c for c in table if c != "service"]]
    table = suppress_groups(table, "n_customers", ctx.settings.privacy.min_cell_size, within=["service"],
                            inner=["n_repeat"], values=["repeat_rate", "ci_lower", "ci_upper"])
    return ctx.save_table(table, "service_retention")

