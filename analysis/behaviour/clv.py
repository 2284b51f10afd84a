"""Customer lifetime value: BG/NBD purchase counts, Gamma-Gamma spend, discounted CLV.

The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
says that while a customer is alive, purchases arrive as a Poisson process with rate
``lambda ~ Gamma(r, alpha)``, and after every repeat purchase the customer drops out
for good with probability ``p ~ Beta(a, b)``. The Gamma-Gamma model (Fader, Hardie &
Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note) says each purchase value is
``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` independent of the purchase process.
Both are fitted here by maximum likelihood with :func:`scipy.optimize.minimize` on the
log parameters, using the closed-form log-likelihoods written with ``gammaln``,
``betaln`` and ``logaddexp`` (vectorised, with analytic gradients), so a million
customers fit in seconds. Identical ``(x, t_x, T)`` rows are pooled with weights first.

Why not a library: ``lifetimes`` (the reference implementation whose API this mirrors)
was archived in 2024 and pins old pandas/numpy; ``pymc-marketing`` (its successor)
pulls in PyMC, PyTensor and a compiler toolchain for what is a four-parameter MLE.
The formulas below are checked against the published CDNOW figures (conditional
expectation 1.226 for x=2, t_x=30.43, T=38.86, t=39 and the unconditional expectation
curve from Hardie's spreadsheet) and against brute-force numerical integration of the
individual-level likelihood over the mixing distributions (``tests/test_behaviour.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analysis.errors import ConfigError, ConvergenceError, DataError

__all__ = [
    "BGNBDModel",
    "GammaGammaModel",
    "bgnbd_log_likelihood",
    "gamma_gamma_log_likelihood",
    "customer_lifetime_value",
]

BGNBD_PARAMS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMS = ("p", "q", "gamma")


def _as_array(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise DataError(f"column '{name}': expected finite numbers, got {array[bad]!r} "
                        f"at position {bad}")
    return array


def _check_rfm(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, age = _as_array(frequency, "frequency"), _as_array(recency, "recency"), \
        _as_array(T, "T")
    if not (len(x) == len(t_x) == len(age)):
        raise DataError(f"frequency, recency and T must have equal length, got "
                        f"{len(x)}, {len(t_x)}, {len(age)}")
    checks = [(x < 0, "frequency", "a count >= 0"),
              (x != np.round(x), "frequency", "a whole number of repeat purchases"),
              (t_x < 0, "recency", "a value >= 0"),
              (t_x > age * (1 + 1e-9) + 1e-9, "recency", "a value <= T")]
    for bad, name, expected in checks:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"column '{name}' row {row}: expected {expected}, got "
                            f"frequency={x[row]}, recency={t_x[row]}, T={age[row]}")
    return x, np.minimum(t_x, age), age


def bgnbd_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """Individual BG/NBD log-likelihoods ``log L(r, alpha, a, b | x, t_x, T)``.

    Notes
    -----
    Fader, Hardie & Lee (2005), eq. (6)::

        L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + [x>0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    evaluated on the log scale with ``logaddexp``. Same as lifetimes
    ``BetaGeoFitter._negative_log_likelihood`` (negated, unweighted).
    """
    x, t_x, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    return _bgnbd_terms(np.asarray(params, dtype=float), _BGNBDData(x, t_x, age))[0]


class _BGNBDData:
    """Repeat-purchase data with the distinct frequencies precomputed.

    Frequencies take few distinct values, so the special functions of ``x`` are
    evaluated once per distinct value and gathered, which is most of the cost.
    """

    def __init__(self, x, t_x, age) -> None:
        self.x, self.t_x, self.age = x, t_x, age
        order = np.argsort(x, kind="stable")
        new_value = np.concatenate(([True], x[order][1:] != x[order][:-1]))
        self.unique_x = x[order][new_value]
        self.index = np.empty(len(x), dtype=np.int64)
        self.index[order] = np.cumsum(new_value) - 1
        self.repeat = x > 0


def _bgnbd_terms(params, data: _BGNBDData, gradient: bool = False):
    """Log-likelihood per customer and, optionally, its gradient w.r.t. (r, alpha, a, b)."""
    r, alpha, a, b = params
    ux, idx, x = data.unique_x, data.index, data.x
    log_alpha_T = np.log(alpha + data.age)
    log_alpha_tx = np.log(alpha + data.t_x)
    common = (special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha)
              - special.betaln(a, b))[idx]
    alive = special.betaln(a, b + ux)[idx] - (r + x) * log_alpha_T
    dropped = np.full_like(alive, -np.inf)
    drop_beta = special.betaln(a + 1, np.maximum(b + ux - 1, 1e-300))[idx]
    rep = data.repeat
    dropped[rep] = drop_beta[rep] - (r + x[rep]) * log_alpha_tx[rep]
    mixture = np.logaddexp(alive, dropped)
    if not gradient:
        return common + mixture, None
    psi = special.digamma
    w_alive, w_dropped = np.exp(alive - mixture), np.exp(dropped - mixture)
    psi_abx = psi(a + b + ux)[idx]
    d_r = ((psi(r + ux) - psi(r))[idx] + np.log(alpha) - w_alive * log_alpha_T
           - w_dropped * log_alpha_tx)
    d_alpha = r / alpha - (r + x) * (w_alive / (alpha + data.age)
                                     + w_dropped / (alpha + data.t_x))
    d_a = (-(psi(a) - psi(a + b)) + w_alive * (psi(a) - psi_abx)
           + w_dropped * (psi(a + 1) - psi_abx))
    d_b = (-(psi(b) - psi(a + b)) + w_alive * (psi(b + ux)[idx] - psi_abx)
           + w_dropped * (psi(np.maximum(b + ux - 1, 1e-300))[idx] - psi_abx))
    return common + mixture, np.stack([d_r, d_alpha, d_a, d_b])


def gamma_gamma_log_likelihood(params, frequency, monetary) -> np.ndarray:
    """Individual Gamma-Gamma log-likelihoods of the mean repeat spend (``x > 0`` only).

    Notes
    -----
    With ``m`` the mean of ``x`` purchase values (Fader & Hardie 2013, eq. 3)::

        f(m | p, q, gamma, x) = G(px+q) / (G(px) G(q)) * gamma^q m^(px-1) x^(px)
                                / (gamma + x m)^(px+q)

    Same as lifetimes ``GammaGammaFitter._negative_log_likelihood`` (negated).
    """
    x, m = np.asarray(frequency, dtype=float), np.asarray(monetary, dtype=float)
    return _gamma_gamma_terms(np.asarray(params, dtype=float), (x, m))[0]


def _gamma_gamma_terms(params, data, gradient: bool = False):
    p, q, gamma = params
    x, m = data
    log_denominator = np.log(gamma + x * m)
    log_m, log_x = np.log(m), np.log(x)
    loglik = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
              + q * np.log(gamma) + (p * x - 1) * log_m + p * x * log_x
              - (p * x + q) * log_denominator)
    if not gradient:
        return loglik, None
    psi = special.digamma
    d_p = x * (psi(p * x + q) - psi(p * x) + log_m + log_x - log_denominator)
    d_q = psi(p * x + q) - psi(q) + np.log(gamma) - log_denominator
    d_gamma = q / gamma - (p * x + q) / (gamma + x * m)
    return loglik, np.stack([d_p, d_q, d_gamma])


class _MLEstimator:
    """Shared MLE machinery: pooled weights, log-parameter optimisation, Wald summary."""

    _names: tuple[str, ...] = ()

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def _terms(self, params, data, gradient=False):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_params(cls, *values: float, **named: float):
        """A model with fixed parameters (e.g. published ones), given in ``_names`` order
        or by name, e.g. ``BGNBDModel.from_params(0.243, 4.414, 0.793, 2.426)``."""
        values = list(values) + [named.pop(n) for n in cls._names[len(values):] if n in named]
        if len(values) != len(cls._names) or named or min(values) <= 0:
            raise ConfigError(f"{cls.__name__}.from_params: expected positive values for "
                              f"{list(cls._names)}, got {values} {named or ''}".rstrip())
        model = cls()
        model.params_ = pd.Series(np.asarray(values, dtype=float), index=list(cls._names),
                                  name="estimate")
        return model

    def _maximise(self, data, weights, start, max_iter: int) -> None:
        total_weight = weights.sum()

        def objective(log_params):
            params = np.exp(log_params)
            loglik, grad = self._terms(params, data, gradient=True)
            if not np.all(np.isfinite(loglik)):
                return np.inf, np.zeros_like(log_params)
            grad = grad @ weights * params
            return -(weights @ loglik) / total_weight, -grad / total_weight

        result = optimize.minimize(objective, np.log(start), jac=True, method="L-BFGS-B",
                                   options={"maxiter": max_iter, "gtol": 1e-9,
                                            "ftol": 1e-14})
        params = np.exp(result.x)
        estimates = {name: float(f"{value:.4g}") for name, value in zip(self._names, params)}
        if not result.success and np.max(np.abs(result.jac)) > 1e-5:
            raise ConvergenceError(f"{type(self).__name__}.fit: optimiser did not converge "
                                   f"({result.message}); last estimates {estimates}")
        if np.any(np.abs(result.x) > 15):
            raise ConvergenceError(f"{type(self).__name__}.fit: estimates ran off to the "
                                   f"parameter boundary {estimates}; the data show no "
                                   "heterogeneity or no dropout the model could identify")
        self.params_ = pd.Series(params, index=list(self._names), name="estimate")
        self.loglik_ = float(weights @ self._terms(params, data)[0])
        self.n_customers_ = int(round(total_weight))
        self.n_iterations_ = int(result.nit)
        self.variance_matrix_ = self._covariance(params, data, weights)

    def _covariance(self, params, data, weights) -> pd.DataFrame:
        """Inverse of the observed information, by central differences of the gradient."""
        k = len(params)
        hessian = np.empty((k, k))
        for j in range(k):
            step = np.zeros(k)
            step[j] = 1e-5 * params[j]
            upper = self._terms(params + step, data, gradient=True)[1] @ weights
            lower = self._terms(params - step, data, gradient=True)[1] @ weights
            hessian[:, j] = (upper - lower) / (2 * step[j])
        hessian = (hessian + hessian.T) / 2
        try:
            covariance = np.linalg.inv(-hessian)
        except np.linalg.LinAlgError:
            covariance = np.full((k, k), np.nan)
        if np.any(np.diag(covariance) <= 0):
            warnings.warn(f"{type(self).__name__}: observed information is not positive "
                          "definite; standard errors are not available", RuntimeWarning)
            covariance = np.full((k, k), np.nan)
        return pd.DataFrame(covariance, index=list(self._names), columns=list(self._names))

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors and ``1 - alpha`` confidence intervals.

        Intervals are Wald intervals on the log scale (``est * exp(+-z se/est)``), so they
        stay positive like the parameters; ``se`` is on the natural scale.
        """
        if not hasattr(self, "params_"):
            raise DataError(f"{type(self).__name__}: call fit() before summary")
        z = stats.norm.ppf(1 - self.alpha / 2)
        covariance = getattr(self, "variance_matrix_", None)  # absent after from_params()
        se = (np.full(len(self._names), np.nan) if covariance is None
              else np.sqrt(np.diag(covariance.to_numpy())))
        est = self.params_.to_numpy()
        return pd.DataFrame({"parameter": list(self._names), "estimate": est, "se": se,
                             "ci_lower": est * np.exp(-z * se / est),
                             "ci_upper": est * np.exp(z * se / est)})


def _pool(columns: list[np.ndarray], weights) -> tuple[list[np.ndarray], np.ndarray]:
    """Collapse identical rows into one row with a summed weight (exact for the MLE)."""
    w = np.ones(len(columns[0])) if weights is None else _as_array(weights, "weights")
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new_row = np.ones(len(order), dtype=bool)
    new_row[1:] = np.any([c[1:] != c[:-1] for c in ordered], axis=0)
    if new_row.sum() > 0.8 * len(order):
        return columns, w
    starts = np.flatnonzero(new_row)
    return [c[starts] for c in ordered], np.add.reduceat(w[order], starts)


class BGNBDModel(_MLEstimator):
    """Beta-geometric/negative binomial model of repeat purchasing (weekly units by custom).

    Attributes (after :meth:`fit`): ``params_`` (r, alpha, a, b), ``loglik_``,
    ``variance_matrix_``, ``n_customers_``, ``summary``.
    """

    _names = BGNBD_PARAMS

    def _terms(self, params, data, gradient=False):
        return _bgnbd_terms(params, data, gradient)

    def fit(self, frequency, recency, T, weights=None, max_iter: int = 500) -> BGNBDModel:
        """Maximum-likelihood fit on repeat-purchase ``frequency``, ``recency`` and age ``T``."""
        x, t_x, age = _check_rfm(frequency, recency, T)
        if len(x) < 10 or not np.any(x > 0):
            raise DataError(f"BGNBDModel.fit: need at least 10 customers and some repeat "
                            f"purchases, got {len(x)} customers, {int((x > 0).sum())} "
                            "with repeat purchases")
        data, w = _pool([x, t_x, age], weights)
        mean_rate = (w @ data[0]) / (w @ data[2])
        start = np.array([1.0, 1.0 / max(mean_rate, 1e-6), 1.0, 3.0])
        self._maximise(_BGNBDData(*data), w, start, max_iter)
        return self

    def _unpack(self):
        if not hasattr(self, "params_"):
            raise DataError("BGNBDModel: call fit() (or set params_) before predicting")
        return tuple(float(v) for v in self.params_[list(BGNBD_PARAMS)])

    def conditional_probability_alive(self, frequency, recency, T) -> np.ndarray:
        """``P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``."""
        r, alpha, a, b = self._unpack()
        x, t_x, age = _check_rfm(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                         + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x)))
        return np.where(x > 0, special.expit(-log_ratio), 1.0)

    def expected_number_of_purchases_up_to_time(self, t) -> np.ndarray:
        """Unconditional ``E[X(t)]`` for a customer who has just made a first purchase.

        ``E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]``
        (FHL 2005, eq. 9).
        """
        r, alpha, a, b = self._unpack()
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency,
                                                            T) -> np.ndarray:
        """``E[Y(t) | x, t_x, T]``: expected purchases in the next ``t`` periods (FHL eq. 10)."""
        r, alpha, a, b = self._unpack()
        x, t_x, age = _check_rfm(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + age + t))
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp
        return head * body * self.conditional_probability_alive(x, t_x, age)


