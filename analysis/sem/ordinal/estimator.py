"""Ordinal CFA / SEM by WLSMV: polychorics, DWLS, robust SEs, scaled-shifted test.

:class:`OrdinalCFA` is the estimator a user calls; the pieces are reusable:
:mod:`.ordinal_moments` (thresholds, polychorics, Gamma), :mod:`.ordinal_spec`
(model matrices, delta parameterization) and :mod:`.wls` (the model-agnostic DWLS
estimator and test statistics). Results mirror ``lavaan::cfa(model, data, ordered =
items)`` with its defaults (``estimator = "WLSMV"``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import DataError, ModelError
from analysis.sem.engine.identification import check_rank
from analysis.sem.admissibility import check_admissibility
from analysis.sem.defined import delta_method_se, evaluate
from analysis.sem.fitted import FittedSEM
from analysis.sem.ordinal.moments import ordinal_sample_stats
from analysis.sem.ordinal.spec import OrdinalModelSpec, build_ordinal_spec
from analysis.sem.ordinal.wls import (
    DWLSResult,
    dwls_fit_measures,
    fit_dwls,
    independence_baseline,
)

__all__ = ["OrdinalCFA"]

_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_all"]


class OrdinalCFA(FittedSEM):
    """Confirmatory factor model (with optional latent regressions) for ordinal items.

    Parameters
    ----------
    model : str or dict
        lavaan syntax or ``{factor: [items]}``. Supported: ``=~`` (items or latents as
        indicators), ``~`` among latents, ``~~`` among latents or between item
        residuals, modifiers (``1*x``, ``NA*x``, labels), ``a == b`` and ``:=``.
    std_lv : bool
        Fix latent (residual) variances to 1 and free all loadings.
    ci_level : float
        Level of the Wald intervals in the parameter table.
    rmsea_level : float
        Level of the RMSEA interval.

    Attributes
    ----------
    estimates_ : DataFrame
        lhs, op, rhs, label, est, se, z, pvalue, ci_lower, ci_upper, std_all; thresholds
        as lavaan: lhs = item, op = "|", rhs = "t1", ...; item residual variances
        (derived, delta parameterization) and fixed parameters have se = NaN.
    fit_ : dict
        chisq, df, pvalue, chisq_scaled, df_scaled, pvalue_scaled, cfi, tli, rmsea
        (+ CI), cfi_scaled, tli_scaled, rmsea_scaled, srmr, wrmr, baseline_*, npar, n,
        n_dropped, estimator = "WLSMV".
    sample_stats_ : OrdinalSampleStats
    result_ : DWLSResult
    r2_ : Series
    n_, n_dropped_ : int
    warnings_ : list of str
        Estimation problems and improper solutions (negative residual variances,
        |standardized| > 1, non-positive-definite latent covariance, non-convergence).

    Notes
    -----
    Checked against ``lavaan::cfa(model, data, ordered = items)`` (lavaan 0.6.14) on the
    Holzinger-Swineford items cut into quartiles: estimates to 1e-6, SEs and
    chi-squares to 1e-5 relative (tests/test_ordinal.py).
    """

    def __init__(self, model, *, std_lv: bool = False, ci_level: float = 0.95, rmsea_level: float = 0.90):
        if not isinstance(model, (str, dict)):
            raise ModelError(f"model must be lavaan syntax (str) or a {{factor: [items]}} dict, "
                             f"got {type(model).__name__}")
        self.model = model
        self.std_lv = std_lv
        self.ci_level = ci_level
        self.rmsea_level = rmsea_level
        spec, _ = build_ordinal_spec(model, std_lv=std_lv)
        self.items = spec.items
        self.latents = spec.latents

    # ----------------------------------------------------------------- fitting
    def _check_columns(self, data: pd.DataFrame, ordered) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        absent = [name for name in self.items if name not in data.columns]
        if absent:
            raise ModelError(f"the model uses variables absent from the data: {', '.join(absent)}; "
                             f"available columns: {', '.join(map(str, data.columns))}")
        if ordered is None or (isinstance(ordered, str) and ordered == "all") or ordered is True:
            return
        ordered = [ordered] if isinstance(ordered, str) else list(ordered)
        continuous = [name for name in self.items if name not in ordered]
        if continuous:
            raise ModelError(f"the ordinal (WLSMV) estimator needs every indicator declared ordered; not ordered: "
                             f"{', '.join(continuous)} (use 'all', or the ML/MLR estimator for continuous items)")

    def fit(self, data: pd.DataFrame, ordered=None, missing: str = "listwise") -> OrdinalCFA:
        """Estimate by WLSMV.

        Parameters
        ----------
        data : DataFrame
            Item scores (numeric category codes or ordered categoricals).
        ordered : "all", list of str or None
            Ordinal items; every model indicator must be among them (None = all).
        missing : {"listwise", "pairwise"}
            lavaan's options for ordered data: complete rows only (default), or all
            available values (thresholds per item, polychorics per pair).
        """
        self._check_columns(data, ordered)
        sample = ordinal_sample_stats(data, self.items, missing=missing)
        counts = Counter(variable for variable, _ in sample.threshold_names)
        spec, _ = build_ordinal_spec(self.model, counts, std_lv=self.std_lv)
        spec.set_thresholds(sample.thresholds)
        spec.set_loading_starts(sample.correlation.loc[spec.items, spec.items].to_numpy(dtype=float))
        result = fit_dwls(sample, spec.model_fn, spec.start_values(), jacobian_fn=spec.jacobian)
        # not identified (e.g. a single-indicator factor with a free variance): an error naming the
        # parameters, never estimates with standard errors
        first = {}
        for par in spec.parameters:
            if par.free >= 0:
                first.setdefault(par.free, f"{par.lhs} {par.op} {par.rhs}")
        names = [first[k] for k in sorted(first)]
        weights = np.asarray(sample.dwls_weights, dtype=float)
        if len(names) == result.jacobian.shape[1]:
            check_rank(result.jacobian.T @ (result.jacobian * weights[:, None]), names)
        baseline = independence_baseline(sample)
        self.spec_, self.sample_stats_, self.result_ = spec, sample, result
        self.n_, self.n_dropped_ = sample.n, sample.n_dropped
        self.fit_ = dwls_fit_measures(result, baseline, len(spec.items), sample.n_thresholds, self.rmsea_level)
        self.fit_.update(estimator="WLSMV", n_dropped=sample.n_dropped)
        self.matrices_ = spec.matrices(result.theta)
        self.estimates_ = self._parameter_table(spec, result)
        self.r2_ = self._r_squared()
        self.warnings_ = list(sample.notes) + list(result.notes) + self._admissibility()
        return self

    # ---------------------------------------------------------------- tables
    def _standardized(self, spec: OrdinalModelSpec, mats: dict) -> list[float]:
        phi, psi = mats["phi"], mats["psi"]
        sd = np.sqrt(np.clip(np.diag(phi), 0.0, None))
        residual = mats["residual_variance"]
        values = []
        for par in spec.parameters:
            value = mats[par.matrix][par.row] if par.matrix == "tau" else mats[par.matrix][par.row, par.col]
            r, c = par.row, par.col
            with np.errstate(divide="ignore", invalid="ignore"):
                if par.matrix == "lambda":
                    std = value * sd[c]
                elif par.matrix == "beta":
                    std = value * sd[c] / sd[r]
                elif par.matrix == "psi":
                    std = value / phi[r, r] if r == c else value / np.sqrt(psi[r, r] * psi[c, c])
                elif par.matrix == "theta":
                    std = value / np.sqrt(residual[r] * residual[c])
                else:
                    std = value
            values.append(float(std))
        return values

    def _parameter_table(self, spec: OrdinalModelSpec, result: DWLSResult) -> pd.DataFrame:
        mats = self.matrices_
        se_free = result.se
        rows = []
        for par, std in zip(spec.parameters, self._standardized(spec, mats)):
            est = mats["tau"][par.row] if par.matrix == "tau" else mats[par.matrix][par.row, par.col]
            rows.append({"lhs": par.lhs, "op": par.op, "rhs": par.rhs, "label": par.label, "est": float(est),
                         "se": float(se_free[par.free]) if par.free >= 0 else np.nan, "std_all": std})
        residual = mats["residual_variance"]
        for k, item in enumerate(spec.items):
            rows.append({"lhs": item, "op": "~~", "rhs": item, "label": "", "est": float(residual[k]),
                         "se": np.nan, "std_all": float(residual[k])})
        table = pd.DataFrame(rows)
        crit = stats.norm.ppf(0.5 + self.ci_level / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["z"] = table["est"] / table["se"]
        table["pvalue"] = 2 * stats.norm.sf(np.abs(table["z"]))
        table["ci_lower"] = np.where(table["se"].isna(), table["est"], table["est"] - crit * table["se"])
        table["ci_upper"] = np.where(table["se"].isna(), table["est"], table["est"] + crit * table["se"])
        order = {"=~": 0, "~": 1, "~~": 2, "|": 3}
        user_cov = (table["op"] == "~~") & (table["lhs"] != table["rhs"])
        rank = table["op"].map(order) + np.where((table["op"] == "~~") & ~user_cov, 2, 0)
        table = table.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")
        defined = self._defined_rows(spec, result, table, crit)
        if len(defined):
            table = pd.concat([table, defined], ignore_index=True)
        return table[_COLUMNS].reset_index(drop=True)

    def _defined_rows(self, spec, result, table, crit) -> pd.DataFrame:
        if not spec.defined:
            return pd.DataFrame(columns=_COLUMNS)
        labelled = table[table["label"] != ""].drop_duplicates("label").set_index("label")
        free_of = {p.label: p.free for p in spec.parameters if p.label}
        rows = []
        for parameter in spec.defined:
            values = {name: float(labelled.at[name, "est"]) for name in parameter.labels}
            index = [free_of[name] for name in parameter.labels]
            cov = np.zeros((len(index), len(index)))
            for a, ia in enumerate(index):
                for b, ib in enumerate(index):
                    if ia >= 0 and ib >= 0:
                        cov[a, b] = result.vcov[ia, ib]
            est = evaluate(parameter.expression, values)
            se = delta_method_se(parameter.expression, values, cov, list(parameter.labels))
            z = est / se if se > 0 else np.nan
            rows.append({"lhs": parameter.name, "op": ":=", "rhs": parameter.expression, "label": parameter.name,
                         "est": est, "se": se, "z": z, "pvalue": 2 * stats.norm.sf(abs(z)),
                         "ci_lower": est - crit * se, "ci_upper": est + crit * se,
                         "std_all": evaluate(parameter.expression, labelled["std_all"].to_dict())})
        return pd.DataFrame(rows)

    def _r_squared(self) -> pd.Series:
        mats = self.matrices_
        r2 = {item: 1.0 - float(v) for item, v in zip(self.spec_.items, mats["residual_variance"])}
        endogenous = {p.lhs if p.op == "~" else p.rhs for p in self.spec_.parameters
                      if p.matrix == "beta"}
        for k, name in enumerate(self.spec_.latents):
            if name in endogenous:
                r2[name] = 1.0 - float(mats["psi"][k, k] / mats["phi"][k, k])
        return pd.Series(r2, name="r2", dtype=float)

    def _admissibility(self) -> list[str]:
        # item residual variances are derived (1 - explained) and belong in the check
        phi = pd.DataFrame(self.matrices_["phi"], index=self.spec_.latents, columns=self.spec_.latents)
        self.problems_ = check_admissibility(self.estimates_[self.estimates_["op"] != "|"], latent_covariance=phi)
        return [problem.message for problem in self.problems_]

    # --------------------------------------------------------------- results

    def __repr__(self) -> str:
        fitted = f", n={self.n_}" if hasattr(self, "n_") else ""
        return f"OrdinalCFA(latents={self.latents}, items={len(self.items)}{fitted})"
