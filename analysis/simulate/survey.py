"""Seeded simulation of a completed e-loyalty survey, with the truth kept aside.

One call draws true latent scores from :class:`~analysis.simulate.truth.GroundTruth`,
turns them into 7-point answers, replaces a share of respondents by careless answering
patterns, blanks a share of cells at random and adds durations and demographics. The
responses table never contains the truth; ``respondent_truth`` and ``truth.json`` do.

Randomness: each component (latents, items, careless assignment, ...) has its own
``SeedSequence`` derived from the caller's seed and the component's *name*, so adding a
component later leaves the draws of the existing ones unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis.atomic import atomic_path
from analysis.errors import ConfigError, DataError
from analysis.seeding import component_rng, make_rng, seed_sequence
from analysis.simulate.careless_draws import (  # constants re-exported for old imports
    ATTENTIVE_QC_ACCURACY as ATTENTIVE_QC_ACCURACY,
)
from analysis.simulate.careless_draws import (
    CARELESS_TYPES,
    DEFAULT_CARELESS_MIX,
    assign_careless,
    attention_answers,
    careless_answers,
    check_mix,
    check_share,
    durations,
    missing_cells,
)
from analysis.simulate.careless_draws import (
    MAX_SHARE as MAX_SHARE,
)
from analysis.simulate.careless_draws import (
    SECONDS_PER_ITEM as SECONDS_PER_ITEM,
)
from analysis.simulate.careless_draws import (
    SPEEDER_SECONDS_PER_ITEM as SPEEDER_SECONDS_PER_ITEM,
)
from analysis.simulate.careless_draws import (
    SPEEDER_STRAIGHT_BLOCK as SPEEDER_STRAIGHT_BLOCK,
)
from analysis.simulate.careless_draws import (
    STRAIGHTLINE_VALUE_WEIGHTS as STRAIGHTLINE_VALUE_WEIGHTS,
)
from analysis.simulate.careless_draws import (
    STRAIGHTLINE_WHOLE_SURVEY as STRAIGHTLINE_WHOLE_SURVEY,
)
from analysis.simulate.default_model import default_truth
from analysis.simulate.truth import GroundTruth

__all__ = [
    "SimulatedSurvey",
    "simulate_survey",
    "write_simulated_survey",
    "read_simulated_survey",
    "read_truth",
    "conditional_latent_scores",
    "CARELESS_TYPES",
    "DEFAULT_CARELESS_MIX",
]

MIN_N = 50
# Chinese online shoppers, rounded from CNNIC-style survey profiles; unknown demographics
# (or changed option codes) fall back to equal shares.
DEMOGRAPHIC_SHARES = {
    "gender": {"female": 0.52, "male": 0.46, "other": 0.005, "undisclosed": 0.015},
    "age_group": {"18-24": 0.20, "25-34": 0.33, "35-44": 0.24, "45-54": 0.14,
                  "55-64": 0.06, "65+": 0.03},
    "education": {"secondary": 0.30, "vocational": 0.25, "bachelor": 0.37,
                  "postgraduate": 0.08},
    "city_tier": {"tier1": 0.15, "new_tier1": 0.20, "tier2": 0.22, "tier3": 0.20,
                  "tier4_below": 0.20, "outside_mainland": 0.03},
    "shopping_frequency": {"lt_monthly": 0.10, "monthly": 0.38, "weekly": 0.30,
                           "several_weekly": 0.22},
    "customer_tenure": {"lt_6m": 0.12, "6m_1y": 0.18, "1y_3y": 0.35, "gt_3y": 0.35},
    "device": {"phone_app": 0.78, "phone_browser": 0.08, "computer": 0.12, "tablet": 0.02},
}
# Ordered demographics linked to loyalty: an ordinal probit with this latent correlation
# (options are taken in instrument order, lowest first). Everything else is independent.
DEMOGRAPHIC_LOYALTY_LINKS = {"customer_tenure": 0.25, "shopping_frequency": 0.15}


@dataclass(frozen=True)
class SimulatedSurvey:
    """A simulated survey and everything needed to check an analysis against it.

    Attributes
    ----------
    responses : pandas.DataFrame
        The survey export (contract in notes/contracts.md); no truth in it.
    respondent_truth : pandas.DataFrame
        ``respondent_id``, ``careless_type`` and the true latent scores.
    truth : GroundTruth
        Population model the data were drawn from.
    params : dict
        Arguments, seed entropy and realized counts (careless by type, missing cells).
    latent_responses : pandas.DataFrame or None
        Continuous latent responses ``y*`` before cutting into scale points (what every
        respondent would have answered attentively); not written to disk.
    """

    responses: pd.DataFrame
    respondent_truth: pd.DataFrame
    truth: GroundTruth
    params: dict[str, Any]
    latent_responses: pd.DataFrame | None = field(default=None, repr=False)


def _draw_latents(truth: GroundTruth, n: int, rng: np.random.Generator) -> pd.DataFrame:
    names = truth.latents
    residual = truth.residual_variances()
    shocks = rng.standard_normal((n, len(names)))
    scores: dict[str, np.ndarray] = {}
    predictors = truth.equations()
    for k, name in enumerate(names):
        explained = sum((coef * scores[p] for p, coef in predictors.get(name, {}).items()),
                        np.zeros(n))
        scores[name] = explained + np.sqrt(residual[name]) * shocks[:, k]
    return pd.DataFrame(scores, columns=names)


def conditional_latent_scores(truth: GroundTruth, given: pd.DataFrame,
                              random_state=None) -> pd.DataFrame:
    """Complete partly known latent scores by drawing the others from their conditional normal.

    Parameters
    ----------
    truth : GroundTruth
        Population model; its :meth:`~GroundTruth.latent_covariance` is the joint
        (standard-normal) distribution of the latents.
    given : pandas.DataFrame
        One row per person, columns among ``truth.latents`` (e.g. ``LOY`` and ``SAT`` of
        customers simulated in a CRM); finite values, standardized like the truth.
    random_state : int, numpy.random.Generator, SeedSequence or None

    Returns
    -------
    pandas.DataFrame
        Every latent of the truth (columns in ``truth.latents`` order), the given columns
        unchanged, indexed like ``given``.

    Notes
    -----
    For a multivariate normal split into given ``g`` and remaining ``r`` parts,
    ``eta_r | eta_g ~ N(S_rg S_gg^-1 eta_g, S_rr - S_rg S_gg^-1 S_gr)``; if the given scores
    follow ``N(0, S_gg)`` the completed scores follow ``N(0, S)``, so every correlation and
    structural path of the truth is preserved (Anderson 2003, theorem 2.5.1; the moments
    R's ``condMVNorm::condMVN`` returns). The test suite checks the completed correlations
    against ``truth.latent_covariance()``.
    """
    names = truth.latents
    if not isinstance(given, pd.DataFrame):
        raise DataError(f"latent_scores: expected a DataFrame with columns among {names}, "
                        f"got {type(given).__name__}")
    unknown = [c for c in given.columns if c not in names]
    if unknown or given.shape[1] == 0:
        raise DataError(f"latent_scores: columns {unknown or 'none'} are not latents of the "
                        f"ground truth; expected columns among {names}")
    values = given.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        row, col = (int(k[0]) for k in np.nonzero(~np.isfinite(values)))
        raise DataError(f"latent_scores: row {row}, column '{given.columns[col]}': expected "
                        f"a finite number, got {values[row, col]!r}")
    rng = make_rng(random_state, "simulate_survey")
    sigma = truth.latent_covariance().to_numpy()
    known = [names.index(c) for c in given.columns]
    rest = [k for k in range(len(names)) if k not in known]
    scores = np.empty((len(given), len(names)))
    scores[:, known] = values
    if rest:
        s_gg, s_rg = sigma[np.ix_(known, known)], sigma[np.ix_(rest, known)]
        coef = np.linalg.solve(s_gg, s_rg.T).T
        spread = sigma[np.ix_(rest, rest)] - coef @ s_rg.T
        noise = rng.standard_normal((len(given), len(rest))) @ np.linalg.cholesky(spread).T
        scores[:, rest] = values @ coef.T + noise
    return pd.DataFrame(scores, columns=names, index=given.index)


def _draw_items(truth: GroundTruth, latents: pd.DataFrame, items: list[str],
                rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    noise = rng.standard_normal((len(latents), len(items)))
    continuous = np.empty_like(noise)
    answers = np.empty(noise.shape, dtype=np.int8)
    for j, item in enumerate(items):
        loading = truth.loadings[item]
        eta = latents[truth.construct_of(item)].to_numpy()
        continuous[:, j] = loading * eta + np.sqrt(1.0 - loading**2) * noise[:, j]
        cuts = np.asarray(truth.thresholds[item])
        answers[:, j] = np.searchsorted(cuts, continuous[:, j]) + 1
    return pd.DataFrame(continuous, columns=items), answers


def _demographics(instrument, loyalty: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    out = {}
    n = len(loyalty)
    for demographic in instrument.demographics:
        codes = [code for code, _ in demographic.options]
        known = DEMOGRAPHIC_SHARES.get(demographic.id, {})
        shares = np.array([known[c] for c in codes]) if set(codes) <= set(known) \
            else np.ones(len(codes))
        cumulative = np.cumsum(shares / shares.sum())[:-1]
        rho = DEMOGRAPHIC_LOYALTY_LINKS.get(demographic.id, 0.0)
        # Every demographic draws its noise, linked or not, so links can change freely.
        noise = rng.standard_normal(n)
        propensity = rho * loyalty + np.sqrt(1.0 - rho**2) * noise
        index = np.searchsorted(norm.ppf(cumulative), propensity)
        out[demographic.id] = np.asarray(codes, dtype=object)[index]
    return pd.DataFrame(out)


def simulate_survey(instrument=None, n: int = 500, truth: GroundTruth | None = None,
                    careless_share: float = 0.08, careless_mix: Mapping[str, float] | None = None,
                    missing_share: float = 0.01, language: str = "en",
                    random_state=None, latent_scores: pd.DataFrame | None = None,
                    customer_ids=None) -> SimulatedSurvey:
    """Simulate ``n`` completed questionnaires from a known ground truth.

    Parameters
    ----------
    instrument : Instrument, optional
        Default: ``load_instrument()`` (survey/instrument.yaml).
    n : int
        Number of respondents (>= 50).
    truth : GroundTruth, optional
        Default: ``default_truth(instrument)``.
    careless_share : float
        Exact share (rounded to whole respondents) answering carelessly, in [0, 0.5].
    careless_mix : dict, optional
        Weights of "straightliner", "random" and "speeder"; default .35/.40/.25.
    missing_share : float
        Exact share of substantive-item cells set to missing completely at random
        (attention-check items are never blanked), in [0, 0.5].
    language : str
        Survey language recorded for every respondent; one of ``instrument.languages``.
    random_state : int, numpy.random.Generator, SeedSequence or None
        Same value -> bit-identical result.
    latent_scores : pandas.DataFrame, optional
        Known true scores of the ``n`` respondents (row ``i`` is respondent ``i``) for
        some or all latents of the truth, e.g. the attitudes of customers drawn from a
        CRM; the other latents are drawn from their conditional normal given these
        (:func:`conditional_latent_scores`). Without it, all latents are drawn from the
        truth and the result is exactly as before this argument existed.
    customer_ids : sequence, optional
        Pseudonymous customer id of each respondent; adds a ``customer_id`` column
        (after ``respondent_id``) to ``responses`` and ``respondent_truth``.

    Returns
    -------
    SimulatedSurvey

    Notes
    -----
    Items follow ``y* = lambda * eta + sqrt(1 - lambda^2) * eps`` and are cut at the
    truth's thresholds into 1..7. Attentive respondents pass each instructed-response item
    with probability .98 (a miss lands next to the expected answer). Straight-liners give
    one value per block (70% the same value throughout), random responders uniform 1..7,
    speeders per block either one value or random values. ``duration_sec`` is seconds per
    Likert item times the number of Likert items: lognormal with median 6 s (attentive),
    4 s (random), 3 s (straight-liners) and uniform 0.6-1.6 s (speeders). Customer tenure
    and shopping frequency rise weakly with true loyalty (latent r = .25 and .15).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < MIN_N:
        raise ConfigError(f"simulate_survey: parameter 'n': expected an integer >= {MIN_N}, "
                          f"got {n!r}")
    careless_share = check_share("careless_share", careless_share)
    missing_share = check_share("missing_share", missing_share)
    mix = check_mix(careless_mix, careless_share)
    root = seed_sequence(random_state, "simulate_survey")
    if instrument is None:
        from analysis.instrument import load_instrument
        instrument = load_instrument()
    if language not in instrument.languages:
        raise ConfigError(f"simulate_survey: parameter 'language': expected one of "
                          f"{list(instrument.languages)}, got {language!r}")
    truth = default_truth(instrument) if truth is None else truth
    likert = list(instrument.likert_items)
    points = int(instrument.scale.points)
    checks = dict(instrument.attention_checks)
    substantive = [i for i in likert if i not in checks]
    unmodelled = [i for i in substantive if i not in truth.loadings]
    if unmodelled:
        raise ConfigError(f"simulate_survey: items {unmodelled} of the instrument have no "
                          "loading in the ground truth; expected every substantive item in "
                          "truth.loadings")
    off_scale = [i for i in substantive if len(truth.thresholds[i]) != points - 1]
    if off_scale:
        raise ConfigError(f"simulate_survey: items {off_scale}: expected {points - 1} "
                          f"thresholds for the instrument's {points}-point scale")
    n = int(n)

    if latent_scores is None:
        latents = _draw_latents(truth, n, component_rng(root, "latents"))
    else:
        if len(latent_scores) != n:
            raise ConfigError(f"simulate_survey: parameter 'latent_scores': expected {n} rows "
                              f"(one per respondent), got {len(latent_scores)}")
        latents = conditional_latent_scores(truth, latent_scores.reset_index(drop=True),
                                            component_rng(root, "latents"))
    if customer_ids is not None:
        customer_ids = pd.Series(np.asarray(customer_ids), name="customer_id")
        if len(customer_ids) != n or customer_ids.isna().any() or customer_ids.duplicated().any():
            raise ConfigError(f"simulate_survey: parameter 'customer_ids': expected {n} unique, "
                              f"non-missing ids, got {len(customer_ids)} values "
                              f"({int(customer_ids.duplicated().sum())} repeated)")
    continuous, answers = _draw_items(truth, latents, substantive, component_rng(root, "items"))
    column = {item: j for j, item in enumerate(likert)}
    table = np.zeros((n, len(likert)), dtype=np.int8)
    table[:, [column[i] for i in substantive]] = answers
    for item, answer in attention_answers(checks, n, points,
                                           component_rng(root, "attention")).items():
        table[:, column[item]] = answer

    kinds, counts = assign_careless(n, careless_share, mix,
                                     component_rng(root, "careless_assignment"))
    blocks = [[column[i] for i in items if i in column] for items in instrument.blocks.values()]
    in_block = {j for block in blocks for j in block}
    blocks += [[j] for j in range(len(likert)) if j not in in_block]
    rng = component_rng(root, "careless_answers")
    for r in np.flatnonzero(kinds != "attentive"):
        table[r] = careless_answers(kinds[r], blocks, len(likert), points, rng)

    missing = np.zeros(table.shape, dtype=bool)
    missing[:, [column[i] for i in substantive]] = missing_cells(
        n, len(substantive), missing_share, component_rng(root, "missing"))
    data = pd.DataFrame({
        "respondent_id": [f"R{i:05d}" for i in range(1, n + 1)],
        "survey_language": language,
        "duration_sec": durations(kinds, len(likert), component_rng(root, "durations")),
    })
    items_frame = pd.DataFrame({item: pd.arrays.IntegerArray(table[:, j], missing[:, j])
                                for j, item in enumerate(likert)})
    loyalty = latents["LOY"].to_numpy() if "LOY" in latents else np.zeros(n)
    demographics = _demographics(instrument, loyalty, component_rng(root, "demographics"))
    responses = pd.concat([data, items_frame, demographics], axis=1)
    if customer_ids is not None:
        responses.insert(1, "customer_id", customer_ids.to_numpy())

    second_order = [truth.second_order_name, *truth.second_order]
    latent_columns = second_order + [c for c in truth.latents if c not in second_order]
    respondent_truth = pd.concat(
        [data[["respondent_id"]], pd.Series(kinds, name="careless_type", dtype=object),
         latents[latent_columns]], axis=1)
    if customer_ids is not None:
        respondent_truth.insert(1, "customer_id", customer_ids.to_numpy())
    params = {
        "instrument": f"{instrument.id}@{instrument.version}", "n": n,
        "careless_share": careless_share, "careless_mix": mix,
        "missing_share": missing_share, "language": language,
        "seed_entropy": root.entropy, "seed_spawn_key": list(root.spawn_key),
        "careless_counts": counts, "n_missing_cells": int(missing.sum()),
    }
    if latent_scores is not None:
        params["given_latents"] = list(latent_scores.columns)
    continuous.insert(0, "respondent_id", data["respondent_id"])
    return SimulatedSurvey(responses, respondent_truth, truth, params, continuous)


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def write_simulated_survey(sim: SimulatedSurvey, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write responses.parquet, respondent_truth.parquet and truth.json (atomically).

    ``truth.json`` holds ``sim.truth.to_dict()`` plus the simulation parameters under
    ``"simulation"``. Returns the written paths keyed "responses", "respondent_truth",
    "truth".
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = json.loads(json.dumps(sim.params, default=str))
    return {
        "responses": _atomic_parquet(sim.responses, out / "responses.parquet"),
        "respondent_truth": _atomic_parquet(sim.respondent_truth,
                                            out / "respondent_truth.parquet"),
        "truth": sim.truth.to_json(out / "truth.json", extra={"simulation": params}),
    }


def read_truth(path: str | os.PathLike) -> GroundTruth:
    """Read the ground truth from a ``truth.json`` written by :func:`write_simulated_survey`."""
    return GroundTruth.from_json(path)


def read_simulated_survey(out_dir: str | os.PathLike) -> SimulatedSurvey:
    """Read back what :func:`write_simulated_survey` wrote (without ``latent_responses``)."""
    out = Path(out_dir)
    paths = {name: out / name for name in
             ("responses.parquet", "respondent_truth.parquet", "truth.json")}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise DataError(f"{out}: expected a simulated survey; missing files {absent}")
    meta = json.loads(paths["truth.json"].read_text(encoding="utf-8"))
    return SimulatedSurvey(pd.read_parquet(paths["responses.parquet"]),
                           pd.read_parquet(paths["respondent_truth.parquet"]),
                           read_truth(paths["truth.json"]), meta.get("simulation", {}))
