"""Maximum-likelihood SEM fitted with semopy, reported the way lavaan reports it.

semopy does the estimation; this module adds what a published analysis needs and
semopy lacks or reports differently: a lavaan-style parameter table (``=~`` for
loadings, labels, Wald confidence intervals, ``std_all``), lavaan-comparable fit
measures (SRMR, RMSEA interval, log-likelihood, AIC/BIC; see :mod:`.indices`), R²,
admissibility checks (Heywood cases, non-convergence) and clear errors for bad input.

Missing values: semopy's ML objective silently turns missing cells into pairwise
covariances while keeping N as the row count; here rows with missing values in the
model's variables are removed (listwise) *before* fitting, and ``n_`` and
``n_dropped_`` report it.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import semopy
from scipy import stats

from analysis.errors import ConvergenceError, DataError, ModelError, check_choice
from analysis.sem.admissibility import check_admissibility
from analysis.sem.defined import delta_method_se, evaluate, split_defined
from analysis.sem.effects import LatentStructure
from analysis.sem.fit_indices import fit_measures
from analysis.sem.fitted import FittedSEM
from analysis.sem.syntax import parse_model

__all__ = ["StructuralEquationModel", "latent_structure", "SOLVER_OPTIONS", "quiet_semopy"]

_MIN_ROWS = 10
ESTIMATORS = ("ML", "MLR")
# semopy's default SLSQP tolerance leaves estimates ~1e-3 from lavaan's optimum; 1e-12 agrees to 1e-6.
SOLVER_OPTIONS = {"ftol": 1e-12, "maxiter": 10000}


@contextlib.contextmanager
def quiet_semopy() -> Iterator[None]:
    """Silence semopy's per-fit log messages for the duration, then restore its level."""
    logger = logging.getLogger("semopy")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def latent_structure(model: semopy.Model) -> LatentStructure:
    """Read B, Psi and the implied inner covariance C = (I-B)^-1 Psi (I-B)^-T."""
    names = tuple(model.names_beta[0])
    beta = np.asarray(model.mx_beta, dtype=float)
    psi = np.asarray(model.mx_psi, dtype=float)
    inverse = np.linalg.inv(np.eye(len(names)) - beta)
    return LatentStructure(names, beta, inverse @ psi @ inverse.T)


def _parse(model_syntax: str) -> dict:
    model_syntax, _ = split_defined(model_syntax)
    parse_model(model_syntax)  # the workbench's parser: one-line messages with the line number
    try:
        ops, _ = semopy.parser.parse_desc(model_syntax)
    except Exception as exc:  # semopy raises bare Exceptions/SyntaxErrors
        detail = " ".join(str(exc).split())
        raise ModelError(f"model syntax could not be parsed: {detail}") from None
    if not ops.get("=~") and not ops.get("~"):
        raise ModelError("model syntax defines no latent variables (=~) and no regressions (~); "
                         f"received: {model_syntax.strip()[:200]!r}")
    return ops


