"""Simulated CRM database: customers, orders and service events with a known truth.

The purchase backbone is the BG/NBD process (Fader, Hardie & Lee 2005) with the
published CDNOW parameters in weekly units and Gamma-Gamma spend, as in DOMAIN.md
("Behaviour (transactions)"). On top of it, each customer has latent attitudes
(loyalty, satisfaction, trust, fulfilment; standard normal, correlated as the survey
truth implies) that shift behaviour weakly and heterogeneously:

* ``log lambda_i`` moves by ``s_i * loyalty_rate_effect * loyalty_i`` (mean-preserving);
* the dropout odds ``p_i / (1 - p_i)`` move by ``exp(-s_i (loyalty_dropout_effect *
  loyalty_i + satisfaction_dropout_effect * satisfaction_i))``;
* a share of customers never come back after the first order ("one-time buyers", as
  in the MBG/NBD), with a logit that falls with loyalty and satisfaction; its intercept
  is calibrated so that the share of customers who buy again within 12 months of their
  first order (or before the end, if acquired less than a year before it) equals
  ``repeat_rate_12m`` (DOMAIN.md: 20-30 % for a typical store; pure CDNOW parameters
  give about 45 %). Set it to None for the pure BG/NBD backbone.

``s_i`` is a lognormal slope multiplier (``effect_heterogeneity``). Service failures
feed back: every late delivery and every unresolved complaint adds an extra chance of
leaving right after that order (``late_delivery_dropout``, ``unresolved_complaint_dropout``,
also after the first order) and lowers the customer's experienced satisfaction and
fulfilment; all of this is recorded in ``customer_truth`` and ``truth``.

Everything is vectorised: candidate purchase times come from exclusive cumulative sums
of exponential spacings (sorted uniforms without sorting), service outcomes are drawn
per candidate, and a grouped cumulative count of dropouts decides which candidates
become orders. Each stage draws from its own ``SeedSequence`` child, so the same seed
gives bit-identical tables.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.atomic import StagingDirectory
from analysis.errors import ConfigError, DataError
from analysis.seeding import make_rng
from analysis.simulate import crm_tables as tables

__all__ = [
    "CRMParams",
    "CRMDatabase",
    "simulate_crm",
    "simulate_bgnbd",
    "draw_survey_sample",
    "write_crm",
    "read_crm",
    "LATENT_NAMES",
    "TABLE_NAMES",
]

LATENT_NAMES = tables.LATENT_NAMES
TABLE_NAMES = ("customers", "orders", "deliveries", "returns", "complaints",
               "service_contacts", "sessions")
WEEKS_PER_MONTH = 365.25 / 12 / 7
WEEKS_PER_YEAR = 365.25 / 7


def _default_correlations() -> dict[str, float]:
    # Implied by the DOMAIN.md survey truth: SAT-LOY .63, TRU-LOY .57, SAT-TRU .55,
    # and FUL (loading .80 on e-SQ) times the e-SQ correlations.
    return {"loyalty~satisfaction": 0.63, "loyalty~trust": 0.57, "loyalty~fulfilment": 0.43,
            "satisfaction~trust": 0.55, "satisfaction~fulfilment": 0.54,
            "trust~fulfilment": 0.44}


@dataclass(frozen=True)
class CRMParams:
    """Parameters of the CRM simulator (time unit: weeks; rates are per order).

    Defaults: BG/NBD and Gamma-Gamma at the CDNOW estimates (FHL 2005), base rates from
    DOMAIN.md (returns 18 %, on-time delivery 85 % as in China, 12-month repeat 25 %).
    """

    start_date: str = "2024-01-01"
    acquisition_months: float = 12.0
    r: float = 0.243
    alpha: float = 4.414
    a: float = 0.793
    b: float = 2.426
    p: float = 6.25
    q: float = 3.74
    gamma: float = 15.44
    latent_correlations: Mapping[str, float] = field(default_factory=_default_correlations)
    loyalty_rate_effect: float = 0.30
    loyalty_dropout_effect: float = 0.30
    satisfaction_dropout_effect: float = 0.15
    loyalty_trial_effect: float = 1.50
    satisfaction_trial_effect: float = 0.30
    effect_heterogeneity: float = 0.5
    repeat_rate_12m: float | None = 0.25
    on_time_rate: float = 0.85
    return_rate: float = 0.18
    complaint_rate: float = 0.02
    complaint_rate_late: float = 0.25
    complaint_rate_return: float = 0.15
    resolution_rate: float = 0.80
    late_delivery_dropout: float = 0.10
    unresolved_complaint_dropout: float = 0.30
    late_delivery_satisfaction: float = 0.15
    late_delivery_fulfilment: float = 0.30
    unresolved_complaint_satisfaction: float = 0.40
    contacts_per_order: float = 0.35
    browse_sessions_per_week: float = 0.10
    city_tier_shares: Mapping[str, float] = field(
        default_factory=lambda: dict(tables.CITY_TIER_SHARES))
    acquisition_channel_shares: Mapping[str, float] = field(
        default_factory=lambda: dict(tables.CHANNEL_SHARES))
    device_shares: Mapping[str, float] = field(
        default_factory=lambda: dict(tables.DEVICE_SHARES))

    def __post_init__(self) -> None:
        positive = ("acquisition_months", "r", "alpha", "a", "b", "p", "q", "gamma")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"CRMParams.{name}: expected a number > 0, got "
                                  f"{getattr(self, name)!r}")
        rates = ("on_time_rate", "return_rate", "complaint_rate", "complaint_rate_late",
                 "complaint_rate_return", "resolution_rate", "late_delivery_dropout",
                 "unresolved_complaint_dropout")
        for name in rates:
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"CRMParams.{name}: expected a probability in [0, 1], "
                                  f"got {getattr(self, name)!r}")
        if self.repeat_rate_12m is not None and not 0 < self.repeat_rate_12m < 1:
            raise ConfigError(f"CRMParams.repeat_rate_12m: expected a share in (0, 1) or "
                              f"None, got {self.repeat_rate_12m!r}")
        for name, allowed in (("city_tier_shares", tables.CITY_TIERS),
                              ("acquisition_channel_shares", tables.CHANNELS),
                              ("device_shares", tables.DEVICES)):
            shares = getattr(self, name)
            unknown = sorted(set(shares) - set(allowed))
            if unknown or any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
                raise ConfigError(f"CRMParams.{name}: expected non-negative shares for "
                                  f"keys among {list(allowed)}, got {dict(shares)}")
        self.correlation_matrix()

    def correlation_matrix(self) -> np.ndarray:
        """Correlation matrix of :data:`LATENT_NAMES` from ``latent_correlations``."""
        matrix = np.eye(len(LATENT_NAMES))
        for key, value in self.latent_correlations.items():
            names = key.split("~")
            if len(names) != 2 or not set(names) <= set(LATENT_NAMES) or names[0] == names[1]:
                raise ConfigError(f"CRMParams.latent_correlations: key {key!r} is not "
                                  f"'<a>~<b>' with a, b among {list(LATENT_NAMES)}")
            i, j = (LATENT_NAMES.index(n) for n in names)
            matrix[i, j] = matrix[j, i] = value
        if np.linalg.eigvalsh(matrix).min() <= 0:
            raise ConfigError("CRMParams.latent_correlations: the correlations "
                              f"{dict(self.latent_correlations)} are not positive definite")
        return matrix


@dataclass
class CRMDatabase:
    """Simulated CRM tables, the per-customer truth, and run-level truth."""

    customers: pd.DataFrame
    orders: pd.DataFrame
    deliveries: pd.DataFrame
    returns: pd.DataFrame
    complaints: pd.DataFrame
    service_contacts: pd.DataFrame
    sessions: pd.DataFrame
    customer_truth: pd.DataFrame
    truth: dict = field(default_factory=dict)

    @property
    def observation_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.truth["observation_end"])


def _generator(random_state) -> np.random.Generator:
    return make_rng(random_state, "simulate_crm")


def _group_exclusive_cumsum(values: np.ndarray, starts: np.ndarray,
                            owner: np.ndarray) -> np.ndarray:
    """Cumulative sum within consecutive groups, excluding the current element."""
    inclusive = np.cumsum(values)
    exclusive = inclusive - values
    return exclusive - exclusive[starts][owner]


def _calibrate_one_time(target: float, trial_index: np.ndarray, keep_first: np.ndarray,
                        rate: np.ndarray, horizon: np.ndarray) -> float:
    """Intercept of the one-time-buyer logit that gives the target 12-month repeat rate.

    A customer still active after the first order repeats within ``horizon`` with
    probability ``1 - exp(-lambda h)`` (dropout only follows purchases), so the expected
    rate is a smooth, monotone function of the intercept, solved by Brent's method.
    """
    reach = keep_first * -np.expm1(-rate * horizon)

    def gap(intercept: float) -> float:
        return float(np.mean(special.expit(trial_index - intercept) * reach) - target)

    if gap(-30.0) < 0:
        raise ConfigError(f"CRMParams.repeat_rate_12m: {target} is not reachable; with these "
                          f"BG/NBD parameters at most {gap(-30.0) + target:.3f} of customers "
                          "repeat within 12 months")
    return optimize.brentq(gap, -30.0, 30.0, xtol=1e-10)


def simulate_bgnbd(n_customers: int, r: float = 0.243, alpha: float = 4.414,
                   a: float = 0.793, b: float = 2.426, T=78.0, random_state=None,
                   p: float = 6.25, q: float = 3.74, gamma: float = 15.44) -> pd.DataFrame:
    """Draw ``(frequency, recency, T, monetary_value)`` straight from BG/NBD + Gamma-Gamma.

    ``T`` is a scalar or an array of customer ages. Given ``N ~ Poisson(lambda T)`` arrivals
    and dropout after ``J ~ Geometric(p)`` repeat purchases, ``x = min(N, J)`` and the last
    purchase time is the ``x``-th of ``N`` uniform order statistics, ``T * Beta(x, N-x+1)``;
    the mean of ``x`` Gamma(p, nu) values is ``Gamma(p x, x nu)``.
    """
    rng = _generator(random_state)
    age = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, n_customers)
    dropout = rng.beta(a, b, n_customers)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(arrivals, rng.geometric(dropout))
    safe_x = np.maximum(x, 1)
    recency = np.where(x > 0, age * rng.beta(safe_x, arrivals - x + 1), 0.0)
    nu = rng.gamma(q, 1.0 / gamma, n_customers)
    monetary = np.where(x > 0, rng.gamma(p * safe_x, 1.0 / (nu * safe_x)), 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": age,
                         "monetary_value": monetary})


def simulate_crm(n_customers: int = 20000, months: int = 24,
                 params: CRMParams | None = None, latent: pd.DataFrame | None = None,
                 random_state=None) -> CRMDatabase:
    """Simulate a CRM database of ``n_customers`` acquired over ``params.acquisition_months``
    and observed for ``months`` from ``params.start_date``.

    ``latent`` (optional) gives attitude scores for the first ``len(latent)`` customers, e.g.
    survey respondents' true ``LOY``/``SAT``/``TRU``/``FUL`` (missing attitudes are drawn
    from their conditional normal); a ``respondent_id`` column is carried into the truth.
    """
    params = CRMParams() if params is None else params
    if not isinstance(n_customers, (int, np.integer)) or n_customers < 1:
        raise ConfigError(f"n_customers: expected a positive integer, got {n_customers!r}")
    if not months > params.acquisition_months:
        raise ConfigError(f"months: expected more than acquisition_months "
                          f"({params.acquisition_months}), got {months!r}")
    stages = _generator(random_state).spawn(8)
    n, end_week = int(n_customers), months * WEEKS_PER_MONTH
    customers = tables.draw_customers(n, params, end_week, stages[0])
    truth_frame = tables.draw_latent(n, params.correlation_matrix(), latent, stages[1])
    rng = stages[2]
    loyalty = truth_frame["loyalty"].to_numpy()
    satisfaction = truth_frame["satisfaction"].to_numpy()
    slope = np.exp(params.effect_heterogeneity * rng.standard_normal(n)
                   - params.effect_heterogeneity ** 2 / 2)
    rate_shift = slope * params.loyalty_rate_effect
    rate = rng.gamma(params.r, 1.0 / params.alpha, n) * np.exp(rate_shift * loyalty
                                                              - rate_shift ** 2 / 2)
    base_dropout = rng.beta(params.a, params.b, n)
    dropout = special.expit(special.logit(base_dropout) - slope * (
        params.loyalty_dropout_effect * loyalty
        + params.satisfaction_dropout_effect * satisfaction))
    trial_index = slope * (params.loyalty_trial_effect * loyalty
                           + params.satisfaction_trial_effect * satisfaction)
    age = customers.pop("_age_weeks").to_numpy()

    # Candidate purchase times: event 0 is the first order at age 0.
    per_customer = 1 + rng.poisson(rate * age)
    owner = np.repeat(np.arange(n), per_customer)
    starts = np.cumsum(per_customer) - per_customer
    position = np.arange(len(owner)) - starts[owner]
    spacing = rng.standard_exponential(len(owner))
    group_total = np.add.reduceat(spacing, starts)
    times = _group_exclusive_cumsum(spacing, starts, owner) / group_total[owner] * age[owner]

    events = tables.draw_service_outcomes(owner, customers["city_tier"], params, rng)
    keep = ((1 - params.late_delivery_dropout * events["late"])
            * (1 - params.unresolved_complaint_dropout * events["unresolved"]))
    if params.repeat_rate_12m is None:
        one_time = np.zeros(n)
        intercept = None
    else:
        intercept = _calibrate_one_time(params.repeat_rate_12m, trial_index, keep[starts],
                                        rate, np.minimum(age, WEEKS_PER_YEAR))
        one_time = special.expit(intercept - trial_index)
    hazard = np.where(position == 0, one_time[owner], dropout[owner])
    dropped = rng.random(len(owner)) < 1 - (1 - hazard) * keep
    realized = _group_exclusive_cumsum(dropped.astype(np.int64), starts, owner) == 0

    orders, order_sort = tables.build_orders(owner[realized], times[realized],
                                             customers, params, stages[3])
    event_flags = {k: v[realized] for k, v in events.items()}
    db_tables = tables.build_service_tables(orders, order_sort, event_flags, customers,
                                            truth_frame, end_week, params, stages[4:8])
    truth_frame = tables.build_customer_truth(
        truth_frame, customers, rate, dropout, one_time, slope, owner, times, position,
        realized, dropped, event_flags, params, WEEKS_PER_YEAR)
    truth = tables.run_truth(params, n, months, end_week, intercept, orders, db_tables,
                             truth_frame)
    # customer_id is 1..n, so a bincount is the per-customer session count.
    customers["visit_count"] = np.bincount(db_tables["sessions"]["customer_id"].to_numpy() - 1,
                                           minlength=n)
    return CRMDatabase(customers=customers, orders=orders, customer_truth=truth_frame,
                       truth=truth, **db_tables)


def draw_survey_sample(db: CRMDatabase, n: int, response_bias: float = 0.5,
                       random_state=None) -> pd.DataFrame:
    """Survey respondents linked to the CRM by pseudonymous ``customer_id``.

    Response propensity is ``expit(c + response_bias * z)`` with ``z`` the standardised
    experienced satisfaction (``customer_truth.satisfaction_experienced``) and ``c`` set so
    that propensities sum to ``n``; exactly ``n`` customers are drawn without replacement
    with probability proportional to their propensity (Efraimidis-Spirakis keys).
    ``response_bias`` is the log odds ratio of answering per SD of satisfaction.
    """
    total = len(db.customer_truth)
    if not isinstance(n, (int, np.integer)) or not 0 < n <= total:
        raise ConfigError(f"draw_survey_sample: n must be an integer in 1..{total}, got {n!r}")
    if not np.isfinite(response_bias):
        raise ConfigError(f"draw_survey_sample: response_bias must be a finite log odds "
                          f"ratio, got {response_bias!r}")
    sat = db.customer_truth["satisfaction_experienced"].to_numpy(float)
    z = (sat - sat.mean()) / sat.std()
    if n == total:
        chosen = np.arange(total)
        chosen = _generator(random_state).permutation(chosen)
    else:
        intercept = optimize.brentq(
            lambda c: special.expit(c + response_bias * z).sum() - n, -50, 50)
        log_weight = np.log(special.expit(intercept + response_bias * z))
        keys = np.log(_generator(random_state).random(total)) / np.exp(log_weight)
        chosen = np.argsort(-keys, kind="stable")[:n]
    return pd.DataFrame({
        "respondent_id": [f"R{i + 1:05d}" for i in range(n)],
        "customer_id": db.customer_truth["customer_id"].to_numpy()[chosen],
    })


def write_crm(db: CRMDatabase, out_dir: str | os.PathLike) -> Path:
    """Write every table (Parquet) plus ``truth.json``; the directory is swapped in whole."""
    with StagingDirectory(out_dir, keep_failed=False) as staging:
        for name in TABLE_NAMES + ("customer_truth",):
            getattr(db, name).to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "truth.json").write_text(json.dumps(db.truth, indent=2, default=str),
                                            encoding="utf-8")
    return Path(out_dir)


def read_crm(directory: str | os.PathLike) -> CRMDatabase:
    """Read a database written by :func:`write_crm`."""
    root = Path(directory)
    missing = [f"{n}.parquet" for n in TABLE_NAMES + ("customer_truth",)
               if not (root / f"{n}.parquet").exists()]
    if missing or not (root / "truth.json").exists():
        raise DataError(f"{root}: not a CRM database written by write_crm(); missing "
                        f"{missing or ['truth.json']}")
    frames = {n: pd.read_parquet(root / f"{n}.parquet")
              for n in TABLE_NAMES + ("customer_truth",)}
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return CRMDatabase(truth=truth, **frames)

