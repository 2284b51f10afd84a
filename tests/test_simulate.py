"""Tests for analysis.simulate: ground truth (truth.py) and the survey simulator (survey.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import semopy
from numpy.testing import assert_allclose
from pandas.testing import assert_frame_equal

from analysis.errors import ConfigError, DataError
from analysis.instrument import load_instrument
from analysis.simulate import (
    CARELESS_TYPES,
    GroundTruth,
    default_truth,
    measurement_model_syntax,
    read_simulated_survey,
    read_truth,
    simulate_survey,
    structural_model_syntax,
    write_simulated_survey,
)

LATENTS = ["ESQ", "EFF", "SYS", "FUL", "PRI", "CUS", "ITB", "TRU", "VAL", "SAT", "LOY",
           "EMO", "MKR"]


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture(scope="module")
def truth(instrument):
    return default_truth(instrument)


@pytest.fixture(scope="module")
def sim(instrument):
    return simulate_survey(instrument, n=1500, careless_share=0.10, missing_share=0.02,
                           random_state=2024)


@pytest.fixture(scope="module")
def clean_sim(instrument):
    return simulate_survey(instrument, n=2000, careless_share=0.0, missing_share=0.0,
                           random_state=7)


# ------------------------------------------------------------------ ground truth
def test_truth_reproduces_domain_figures(truth):
    """DOMAIN.md: R^2 SAT ~ .54, LOY ~ .48; corr SAT-LOY .63, TRU-LOY .57, ESQ-SAT .68."""
    r2 = truth.r_squared()
    corr = truth.latent_covariance()
    assert_allclose([r2["SAT"], r2["LOY"]], [0.54, 0.48], atol=0.02)
    assert_allclose([corr.loc["SAT", "LOY"], corr.loc["TRU", "LOY"], corr.loc["ESQ", "SAT"]],
                    [0.63, 0.57, 0.68], atol=0.02)


def test_latent_covariance_matches_lavaan(truth):
    """Reference from lavaan 0.6 with every parameter fixed at the truth, e.g.

    ``fit <- lavaan(m, sample.cov = S, sample.nobs = 100, do.fit = FALSE);
    lavInspect(fit, "cov.lv")`` where ``m`` fixes ESQ =~ .82*EFF + .72*SYS + .80*FUL +
    .75*PRI, the eight paths, CUS ~ .60*ESQ, EMO ~ .65*LOY and residual variances
    1 - R^2 (EFF .3276, SAT .4571875, LOY .52205, ...).
    """
    corr = truth.latent_covariance()
    pairs = {("EFF", "SYS"): 0.590, ("TRU", "VAL"): 0.3025, ("SAT", "TRU"): 0.546,
             ("SAT", "LOY"): 0.631, ("TRU", "LOY"): 0.573, ("VAL", "LOY"): 0.364,
             ("ESQ", "LOY"): 0.535, ("CUS", "SAT"): 0.405, ("EMO", "ESQ"): 0.348,
             ("EMO", "SAT"): 0.410, ("PRI", "TRU"): 0.412}
    assert_allclose([corr.loc[a, b] for a, b in pairs], list(pairs.values()), atol=1e-3)
    assert_allclose(np.diag(corr), 1.0, atol=1e-12)
    assert corr.loc["MKR"].drop("MKR").abs().max() == 0.0
    assert truth.latents == LATENTS


def test_indirect_effects_decompose_total_effects(truth):
    effects = truth.indirect_effects()
    esq_loy = effects[(effects.from_ == "ESQ") & (effects.to == "LOY")].set_index("path")
    assert_allclose(esq_loy.loc["ESQ->SAT->LOY", "est"], 0.40 * 0.40, atol=1e-12)
    assert_allclose(esq_loy.loc["ESQ->TRU->SAT->LOY", "est"], 0.55 * 0.25 * 0.40, atol=1e-12)
    by_kind = effects.groupby(["from_", "to", "effect"])["est"].sum()
    for source, target in [("ESQ", "LOY"), ("TRU", "LOY"), ("ESQ", "SAT")]:
        assert_allclose(by_kind[source, target, "indirect"],
                        by_kind[source, target, "total_indirect"], atol=1e-12)
    # ESQ is exogenous with unit variance, so its total effect equals the correlation.
    corr = truth.latent_covariance()
    assert_allclose(by_kind["ESQ", "LOY", "total"], corr.loc["ESQ", "LOY"], atol=1e-12)
    assert_allclose(by_kind["ESQ", "SAT", "total"], corr.loc["ESQ", "SAT"], atol=1e-12)
    assert_allclose(by_kind["TRU", "LOY", "total"], 0.30 + 0.25 * 0.40, atol=1e-12)


def test_truth_loadings_and_thresholds(truth, instrument):
    assert all(0.70 <= v <= 0.85 for v in truth.second_order.values())
    core = [i for i in instrument.substantive_items if not i.startswith("MKR")]
    loadings = pd.Series({i: truth.loadings[i] for i in core})
    weak = loadings[loadings < 0.70]
    assert set(weak.index) == {"SYS4", "FUL4", "CUS4"}
    assert weak.between(0.55, 0.65).all() and loadings.drop(weak.index).between(0.70, 0.90).all()
    assert truth.loadings["MKR3"] < 0  # reverse-keyed marker item
    means = truth.implied_item_means()
    assert means[core].between(5.15, 5.50).all() and 5.2 <= means[core].mean() <= 5.5
    probs = truth.category_probabilities()
    centred = probs.columns.to_numpy() - means.to_numpy()[:, None]
    skew = (probs * centred**3).sum(axis=1) / ((probs * centred**2).sum(axis=1)) ** 1.5
    assert (skew[core] < -0.5).all()
    assert_allclose(means["MKR1"], 4.0, atol=1e-9)


def test_implied_item_correlations(truth):
    corr = truth.implied_item_correlations(["SAT1", "SAT2", "LOY1"])
    assert_allclose(corr.loc["SAT1", "SAT2"], 0.88 * 0.85, atol=1e-12)
    assert_allclose(corr.loc["SAT1", "LOY1"],
                    0.88 * 0.87 * truth.latent_covariance().loc["SAT", "LOY"], atol=1e-12)


def test_truth_json_round_trip(truth, tmp_path):
    path = truth.to_json(tmp_path / "truth.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["paths"]["LOY~SAT"] == 0.40
    assert read_truth(path) == truth
    assert GroundTruth.from_dict(truth.to_dict()) == truth
    with pytest.raises(DataError, match="unknown \\['colour'\\]"):
        GroundTruth.from_dict({**truth.to_dict(), "colour": "red"})
    malformed = truth.to_dict()
    malformed["loadings"] = {**malformed["loadings"], "SAT1": "high"}
    with pytest.raises(DataError, match="expected numbers"):
        GroundTruth.from_dict(malformed)


def test_invalid_truth_is_rejected(truth):
    with pytest.raises(ConfigError, match="R\\^2 >= 1"):
        GroundTruth(**{**_fields(truth), "paths": {**truth.paths, ("LOY", "VAL"): 0.9}})
    with pytest.raises(ConfigError, match="cycle"):
        GroundTruth(**{**_fields(truth), "paths": {**truth.paths, ("TRU", "LOY"): 0.1}})


def _fields(truth):
    return {k: getattr(truth, k) for k in ("second_order", "paths", "auxiliary", "loadings",
                                           "indicators", "thresholds")}


def test_model_syntax(instrument, truth):
    structural = structural_model_syntax(instrument, truth)
    assert "ESQ =~ EFF + SYS + FUL + PRI" in structural
    assert "SAT ~ ESQ + TRU + VAL" in structural and "LOY ~ SAT + TRU + ESQ" in structural
    assert "CUS =~" not in structural and "MKR" not in structural
    cfa = measurement_model_syntax(instrument)
    factors = [line.split(" =~ ")[0] for line in cfa.splitlines()]
    assert factors == ["EFF", "SYS", "FUL", "PRI", "CUS", "ITB", "TRU", "VAL", "SAT", "LOY",
                       "EMO"]
    semopy.Model(structural)  # parses
    with pytest.raises(ConfigError, match="MKR"):
        measurement_model_syntax(instrument, ["SAT", "MKR"])


# ------------------------------------------------------------------ simulator
def test_same_seed_gives_identical_output(instrument, sim):
    again = simulate_survey(instrument, n=1500, careless_share=0.10, missing_share=0.02,
                            random_state=2024)
    assert_frame_equal(again.responses, sim.responses)
    assert_frame_equal(again.respondent_truth, sim.respondent_truth)
    assert (pd.util.hash_pandas_object(again.responses).to_numpy()
            == pd.util.hash_pandas_object(sim.responses).to_numpy()).all()
    other = simulate_survey(instrument, n=1500, careless_share=0.10, missing_share=0.02,
                            random_state=2025)
    assert not other.responses.equals(sim.responses)
    from_generator = [simulate_survey(instrument, n=60, random_state=np.random.default_rng(5))
                      for _ in range(2)]
    assert_frame_equal(from_generator[0].responses, from_generator[1].responses)


def test_components_have_independent_streams(instrument):
    """Changing one component (missingness, careless share) leaves the others' draws alone."""
    base = simulate_survey(instrument, n=200, missing_share=0.0, random_state=11)
    more_missing = simulate_survey(instrument, n=200, missing_share=0.2, random_state=11)
    observed = more_missing.responses.notna()
    assert base.responses[observed].equals(more_missing.responses[observed])
    no_careless = simulate_survey(instrument, n=200, careless_share=0.0, random_state=11)
    assert_frame_equal(no_careless.respondent_truth[LATENTS], base.respondent_truth[LATENTS])
    assert_frame_equal(no_careless.latent_responses, base.latent_responses)