class GammaGammaModel(_MLEstimator):
    """Gamma-Gamma model of the mean repeat-purchase value (customers with ``x > 0``)."""

    _names = GAMMA_GAMMA_PARAMS

    def _terms(self, params, data, gradient=False):
        return _gamma_gamma_terms(params, data, gradient)

    def fit(self, frequency, monetary, weights=None, max_iter: int = 500) -> GammaGammaModel:
        """Fit on repeat customers; rows with ``frequency == 0`` are ignored."""
        x, m = _as_array(frequency, "frequency"), _as_array(monetary, "monetary")
        if len(x) != len(m):
            raise DataError(f"frequency and monetary must have equal length, got {len(x)} "
                            f"and {len(m)}")
        keep = x > 0
        if np.any(m[keep] <= 0):
            row = int(np.flatnonzero(keep & (m <= 0))[0])
            raise DataError(f"column 'monetary' row {row}: expected a mean purchase value "
                            f"> 0 for a repeat customer, got {m[row]}")
        if keep.sum() < 10:
            raise DataError(f"GammaGammaModel.fit: need at least 10 repeat customers, got "
                            f"{int(keep.sum())}")
        w = None if weights is None else _as_array(weights, "weights")[keep]
        data, w = _pool([x[keep], m[keep]], w)
        spread = np.average(data[1], weights=w)
        self._maximise(data, w, np.array([1.0, 2.0, spread]), max_iter)
        return self

    def conditional_expected_average_profit(self, frequency, monetary) -> np.ndarray:
        """``E[Z | m, x] = p (gamma + x m) / (p x + q - 1)``; population mean when ``x = 0``.

        Notes
        -----
        A weighted average of the population mean ``p gamma / (q - 1)`` and the
        customer's own mean ``m`` with weight ``p x / (p x + q - 1)`` on ``m``.
        """
        if not hasattr(self, "params_"):
            raise DataError("GammaGammaModel: call fit() before predicting")
        p, q, gamma = (float(v) for v in self.params_)
        x = np.asarray(frequency, dtype=float)
        m = np.where(x > 0, np.asarray(monetary, dtype=float), 0.0)
        return p * (gamma + x * m) / (p * x + q - 1)


