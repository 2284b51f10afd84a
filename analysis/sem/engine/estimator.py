"""The workbench's own SEM estimator: ML and FIML, multigroup with equality constraints.

semopy cannot impose equality constraints across groups, fit FIML with the right N,
or give modification indices, so this engine estimates lavaan-syntax models itself and
reproduces lavaan 0.6 (``sem()``/``cfa()`` defaults). Pipeline:

syntax (:mod:`.syntax`) -> parameter table (:mod:`.partable`) -> data and patterns
(:mod:`.engine_data`) -> implied moments (:mod:`.engine_ram`) -> likelihood
(:mod:`.fiml`) -> Fisher scoring with the analytic gradient (L-BFGS-B as fallback)
-> standard errors (:mod:`.information`) -> parameter table and fit (:mod:`.engine_results`,
:mod:`.engine_fit`). Results agree with lavaan to about 1e-6 (lavaan's own convergence
tolerance); the Holzinger-Swineford CFA fits in well under 0.1 s.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.errors import (
    ConfigError,
    ConvergenceError,
    DataError,
    ModelError,
    check_choice,
)
from analysis.sem.admissibility import check_groups
from analysis.sem.engine import fiml as lik
from analysis.sem.engine.threads import single_threaded_blas
from analysis.sem.engine.data import prepare_groups
from analysis.sem.engine.derived import factor_scores, latent_correlations, structure_at
from analysis.sem.engine.fit import count_moments, fit_statistics, srmr_group
from analysis.sem.engine.ram import RamModel
from analysis.sem.engine.results import (
    defined_rows,
    r_squared,
    standardize_all,
    wald_columns,
)
from analysis.sem.engine.robust_fit import robust_result
from analysis.sem.engine.scoring import halving_step, secant_scoring
from analysis.sem.engine.start import start_values
from analysis.sem.fitted import FittedSEM
from analysis.sem.engine.bounds import bounds_of, optimize_within_bounds, violated
from analysis.sem.engine.identification import check_information
from analysis.sem.information import complete_data_information, covariance_from_information, information_matrix
from analysis.sem.partable import build_partable
from analysis.sem.syntax import parse_model

__all__ = ["ESTIMATE_COLUMNS", "SEMEngine"]

ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_all"]
_STEP_TOL = 1e-9
#: Fisher-scoring steps before the secant updates take over (fewest total cost on the parity models).
FISHER_STEPS = 5
_INFEASIBLE = 1e20  # objective reported where the implied covariance is not positive definite


class SEMEngine(FittedSEM):
    """Structural equation model in lavaan syntax, estimated by (FIML) maximum likelihood.

    Parameters
    ----------
    model_syntax : str
        lavaan model syntax (see :mod:`analysis.sem.syntax`).
    group : str, optional
        Column defining groups (multigroup model, always with a mean structure).
    missing : {"listwise", "fiml"}
        Listwise deletion, or full-information ML over all rows with an observed value.
    group_equal : sequence of str
        lavaan ``group.equal`` options ("loadings", "intercepts", "residuals", ...).
    estimator : {"ML", "MLR"}
        ML, or robust ML (Huber-White SEs and the Yuan-Bentler scaled test; complete data).
    group_partial : sequence of str
        Exceptions to ``group_equal``, e.g. ``("visual =~ x2",)``.
    meanstructure : bool, optional
        Force a mean structure for a single-group complete-data fit (lavaan default off).
    std_lv : bool
        Identify latents by unit variances instead of first loadings.
    fixed_x : bool
        Exogenous observed covariates fixed at their sample moments (lavaan default).
    information : {"expected", "observed"}, optional
        Standard errors; default as lavaan: expected (complete ML), observed (FIML).
    ci_level, rmsea_level : float

    Attributes
    ----------
    partable_ : DataFrame
        lavaan-style table incl. fixed rows: id, lhs, op, rhs, user, group, free, exo,
        label, plabel, group_label, start, est, se, z, pvalue, ci_lower, ci_upper,
        std_all (``:=`` rows last, group 0). ``free`` is 0 for fixed rows, else the
        1-based index into ``x_``/``vcov_`` (shared by equality-constrained rows).
        Fixed rows have se = NaN.
    estimates_ : DataFrame
        The contract columns (+ ``group`` for multigroup fits).
    fit_ : dict
        chisq, df, pvalue, cfi, tli, rmsea (+ CI), srmr, loglik, aic, bic, n, npar,
        baseline_chisq, baseline_df, estimator, missing, n_per_group, ...
    vcov_ : ndarray
        Covariance of the free parameters (order of ``free``).
    implied_ : dict
        Per group label: {"cov": DataFrame, "mean": Series}.
    converged_ : bool
    warnings_ : list of str
        Improper solutions, non-convergence, dropped rows; never silent.
    """

    def __init__(self, model_syntax: str, group: str | None = None, missing: str = "listwise",
                 group_equal=(), estimator: str = "ML", *, group_partial=(), meanstructure: bool | None = None,
                 std_lv: bool = False, fixed_x: bool = True, information: str | None = None,
                 ci_level: float = 0.95, rmsea_level: float = 0.90):
        check_choice("estimator", str(estimator).upper(), ("ML", "MLR"))
        check_choice("missing", missing, ("listwise", "fiml"))
        check_choice("information", information, (None, "expected", "observed"))
        if isinstance(group_equal, str):
            group_equal = (group_equal,)
        if group_equal and group is None:
            raise ConfigError("group_equal: needs a grouping column (group=...), got no group")
        self.model_syntax = model_syntax
        self.group = group
        self.missing = missing
        self.group_equal = tuple(group_equal)
        self.group_partial = tuple(group_partial)
        self.estimator = str(estimator).upper()
        self.meanstructure = meanstructure
        self.std_lv = std_lv
        self.fixed_x = fixed_x
        self.information = information or ("observed" if missing == "fiml" else "expected")
        self.ci_level = ci_level
        self.rmsea_level = rmsea_level
        self.parsed_ = parse_model(model_syntax)

    # ------------------------------------------------------------------ set-up
    def _setup(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        ngroups = 1
        if self.group is not None:
            if self.group not in data.columns:
                raise DataError(f"group: column {self.group!r} not in the data; available: "
                                f"{', '.join(map(str, data.columns))}")
            ngroups = int(data[self.group].dropna().nunique())
        meanstructure = bool(self.meanstructure) or ngroups > 1 or self.missing == "fiml"
        table, vs = build_partable(self.parsed_, ngroups=max(ngroups, 1), meanstructure=meanstructure,
                                   std_lv=self.std_lv, group_equal=self.group_equal,
                                   group_partial=self.group_partial, fixed_x=self.fixed_x)
        self.meanstructure_ = meanstructure or bool((table["op"] == "~1").any())
        self.variables_ = vs
        self.groups_ = prepare_groups(data, list(vs.ov), group=self.group, missing=self.missing,
                                      exogenous=vs.ov_x)
        if self.missing == "fiml":
            for g in self.groups_:
                if not g.complete:
                    g.mean, g.cov, iterations = lik.em_saturated(g)
                    if iterations >= lik.EM_MAX_ITER:
                        g.notes.append(f"EM for the saturated model of group {g.label!r} stopped after "
                                       f"{iterations} iterations without converging; chi-square may be off")
        self.n_ = sum(g.n for g in self.groups_)
        self.model_ = RamModel(table, vs.ov, vs.lv, len(self.groups_), self.meanstructure_)
        position = {name: k for k, name in enumerate(vs.ov)}
        exo = np.flatnonzero(table["exo"].to_numpy() == 1)
        values = []
        for row in exo:
            rec = table.iloc[row]
            g = self.groups_[int(rec["group"]) - 1]
            i = position[rec["lhs"]]
            values.append(g.mean[i] if rec["op"] == "~1" else g.cov[i, position[rec["rhs"]]])
        self.model_.set_row_values(exo, np.asarray(values))
        self._table = table
        self.bounds_ = bounds_of(self.parsed_, table)
        p_x = len(vs.ov_x)
        self.ndat_ = len(self.groups_) * count_moments(len(vs.ov), p_x, self.meanstructure_)
        npar = self.model_.npar
        if npar > self.ndat_:
            raise ModelError(f"the model has {npar} free parameters but only {self.ndat_} sample moments "
                             f"(df = {self.ndat_ - npar}); it is not identified — fix or constrain parameters")

    # ------------------------------------------------------------------ objective
    def objective(self, x: np.ndarray) -> float:
        """-2 logL / N (without the 2 pi constant) at free-parameter vector ``x``."""
        return lik.objective(self.groups_, self.model_.implied(x), self.n_, self.meanstructure_,
                             with_gradient=False)[0]

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Analytic gradient of :meth:`objective`."""
        value, d_sigma, d_mu = lik.objective(self.groups_, self.model_.implied(x), self.n_, self.meanstructure_)
        if not np.isfinite(value):
            return np.full(len(x), np.nan)
        return self.model_.gradient(x, d_sigma, d_mu)

    def _value_and_gradient(self, x):
        value, d_sigma, d_mu = lik.objective(self.groups_, self.model_.implied(x), self.n_, self.meanstructure_)
        if not np.isfinite(value):
            return _INFEASIBLE, np.zeros(len(x))
        return value, self.model_.gradient(x, d_sigma, d_mu)

    def _newton(self, x: np.ndarray, hessian_of, max_iter: int = 500,
                refresh: bool = True, step_tol: float = _STEP_TOL) -> tuple[np.ndarray, float, int]:
        """(Quasi-)Newton / Fisher-scoring steps with step halving.

        Returns (x, size of the last step, iterations). Stops when no coordinate moves
        by more than ``_STEP_TOL`` (relative to max(1, |x|)) or when no step length
        decreases the objective.
        """
        value, grad = self._value_and_gradient(x)
        step_size, hessian = np.inf, None
        for iteration in range(1, max_iter + 1):
            if hessian is None or refresh:
                hessian = hessian_of(x)
            try:
                step = -np.linalg.solve(hessian, grad)
            except np.linalg.LinAlgError:
                return x, np.inf, iteration
            found = halving_step(self, x, step, value)
            if found is None:
                return x, step_size, iteration
            moved = found[0] - x
            x, value, grad = found
            step_size = float(np.max(np.abs(moved) / np.maximum(1.0, np.abs(x))))
            if step_size < step_tol:
                break
        return x, step_size, iteration

    def _feasible_start(self, x0: np.ndarray) -> np.ndarray:
        """Inflate the free variances until the implied covariance is positive definite."""
        table = self._table
        variance = (table["op"] == "~~") & (table["lhs"] == table["rhs"]) & (table["free"] > 0)
        index = np.unique(table.loc[variance, "free"].to_numpy() - 1)
        for factor in 2.0 ** np.arange(0, 16):
            trial = x0.copy()
            trial[index] = np.abs(trial[index]) * factor + (factor - 1) * 0.05
            if self._value_and_gradient(trial)[0] < _INFEASIBLE:
                return trial
        raise ConvergenceError("no starting values give a positive-definite implied covariance matrix, even with "
                               "inflated variances; check fixed values (e.g. fixed covariances larger than the "
                               "variances) and start(...) modifiers")

    def _optimize(self, x0: np.ndarray) -> np.ndarray:
        """Fisher scoring from the start values, then secant scoring, with L-BFGS-B if both stall.

        Up to six Fisher-scoring steps (complete-data expected information at the current
        implied moments) bring the start values close; BFGS-updated scoring
        (:func:`~analysis.sem.engine.scoring.secant_scoring`) then converges superlinearly
        for misfitting models and under FIML, where expected information and Hessian
        differ. Iterations stop when no parameter moves by more than 1e-9.
        """
        x0 = self._feasible_start(x0)
        # Fisher steps bring the start values close, secant-updated scoring converges from there
        metric: list[np.ndarray] = []

        def information(z: np.ndarray) -> np.ndarray:
            metric[:] = [2.0 * complete_data_information(self, z)]
            return metric[0]

        x, step, iterations = self._newton(x0, information, max_iter=FISHER_STEPS)
        if not step < _STEP_TOL:  # the last Fisher metric (one step old) starts the secant updates
            x, step, more = secant_scoring(self, x, metric[0], step_tol=_STEP_TOL)
            iterations += more
        self.at_bound_ = np.zeros(len(x), dtype=bool)
        if self.bounds_ and violated(self.bounds_, x):
            x, self.at_bound_, step = optimize_within_bounds(self, x, 2.0 * complete_data_information(self, x),
                                                             self.bounds_, _STEP_TOL)
        method = "Fisher scoring"
        if not step < 1e-6:
            result = optimize.minimize(self._value_and_gradient, x, jac=True, method="L-BFGS-B",
                                       options={"maxiter": 20000, "maxfun": 50000, "ftol": 1e-15,
                                                "gtol": 1e-10, "maxcor": 30})
            if np.all(np.isfinite(result.x)) and result.fun <= self._value_and_gradient(x)[0]:
                x = result.x
            iterations += int(result.nit)
            method = f"L-BFGS-B ({result.message})"
            x, step, more = self._newton(x, lambda z: 2.0 * complete_data_information(self, z))
            iterations += more
        if not np.all(np.isfinite(x)):
            raise ConvergenceError("the optimiser failed: no finite estimates")
        grad = self.gradient(x)[~self.at_bound_]
        self.iterations_ = iterations
        self.converged_ = bool(np.all(np.isfinite(grad)) and (step < 1e-6 or np.max(np.abs(grad)) < 1e-8))
        self._optimizer_notes = [] if self.converged_ else [
            (f"the optimiser did not converge ({method}; last step {step:.2e}, max |gradient| "
             f"{np.max(np.abs(grad)):.2e}); estimates are not reliable")]
        return x

    # ------------------------------------------------------------------ fit
    def fit(self, data: pd.DataFrame) -> SEMEngine:
        """Estimate the model on ``data`` (a DataFrame with the model's observed columns)."""
        started = time.perf_counter()
        # the matrices are small: multithreaded BLAS only adds contention (10x slower on a busy machine)
        with single_threaded_blas():
            self._setup(data)
            x0 = start_values(self._table, self.variables_, self.groups_, self.model_)
            self.start_ = x0
            self.x_ = self._optimize(x0) if self.model_.npar else np.zeros(0)
            if not self.model_.npar:
                self.converged_, self._optimizer_notes, self.iterations_ = True, [], 0
                self.at_bound_ = np.zeros(0, dtype=bool)
            info = information_matrix(self, self.information) if self.model_.npar else np.zeros((0, 0))
            if self.model_.npar and not (self.information == "expected" and self.missing == "listwise"):
                # not identified: say which parameters, on every route (ML, MLR, FIML, groups). The
                # expected information (the moments' Jacobian) first: its null direction names the
                # parameters cleanly; with complete data it *is* `info`, checked just below.
                check_information(complete_data_information(self, self.x_), self._table, self.at_bound_)
            check_information(info, self._table, self.at_bound_)
            if not self.converged_:
                raise ConvergenceError(f"the model did not converge: {self._optimizer_notes[0]}; check the "
                                       "model (start values) and the data (near-constant or collinear items, "
                                       "too few rows)")
            self.vcov_ = covariance_from_information(info, self.n_, self.at_bound_)
            self._robust = None
            self._build_tables()
            if self.estimator == "MLR":
                self._robust = robust_result(self)
                self.vcov_ = self._robust.vcov
                self._build_tables()
        self.fit_time_ = time.perf_counter() - started
        return self

    def _build_tables(self) -> None:
        table = self._table.copy()
        model, x = self.model_, self.x_
        free = table["free"].to_numpy()
        est = model.values.copy()
        est[free > 0] = x[free[free > 0] - 1]
        se = np.full(len(table), np.nan)
        with np.errstate(invalid="ignore"):
            variances = np.sqrt(np.diag(self.vcov_)) if self.vcov_.size else np.zeros(0)
        se[free > 0] = variances[free[free > 0] - 1]
        labels = [g.label for g in self.groups_]
        total = model.total_covariance(x)
        total_var = [dict(zip(model.names, np.diag(c))) for c in total]
        table["group_label"] = [labels[g - 1] for g in table["group"]]
        start = model.values.copy()
        start[free > 0] = self.start_[free[free > 0] - 1]
        table["start"] = start
        table["est"] = est
        table["se"] = se
        table = table.assign(**wald_columns(est, se, self.ci_level))
        table["std_all"] = standardize_all(table, est, total_var)
        table = table.drop(columns=["ustart"])
        if self.parsed_.defined:
            extra = defined_rows(self.parsed_.defined, table, self.vcov_, self.ci_level)
            extra = extra.assign(id=np.arange(len(table) + 1, len(table) + len(extra) + 1), user=1, exo=0,
                                 plabel="", group_label="")
            table = pd.concat([table, extra], ignore_index=True)
        self.partable_ = table
        multigroup = len(self.groups_) > 1
        cols = ESTIMATE_COLUMNS[:3] + (["group"] if multigroup else []) + ESTIMATE_COLUMNS[3:]
        self.estimates_ = table[cols].reset_index(drop=True)
        self.r2_ = r_squared(table[table["op"] != ":="], labels)
        implied = model.implied(x)
        self.implied_ = {g.label: {"cov": pd.DataFrame(s, index=model.observed, columns=model.observed),
                                   "mean": pd.Series(m, index=model.observed)}
                         for g, (s, m) in zip(self.groups_, implied)}
        lv_index = [model.names.index(v) for v in model.latent]
        latent_cov = [c[np.ix_(lv_index, lv_index)] for c in total]
        self.fit_ = self._fit_measures(implied)
        if self._robust is not None:
            self.fit_.update(self._robust.fit)
        notes = [n for g in self.groups_ for n in g.notes] + list(self._optimizer_notes)
        # fixed variances (e.g. x1 ~~ 0*x1) are the user's choice, not Heywood cases
        checked = table[(table["op"] != ":=") & ~((table["op"] == "~~") & (table["lhs"] == table["rhs"])
                                                 & (table["free"] == 0))]
        self.problems_ = check_groups(checked, {label: pd.DataFrame(cov, index=model.latent, columns=model.latent)
                                                for label, cov in zip(labels, latent_cov)})
        notes += [problem.message for problem in self.problems_]
        if self.model_.npar and not np.all(np.isfinite(self.vcov_[np.ix_(~self.at_bound_, ~self.at_bound_)])):
            notes.append("the information matrix is singular: the model may not be identified; "
                         "standard errors are not available")
        if self.missing == "fiml":
            notes.insert(0, f"FIML: n = {self.n_} rows with at least one observed value "
                            f"({sum(len(g.patterns) for g in self.groups_)} missing-data patterns)")
        self.warnings_ = notes

    def _fit_measures(self, implied) -> dict:
        x_index = [self.model_.observed.index(v) for v in self.variables_.ov_x]
        # lavaan reports log-likelihoods conditional on fixed-x covariates: their own
        # (saturated) marginal log-likelihood is subtracted from every model
        marginal_x = float(sum(lik.covariate_loglik(g, x_index) for g in self.groups_))
        loglik = float(np.sum(lik.loglik(self.groups_, implied, self.meanstructure_))) - marginal_x
        saturated = float(sum(lik.saturated_loglik(g) for g in self.groups_)) - marginal_x
        baseline = float(sum(lik.baseline_loglik(g, x_index) for g in self.groups_)) - marginal_x
        p, p_x = len(self.model_.observed), len(x_index)
        base_npar = (p - p_x) * (2 if self.meanstructure_ else 1)
        srmr_parts = [srmr_group(g.cov, g.mean, s, m, self.meanstructure_) for g, (s, m) in zip(self.groups_, implied)]
        measures = fit_statistics(loglik=loglik, loglik_saturated=saturated, loglik_baseline=baseline,
                                  npar=self.model_.npar, ndat=self.ndat_,
                                  baseline_df=self.ndat_ - len(self.groups_) * base_npar,
                                  n_per_group=[g.n for g in self.groups_], srmr_parts=srmr_parts,
                                  rmsea_level=self.rmsea_level)
        measures.update({
            "estimator": self.estimator, "missing": self.missing,
            "n_per_group": {g.label: g.n for g in self.groups_},
            "n_dropped": int(sum(g.n_dropped for g in self.groups_)),
            "converged": self.converged_, "iterations": self.iterations_,
            "information": self.information,
        })
        return measures

    # ------------------------------------------------------------------ derived
    @property
    def observed_(self) -> list[str]:
        """Observed variables in the order of the implied moments."""
        return list(self.model_.observed)

    @property
    def structure_(self):
        """Direct effects and implied covariance of the structural variables (first group)."""
        return structure_at(self, self.x_)

    def latent_correlations(self) -> pd.DataFrame:
        """Model-implied correlations among the latent variables (first group)."""
        return latent_correlations(self)

    def factor_scores(self, data: pd.DataFrame, id_column: str | None = None) -> pd.DataFrame:
        """Regression factor scores (``lavPredict(method = "regression")``) of the complete rows."""
        return factor_scores(self, data, id_column)

    def standardized_solution(self, level: float | None = None) -> pd.DataFrame:
        """lavaan's ``standardizedSolution()``: std.all estimates with delta-method SEs and intervals."""
        from analysis.sem.engine.standardized import standardized_solution

        return standardized_solution(self, level=level)