def test_shapes_dtypes_and_ranges(instrument, sim):
    responses = sim.responses
    likert = instrument.likert_items
    assert list(responses.columns) == (["respondent_id", "survey_language", "duration_sec"]
                                       + likert + instrument.demographic_ids)
    assert len(responses) == 1500 and responses["respondent_id"].iloc[0] == "R00001"
    assert responses["respondent_id"].is_unique
    assert (responses[likert].dtypes == "Int8").all()
    values = responses[likert].stack()
    assert values.between(1, 7).all()
    assert (responses["survey_language"] == "en").all()
    assert responses["duration_sec"].dtype == np.float64 and (responses["duration_sec"] > 0).all()
    for demographic in instrument.demographics:
        assert set(responses[demographic.id]) <= set(demographic.codes)
    assert responses[instrument.demographic_ids].notna().all().all()
    assert list(sim.respondent_truth.columns) == ["respondent_id", "careless_type", *LATENTS]
    assert not set(LATENTS + ["careless_type"]) & set(responses.columns)
    device = responses["device"].value_counts(normalize=True)
    assert device.idxmax() == "phone_app" and device["phone_app"] > 0.6


def test_careless_share_and_mix_realized(sim):
    kinds = sim.respondent_truth["careless_type"].value_counts()
    assert kinds.drop("attentive").sum() == 150
    assert kinds.to_dict() == {"attentive": 1350, **sim.params["careless_counts"]}
    expected = {"straightliner": 0.35 * 150, "random": 0.40 * 150, "speeder": 0.25 * 150}
    assert all(abs(sim.params["careless_counts"][k] - v) < 1 for k, v in expected.items())


