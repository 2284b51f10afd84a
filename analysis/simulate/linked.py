"""A linked study: a simulated customer base, a survey of some customers, one truth.

The customer base comes first. Every customer gets true attitudes: loyalty (``LOY``) and
satisfaction (``SAT``) from their joint normal distribution under the survey's
:class:`~analysis.simulate.truth.GroundTruth`, and every other latent of that truth
(e-service quality and its dimensions, trust, value, ...) drawn *conditionally* on those
two from the truth's latent covariance, so that the survey model's structure holds for
the whole base. The CRM simulator (:func:`~analysis.simulate.crm.simulate_crm`) turns
loyalty, satisfaction, trust and fulfilment into orders, deliveries, complaints and web
sessions. Then the survey sample is drawn from the customers with response bias (more
satisfied customers answer more often, :func:`~analysis.simulate.crm.draw_survey_sample`),
and the respondents' answers are simulated from *their own* latent scores
(:func:`~analysis.simulate.survey.simulate_survey` with ``latent_scores``). Every
respondent carries the pseudonymous ``customer_id`` that links the two tables.

:func:`read_crm_export` reads a client's own CRM tables for studies of real survey data.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError, DataError
from analysis.seeding import component_rng, component_seed, make_rng, seed_sequence
from analysis.simulate.crm import (
    CRMDatabase,
    CRMParams,
    draw_survey_sample,
    read_crm,
    simulate_crm,
    write_crm,
)
from analysis.simulate.default_model import default_truth
from analysis.simulate.survey import (
    SimulatedSurvey,
    conditional_latent_scores,
    read_simulated_survey,
    simulate_survey,
    write_simulated_survey,
)
from analysis.simulate.truth import GroundTruth

__all__ = ["LinkedStudy", "customer_latents", "simulate_linked_study", "write_linked_study", "read_linked_study",
           "crm_params_from_truth", "read_crm_export", "CRM_LATENTS", "SURVEY_ATTITUDES",
           "LINKED_TRUTH_FORMAT"]

LINKED_TRUTH_FORMAT = "eloyalty-linked-truth/1"
#: Survey construct -> CRM attitude that drives behaviour.
CRM_LATENTS = {"LOY": "loyalty", "SAT": "satisfaction", "TRU": "trust", "FUL": "fulfilment"}
#: "initial": respondents answer from the attitudes that drove their behaviour (the survey
#: model's structure holds exactly); "experienced": satisfaction and fulfilment are first
#: lowered by the customer's late deliveries and unresolved complaints.
SURVEY_ATTITUDES = ("initial", "experienced")
# Demographics the CRM knows better than a questionnaire does (same codes as the instrument).
CRM_DEMOGRAPHICS = ("city_tier", "device")
CLIENT_TABLES = {"orders": ("customer_id", "timestamp", "amount"),
                 "customers": ("customer_id",), "sessions": ("customer_id",)}


@dataclass(frozen=True)
class LinkedStudy:
    """A simulated CRM database and a survey of some of its customers.

    Attributes
    ----------
    survey : SimulatedSurvey
        Responses (with ``customer_id``) and respondent truth.
    crm : CRMDatabase
        CRM tables; ``crm.customer_truth`` holds every customer's attitudes and a
        ``respondent_id`` for the surveyed ones.
    truth : dict
        Linked truth: sizes, response bias (satisfaction and behaviour of respondents
        against all customers) and the attitude-behaviour correlations of the base.
    """

    survey: SimulatedSurvey
    crm: CRMDatabase
    truth: dict[str, Any]

    @property
    def responses(self) -> pd.DataFrame:
        return self.survey.responses


def crm_params_from_truth(truth: GroundTruth, params: CRMParams | None = None,
                          months: float | None = None, **overrides) -> CRMParams:
    """CRM parameters whose attitude correlations are those the survey truth implies.

    ``months`` (the observation length) caps the acquisition period at half of it, so
    that short studies still observe every customer for a while; ``overrides`` replace
    any other :class:`CRMParams` field (e.g. ``return_rate=0.2``).
    """
    base = CRMParams() if params is None else params
    sigma = truth.latent_covariance()
    codes = list(CRM_LATENTS)
    correlations = {f"{CRM_LATENTS[a]}~{CRM_LATENTS[b]}": round(float(sigma.loc[a, b]), 12)
                    for k, a in enumerate(codes) for b in codes[k + 1:]}
    changes: dict[str, Any] = {"latent_correlations": correlations, **overrides}
    if months is not None and base.acquisition_months >= months / 2:
        changes.setdefault("acquisition_months", months / 2)
    return dataclasses.replace(base, **changes)


def customer_latents(truth: GroundTruth, n: int, seed) -> pd.DataFrame:
    """LOY and SAT from their joint normal, everything else conditionally on them."""
    rng = make_rng(seed)
    sigma = truth.latent_covariance().loc[["LOY", "SAT"], ["LOY", "SAT"]].to_numpy()
    pair = rng.standard_normal((n, 2)) @ np.linalg.cholesky(sigma).T
    return conditional_latent_scores(truth, pd.DataFrame(pair, columns=["LOY", "SAT"]), rng)


def _check_sizes(n_customers, sample_size) -> None:
    for name, value in (("n_customers", n_customers), ("sample_size", sample_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"simulate_linked_study: parameter '{name}': expected a "
                              f"positive integer, got {value!r}")
    if sample_size > n_customers:
        raise ConfigError(f"simulate_linked_study: parameter 'sample_size': expected at most "
                          f"n_customers ({n_customers}) respondents, got {sample_size}")


def _crm_demographics(responses: pd.DataFrame, customers: pd.DataFrame, instrument,
                      rows: np.ndarray) -> pd.DataFrame:
    """Respondents' city tier and device as recorded in the CRM (where codes agree)."""
    out = responses.copy()
    for demographic in instrument.demographics:
        if demographic.id in CRM_DEMOGRAPHICS and demographic.id in customers:
            values = customers[demographic.id].astype(str).to_numpy()[rows]
            if set(values) <= set(demographic.codes):
                out[demographic.id] = values.astype(object)
    return out


