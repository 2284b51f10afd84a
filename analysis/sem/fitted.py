"""The one interface every fitted structural equation model offers.

Whatever estimated it (the workbench engine for ML and FIML, the ordinal DWLS/WLSMV
estimator, or semopy), a fitted model has the same attributes and methods, so code
that reports a model never asks which estimator made it:

=====================  ==========================================================
``estimates_``         lavaan-style parameter table (``lhs, op, rhs, label, est,
                       se, z, pvalue, ci_lower, ci_upper, std_all``; ``group``
                       in multigroup fits)
``fit_``               fit measures (``chisq, df, pvalue, cfi, tli, rmsea, ...``)
``r2_``                R² of every endogenous variable
``n_``                 rows used; ``warnings_`` notes as sentences;
                       ``problems_`` admissibility problems as records
``summary``            the parameter table (alias of ``estimates_``)
``fit_table()``        the fit measures as a tidy (index, value) table
``admissibility()``    the admissibility problems as a tidy table
``standardized_solution()``  the standardized (``std_all``) rows
=====================  ==========================================================
"""

from __future__ import annotations

import numbers

import pandas as pd

from analysis.errors import ModelError
from analysis.sem.admissibility import admissibility_table

__all__ = ["FittedSEM", "FIT_TABLE_KEYS"]

#: Order of the fit measures in :meth:`FittedSEM.fit_table`; a model shows those it has.
FIT_TABLE_KEYS = (
    "chisq", "df", "pvalue", "chisq_scaled", "df_scaled", "pvalue_scaled", "cfi", "tli", "rmsea",
    "rmsea_ci_lower", "rmsea_ci_upper", "cfi_scaled", "tli_scaled", "rmsea_scaled", "cfi_robust", "tli_robust",
    "rmsea_robust", "srmr", "wrmr", "loglik", "aic", "bic", "npar", "n", "n_dropped",
)


class FittedSEM:
    """Base class of the SEM estimators: the shared results interface (see module docstring)."""

    def _require_fit(self) -> None:
        if not hasattr(self, "estimates_"):
            raise ModelError(f"{type(self).__name__}: the model is not fitted yet; call fit(data) first")

    @property
    def summary(self) -> pd.DataFrame:
        """The parameter table (alias of ``estimates_``)."""
        self._require_fit()
        return self.estimates_

    def fit_table(self) -> pd.DataFrame:
        """Scalar fit measures as a tidy (index, value) table, in :data:`FIT_TABLE_KEYS` order."""
        self._require_fit()
        keys = [k for k in FIT_TABLE_KEYS if isinstance(self.fit_.get(k), numbers.Real)]
        return pd.DataFrame({"index": keys, "value": [float(self.fit_[k]) for k in keys]})

    def admissibility(self) -> pd.DataFrame:
        """Heywood cases, standardized values beyond ±1 and non-positive-definite matrices."""
        self._require_fit()
        return admissibility_table(self.problems_)

    def standardized_solution(self) -> pd.DataFrame:
        """The standardized (completely standardized, lavaan ``std.all``) rows of the parameter table."""
        self._require_fit()
        keep = [c for c in ("lhs", "op", "rhs", "group", "label", "std_all") if c in self.estimates_.columns]
        return self.estimates_.loc[self.estimates_["std_all"].notna(), keep].reset_index(drop=True)
