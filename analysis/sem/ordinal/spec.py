"""Measurement and latent-regression models for ordinal items (delta parameterization).

Turns lavaan syntax (read by :func:`.syntax.parse_model`) or a ``{factor: [items]}``
dict into LISREL-style matrices and a model function for :func:`.wls.fit_dwls`:

    Sigma* = Lambda (I - B)^-1 Psi (I - B)^-T Lambda' + Theta,   diag(Sigma*) = 1,

where Lambda holds item loadings, B regressions among latents (including second-order
loadings ``g =~ f1 + f2``), Psi latent (residual) variances and covariances, and Theta
only the residual covariances between items; the residual variances are not
parameters but 1 - diag(Lambda Phi Lambda'). Thresholds are free. Defaults follow
lavaan's ``cfa()``/``sem()``: first loading fixed to 1 (or ``std_lv``), latent
variances free, covariances free among exogenous latents and among the endogenous
latents that predict nothing (``auto.cov.lv.x``, ``auto.cov.y``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.errors import ModelError
from analysis.sem.syntax import ParsedModel, UserRow, parse_model

__all__ = ["OrdinalModelSpec", "OrdinalParameter", "build_ordinal_spec"]


@dataclass
class OrdinalParameter:
    """One row of the parameter table: where it lives and whether it is free."""

    lhs: str
    op: str
    rhs: str
    label: str
    matrix: str          # "lambda", "beta", "psi", "theta" or "tau"
    row: int
    col: int
    free: int            # index into theta, or -1 when fixed
    value: float         # fixed value, or start value when free
    user_start: bool = False  # the start value was written in the model syntax


class OrdinalModelSpec:
    """Matrices of an ordinal SEM as functions of the free parameters theta."""

    def __init__(self, items, latents, parameters, defined, threshold_counts):
        self.items = list(items)
        self.latents = list(latents)
        self.parameters = list(parameters)
        self.defined = list(defined)
        self.threshold_counts = dict(threshold_counts)
        self.n_free = 1 + max((p.free for p in self.parameters), default=-1)
        pairs = [(i, j) for j in range(len(self.items) - 1) for i in range(j + 1, len(self.items))]
        self._first = np.array([i for i, _ in pairs], dtype=int)
        self._second = np.array([j for _, j in pairs], dtype=int)

    # ------------------------------------------------------------------ matrices
    def matrices(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        p, m = len(self.items), len(self.latents)
        mats = {"lambda": np.zeros((p, m)), "beta": np.zeros((m, m)), "psi": np.zeros((m, m)),
                "theta": np.zeros((p, p)), "tau": np.zeros(sum(self.threshold_counts.values()))}
        for par in self.parameters:
            value = theta[par.free] if par.free >= 0 else par.value
            if par.matrix == "tau":
                mats["tau"][par.row] = value
                continue
            mats[par.matrix][par.row, par.col] = value
            if par.matrix in ("psi", "theta"):
                mats[par.matrix][par.col, par.row] = value
        inverse = np.linalg.inv(np.eye(m) - mats["beta"])
        mats["inverse"] = inverse
        mats["phi"] = inverse @ mats["psi"] @ inverse.T
        mats["common"] = mats["lambda"] @ mats["phi"] @ mats["lambda"].T
        mats["residual_variance"] = 1.0 - np.diag(mats["common"])
        return mats

    def model_fn(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model-implied (thresholds, correlations), in the order of the sample statistics."""
        mats = self.matrices(np.asarray(theta, dtype=float))
        sigma = mats["common"] + mats["theta"]
        return mats["tau"], sigma[self._first, self._second]

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Analytic d(thresholds, correlations) / d theta'."""
        mats = self.matrices(np.asarray(theta, dtype=float))
        lam, phi, inverse = mats["lambda"], mats["phi"], mats["inverse"]
        lam_a, lam_phi = lam @ inverse, lam @ phi
        n_th = mats["tau"].size
        out = np.zeros((n_th + self._first.size, self.n_free))
        i, j = self._first, self._second
        for par in self.parameters:
            if par.free < 0:
                continue
            if par.matrix == "tau":
                out[par.row, par.free] += 1.0
                continue
            r, c = par.row, par.col
            if par.matrix == "lambda":
                d = (i == r) * lam_phi[j, c] + (j == r) * lam_phi[i, c]
            elif par.matrix == "psi":
                d = lam_a[i, r] * lam_a[j, c] + (lam_a[i, c] * lam_a[j, r] if r != c else 0.0)
            elif par.matrix == "beta":
                d = lam_a[i, r] * lam_phi[j, c] + lam_phi[i, c] * lam_a[j, r]
            else:  # theta: residual covariance between items r and c
                d = ((i == r) & (j == c)) | ((i == c) & (j == r))
            out[n_th:, par.free] += d
        return out

    def start_values(self) -> np.ndarray:
        theta = np.zeros(self.n_free)
        for par in self.parameters:
            if par.free >= 0:
                theta[par.free] = par.value
        return theta

    def set_loading_starts(self, correlation: np.ndarray) -> None:
        """Start item loadings and factor variances from the polychoric correlations.

        A constant start (1.0 for every loading) points the wrong way when an item is
        reverse-keyed relative to the factor's first (marker) item, and DWLS can then
        wander off to an improper solution. Under a congeneric factor with marker m,
        r(m, j) = lambda_j psi and r(j, k) = lambda_j lambda_k psi, so psi is estimated
        by the median of r(m, j) r(m, k) / r(j, k) over indicator pairs and lambda_j by
        r(m, j) / psi: sign-correct and close to the solution, in the spirit of lavaan's
        non-iterative "fabin" starts. Starts written in the syntax are kept.
        """
        for k, latent in enumerate(self.latents):
            loadings = [p for p in self.parameters if p.matrix == "lambda" and p.col == k]
            marker = next((p for p in loadings if p.free < 0 and p.value != 0), None)
            others = [p.row for p in loadings if marker is None or p.row != marker.row]
            if marker is None or not others:
                continue
            m = marker.row
            ratios = [correlation[m, j] * correlation[m, i] / correlation[j, i]
                      for a, j in enumerate(others) for i in others[a + 1:] if abs(correlation[j, i]) > 0.05]
            psi = float(np.clip(np.median(ratios), 0.05, 1.0)) if ratios else 0.5
            for par in self.parameters:
                if par.user_start or par.free < 0:
                    continue
                if par.matrix == "lambda" and par.col == k and par.row != m:
                    par.value = float(np.clip(correlation[m, par.row] / psi, -3.0, 3.0)) / marker.value
                elif par.matrix == "psi" and par.row == k and par.col == k:
                    par.value = psi * marker.value ** 2

    def set_thresholds(self, sample_thresholds: np.ndarray) -> None:
        """Use the sample thresholds as starting values (they are the DWLS solution when free)."""
        for par in self.parameters:
            if par.matrix == "tau" and par.free >= 0:
                par.value = float(sample_thresholds[par.row])


