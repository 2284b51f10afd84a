"""Tests for the simulated CRM database (analysis/simulate/crm.py, crm_tables.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.behaviour.clv import BGNBDModel, GammaGammaModel
from analysis.behaviour.rfm import rfm_summary
from analysis.errors import ConfigError, DataError
from analysis.simulate import crm_tables
from analysis.simulate.crm import (
    TABLE_NAMES,
    CRMParams,
    draw_survey_sample,
    read_crm,
    simulate_bgnbd,
    simulate_crm,
    write_crm,
)

N = 20000

SCHEMA = {
    "customers": {"customer_id": "int64", "signup_date": "datetime64[s]",
                  "acquisition_channel": "category", "city_tier": "category",
                  "device": "category", "visit_count": "int64"},
    "orders": {"order_id": "int64", "customer_id": "int64", "timestamp": "datetime64[s]",
               "amount": "float64", "items": "int32", "category": "category",
               "payment_method": "category"},
    "deliveries": {"order_id": "int64", "promised_days": "int16", "actual_days": "int16",
                   "on_time": "bool"},
    "returns": {"order_id": "int64", "reason": "category", "refund_amount": "float64"},
    "complaints": {"complaint_id": "int64", "customer_id": "int64", "order_id": "int64",
                   "timestamp": "datetime64[s]", "reason": "category", "resolved": "bool",
                   "days_to_resolve": "float64"},
    "service_contacts": {"contact_id": "int64", "customer_id": "int64",
                         "timestamp": "datetime64[s]", "channel": "category",
                         "need_level": "category"},
    "sessions": {"session_id": "int64", "customer_id": "int64", "timestamp": "datetime64[s]",
                 "referral_source": "category", "keyword_class": "category",
                 "pages": "int32", "dwell_sec": "float64", "device": "category",
                 "converted": "bool", "order_id": "Int64"},
}


@pytest.fixture(scope="module")
def db():
    return simulate_crm(N, random_state=2024)


def test_same_seed_gives_identical_tables(db):
    again = simulate_crm(N, random_state=2024)
    for name in TABLE_NAMES + ("customer_truth",):
        pd.testing.assert_frame_equal(getattr(db, name), getattr(again, name))
    assert db.truth == again.truth
    other = simulate_crm(2000, random_state=2025)
    assert not other.orders["amount"].head(50).equals(db.orders["amount"].head(50))


def test_schema_of_every_table(db):
    for name, columns in SCHEMA.items():
        frame = getattr(db, name)
        assert list(frame.columns) == list(columns), name
        assert {c: str(frame[c].dtype) for c in columns} == columns, name
        assert len(frame) > 0, name
    categories = {
        ("customers", "city_tier"): crm_tables.CITY_TIERS,
        ("customers", "device"): crm_tables.DEVICES,
        ("service_contacts", "channel"): ("faq_self_service", "chat", "email", "phone",
                                          "community"),
        ("service_contacts", "need_level"): ("information", "online_help", "staff_contact",
                                             "co_creation"),
        ("sessions", "keyword_class"): crm_tables.KEYWORD_CLASSES,
    }
    for (table, column), allowed in categories.items():
        assert list(getattr(db, table)[column].cat.categories) == list(allowed)
    truth_columns = {"customer_id", "loyalty", "satisfaction", "trust", "fulfilment",
                     "satisfaction_experienced", "fulfilment_experienced", "repeat_12m",
                     "dropped_out", "n_late_deliveries", "n_unresolved_complaints"}
    assert truth_columns <= set(db.customer_truth.columns)
    assert not truth_columns - {"customer_id"} & set(db.customers.columns)


def test_keys_and_timestamps_are_consistent(db):
    orders, customers = db.orders, db.customers
    assert orders["order_id"].is_unique and customers["customer_id"].is_unique
    assert (db.deliveries["order_id"].to_numpy() == orders["order_id"].to_numpy()).all()
    assert db.returns["order_id"].isin(orders["order_id"]).all()
    owner = orders.set_index("order_id")["customer_id"]
    assert (owner.loc[db.complaints["order_id"]].to_numpy()
            == db.complaints["customer_id"].to_numpy()).all()
    bought = db.sessions[db.sessions["converted"]]
    assert (owner.loc[bought["order_id"].astype("int64")].to_numpy()
            == bought["customer_id"].to_numpy()).all()
    assert db.sessions.loc[~db.sessions["converted"], "order_id"].isna().all()
    assert orders["timestamp"].is_monotonic_increasing
    first = orders.groupby("customer_id")["timestamp"].min()
    assert (first.to_numpy() == customers.set_index("customer_id")["signup_date"]
            .loc[first.index].to_numpy()).all()
    assert first.index.size == N  # everybody has the first order
    assert orders["timestamp"].max() <= db.observation_end
    assert (db.returns["refund_amount"] <= orders.set_index("order_id")["amount"]
            .loc[db.returns["order_id"]].to_numpy() + 1e-9).all()
    late = ~db.deliveries["on_time"]
    assert (db.deliveries.loc[late, "actual_days"] > db.deliveries.loc[late, "promised_days"]).all()
    assert (db.deliveries.loc[~late, "actual_days"]
            <= db.deliveries.loc[~late, "promised_days"]).all()
    assert db.complaints.loc[~db.complaints["resolved"], "days_to_resolve"].isna().all()
    assert (db.customers.set_index("customer_id")["visit_count"]
            == db.sessions.groupby("customer_id").size()).all()


def test_base_rates_match_domain_defaults(db):
    """DOMAIN.md: returns 16.5-20.8 %, on-time 81-85 % (China), repeat 20-30 %."""
    truth = db.truth
    assert_allclose(db.deliveries["on_time"].mean(), 0.85, atol=0.01)
    assert_allclose(len(db.returns) / len(db.orders), 0.18, atol=0.01)
    assert_allclose(db.customer_truth["repeat_12m"].mean(), 0.25, atol=0.015)
    assert_allclose(db.complaints["resolved"].mean(), 0.80, atol=0.03)
    assert truth["repeat_rate_12m"] == db.customer_truth["repeat_12m"].mean()
    assert 0.20 <= truth["corr_latent_repeat_12m"]["loyalty"] <= 0.40
    assert truth["corr_latent_repeat_12m"]["satisfaction"] > 0
    amount = db.orders["amount"].mean()
    assert 30 < amount < 40  # Gamma-Gamma mean p gamma / (q - 1) = 35.2
    latent = db.customer_truth[["loyalty", "satisfaction", "trust", "fulfilment"]]
    assert_allclose(latent.corr().loc["loyalty", "satisfaction"], 0.63, atol=0.02)
    assert_allclose(latent.std().to_numpy(), 1.0, atol=0.02)


def test_service_failures_lower_satisfaction_and_raise_dropout():
    params = CRMParams(late_delivery_dropout=0.5, repeat_rate_12m=None)
    db = simulate_crm(N, params=params, random_state=7)
    truth = db.customer_truth
    expected = (truth["satisfaction"] - 0.15 * truth["n_late_deliveries"]
                - 0.40 * truth["n_unresolved_complaints"])
    assert_allclose(truth["satisfaction_experienced"], expected, atol=1e-12)
    assert_allclose(truth["fulfilment_experienced"],
                    truth["fulfilment"] - 0.30 * truth["n_late_deliveries"], atol=1e-12)
    first = db.orders.drop_duplicates("customer_id").merge(db.deliveries, on="order_id")
    repeat = (rfm_summary(db.orders)["frequency"] > 0).reindex(first["customer_id"]).to_numpy()
    on_time_first = first["on_time"].to_numpy()
    assert repeat[~on_time_first].mean() < 0.7 * repeat[on_time_first].mean()
    assert db.truth["feedback"]["late_delivery"]["extra_dropout_probability"] == 0.5


def test_backbone_without_attitude_effects_is_cdnow_bgnbd():
    """With every extra effect switched off, the orders are a BG/NBD + Gamma-Gamma process
    and refitting recovers the CDNOW parameters (daily periods, converted to weeks)."""
    params = CRMParams(loyalty_rate_effect=0, loyalty_dropout_effect=0,
                       satisfaction_dropout_effect=0, effect_heterogeneity=0,
                       repeat_rate_12m=None, late_delivery_dropout=0,
                       unresolved_complaint_dropout=0)
    db = simulate_crm(80000, params=params, random_state=11)
    rfm = rfm_summary(db.orders, observation_end=db.observation_end, freq="D")
    bgnbd = BGNBDModel().fit(rfm["frequency"], rfm["recency"] / 7, rfm["T"] / 7)
    spend = GammaGammaModel().fit(rfm["frequency"], rfm["monetary_value"])
    assert_allclose(bgnbd.params_.to_numpy(), [0.243, 4.414, 0.793, 2.426], rtol=0.10)
    assert_allclose(spend.params_.to_numpy(), [6.25, 3.74, 15.44], rtol=0.10)


def test_latent_scores_of_respondents_are_used():
    rng = np.random.default_rng(3)
    latent = pd.DataFrame({"respondent_id": [f"R{i:05d}" for i in range(1, 501)],
                           "LOY": rng.standard_normal(500), "SAT": rng.standard_normal(500)})
    db = simulate_crm(3000, latent=latent, random_state=5)
    truth = db.customer_truth
    assert_allclose(truth["loyalty"].head(500), latent["LOY"])
    assert_allclose(truth["satisfaction"].head(500), latent["SAT"])
    assert list(truth["respondent_id"].head(3)) == ["R00001", "R00002", "R00003"]
    assert truth["respondent_id"].iloc[500:].isna().all()
    assert truth["trust"].head(500).notna().all()
    with pytest.raises(DataError, match="at least one column"):
        simulate_crm(100, latent=pd.DataFrame({"x": [1.0]}), random_state=1)
    with pytest.raises(DataError, match="at most n_customers"):
        simulate_crm(10, latent=latent, random_state=1)


def test_survey_sample_over_represents_satisfied_customers(db):
    sample = draw_survey_sample(db, 1000, response_bias=0.5, random_state=1)
    assert list(sample.columns) == ["respondent_id", "customer_id"]
    assert len(sample) == 1000 and sample["customer_id"].is_unique
    assert sample["respondent_id"].iloc[0] == "R00001"
    truth = db.customer_truth.set_index("customer_id")["satisfaction_experienced"]
    z = (truth - truth.mean()) / truth.std()
    assert 0.3 < z.loc[sample["customer_id"]].mean() < 0.7  # ~ bias x Var(z) for rare response
    unbiased = draw_survey_sample(db, 1000, response_bias=0.0, random_state=1)
    assert abs(z.loc[unbiased["customer_id"]].mean()) < 0.1
    pd.testing.assert_frame_equal(sample, draw_survey_sample(db, 1000, 0.5, random_state=1))
    with pytest.raises(ConfigError):
        draw_survey_sample(db, 0)


def test_write_and_read_round_trip(tmp_path):
    db = simulate_crm(500, random_state=3)
    target = write_crm(db, tmp_path / "crm")
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [f"{n}.parquet" for n in TABLE_NAMES + ("customer_truth",)] + ["truth.json"])
    back = read_crm(target)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(db, name),
                                      check_dtype=False, check_categorical=False)
    assert back.truth["n_orders"] == db.truth["n_orders"]
    write_crm(db, tmp_path / "crm")  # overwriting swaps the directory in whole
    with pytest.raises(DataError, match="missing"):
        read_crm(tmp_path)


def test_invalid_parameters_are_rejected():
    with pytest.raises(ConfigError, match="return_rate"):
        CRMParams(return_rate=1.5)
    with pytest.raises(ConfigError, match="city_tier_shares"):
        CRMParams(city_tier_shares={"atlantis": 1.0})
    with pytest.raises(ConfigError, match="positive definite"):
        CRMParams(latent_correlations={"loyalty~satisfaction": 0.99, "loyalty~trust": -0.99})
    with pytest.raises(ConfigError, match="not reachable"):
        simulate_crm(500, params=CRMParams(repeat_rate_12m=0.95), random_state=1)
    with pytest.raises(ConfigError, match="months"):
        simulate_crm(100, months=6)


def test_simulate_bgnbd_summary_is_valid():
    rfm = simulate_bgnbd(5000, T=78.0, random_state=1)
    assert list(rfm.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert (rfm["recency"] <= rfm["T"]).all()
    assert ((rfm["frequency"] == 0) == (rfm["recency"] == 0)).all()
    assert ((rfm["frequency"] > 0) == (rfm["monetary_value"] > 0)).all()
    # P(X(t) = 0) = (alpha / (alpha + t))^r for BG/NBD (FHL 2005, eq. 8 with x = 0).
    assert_allclose((rfm["frequency"] == 0).mean(), (4.414 / 82.414) ** 0.243, atol=0.02)