def _bias_truth(db: CRMDatabase, rows: np.ndarray, response_bias: float) -> dict[str, Any]:
    truth = db.customer_truth
    surveyed = np.zeros(len(truth), dtype=bool)
    surveyed[rows] = True
    columns = {"loyalty": "mean", "satisfaction": "mean", "satisfaction_experienced": "mean",
               "trust": "mean", "repeat_12m": "share", "dropped_out": "share"}
    comparison = {}
    for column in columns:
        values = truth[column].to_numpy(float)
        comparison[column] = {"all_customers": float(values.mean()),
                              "respondents": float(values[surveyed].mean()),
                              "non_respondents": float(values[~surveyed].mean())}
    return {"response_bias_log_odds_per_sd": float(response_bias),
            "selection_variable": "satisfaction_experienced (standardised)",
            "response_rate": float(surveyed.mean()), "comparison": comparison}


def simulate_linked_study(instrument=None, n_customers: int = 20000, months: int = 24,
                          sample_size: int = 600, response_bias: float = 0.5,
                          careless_share: float = 0.08, missing_share: float = 0.01,
                          crm_params: CRMParams | None = None, truth: GroundTruth | None = None,
                          language: str = "en", survey_attitudes: str = "initial",
                          careless_mix: Mapping[str, float] | None = None,
                          random_state=None) -> LinkedStudy:
    """Simulate a customer base, its CRM records and a survey of some of its customers.

    Parameters
    ----------
    instrument : Instrument, optional
        Default ``load_instrument()``.
    n_customers, months : int
        Size of the customer base and observation length in months.
    sample_size : int
        Survey respondents drawn from the customers (<= ``n_customers``, >= 50).
    response_bias : float
        Log odds ratio of answering per SD of experienced satisfaction (0 = random sample).
    careless_share, missing_share, careless_mix, language
        Passed to :func:`simulate_survey`.
    crm_params : CRMParams, optional
        CRM parameters; their attitude correlations are replaced by the truth's
        (:func:`crm_params_from_truth`).
    truth : GroundTruth, optional
        Default ``default_truth(instrument)``.
    survey_attitudes : {"initial", "experienced"}
        Whether respondents report the attitudes that drove their behaviour, or
        satisfaction and fulfilment lowered by their service failures (see
        :data:`SURVEY_ATTITUDES`).
    random_state : int, numpy.random.Generator, SeedSequence or None
        Same value -> bit-identical study.

    Returns
    -------
    LinkedStudy

    Notes
    -----
    Stages draw from named ``SeedSequence`` children ("customer_latents", "crm",
    "survey_sample", "survey"). With ``survey_attitudes="initial"`` the completed latent
    scores of all customers follow the truth's ``N(0, Sigma)``; response bias tilts the
    respondents' distribution towards satisfied customers, which shifts their means
    (recorded in ``truth["response_bias"]``) far more than their correlations.
    """
    _check_sizes(n_customers, sample_size)
    if survey_attitudes not in SURVEY_ATTITUDES:
        raise ConfigError(f"simulate_linked_study: parameter 'survey_attitudes': expected one "
                          f"of {list(SURVEY_ATTITUDES)}, got {survey_attitudes!r}")
    if instrument is None:
        from analysis.instrument import load_instrument
        instrument = load_instrument()
    truth = default_truth(instrument) if truth is None else truth
    missing = [c for c in CRM_LATENTS if c not in truth.latents]
    if missing:
        raise ConfigError(f"simulate_linked_study: the ground truth lacks latents {missing}; "
                          f"expected {list(CRM_LATENTS)} to drive purchasing")
    root = seed_sequence(random_state, "simulate_linked_study")
    latents = customer_latents(truth, int(n_customers), component_seed(root, "customer_latents"))
    params = crm_params_from_truth(truth, crm_params, months)
    db = simulate_crm(int(n_customers), months, params,
                      latent=latents[list(CRM_LATENTS)].rename(columns=CRM_LATENTS),
                      random_state=component_rng(root, "crm"))
    sample = draw_survey_sample(db, int(sample_size), response_bias,
                                random_state=component_rng(root, "survey_sample"))
    # customer_id is 1..n in customer order, so id - 1 is the row of every table.
    rows = sample["customer_id"].to_numpy() - 1
    answering = latents.iloc[rows].reset_index(drop=True)
    if survey_attitudes == "experienced":
        for code, column in (("SAT", "satisfaction_experienced"), ("FUL", "fulfilment_experienced")):
            answering[code] = db.customer_truth[column].to_numpy()[rows]
    survey = simulate_survey(instrument, n=int(sample_size), truth=truth,
                             careless_share=careless_share, careless_mix=careless_mix,
                             missing_share=missing_share, language=language,
                             random_state=component_seed(root, "survey"), latent_scores=answering,
                             customer_ids=sample["customer_id"].to_numpy())
    survey = dataclasses.replace(survey, responses=_crm_demographics(
        survey.responses, db.customers, instrument, rows))
    respondent = pd.Series(pd.NA, index=db.customer_truth.index, dtype="string")
    respondent.iloc[rows] = sample["respondent_id"].to_numpy()
    db.customer_truth["respondent_id"] = respondent
    linked = {
        "format": LINKED_TRUTH_FORMAT,
        "n_customers": int(n_customers), "months": months, "sample_size": int(sample_size),
        "survey_attitudes": survey_attitudes,
        "seed_entropy": root.entropy, "seed_spawn_key": list(root.spawn_key),
        "crm_latents": CRM_LATENTS,
        "response_bias": _bias_truth(db, rows, response_bias),
        "corr_latent_repeat_12m": db.truth["corr_latent_repeat_12m"],
        "repeat_rate_12m": db.truth["repeat_rate_12m"],
    }
    return LinkedStudy(survey, db, linked)


