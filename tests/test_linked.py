"""Linked simulation: customer base first, survey of some customers, one truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.errors import ConfigError, DataError
from analysis.instrument import load_instrument
from analysis.simulate import default_truth, simulate_survey
from analysis.simulate.linked import (
    CRM_LATENTS,
    read_crm_export,
    read_linked_study,
    simulate_linked_study,
    write_linked_study,
)
from analysis.simulate.survey import conditional_latent_scores

N_CUSTOMERS, SAMPLE = 5000, 300


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture(scope="module")
def study(instrument):
    return simulate_linked_study(instrument, n_customers=N_CUSTOMERS, sample_size=SAMPLE,
                                 response_bias=0.5, random_state=42)


def test_every_respondent_is_a_customer_with_matching_ids(study):
    responses, truth = study.responses, study.survey.respondent_truth
    customers = study.crm.customers["customer_id"]
    assert list(responses.columns[:2]) == ["respondent_id", "customer_id"]
    assert responses["customer_id"].is_unique and len(responses) == SAMPLE
    assert responses["customer_id"].isin(customers).all()
    assert responses["customer_id"].equals(truth["customer_id"])
    linked = study.crm.customer_truth.dropna(subset=["respondent_id"])
    assert len(linked) == SAMPLE
    by_respondent = linked.set_index("respondent_id")["customer_id"]
    assert_allclose(by_respondent.loc[responses["respondent_id"]].to_numpy(), responses["customer_id"])


def test_respondents_answer_from_their_own_latent_scores(study):
    """The survey truth of a respondent is the attitude that drove their purchases."""
    crm = study.crm.customer_truth.set_index("customer_id")
    truth = study.survey.respondent_truth.set_index("customer_id")
    for code, column in CRM_LATENTS.items():
        assert_allclose(truth[code].to_numpy(), crm.loc[truth.index, column].to_numpy(), rtol=0, atol=1e-12)


def test_response_bias_over_represents_satisfied_customers(instrument, study):
    bias = study.truth["response_bias"]["comparison"]
    assert bias["satisfaction"]["respondents"] - bias["satisfaction"]["all_customers"] > 0.2
    assert bias["satisfaction_experienced"]["respondents"] > bias["satisfaction_experienced"]["non_respondents"]
    assert study.truth["response_bias"]["response_rate"] == pytest.approx(SAMPLE / N_CUSTOMERS)
    neutral = simulate_linked_study(instrument, n_customers=N_CUSTOMERS, sample_size=SAMPLE,
                                    response_bias=0.0, random_state=42)
    shift = neutral.truth["response_bias"]["comparison"]["satisfaction"]
    assert abs(shift["respondents"] - shift["all_customers"]) < 0.15  # SE of a mean of 300 is ~0.06
    strong = simulate_linked_study(instrument, n_customers=N_CUSTOMERS, sample_size=SAMPLE,
                                   response_bias=1.0, random_state=42)
    stronger = strong.truth["response_bias"]["comparison"]["satisfaction"]
    assert stronger["respondents"] > bias["satisfaction"]["respondents"]


def test_same_seed_is_identical_and_another_seed_differs(instrument, study):
    again = simulate_linked_study(instrument, n_customers=N_CUSTOMERS, sample_size=SAMPLE,
                                  response_bias=0.5, random_state=42)
    pd.testing.assert_frame_equal(again.responses, study.responses)
    pd.testing.assert_frame_equal(again.crm.orders, study.crm.orders)
    pd.testing.assert_frame_equal(again.crm.customer_truth, study.crm.customer_truth)
    assert again.truth == study.truth
    other = simulate_linked_study(instrument, n_customers=N_CUSTOMERS, sample_size=SAMPLE, random_state=43)
    assert not other.responses["customer_id"].equals(study.responses["customer_id"])


def test_conditional_latent_draw_keeps_the_truths_correlations(instrument):
    """Given LOY and SAT from their joint normal, the completed scores follow N(0, Sigma).

    With 100,000 draws the sampling SD of a correlation is about .003; tolerance .012.
    """
    truth = default_truth(instrument)
    sigma = truth.latent_covariance()
    rng = np.random.default_rng(7)
    pair = rng.standard_normal((100_000, 2)) @ np.linalg.cholesky(
        sigma.loc[["LOY", "SAT"], ["LOY", "SAT"]].to_numpy()).T
    given = pd.DataFrame(pair, columns=["LOY", "SAT"])
    completed = conditional_latent_scores(truth, given, random_state=8)
    assert list(completed.columns) == truth.latents
    assert_allclose(completed[["LOY", "SAT"]].to_numpy(), pair, rtol=0, atol=0)
    assert_allclose(np.corrcoef(completed.to_numpy().T), sigma.to_numpy(), rtol=0, atol=0.012)
    assert_allclose(completed.std(ddof=0).to_numpy(), 1.0, rtol=0, atol=0.012)


def test_customer_base_has_the_truths_latent_structure(study, instrument):
    """Customers' LOY, SAT, TRU, FUL correlate as the survey truth implies (n = 5000, SD ~ .012)."""
    sigma = default_truth(instrument).latent_covariance()
    codes = list(CRM_LATENTS)
    observed = study.crm.customer_truth[[CRM_LATENTS[c] for c in codes]].corr().to_numpy()
    assert_allclose(observed, sigma.loc[codes, codes].to_numpy(), rtol=0, atol=0.04)