def customer_lifetime_value(bgnbd: BGNBDModel, gamma_gamma: GammaGammaModel,
                            rfm: pd.DataFrame, horizon_weeks: float = 52.0,
                            discount_rate: float = 0.10, steps_per_year: int = 12,
                            margin: float = 1.0) -> pd.DataFrame:
    """Discounted expected value of each customer's purchases over ``horizon_weeks``.

    Parameters
    ----------
    rfm : DataFrame
        Output of :func:`analysis.behaviour.rfm.rfm_summary` (``frequency``, ``recency``,
        ``T``, ``monetary_value`` in weeks), indexed by customer.
    discount_rate : float
        Annual discount rate, compounded per step (``steps_per_year`` steps a year).
    margin : float
        Profit margin applied to spend (1 = revenue CLV).

    Notes
    -----
    ``CLV = margin * E[Z | m, x] * sum_k (E[Y(t_k)] - E[Y(t_{k-1})]) / (1+d)^(t_k/52)``
    with ``t_k`` the step ends, as in lifetimes ``GammaGammaFitter.customer_lifetime_value``
    (which discounts per month with a monthly rate).
    """
    missing = [c for c in ("frequency", "recency", "T", "monetary_value") if c not in rfm]
    if missing:
        raise DataError(f"customer_lifetime_value: rfm table lacks columns {missing}; "
                        "expected the output of rfm_summary()")
    if not (horizon_weeks > 0 and discount_rate >= 0 and steps_per_year > 0):
        raise DataError("customer_lifetime_value: expected horizon_weeks > 0, "
                        f"discount_rate >= 0, steps_per_year > 0, got {horizon_weeks}, "
                        f"{discount_rate}, {steps_per_year}")
    x, t_x, age = (rfm[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    step = 52.0 / steps_per_year
    ends = np.append(np.arange(step, horizon_weeks, step), horizon_weeks)
    value = gamma_gamma.conditional_expected_average_profit(x, rfm["monetary_value"])
    previous = np.zeros(len(x))
    discounted = np.zeros(len(x))
    for end in ends:
        cumulative = bgnbd.conditional_expected_number_of_purchases_up_to_time(end, x, t_x, age)
        discounted += (cumulative - previous) / (1 + discount_rate) ** (end / 52.0)
        previous = cumulative
    return pd.DataFrame({
        "probability_alive": bgnbd.conditional_probability_alive(x, t_x, age),
        "expected_purchases": previous,
        "expected_average_value": value,
        "clv": margin * value * discounted,
    }, index=rfm.index)
