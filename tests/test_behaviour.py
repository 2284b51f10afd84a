"""Tests for analysis/behaviour: RFM, BG/NBD + Gamma-Gamma, survival, segments, linkage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, special, stats

from analysis.behaviour import (
    BGNBDModel,
    GammaGammaModel,
    attitude_behaviour,
    attitude_behaviour_models,
    churn_table,
    cohort_retention,
    customer_lifetime_value,
    kaplan_meier_retention,
    kmeans_segments,
    median_retention,
    quantile_segments,
    repeat_customer_rate,
    rfm_summary,
    segment_profile,
    web_behaviour_profile,
)
from analysis.behaviour.clv import bgnbd_log_likelihood, gamma_gamma_log_likelihood
from analysis.behaviour.linkage import logit
from analysis.errors import ConfigError, ConvergenceError, DataError
from analysis.simulate.crm import simulate_bgnbd, simulate_crm

CDNOW = (0.243, 4.414, 0.793, 2.426)
CDNOW_SPEND = (6.25, 3.74, 15.44)
# Unrounded CDNOW MLE as printed by lifetimes' BetaGeoFitter.summary (Hardie's sheet).
CDNOW_MLE = (0.242593, 4.413532, 0.792886, 2.425752)


@pytest.fixture(scope="module")
def crm():
    db = simulate_crm(20000, random_state=2024)
    rfm = rfm_summary(db.orders, observation_end=db.observation_end)
    return db, rfm


def _hand_orders() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "a"],
        "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-03 18:00", "2024-01-15",
                                     "2024-02-05", "2024-02-20", "2024-03-05"],
                                    format="ISO8601"),
        "amount": [10.0, 5.0, 20.0, 30.0, 7.0, 100.0],
    })


# --------------------------------------------------------------------------- RFM


def test_rfm_summary_follows_btyd_conventions():
    """2024-01-01 is a Monday; weeks run Monday-Sunday (pandas W-SUN, as lifetimes).
    Customer a: weeks 0 (10 + 5 merged), 2 (20), 5 (30); the March order is after the
    end (Thursday 2024-02-29, week 8). Customer b: one order in week 7."""
    rfm = rfm_summary(_hand_orders(), observation_end="2024-02-29")
    assert list(rfm.index) == ["a", "b"]
    assert_allclose(rfm[["frequency", "recency", "T", "monetary_value"]].to_numpy(),
                    [[2, 5, 8, 25.0], [0, 0, 1, 0.0]])
    daily = rfm_summary(_hand_orders(), observation_end="2024-02-29", freq="D")
    assert_allclose(daily.loc["a", ["frequency", "recency", "T"]].to_numpy(float),
                    [3, 35, 59])
    assert rfm.loc["a", "first_purchase"] == pd.Timestamp("2024-01-01 09:00")


def test_rfm_summary_matches_a_pandas_reference(crm):
    db, rfm = crm
    orders = db.orders.head(20000)
    fast = rfm_summary(orders)
    periods = orders.assign(period=orders["timestamp"].dt.to_period("W"))
    occasions = periods.groupby(["customer_id", "period"])["amount"].sum().reset_index()
    first = occasions.groupby("customer_id")["period"].transform("min")
    end = orders["timestamp"].max().to_period("W")
    by = occasions.groupby("customer_id")
    reference = pd.DataFrame({
        "frequency": by.size() - 1.0,
        "recency": by["period"].max().sub(by["period"].min()).map(lambda d: d.n),
        "T": by["period"].min().map(lambda p: (end - p).n),
        "monetary_value": occasions[occasions["period"] != first].groupby("customer_id")[
            "amount"].mean(),
    }).fillna(0.0)
    assert_allclose(fast[reference.columns].to_numpy(float), reference.to_numpy(float),
                    atol=1e-9)


def test_rfm_errors_name_the_column():
    with pytest.raises(DataError, match="missing column"):
        rfm_summary(_hand_orders().drop(columns="amount"))
    bad = _hand_orders()
    bad.loc[2, "timestamp"] = pd.NaT
    with pytest.raises(DataError, match="row 2"):
        rfm_summary(bad)
    with pytest.raises(ConfigError, match="freq"):
        rfm_summary(_hand_orders(), freq="Q")


def test_repeat_customer_rate_wilson_interval():
    """R: prop.test(5391, 20000, correct = FALSE)$conf.int -> 0.2634450698 0.2757434396;
    prop.test(3, 17, correct = FALSE)$conf.int -> 0.06191126638 0.41029458569."""
    rfm = pd.DataFrame({"frequency": np.r_[np.ones(5391), np.zeros(20000 - 5391)]})
    table = repeat_customer_rate(rfm)
    assert_allclose(table[["ci_lower", "ci_upper"]].to_numpy()[0],
                    [0.2634450698, 0.2757434396], rtol=1e-8)
    small = pd.DataFrame({"frequency": np.r_[np.ones(3), np.zeros(14)]})
    groups = pd.Series(["g"] * 17)
    row = repeat_customer_rate(small, groups).iloc[0]
    assert_allclose([row.ci_lower, row.ci_upper], [0.06191126638, 0.41029458569], rtol=1e-8)


def test_cohort_retention_table():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"],
                              "signup_date": pd.to_datetime(["2024-01-01", "2024-02-20",
                                                             "2024-02-21"])})
    table = cohort_retention(_hand_orders(), customers)
    assert list(table.columns) == ["cohort", "period", "cohort_size", "n_active", "retention"]
    assert table["cohort"].tolist() == ["2024-01"] * 3 + ["2024-02"] * 2
    assert table["n_active"].tolist() == [1, 1, 1, 1, 0]
    assert_allclose(table["retention"], [1, 1, 1, 0.5, 0])


# ----------------------------------------------------------------- BG/NBD, GG, CLV


def _brute_force_bgnbd(params, x, t_x, T):
    """Individual likelihood integrated numerically over lambda ~ Gamma(r, alpha) and
    p ~ Beta(a, b) (FHL 2005, eq. 3 before integration), using algebraic-weight quadrature."""
    r, alpha, a, b = params

    def over_rate(age):
        upper = 80.0 / (alpha + age)
        value, _ = integrate.quad(lambda lam: np.exp(-lam * (alpha + age)), 0, upper,
                                  weight="alg", wvar=(x + r - 1, 0))
        return value * alpha ** r / special.gamma(r)

    def over_dropout(p_power, keep_power):
        value, _ = integrate.quad(lambda p: 1.0, 0, 1, weight="alg",
                                  wvar=(a - 1 + p_power, b - 1 + keep_power))
        return value / special.beta(a, b)

    likelihood = over_dropout(0, x) * over_rate(T)
    if x > 0:
        likelihood += over_dropout(1, x - 1) * over_rate(t_x)
    return np.log(likelihood)


def test_bgnbd_log_likelihood_matches_numerical_integration():
    customers = [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (7, 29.43, 38.86),
                 (29, 37.71, 38.0)]
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*customers))
    closed = bgnbd_log_likelihood(CDNOW, x, t_x, T)
    numeric = [_brute_force_bgnbd(CDNOW, *c) for c in customers]
    assert_allclose(closed, numeric, rtol=1e-8)


def test_gamma_gamma_log_likelihood_matches_numerical_integration():
    p, q, gamma = CDNOW_SPEND
    for x, m in [(1, 11.77), (2, 22.35), (7, 73.74), (29, 26.26)]:
        density, _ = integrate.quad(
            lambda nu: stats.gamma.pdf(m, p * x, scale=1 / (x * nu))
            * stats.gamma.pdf(nu, q, scale=1 / gamma), 0, np.inf)
        assert_allclose(gamma_gamma_log_likelihood(CDNOW_SPEND, [x], [m])[0], np.log(density),
                        rtol=1e-8)


def test_bgnbd_predictions_match_published_cdnow_figures():
    """Hardie's BG/NBD spreadsheet (also lifetimes' tests): E[Y(39) | x=2, t_x=30.43,
    T=38.86] = 1.226 and E[X(t)] at t = .1429, 1, 3, 31.8571, 32, 78 weeks."""
    published = BGNBDModel.from_params(*CDNOW)
    assert_allclose(published.conditional_expected_number_of_purchases_up_to_time(
        39, 2, 30.43, 38.86), 1.226, atol=1e-3)
    mle = BGNBDModel.from_params(*CDNOW_MLE)
    assert_allclose(mle.expected_number_of_purchases_up_to_time(
        [0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00]),
        [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576], atol=6e-4)
    # Closed-form properties: a new customer's conditional expectation is the
    # unconditional one; P(alive) is 1 without repeat purchases and falls with recency gap.
    assert_allclose(published.conditional_expected_number_of_purchases_up_to_time(
        [10.0, 52.0], 0, 0, 0), published.expected_number_of_purchases_up_to_time([10, 52]),
        rtol=1e-10)
    alive = published.conditional_probability_alive([0, 3, 3], [0, 30, 5], [38, 38, 38])
    assert alive[0] == 1 and alive[1] > alive[2]


def test_expected_purchases_match_simulation():
    model = BGNBDModel.from_params(*CDNOW)
    rfm = simulate_bgnbd(200000, *CDNOW, T=52.0, random_state=3)
    assert_allclose(rfm["frequency"].mean(), model.expected_number_of_purchases_up_to_time(52),
                    rtol=0.03)


def test_bgnbd_and_gamma_gamma_recover_cdnow_parameters():
    """80,000 customers, first purchases staggered over 12 weeks, observed to week 78.
    At this N every parameter's standard error is <= 3.7 % (b, gamma are the weakest), so
    10 % is about 3 SE; at 20,000 customers b would have a 6.7 % SE."""
    rng = np.random.default_rng(2024)
    ages = 78.0 - rng.uniform(0, 12, 80000)
    rfm = simulate_bgnbd(80000, *CDNOW, T=ages, random_state=rng)
    bgnbd = BGNBDModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    spend = GammaGammaModel().fit(rfm["frequency"], rfm["monetary_value"])
    assert_allclose(bgnbd.params_.to_numpy(), CDNOW, rtol=0.10)
    assert_allclose(spend.params_.to_numpy(), CDNOW_SPEND, rtol=0.10)
    summary = bgnbd.summary
    assert list(summary.columns) == ["parameter", "estimate", "se", "ci_lower", "ci_upper"]
    assert (summary["se"] > 0).all()
    assert ((summary["ci_lower"] < CDNOW) & (np.array(CDNOW) < summary["ci_upper"])).sum() >= 3
    assert bgnbd.loglik_ == pytest.approx(
        bgnbd_log_likelihood(bgnbd.params_, rfm["frequency"], rfm["recency"], rfm["T"]).sum())


def test_gamma_gamma_conditional_expectation_is_a_weighted_mean():
    p, q, gamma = CDNOW_SPEND
    model = GammaGammaModel.from_params(*CDNOW_SPEND)
    population = p * gamma / (q - 1)
    weight = p * 5 / (p * 5 + q - 1)
    assert_allclose(model.conditional_expected_average_profit([0, 5], [0, 60.0]),
                    [population, weight * 60 + (1 - weight) * population])


def test_customer_lifetime_value():
    bgnbd, spend = BGNBDModel.from_params(*CDNOW), GammaGammaModel.from_params(*CDNOW_SPEND)
    rfm = pd.DataFrame({"frequency": [0.0, 2, 10], "recency": [0.0, 30, 37],
                        "T": [38.0, 38, 38], "monetary_value": [0.0, 25, 40]})
    flat = customer_lifetime_value(bgnbd, spend, rfm, horizon_weeks=52, discount_rate=0,
                                   steps_per_year=1)
    expected = (bgnbd.conditional_expected_number_of_purchases_up_to_time(
        52, rfm["frequency"], rfm["recency"], rfm["T"])
        * spend.conditional_expected_average_profit(rfm["frequency"], rfm["monetary_value"]))
    assert_allclose(flat["clv"], expected, rtol=1e-12)
    discounted = customer_lifetime_value(bgnbd, spend, rfm, discount_rate=0.2)
    assert (discounted["clv"] < flat["clv"]).all() and (discounted["clv"] > 0).all()
    with pytest.raises(DataError, match="monetary_value"):
        customer_lifetime_value(bgnbd, spend, rfm.drop(columns="monetary_value"))


def test_fit_input_errors():
    with pytest.raises(DataError, match="recency"):
        BGNBDModel().fit([1, 2] * 10, [5, 50] * 10, [40, 40] * 10)
    with pytest.raises(DataError, match="repeat purchases"):
        BGNBDModel().fit([0] * 20, [0] * 20, [10] * 20)
    with pytest.raises(DataError, match="monetary"):
        GammaGammaModel().fit([1] * 20, [0.0] * 20)
    rfm = simulate_bgnbd(2000, *CDNOW, T=40.0, random_state=1)
    with pytest.raises(ConvergenceError, match="did not converge"):
        BGNBDModel().fit(rfm["frequency"], rfm["recency"], rfm["T"], max_iter=2)
    flat = np.ones(1000)  # identical buyers, nobody lapses: r and alpha have no finite MLE
    with pytest.raises(ConvergenceError, match="boundary"):
        BGNBDModel().fit(flat * 5, np.linspace(30, 38, 1000), flat * 40)
    with pytest.raises(ConfigError, match="from_params"):
        BGNBDModel.from_params(0.2, 4.0, 0.8)
    assert BGNBDModel.from_params(*CDNOW).summary["se"].isna().all()


# ----------------------------------------------------------------------- survival


def test_kaplan_meier_matches_r_survfit():
    """R: survfit(Surv(c(0,0,1,2,3,3,5), c(1,1,0,1,1,0,0)) ~ 1, conf.type = "log-log"):
    S = .7142857143 .7142857143 .5357142857 .3571428571 .3571428571 at t = 0 1 2 3 5,
    lower .25815366546 .25815366546 .13198817696 .05197651946 .05197651946,
    upper .919797456 .919797456 .824997042 .698713032 .698713032; median 3."""
    churn = pd.DataFrame({"duration": [0.0, 0, 1, 2, 3, 3, 5],
                          "churned": [True, True, False, True, True, False, False]})
    table = kaplan_meier_retention(churn)
    assert list(table.columns) == ["group", "timeline", "survival", "ci_lower", "ci_upper"]
    assert_allclose(table["timeline"], [0, 1, 2, 3, 5])
    assert_allclose(table["survival"], [.7142857143, .7142857143, .5357142857,
                                        .3571428571, .3571428571], rtol=1e-9)
    assert_allclose(table["ci_lower"], [.25815366546, .25815366546, .13198817696,
                                        .05197651946, .05197651946], rtol=1e-6)
    assert_allclose(table["ci_upper"], [.919797456, .919797456, .824997042, .698713032,
                                        .698713032], rtol=1e-6)
    assert median_retention(churn)["median"].iloc[0] == 3.0


def test_churn_definition_and_grouped_curves(crm):
    rfm = pd.DataFrame({"recency": [0.0, 10, 40, 5], "T": [30.0, 50, 50, 20]})
    churn = churn_table(rfm, churn_window=26)
    assert churn["churned"].tolist() == [True, True, False, False]
    assert_allclose(churn["duration"], [0, 10, 50, 20])
    db, rfm = crm
    churn = churn_table(rfm)
    tiers = db.customers.set_index("customer_id")["city_tier"]
    curves = kaplan_meier_retention(churn, tiers, timeline=np.arange(0, 105, 13))
    assert set(curves["group"]) == set(tiers.astype(str))
    for _, curve in curves.groupby("group"):
        assert (np.diff(curve["survival"]) <= 1e-12).all()
        assert ((curve["ci_lower"] <= curve["survival"])
                & (curve["survival"] <= curve["ci_upper"])).all()
    medians = median_retention(churn, tiers)
    assert medians["n_customers"].sum() == len(rfm)
    with pytest.raises(ConfigError):
        churn_table(rfm, churn_window=0)


# ----------------------------------------------------------------------- segments


def test_segment_profile_suppresses_cells_under_five():
    profile = pd.DataFrame({"visits": np.arange(13.0),
                            "tier": ["t1"] * 8 + ["t2"] * 2 + ["t1"] * 3},
                           index=pd.Index(range(13), name="customer_id"))
    segments = pd.Series(["big"] * 10 + ["tiny"] * 3, index=profile.index)
    attitudes = pd.DataFrame({"loyalty": [0.5, 1, 1.5, 2]}, index=[0, 1, 2, 3])
    table = segment_profile(profile, segments, attitudes).set_index(["segment", "variable"])
    assert table.loc[("big", "visits"), "mean"] == 4.5
    assert not table.loc[("big", "visits"), "suppressed"]
    assert table.loc[("big", "loyalty"), "suppressed"]  # 4 surveyed customers
    assert np.isnan(table.loc[("big", "loyalty"), "mean"])
    assert table.loc[("big", "tier=t2"), "suppressed"]  # 2 customers in that level
    assert table.loc[("big", "tier=t1"), "mean"] == 0.8
    tiny = table.loc["tiny"]
    assert tiny["suppressed"].all() and tiny[["segment_size", "mean", "n"]].isna().all().all()


def test_kmeans_segments_are_seeded_and_find_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.repeat([[0, 0, 0], [8, 8, 8], [0, 8, -8]], [50, 30, 20], axis=0)
    profile = pd.DataFrame(centres + rng.normal(0, 0.5, (100, 3)), columns=["a", "b", "c"])
    labels = kmeans_segments(profile, ["a", "b", "c"], 3, random_state=1, log_transform=False)
    assert labels.tolist() == ["cluster_1"] * 50 + ["cluster_2"] * 30 + ["cluster_3"] * 20
    again = kmeans_segments(profile, ["a", "b", "c"], 3, random_state=1, log_transform=False)
    pd.testing.assert_series_equal(labels, again)


def test_web_segments_carry_attitude_differences(crm):
    db, _ = crm
    profile = web_behaviour_profile(db.sessions, db.customers)
    assert {"visit_count", "pages_per_session", "dwell_sec_per_session",
            "main_referral_source", "main_keyword_class", "city_tier"} <= set(profile.columns)
    assert (profile["visit_count"] == db.customers.set_index("customer_id")["visit_count"]).all()
    levels = quantile_segments(profile)
    counts = levels.value_counts()
    assert counts.max() - counts.min() <= 0.05 * len(profile)
    loyalty = db.customer_truth.set_index("customer_id")[["loyalty"]]
    table = segment_profile(profile, levels, loyalty, variables=["visit_count", "loyalty"])
    means = table[table["variable"] == "loyalty"].set_index("segment")["mean"]
    assert means["high"] > means["medium"] > means["low"]


# ------------------------------------------------------------------------ linkage


LOGIT_X1 = [0.001, 0.299, -0.274, -0.891, -0.455, -0.992, 0.06, 1.34, -0.492, -0.62, 0.49,
            0.357, 0.105, -0.93, -0.029, 0.695, -1.344, -0.458, -1.901, -1.29, -1.842,
            -0.235, -1.267, 0.271, 0.157, -0.187, -2.517, -0.539, -0.049, 0.113, -1.53,
            -0.478, -0.979, -0.809, 1.061, -0.808, -0.033, 0.884, -0.584, -0.112]
LOGIT_X2 = [0.11, 0.064, -1.225, 0.076, 1.359, -1.547, 0.859, 0.119, -0.641, 2.0, 0.762,
            -1.199, 0.075, 0.577, -0.189, 0.683, -0.067, 0.667, 1.439, -0.676, 0.203,
            -0.463, 0.127, -1.187, -0.579, -0.196, 0.899, 1.145, -1.324, -0.795, 0.647,
            -1.992, -0.463, -0.097, 1.257, 0.689, -0.327, -0.369, -0.25, 1.524]
LOGIT_Y = [0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0,
           0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1]


def test_logit_matches_r_glm():
    """R: f <- glm(y ~ x1 + x2, family = binomial); coef(summary(f)); McFadden
    1 - logLik(f)/logLik(glm(y ~ 1, family = binomial)) = 0.1444814331.
    glm stops IRLS on a deviance tolerance (1e-8) and reports the SEs of its last
    iteration, so they agree to about 1e-5 relative; we iterate to a 1e-10 step."""
    X = np.column_stack([np.ones(40), LOGIT_X1, LOGIT_X2])
    fit = logit(np.array(LOGIT_Y, dtype=float), X)
    assert_allclose(fit["coef"], [-0.1906903894, 1.1492197334, -0.5057459063], rtol=1e-7)
    assert_allclose(fit["se"], [0.3777770762, 0.5401151286, 0.4089337490], rtol=5e-5)
    assert_allclose(fit["pvalue"], [0.61372065933, 0.03335938841, 0.21618255048], rtol=5e-4)
    assert_allclose(fit["r_squared"], 0.1444814331, rtol=1e-7)


def test_attitude_behaviour_links_match_the_simulated_truth(crm):
    db, rfm = crm
    attitudes = db.customer_truth[["customer_id", "loyalty", "satisfaction", "trust"]]
    churn = churn_table(rfm)
    table = attitude_behaviour(attitudes, rfm, churn=churn)
    pearson = table[table["method"] == "pearson"].set_index(["attitude", "behaviour"])
    r_repeat = pearson.loc[("loyalty", "repeat_purchase"), "r"]
    assert 0.2 <= r_repeat <= 0.4
    assert_allclose(r_repeat, db.truth["corr_latent_repeat_12m"]["loyalty"], atol=0.05)
    assert pearson.loc[("loyalty", "churned"), "r"] < 0
    assert (pearson.loc[("loyalty", "repeat_purchase"), "r"]
            > pearson.loc[("trust", "repeat_purchase"), "r"])
    assert ((table["ci_lower"] < table["r"]) & (table["r"] < table["ci_upper"])).all()
    reference = pingouin.corr(attitudes["loyalty"].to_numpy(),
                              (rfm["frequency"] > 0).reindex(attitudes["customer_id"])
                              .to_numpy(float))
    assert_allclose(r_repeat, reference["r"].iloc[0], rtol=1e-10)
    assert_allclose(pearson.loc[("loyalty", "repeat_purchase"), ["ci_lower", "ci_upper"]]
                    .to_numpy(float), reference["CI95"].iloc[0], atol=0.005)


def test_attitude_behaviour_models_match_pingouin_ols(crm):
    db, rfm = crm
    attitudes = db.customer_truth[["customer_id", "loyalty", "satisfaction"]]
    models = attitude_behaviour_models(attitudes, rfm)
    assert set(models["model"]) == {"ols", "logit"}
    ols_rows = models[models["behaviour"] == "log_frequency"]
    scores = attitudes.set_index("customer_id")
    scores = (scores - scores.mean()) / scores.std()
    y = np.log1p(rfm["frequency"].reindex(scores.index))
    reference = pingouin.linear_regression(scores, y.to_numpy())
    assert_allclose(ols_rows["coef"], reference["coef"], rtol=1e-8)
    assert_allclose(ols_rows["se"], reference["se"], rtol=1e-8)
    assert_allclose(ols_rows["r_squared"].iloc[0], reference["r2"].iloc[0], rtol=1e-8)
    logit_rows = models[models["behaviour"] == "repeat_purchase"].set_index("term")
    assert logit_rows.loc["loyalty", "coef"] > 0 and logit_rows.loc["loyalty", "pvalue"] < 1e-6