def test_missing_share_realized_and_qc_never_missing(instrument, sim):
    substantive = sim.responses[instrument.substantive_items]
    assert substantive.isna().to_numpy().sum() == round(0.02 * substantive.size)
    assert sim.responses[list(instrument.attention_checks)].notna().all().all()


def test_attentive_continuous_responses_match_truth(instrument, clean_sim):
    truth = clean_sim.truth
    items = instrument.substantive_items
    observed = clean_sim.latent_responses[items].corr()
    implied = truth.implied_item_correlations(items)
    # n = 2000: SE of r <= 1/sqrt(2000) = .022; .08 is ~3.5 SE for the worst of ~900 pairs.
    assert_allclose(observed.to_numpy(), implied.to_numpy(), atol=0.08)
    latent_corr = clean_sim.respondent_truth[LATENTS].corr()
    assert_allclose(latent_corr.to_numpy(), truth.latent_covariance().to_numpy(), atol=0.07)
    means = clean_sim.responses[items].astype(float).mean()
    assert_allclose(means, truth.implied_item_means()[items], atol=0.12)


def test_qc_and_careless_behaviour(instrument, sim):
    responses, kinds = sim.responses, sim.respondent_truth["careless_type"]
    checks = instrument.attention_checks
    passed = responses[list(checks)].eq(pd.Series(checks)).astype(bool)
    attentive_pass = passed[kinds == "attentive"].mean()
    assert attentive_pass.between(0.96, 0.995).all()
    assert passed[kinds == "random"].to_numpy().mean() < 0.3
    seconds_per_item = responses["duration_sec"] / len(instrument.likert_items)
    assert (seconds_per_item[kinds == "speeder"] < 2).all()
    assert 5 < seconds_per_item[kinds == "attentive"].median() < 7
    assert (seconds_per_item[kinds == "attentive"] > 2).mean() > 0.99
    for block in instrument.blocks.values():
        answers = responses.loc[kinds == "straightliner", block]
        assert (answers.nunique(axis=1) == 1).all()  # missing cells are ignored by nunique
    whole = responses.loc[kinds == "straightliner", instrument.likert_items].nunique(axis=1)
    assert (whole == 1).mean() > 0.5