def test_simulate_survey_with_given_latents(instrument):
    given = pd.DataFrame({"LOY": np.linspace(-2, 2, 60), "SAT": np.linspace(1, -1, 60)})
    sim = simulate_survey(instrument, n=60, random_state=3, latent_scores=given, customer_ids=range(101, 161))
    assert_allclose(sim.respondent_truth["LOY"], given["LOY"], rtol=0, atol=0)
    assert_allclose(sim.respondent_truth["SAT"], given["SAT"], rtol=0, atol=0)
    assert sim.responses["customer_id"].tolist() == list(range(101, 161))
    assert sim.params["given_latents"] == ["LOY", "SAT"]
    plain = simulate_survey(instrument, n=60, random_state=3)
    assert "customer_id" not in plain.responses and "given_latents" not in plain.params
    with pytest.raises(ConfigError, match="latent_scores': expected 60 rows"):
        simulate_survey(instrument, n=60, random_state=3, latent_scores=given.head(10))
    with pytest.raises(DataError, match=r"columns \['LOYALTY'\] are not latents"):
        simulate_survey(instrument, n=60, latent_scores=given.rename(columns={"LOY": "LOYALTY"}))
    with pytest.raises(ConfigError, match="customer_ids"):
        simulate_survey(instrument, n=60, latent_scores=given, customer_ids=[1] * 60)


def test_experienced_attitudes_carry_service_failures(instrument):
    study = simulate_linked_study(instrument, n_customers=3000, sample_size=200,
                                  survey_attitudes="experienced", random_state=5)
    crm = study.crm.customer_truth.set_index("customer_id")
    truth = study.survey.respondent_truth.set_index("customer_id")
    assert_allclose(truth["SAT"], crm.loc[truth.index, "satisfaction_experienced"], rtol=0, atol=1e-12)
    assert_allclose(truth["FUL"], crm.loc[truth.index, "fulfilment_experienced"], rtol=0, atol=1e-12)


def test_invalid_arguments_name_the_parameter(instrument):
    with pytest.raises(ConfigError, match="'sample_size': expected at most n_customers"):
        simulate_linked_study(instrument, n_customers=100, sample_size=200)
    with pytest.raises(ConfigError, match="'survey_attitudes': expected one of"):
        simulate_linked_study(instrument, n_customers=1000, sample_size=100, survey_attitudes="later")
    with pytest.raises(ConfigError, match="'n_customers': expected a positive integer"):
        simulate_linked_study(instrument, n_customers=2.5, sample_size=100)


def test_short_observation_shortens_acquisition(instrument):
    study = simulate_linked_study(instrument, n_customers=2000, sample_size=100, months=6, random_state=1)
    assert study.crm.truth["params"]["acquisition_months"] == 3


def test_write_read_round_trip(tmp_path, study):
    write_linked_study(study, tmp_path / "linked")
    back = read_linked_study(tmp_path / "linked")
    pd.testing.assert_frame_equal(back.responses, study.responses)
    # Parquet stores second-resolution timestamps as milliseconds; the values are the same.
    pd.testing.assert_frame_equal(back.crm.orders, study.crm.orders, check_dtype=False)
    assert back.truth["response_bias"] == study.truth["response_bias"]


def test_client_crm_export_is_read_from_csv(tmp_path, study):
    folder = tmp_path / "crm"
    folder.mkdir()
    orders = study.crm.orders[["customer_id", "timestamp", "amount"]]
    orders.to_csv(folder / "orders.csv", index=False)
    study.crm.customers[["customer_id", "signup_date", "city_tier"]].to_csv(folder / "customers.csv", index=False)
    db = read_crm_export(folder)
    assert len(db.orders) == len(orders) and db.customer_truth is None and db.sessions is None
    assert db.observation_end == pd.Timestamp(orders["timestamp"].max())
    orders.drop(columns="amount").to_csv(folder / "orders.csv", index=False)
    with pytest.raises(DataError, match=r"orders.csv: missing column\(s\) \['amount'\]"):
        read_crm_export(folder)
    with pytest.raises(DataError, match="no orders table"):
        read_crm_export(tmp_path)