class StructuralEquationModel(FittedSEM):
    """A structural equation model in lavaan syntax, fitted by ML with semopy.

    Parameters
    ----------
    model : str
        lavaan/semopy model syntax (``=~`` measurement, ``~`` regression,
        ``~~`` covariance, ``label*variable`` labels, numbers fix parameters).
    ci_level : float
        Level of the Wald confidence intervals in the parameter table.
    rmsea_level : float
        Level of the RMSEA confidence interval (lavaan default 0.90).

    Attributes
    ----------
    estimates_ : DataFrame
        lavaan-style table: lhs, op, rhs, label, est, se, z, pvalue, ci_lower,
        ci_upper, std_all.
    fit_ : dict
        chisq, df, pvalue, cfi, tli, rmsea (+ 90% CI), srmr, loglik, aic, bic, n, ...
    r2_ : Series
        Explained variance of every endogenous latent and observed variable.
    n_, n_dropped_ : int
        Rows used and rows removed for missing values.
    warnings_ : list of str
        Admissibility problems (Heywood cases, |std| > 1, non-positive-definite
        matrices) as sentences; ``problems_`` holds them as structured records.
    """

    def __init__(self, model: str, *, estimator: str = "ML", ci_level: float = 0.95, rmsea_level: float = 0.90):
        check_choice("estimator", estimator, ESTIMATORS)
        self.estimator = estimator
        self.model = model
        self.ci_level = ci_level
        self.rmsea_level = rmsea_level
        self.core_model, self.defined_ = split_defined(model)
        self._ops = _parse(self.core_model)
        labels = {label for table in self._ops.values() for row in table.values() for label in row.values()
                  if label is not None}
        for parameter in self.defined_:
            unknown = [name for name in parameter.labels if name not in labels]
            if unknown:
                raise ModelError(f"defined parameter {parameter.name!r} uses unknown label(s) "
                                 f"{', '.join(unknown)}; labels in the model: {', '.join(sorted(labels)) or 'none'}")

    # ------------------------------------------------------------------ inputs
    def _prepare(self, data: pd.DataFrame, observed: list[str]) -> pd.DataFrame:
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        missing = [v for v in observed if v not in data.columns]
        if missing:
            raise ModelError(
                f"the model uses variables absent from the data: {', '.join(missing)}; "
                f"available columns: {', '.join(map(str, data.columns))}")
        frame = data[observed]
        for column in observed:
            if not (pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column])):
                bad = frame[column][pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()]
                example = f"; first non-numeric value {bad.iloc[0]!r} at index {bad.index[0]}" if len(bad) else ""
                raise DataError(f"column {column!r} must be numeric, got dtype {frame[column].dtype}{example}")
        frame = frame.astype(float)
        complete = frame.dropna()
        self.n_dropped_ = len(frame) - len(complete)
        if len(complete) < _MIN_ROWS:
            raise DataError(f"only {len(complete)} complete rows for {len(observed)} model variables "
                            f"({self.n_dropped_} rows with missing values removed); need at least {_MIN_ROWS}")
        constant = [c for c in observed if complete[c].std() == 0]
        if constant:
            raise DataError(f"columns with zero variance cannot be modelled: {', '.join(constant)}")
        return complete

    # --------------------------------------------------------------- fitting
    def fit(self, data: pd.DataFrame) -> StructuralEquationModel:
        """Fit by maximum likelihood on the complete rows of ``data``."""
        model = semopy.Model(self.core_model)
        frame = self._prepare(data, list(model.vars["observed"]))
        with warnings.catch_warnings(), quiet_semopy():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = model.fit(frame, options=dict(SOLVER_OPTIONS))
        if not result.success or not np.all(np.isfinite(model.param_vals)):
            raise ConvergenceError(
                f"the model did not converge ({result.message}; {result.n_it} iterations). "
                "Check for empty or nearly constant items, too few rows, or an unidentified model.")
        self.semopy_model_ = model
        self.n_ = int(model.n_samples)
        self.sample_cov_ = np.asarray(model.mx_cov, dtype=float)
        self.implied_cov_ = np.asarray(model.calc_sigma()[0], dtype=float)
        self.observed_ = list(model.vars["observed"])
        self.fit_ = fit_measures(self.sample_cov_, self.implied_cov_, self.n_, len(model.param_vals),
                                 self.rmsea_level)
        self.fit_["estimator"] = self.estimator
        self.vcov_ = np.asarray(model.calc_fim(inverse=True)[1], dtype=float)
        self._robust = None
        if self.estimator == "MLR":
            from analysis.sem.robust import semopy_robust_ml

            self._robust = semopy_robust_ml(model)
            self.vcov_ = np.asarray(self._robust.vcov, dtype=float)
            self.fit_.update(self._robust.fit)
        self.fit_["n_dropped"] = self.n_dropped_
        self.structure_ = latent_structure(model)
        self.estimates_ = self._parameter_table(model)
        self.r2_ = self._r_squared()
        self.warnings_ = self._admissibility()
        return self

    def _label(self, op: str, lhs: str, rhs: str) -> str:
        table = self._ops.get(op, {})
        label = table.get(lhs, {}).get(rhs)
        if label is None and op == "~~":
            label = table.get(rhs, {}).get(lhs)
        if label is None:
            return ""
        try:
            float(label)
            return ""  # a number fixes the parameter; it is not a label
        except ValueError:
            return str(label)

    def _parameter_table(self, model: semopy.Model) -> pd.DataFrame:
        raw = model.inspect(std_est=True)
        measurement = self._ops.get("=~", {})
        rows = []
        for rec in raw.itertuples(index=False):
            lval, op, rval = rec[0], rec[1], rec[2]
            if op == "~" and lval in measurement.get(rval, {}):
                lhs, op, rhs = rval, "=~", lval
            else:
                lhs, rhs = lval, rval
            se = pd.to_numeric(rec[5], errors="coerce")
            rows.append({"lhs": lhs, "op": op, "rhs": rhs, "label": self._label(op, lhs, rhs),
                         "est": float(rec[3]), "se": se, "std_all": float(rec[4])})
        table = pd.DataFrame(rows)
        table["std_all"] = self._residual_correlations(table)
        table["se"] = table["se"].astype(float)
        if self._robust is not None:
            table["se"] = self._robust_standard_errors(model, table)
        table["z"] = table["est"] / table["se"]
        table["pvalue"] = 2 * stats.norm.sf(np.abs(table["z"]))
        crit = stats.norm.ppf(0.5 + self.ci_level / 2)
        fixed = table["se"].isna()
        table["ci_lower"] = np.where(fixed, table["est"], table["est"] - crit * table["se"])
        table["ci_upper"] = np.where(fixed, table["est"], table["est"] + crit * table["se"])
        defined = self._defined_rows(model, table, crit)
        if len(defined):
            table = pd.concat([table, defined], ignore_index=True)
        order = {"=~": 0, "~": 1, "~~": 2, ":=": 3}
        table["_order"] = table["op"].map(order).fillna(3)
        table = table.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
        return table[["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_all"]]

    def _robust_standard_errors(self, model: semopy.Model, table: pd.DataFrame) -> pd.Series:
        """Huber-White SEs (MLR) placed on the rows of the parameter table."""
        from analysis.sem.robust import semopy_parameter_keys

        by_key = {}
        for (lhs, op, rhs), se in zip(semopy_parameter_keys(model), self._robust.se):
            by_key[(lhs, op, rhs)] = se
            if op == "~~":
                by_key[(rhs, op, lhs)] = se
        fixed = table["se"].isna()
        robust = [by_key.get((r.lhs, r.op, r.rhs), np.nan) for r in table.itertuples()]
        return pd.Series(np.where(fixed, np.nan, robust), index=table.index, dtype=float)

    @staticmethod
    def _residual_correlations(table: pd.DataFrame) -> pd.Series:
        """lavaan's std.all of an off-diagonal ``~~`` is est / sqrt(theta_ii theta_jj).

        The divisor is the two variables' own (residual) variance parameters, so a
        covariance between residuals is reported as a residual correlation; semopy divides
        by the total variances instead.
        """
        variances = table[(table["op"] == "~~") & (table["lhs"] == table["rhs"])].set_index("lhs")["est"]
        std = table["std_all"].copy()
        off = (table["op"] == "~~") & (table["lhs"] != table["rhs"])
        for i in table.index[off]:
            a, b = table.at[i, "lhs"], table.at[i, "rhs"]
            if a in variances.index and b in variances.index:
                std.at[i] = table.at[i, "est"] / np.sqrt(variances[a] * variances[b])
        return std

    def _defined_rows(self, model: semopy.Model, table: pd.DataFrame, crit: float) -> pd.DataFrame:
        if not self.defined_:
            return table.iloc[0:0]
        active = [name for name, param in model.parameters.items() if param.active]
        values = dict(zip(active, np.asarray(model.param_vals, dtype=float)))
        labelled = table[table["label"] != ""].drop_duplicates("label").set_index("label")
        covariance = self.vcov_
        rows = []
        for parameter in self.defined_:
            order = [active.index(name) for name in parameter.labels]
            est = evaluate(parameter.expression, values)
            se = delta_method_se(parameter.expression, {n: values[n] for n in parameter.labels},
                                 covariance[np.ix_(order, order)], list(parameter.labels))
            std = evaluate(parameter.expression, labelled["std_all"].to_dict())
            z = est / se if se > 0 else np.nan
            rows.append({"lhs": parameter.name, "op": ":=", "rhs": parameter.expression, "label": parameter.name,
                         "est": est, "se": se, "z": z, "pvalue": 2 * stats.norm.sf(abs(z)),
                         "ci_lower": est - crit * se, "ci_upper": est + crit * se, "std_all": std})
        return pd.DataFrame(rows)

    def _r_squared(self) -> pd.Series:
        est = self.estimates_
        variances = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])].set_index("lhs")["std_all"]
        endogenous = set(est.loc[est["op"] == "~", "lhs"]) | set(est.loc[est["op"] == "=~", "rhs"])
        r2 = {name: 1.0 - float(variances[name]) for name in variances.index if name in endogenous}
        return pd.Series(r2, name="r2", dtype=float).sort_index()

    def _admissibility(self) -> list[str]:
        est = self.estimates_
        # a fixed variance (x1 ~~ 0*x1; no SE) is the user's choice, not a Heywood case
        fixed_variance = (est["op"] == "~~") & (est["lhs"] == est["rhs"]) & est["se"].isna()
        names = list(self.structure_.names)
        self.problems_ = check_admissibility(
            est[~fixed_variance], implied_covariance=self.implied_cov_,
            latent_covariance=pd.DataFrame(self.structure_.covariance, index=names, columns=names))
        return [problem.message for problem in self.problems_]

    # --------------------------------------------------------------- results

    def factor_scores(self, data: pd.DataFrame, id_column: str | None = None) -> pd.DataFrame:
        """Regression (Thurstone) factor scores of every latent variable for the complete rows.

        Notes
        -----
        semopy ``Model.predict_factors``: E[eta | x] = C Lambda' Sigma^-1 (x - mean(x)),
        the same estimator as ``lavaan::lavPredict(fit, method = "regression")``. Rows with
        missing values on the model's variables get no score (they were not fitted).
        """
        frame = data[self.observed_].astype(float)
        complete = frame.dropna()
        scores = self.semopy_model_.predict_factors(complete)
        scores.index = complete.index
        if id_column is not None:
            scores.insert(0, id_column, data.loc[complete.index, id_column].to_numpy())
        return scores

    def latent_correlations(self) -> pd.DataFrame:
        """Model-implied correlations among the latent variables."""
        s = self.structure_
        latent = [n for n in s.names if n in self.semopy_model_.vars["latent"]]
        idx = [s.names.index(n) for n in latent]
        cov = s.covariance[np.ix_(idx, idx)]
        sd = np.sqrt(np.diag(cov))
        return pd.DataFrame(cov / np.outer(sd, sd), index=latent, columns=latent)