def test_tenure_rises_with_loyalty(instrument, sim):
    codes = instrument.demographics[instrument.demographic_ids.index("customer_tenure")].codes
    rank = sim.responses["customer_tenure"].map({c: k for k, c in enumerate(codes)})
    assert 0.1 < rank.corr(sim.respondent_truth["LOY"], method="spearman") < 0.4


def test_cfa_recovers_loadings(instrument, clean_sim):
    """Standardized loadings of a 3-factor CFA (ML on 1..7 answers) within .07 of truth.

    Treating 7-point answers as continuous attenuates loadings by about .03-.05, so most
    of the tolerance goes to that known bias rather than to sampling error (SE ~ .013).
    """
    constructs = ["SYS", "FUL", "PRI"]
    items = [i for c in constructs for i in instrument.items_of(c)]
    model = semopy.Model(measurement_model_syntax(instrument, constructs))
    model.fit(clean_sim.responses[items].astype(float))
    estimates = model.inspect(std_est=True)
    loadings = estimates[(estimates["op"] == "~") & estimates["lval"].isin(items)]
    truth = clean_sim.truth.loadings
    assert len(loadings) == len(items)
    assert_allclose(loadings["Est. Std"].to_numpy(),
                    [truth[i] for i in loadings["lval"]], atol=0.07)


def test_write_and_read_back(sim, tmp_path):
    paths = write_simulated_survey(sim, tmp_path / "sim")
    assert {p.name for p in paths.values()} == {"responses.parquet",
                                                "respondent_truth.parquet", "truth.json"}
    assert sorted(p.name for p in (tmp_path / "sim").iterdir()) == sorted(
        p.name for p in paths.values())  # no temporary files left behind
    back = read_simulated_survey(tmp_path / "sim")
    assert_frame_equal(back.responses, sim.responses)
    assert_frame_equal(back.respondent_truth, sim.respondent_truth)
    assert back.truth == sim.truth and read_truth(paths["truth"]) == sim.truth
    assert back.params["careless_counts"] == sim.params["careless_counts"]


@pytest.mark.parametrize("kwargs, parameter", [
    ({"n": 10}, "'n'"),
    ({"n": 100.0}, "'n'"),
    ({"careless_share": 0.6}, "'careless_share'"),
    ({"missing_share": -0.1}, "'missing_share'"),
    ({"careless_mix": {"lazy": 1.0}}, "'careless_mix'.*straightliner"),
    ({"careless_mix": {"random": -1}}, "'careless_mix'"),
    ({"language": "fr"}, "'language'.*zh-Hans"),
    ({"random_state": "seed"}, "'random_state'"),
])
def test_invalid_arguments_raise_config_error(instrument, kwargs, parameter):
    with pytest.raises(ConfigError, match=parameter):
        simulate_survey(instrument, **{"n": 100, **kwargs})


def test_careless_types_constant():
    assert CARELESS_TYPES == ("straightliner", "random", "speeder")