def write_linked_study(study: LinkedStudy, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Survey files in ``out_dir``, the CRM in ``out_dir/crm``, ``linked_truth.json``."""
    out = Path(out_dir)
    paths = write_simulated_survey(study.survey, out)
    paths["crm"] = write_crm(study.crm, out / "crm")
    paths["linked_truth"] = atomic_write_text(
        out / "linked_truth.json", json.dumps(study.truth, indent=2, default=str))
    return paths


def read_linked_study(out_dir: str | os.PathLike) -> LinkedStudy:
    """Read what :func:`write_linked_study` wrote."""
    out = Path(out_dir)
    if not (out / "linked_truth.json").is_file():
        raise DataError(f"{out}: expected a linked study; missing linked_truth.json")
    truth = json.loads((out / "linked_truth.json").read_text(encoding="utf-8"))
    return LinkedStudy(read_simulated_survey(out), read_crm(out / "crm"), truth)


def _read_table(folder: Path, name: str) -> pd.DataFrame | None:
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            try:
                frame = reader(path)
            except (OSError, ValueError) as exc:
                raise DataError(f"{path}: cannot read the table ({exc})") from None
            missing = [c for c in CLIENT_TABLES[name] if c not in frame.columns]
            if missing:
                raise DataError(f"{path}: missing column(s) {missing}; expected at least "
                                f"{list(CLIENT_TABLES[name])}, got {list(frame.columns)}")
            return frame
    return None


def read_crm_export(folder: str | os.PathLike) -> CRMDatabase:
    """Read a client's CRM tables (``orders`` required; ``customers``, ``sessions`` optional).

    Each table is ``<name>.parquet`` or ``<name>.csv`` in ``folder``. ``orders`` needs
    ``customer_id``, ``timestamp`` and ``amount``; ``customers`` (``customer_id``, and
    optionally ``signup_date``, ``city_tier``, ``device``) and ``sessions``
    (``customer_id``, ``timestamp``, ``pages``, ``dwell_sec``, ``referral_source``,
    ``keyword_class``) enable cohorts and web segments. A folder written by
    :func:`~analysis.simulate.crm.write_crm` is read with its truth. The observation ends
    at the last order. Tables not given are None; there is no customer truth.
    """
    root = Path(folder)
    if (root / "truth.json").is_file() and (root / "customer_truth.parquet").is_file():
        return read_crm(root)
    if not root.is_dir():
        raise DataError(f"{root}: CRM folder not found")
    tables = {name: _read_table(root, name) for name in CLIENT_TABLES}
    orders = tables["orders"]
    if orders is None:
        raise DataError(f"{root}: no orders table; expected orders.parquet or orders.csv with "
                        f"columns {list(CLIENT_TABLES['orders'])}")
    try:
        orders["timestamp"] = pd.to_datetime(orders["timestamp"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"{root}/orders: column 'timestamp' must hold dates ({exc})") from None
    if tables["sessions"] is not None and "timestamp" in tables["sessions"]:
        tables["sessions"]["timestamp"] = pd.to_datetime(tables["sessions"]["timestamp"])
    end = orders["timestamp"].max()
    return CRMDatabase(customers=tables["customers"], orders=orders, deliveries=None,
                       returns=None, complaints=None, service_contacts=None,
                       sessions=tables["sessions"], customer_truth=None,
                       truth={"observation_end": str(end), "source": str(root)})
