"""The study stages on simulated data: ground-truth recovery and the saved tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.instrument import load_instrument
from analysis.sem import StructuralEquationModel
from analysis.simulate import simulate_survey, structural_model_syntax
from analysis.study import recovery, stages

PROJECT_SEED = 20240601  # the default client's seed (reports/clients/default.yml)


def _path_errors(n: int, seed: int) -> pd.Series:
    instrument = load_instrument()
    sim = simulate_survey(instrument, n=n, careless_share=0.0, missing_share=0.0, random_state=seed)
    fitted = StructuralEquationModel(structural_model_syntax(instrument, sim.truth)).fit(sim.responses)
    paths = fitted.estimates_.query("op == '~'")
    return pd.Series({f"{r.lhs}~{r.rhs}": r.std_all - sim.truth.paths[(r.lhs, r.rhs)] for r in paths.itertuples()})


def test_every_structural_path_recovered_at_n2000():
    """Issue criterion: N = 2000 from the default truth, every standardized path within ±0.05.

    A single sample of 2000 has a sampling SD of about 0.03 per standardized path, so the
    criterion is checked at the project's seed; the Monte Carlo test below checks bias.
    """
    errors = _path_errors(2000, PROJECT_SEED)
    assert len(errors) == 8
    assert errors.abs().max() <= 0.05, errors.round(3).to_dict()


def test_structural_paths_are_unbiased_over_replications():
    """Eight replications of N = 2000: mean error per path within ±0.03, RMSE below 0.045.

    The small negative bias (about -0.02 on ESQ paths) comes from treating 7-point answers as
    continuous; with the continuous latent responses it vanishes.
    """
    errors = pd.DataFrame([_path_errors(2000, seed) for seed in range(100, 108)])
    assert errors.mean().abs().max() <= 0.03, errors.mean().round(3).to_dict()
    assert np.sqrt((errors ** 2).mean()).max() <= 0.045


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_context):
    ctx = make_context(tmp_path_factory.mktemp("study"), "pytest",
                       analysis={"seed": 11, "bootstrap_draws": 30, "n_jobs": 2, "ci_level": 0.95},
                       simulation={"sample_size": 400, "careless_share": 0.1, "missing_share": 0.0},
                       behaviour={"enabled": False})
    out = ctx.output_dir
    data = stages.load_study_data(ctx)
    screening = stages.screen(ctx, data)
    measurement = stages.measurement_analysis(ctx, screening.clean)
    structural = stages.structural_analysis(ctx, screening.clean, data.truth)
    stages.fit_table(ctx, {"cfa": measurement.cfa, "sem": structural.sem})
    boot = stages.indirect_effects(ctx, structural, screening.clean, data.truth)
    recovery.recovery_analysis(ctx, data.truth, structural, boot, stages.EFFECT_PAIRS)
    return out, data, screening


def test_required_tables_are_written_with_their_columns(run):
    out, _, _ = run
    tables = out / "tables"
    recovery = pd.read_csv(tables / "recovery.csv")
    assert {"parameter", "true", "estimate"} <= set(recovery.columns)
    assert recovery["true"].notna().all()
    assert {"construct", "alpha", "composite_reliability", "ave"} <= set(pd.read_csv(tables / "reliability.csv").columns)
    fit = pd.read_csv(tables / "fit.csv")
    assert {"chisq", "df", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr"} <= set(fit.columns)
    paths = pd.read_csv(tables / "paths.csv")
    assert {"lhs", "op", "rhs", "est", "se", "pvalue", "std_all", "true"} <= set(paths.columns)
    indirect = pd.read_csv(tables / "indirect.csv")
    assert set(indirect["kind"]) == {"direct", "indirect", "total"}
    assert (indirect["ci_lower"] <= indirect["ci_upper"]).all()


def test_screening_keeps_every_respondent_somewhere(run):
    out, data, screening = run
    assert len(screening.clean) + len(screening.excluded) == len(data.responses)
    confusion = pd.read_csv(out / "tables" / "screening_vs_truth.csv").set_index("true_type")
    careless = confusion.drop(index="attentive")
    assert careless["excluded"].sum() >= 0.9 * careless.sum(axis=1).sum()


def test_same_seed_gives_identical_tables(run, tmp_path, make_context):
    out, _, _ = run
    first = (out / "tables" / "paths.csv").read_bytes()
    ctx = make_context(tmp_path, "pytest", analysis={"seed": 11},
                       simulation={"sample_size": 400, "careless_share": 0.1, "missing_share": 0.0},
                       behaviour={"enabled": False})
    data = stages.load_study_data(ctx)
    clean = stages.screen(ctx, data).clean
    stages.structural_analysis(ctx, clean, data.truth)
    assert (ctx.output_dir / "tables" / "paths.csv").read_bytes() == first


def test_truth_indirect_effects_are_the_domain_figures():
    """ESQ -> LOY: direct .10, total indirect .435, total .535 (products of DOMAIN.md paths)."""
    truth = simulate_survey(n=50, random_state=0).truth
    table = truth.indirect_effects([("ESQ", "LOY")]).set_index("effect")["est"]
    assert_allclose([table["direct"], table["total_indirect"], table["total"]], [0.10, 0.435, 0.535], atol=1e-9)
