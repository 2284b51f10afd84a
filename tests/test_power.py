"""Monte Carlo power and sample-size planning (analysis.power), on a small Dask cluster.

Every replication is seeded by (study seed, N, replication number), so results must not
depend on the number of workers. Coverage is checked against the design truth (the same
analysis on one very large sample with the same design): on clean data, with robust ML
(MLR) standard errors, the 95% Wald intervals of the standardized paths and effects must
cover it at the nominal rate within Monte Carlo error (binomial standard error of the
coverage, three standard errors), and the mean estimates must be within 2% of it or within
three Monte Carlo standard errors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import write_profile

from analysis.errors import ConfigError
from analysis.instrument import load_instrument
from analysis.power import POWER_COLUMNS, assumed_truth, dask_client, design_from_settings, run_power
from analysis.profile import load_profile


@pytest.fixture(scope="module")
def instrument():
    return load_instrument()


@pytest.fixture(scope="module")
def client():
    client = dask_client(n_workers=2)
    yield client
    cluster = client.cluster
    client.close()
    cluster.close()


def _design(tmp_path, instrument, **power):
    profile = write_profile(tmp_path, "power-test", power={"sample_sizes": [150, 300], "replications": 12, **power},
                            simulation={"careless_share": 0.05, "missing_share": 0.0})
    return design_from_settings(load_profile(profile), instrument)


def test_results_do_not_depend_on_the_number_of_workers(tmp_path, instrument, client):
    design = _design(tmp_path, instrument)
    parallel = run_power(design, instrument, client=client)
    serial = run_power(design, instrument, n_workers=1)
    pd.testing.assert_frame_equal(parallel.table, serial.table)
    assert list(parallel.table.columns[: len(POWER_COLUMNS)]) == POWER_COLUMNS[:2] + ["kind"] + POWER_COLUMNS[2:] \
        or set(POWER_COLUMNS) <= set(parallel.table.columns)
    assert set(parallel.table["n"]) == {150, 300} and (parallel.table["converged"] == 1).all()


def test_a_client_with_changed_paths_gets_its_own_truth_and_power(tmp_path, instrument, client):
    design = _design(tmp_path, instrument, paths={"SAT ~ TRU": 0.0, "LOY ~ SAT": 0.6})
    result = run_power(design, instrument, client=client)
    rows = result.table.set_index(["parameter", "n"])
    assert rows.loc[("SAT ~ TRU", 300), "true"] == 0.0 and rows.loc[("LOY ~ SAT", 300), "true"] == 0.6
    assert rows.loc[("LOY ~ SAT", 300), "power"] == 1.0
    assert rows.loc[("SAT ~ TRU", 300), "power"] <= 0.34  # no effect: rejections only by chance
    minimum = result.minimum_n.set_index("parameter")
    assert minimum.loc["LOY ~ SAT", "minimum_n"] == 150


def test_outputs_and_bad_requests(tmp_path, instrument):
    from analysis.cli.main import main

    profile = write_profile(tmp_path, "power-cli", power={"replications": 10})
    assert main(["power", "--client", str(profile), "--n", "120", "--out", str(tmp_path / "out"),
                 "--workers", "1"]) == 0
    table = pd.read_csv(tmp_path / "out" / "power.csv")
    assert list(table.columns) == POWER_COLUMNS and len(table) == 16
    assert {"minimum_n.csv", "power_curve.png", "manifest.json"} <= {p.name for p in (tmp_path / "out").iterdir()}
    assert main(["power", "--client", str(profile), "--n", "lots", "--out", str(tmp_path / "x")]) == 2
    with pytest.raises(ConfigError, match=r"'SAT ~ EMO' is not a path of the model; expected one of TRU ~ ESQ"):
        assumed_truth(instrument, {"SAT ~ EMO": 0.2})
    with pytest.raises(ConfigError, match="OUTCOME ~ PREDICTOR"):
        assumed_truth(instrument, {"SAT <- TRU": 0.2})


@pytest.mark.slow
def test_intervals_cover_the_design_truth_at_the_nominal_rate(tmp_path, instrument, client):
    """200 replications at N = 500 on clean data with MLR: 3 binomial SEs of .95 is about .046."""
    design = dataclasses.replace(_design(tmp_path, instrument), sample_sizes=(500,), replications=200,
                                 careless_share=0.0, missing_share=0.0, screen=False, estimator="MLR")
    table = run_power(design, instrument, client=client).table
    mc_se = np.sqrt(0.95 * 0.05 / 200)
    assert abs(table["coverage_design"].mean() - 0.95) <= 3 * mc_se / np.sqrt(len(table)) + 0.02
    assert (table["coverage_design"] >= 0.95 - 3 * mc_se).all(), table[["parameter", "coverage_design"]]
    relative = (table["bias_design"].abs() <= 0.02 * table["design_true"].abs()) | \
               (table["bias_design"].abs() <= 3 * table["mc_se_mean"])
    assert relative.all(), table[["parameter", "design_true", "bias_design", "mc_se_mean"]]


@pytest.mark.slow
def test_the_report_can_include_the_planning_section(tmp_path):
    from analysis.report.build import build_report

    profile = write_profile(tmp_path, "planned", report={"title": "Planned", "language": "zh-Hant", "formats": ["html"]},
                            simulation={"sample_size": 200}, analysis={"seed": 3, "bootstrap_draws": 20, "n_jobs": 1},
                            behaviour={"enabled": False},
                            power={"in_report": True, "sample_sizes": [120, 240], "replications": 10})
    folder = build_report(client=str(profile), output_root=tmp_path / "out", renderer="nbconvert")
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "規劃下一次研究" in page and "統計檢定力" in page
    assert list(pd.read_csv(folder / "tables" / "power.csv").columns) == POWER_COLUMNS
    assert (folder / "figures" / "power_curve.png").is_file()
