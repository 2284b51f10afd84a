"""Standard bivariate normal distribution: a fast, vectorised CDF and density.

``scipy.stats.multivariate_normal.cdf`` integrates by quasi-Monte Carlo one point at a
time; the polychoric likelihood needs thousands of rectangle probabilities per
iteration, so this module implements Genz's (2004) ``BVND`` algorithm with numpy
broadcasting instead. Its absolute error is below 1e-15 for all arguments (20-point
Gauss-Legendre quadrature of the Drezner-Wesolowsky integral for |rho| < 0.925, and
of Genz's transformed integral with an asymptotic correction above), the same routine
lavaan uses through ``pbivnorm``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["bivariate_normal_cdf", "bivariate_normal_pdf"]

# 20-point Gauss-Legendre nodes and weights on [-1, 1] (positive half; symmetric).
_GL_X = np.array([
    0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188,
    0.7463319064601508, 0.6360536807265150, 0.5108670019508271, 0.3737060887154196,
    0.2277858511416451, 0.07652652113349733,
])
_GL_W = np.array([
    0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
    0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
    0.1491729864726037, 0.1527533871307259,
])
# nodes mapped to [0, 2] as in Genz's code: (1 - x, 1 + x)
_NODES = np.concatenate([1.0 - _GL_X, 1.0 + _GL_X])
_WEIGHTS = np.concatenate([_GL_W, _GL_W])
_TWO_PI = 2.0 * np.pi


def _upper_moderate(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for |r| < 0.925 (Drezner-Wesolowsky integral over asin(r))."""
    hk = h * k
    hs = (h * h + k * k) / 2.0
    asr = np.arcsin(r) / 2.0
    sn = np.sin(asr[:, None] * _NODES[None, :])
    integral = np.exp((sn * hk[:, None] - hs[:, None]) / (1.0 - sn * sn)) @ _WEIGHTS
    return integral * asr / _TWO_PI + ndtr(-h) * ndtr(-k)


def _upper_strong(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for 0.925 <= |r| < 1 (Genz's transformed integral)."""
    negative = r < 0
    k = np.where(negative, -k, k)
    hk = h * k
    a_sq = (1.0 - r) * (1.0 + r)
    a = np.sqrt(a_sq)
    bs = (h - k) ** 2
    c = (4.0 - hk) / 8.0
    d = (12.0 - hk) / 80.0
    asr = -(bs / a_sq + hk) / 2.0
    with np.errstate(under="ignore"):
        bvn = np.where(asr > -100.0,
                       a * np.exp(asr) * (1.0 - c * (bs - a_sq) * (1.0 - d * bs) / 3.0 + c * d * a_sq * a_sq),
                       0.0)
        b = np.sqrt(bs)
        sp = np.sqrt(_TWO_PI) * ndtr(-b / a)
        bvn = bvn - np.where(hk > -100.0, np.exp(-np.minimum(hk, 200.0) / 2.0) * sp * b
                             * (1.0 - c * bs * (1.0 - d * bs) / 3.0), 0.0)
        half = a / 2.0
        xs = (half[:, None] * _NODES[None, :]) ** 2
        asr_nodes = -(bs[:, None] / xs + hk[:, None]) / 2.0
        keep = asr_nodes > -100.0
        sp_nodes = 1.0 + c[:, None] * xs * (1.0 + 5.0 * d[:, None] * xs)
        rs = np.sqrt(1.0 - xs)
        ep = np.exp(-(hk[:, None] / 2.0) * xs / (1.0 + rs) ** 2) / rs
        terms = np.where(keep, np.exp(np.where(keep, asr_nodes, 0.0)) * (sp_nodes - ep), 0.0)
    bvn = (half * (terms @ _WEIGHTS) - bvn) / _TWO_PI
    positive_part = bvn + ndtr(-np.maximum(h, k))
    lower_gap = np.where(h < 0, ndtr(k) - ndtr(h), ndtr(-h) - ndtr(-k))
    negative_part = np.where(h >= k, -bvn, lower_gap - bvn)
    return np.where(negative, negative_part, positive_part)


def bivariate_normal_cdf(h, k, rho) -> np.ndarray:
    """P(X <= h, Y <= k) for standard bivariate normal (X, Y) with correlation ``rho``.

    Parameters
    ----------
    h, k : array_like
        Upper integration limits; ``-inf`` and ``+inf`` are allowed. Broadcast together
        with ``rho``.
    rho : array_like
        Correlation in [-1, 1].

    Returns
    -------
    ndarray
        Probabilities, clipped to [0, 1], with the broadcast shape of the inputs.

    Notes
    -----
    Phi2(h, k; rho) = BVND(-h, -k; rho), Genz (2004), "Numerical computation of
    rectangular bivariate and trivariate normal and t probabilities", Statistics and
    Computing 14, 251-260; the same algorithm as R's ``pbivnorm::pbivnorm`` and
    ``mvtnorm::pmvnorm`` in two dimensions (absolute error < 1e-15). Infinite limits are
    reduced to univariate normal probabilities; |rho| = 1 gives the degenerate limits.
    """
    h, k, rho = np.broadcast_arrays(np.asarray(h, dtype=float), np.asarray(k, dtype=float),
                                    np.asarray(rho, dtype=float))
    shape = h.shape
    h, k, rho = h.ravel(), k.ravel(), rho.ravel()
    out = np.empty(h.size)
    finite = np.isfinite(h) & np.isfinite(k)
    # at least one infinite limit: the probability is univariate (or 0 / 1)
    inf = ~finite
    hi, ki = h[inf], k[inf]
    out[inf] = np.where((hi == -np.inf) | (ki == -np.inf), 0.0, ndtr(np.minimum(hi, ki)))
    perfect = finite & (np.abs(rho) >= 1.0)
    if perfect.any():
        hp, kp, rp = h[perfect], k[perfect], rho[perfect]
        out[perfect] = np.where(rp > 0, ndtr(np.minimum(hp, kp)), np.maximum(ndtr(hp) - ndtr(-kp), 0.0))
    regular = finite & ~perfect
    moderate = regular & (np.abs(rho) < 0.925)
    strong = regular & ~moderate
    if moderate.any():
        out[moderate] = _upper_moderate(-h[moderate], -k[moderate], rho[moderate])
    if strong.any():
        out[strong] = _upper_strong(-h[strong], -k[strong], rho[strong])
    return np.clip(out, 0.0, 1.0).reshape(shape)


def bivariate_normal_pdf(h, k, rho) -> np.ndarray:
    """Density of the standard bivariate normal with correlation ``rho``; 0 at infinite limits.

    Notes
    -----
    phi2(h, k; rho) = exp(-(h^2 - 2 rho h k + k^2) / (2 (1 - rho^2))) / (2 pi sqrt(1 - rho^2)),
    which is also d Phi2 / d rho (Plackett's identity), the derivative the polychoric
    likelihood needs.
    """
    h, k, rho = np.broadcast_arrays(np.asarray(h, dtype=float), np.asarray(k, dtype=float),
                                    np.asarray(rho, dtype=float))
    one_minus = (1.0 - rho) * (1.0 + rho)
    finite = np.isfinite(h) & np.isfinite(k)
    hf = np.where(finite, h, 0.0)
    kf = np.where(finite, k, 0.0)
    with np.errstate(under="ignore"):
        density = np.exp(-(hf * hf - 2.0 * rho * hf * kf + kf * kf) / (2.0 * one_minus)) / (
            _TWO_PI * np.sqrt(one_minus))
    return np.where(finite, density, 0.0)