def _single(values, what: str, row: UserRow):
    if values is None:
        return None
    if len(values) != 1:
        raise ModelError(f"model syntax line {row.line}: {what} with one value per group (c(...)) in "
                         f"'{row.lhs} {row.op} {row.rhs}' needs a multigroup fit, which the ordinal "
                         "estimator does not support")
    return values[0]


def _parsed_from_dict(factors: dict) -> str:
    lines = []
    for factor, indicators in factors.items():
        if isinstance(indicators, str) or not indicators:
            raise ModelError(f"factor {factor!r}: expected a non-empty list of item names, got {indicators!r}")
        lines.append(f"{factor} =~ " + " + ".join(map(str, indicators)))
    return "\n".join(lines)


def build_ordinal_spec(model, threshold_counts: dict[str, int] | None = None, *,
                       std_lv: bool = False) -> tuple[OrdinalModelSpec, ParsedModel]:
    """Parameter table and matrices of an ordinal model.

    Parameters
    ----------
    model : str or dict
        lavaan syntax (``=~``, ``~`` among latents, ``~~`` among latents or between
        items' residuals, modifiers ``1*``, ``NA*``, labels, ``==``, ``:=``) or a
        ``{factor: [items]}`` dict.
    threshold_counts : dict, optional
        Item -> number of thresholds (categories - 1); without it the spec has no
        threshold parameters yet (used to list the model's items).
    std_lv : bool
        Identify latents by unit (residual) variances instead of first loadings.
    """
    text = _parsed_from_dict(model) if isinstance(model, dict) else model
    parsed = parse_model(text)
    latents = parsed.latent_names
    if not latents:
        raise ModelError("the ordinal estimator needs at least one latent variable ('f =~ item1 + item2 + ...')")
    items: list[str] = []
    for row in parsed.rows:
        if row.op == "~1":
            raise ModelError(f"model syntax line {row.line}: intercepts/means ('~ 1') are not part of the "
                             "ordinal (delta) parameterization; thresholds are estimated instead")
        for name in (row.lhs, row.rhs):
            if name not in latents and name not in items:
                if row.op == "~":
                    raise ModelError(f"model syntax line {row.line}: '{row.lhs} ~ {row.rhs}' involves the "
                                     f"observed variable {name!r}; the ordinal estimator supports regressions "
                                     "among latent variables only")
                items.append(name)
    indicators = {row.rhs for row in parsed.rows if row.op == "=~"}
    stray = [name for name in items if name not in indicators]
    if stray:
        raise ModelError(f"variables {', '.join(stray)} appear in the model but are not indicators of a latent "
                         "variable; every ordinal item must load on a factor ('f =~ ...')")

    # union-find over labels joined by 'a == b'
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        while parent.get(label, label) != label:
            label = parent[label]
        return label

    for a, b, _ in parsed.equalities:
        parent[root(a)] = root(b)

    parameters: list[OrdinalParameter] = []
    label_index: dict[str, int] = {}
    counter = [0]

    def add(lhs, op, rhs, matrix, r, c, fixed, label, start, user_start=False):
        if fixed is not None:
            free = -1
        elif label and root(label) in label_index:
            free = label_index[root(label)]
        else:
            free = counter[0]
            counter[0] += 1
            if label:
                label_index[root(label)] = free
        parameters.append(OrdinalParameter(lhs, op, rhs, label or "", matrix, r, c, free,
                                           float(fixed if fixed is not None else start), user_start))

    lat = {name: k for k, name in enumerate(latents)}
    itm = {name: k for k, name in enumerate(items)}
    seen_first: set[str] = set()
    user_psi: set[frozenset] = set()
    for row in parsed.rows:
        fixed = _single(row.fixed, "fixed values", row)
        label = _single(row.label, "labels", row)
        start = _single(row.start, "start values", row)
        explicit_free = row.fixed is not None and fixed is None
        if row.op == "=~":
            first = row.lhs not in seen_first
            seen_first.add(row.lhs)
            if fixed is None and first and not std_lv and not explicit_free:
                fixed = 1.0
            default = 0.7 if std_lv else 1.0
            if row.rhs in lat:
                add(row.lhs, "=~", row.rhs, "beta", lat[row.rhs], lat[row.lhs], fixed, label,
                    start if start is not None else default)
            else:
                add(row.lhs, "=~", row.rhs, "lambda", itm[row.rhs], lat[row.lhs], fixed, label,
                    start if start is not None else default, start is not None)
        elif row.op == "~":
            add(row.lhs, "~", row.rhs, "beta", lat[row.lhs], lat[row.rhs], fixed, label,
                start if start is not None else 0.0)
        elif row.op == "~~":
            if row.lhs in lat and row.rhs in lat:
                user_psi.add(frozenset((row.lhs, row.rhs)))
                same = row.lhs == row.rhs
                add(row.lhs, "~~", row.rhs, "psi", lat[row.lhs], lat[row.rhs], fixed, label,
                    start if start is not None else (0.5 if same else 0.0), start is not None)
            elif row.lhs in itm and row.rhs in itm and row.lhs != row.rhs:
                add(row.lhs, "~~", row.rhs, "theta", itm[row.lhs], itm[row.rhs], fixed, label,
                    start if start is not None else 0.0)
            elif row.lhs == row.rhs:
                raise ModelError(f"model syntax line {row.line}: '{row.lhs} ~~ {row.rhs}': residual variances of "
                                 "ordinal items are not free parameters in the delta parameterization "
                                 "(they equal 1 minus the explained variance)")
            else:
                raise ModelError(f"model syntax line {row.line}: '{row.lhs} ~~ {row.rhs}' mixes an item and a "
                                 "latent variable; covariances must be between two latents or two items")

    regressed = {row.lhs for row in parsed.rows if row.op == "~"}
    predictors = {row.rhs for row in parsed.rows if row.op == "~"}
    latent_indicators = {row.rhs for row in parsed.rows if row.op == "=~" and row.rhs in lat}
    exogenous = [f for f in latents if f not in regressed and f not in latent_indicators]
    pure_y = [f for f in latents if f in regressed and f not in predictors]
    for f in latents:
        if frozenset((f,)) not in user_psi:
            add(f, "~~", f, "psi", lat[f], lat[f], 1.0 if std_lv else None, "", 0.5)
    for group in (exogenous, pure_y):
        for a_pos, a in enumerate(group):
            for b in group[a_pos + 1:]:
                if frozenset((a, b)) not in user_psi:
                    add(a, "~~", b, "psi", lat[a], lat[b], None, "", 0.0)
    if threshold_counts is not None:
        position = 0
        for name in items:
            for t in range(threshold_counts[name]):
                add(name, "|", f"t{t + 1}", "tau", position, 0, None, "", 0.0)
                position += 1
        counts = {name: threshold_counts[name] for name in items}
    else:
        counts = {name: 0 for name in items}
    return OrdinalModelSpec(items, latents, parameters, parsed.defined, counts), parsed
