"""One entry point for fitting any model to any data: ``fit_model``.

The right estimator is chosen from the options, as lavaan does from its arguments:

=====================================  ==============================================
options                                fitted by
=====================================  ==============================================
continuous items: ML, MLR, FIML,       the workbench engine (:class:`SEMEngine`): one
multigroup, equality constraints       parser, one parameter table, lavaan's defaults;
                                       MLR adds Huber-White SEs and the Yuan-Bentler
                                       scaled test (:mod:`.robust`)
``ordered=`` or WLSMV/DWLS             polychoric correlations + DWLS with robust SEs
                                       and the scaled-shifted test (:class:`OrdinalCFA`)
=====================================  ==============================================

semopy is not on any route: it is the independent second engine whose agreement
with the workbench engine is certified by the tests and reported by
:func:`analysis.sem.crosscheck.semopy_agreement`.

All three are :class:`~analysis.sem.fitted.FittedSEM` objects with the same fitted attributes: ``estimates_`` (lavaan-style
table), ``fit_`` (dict), ``r2_`` and ``warnings_``; every one is checked against lavaan
in the test suite.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.errors import ConfigError, DataError, check_choice
from analysis.sem.fitted import FittedSEM

__all__ = ["ESTIMATORS", "MISSING", "fit_model", "parse_ordered"]

ESTIMATORS = ("ML", "MLR", "WLSMV", "DWLS")
MISSING = ("listwise", "fiml", "pairwise")


def parse_ordered(ordered: str | Sequence[str] | None, data: pd.DataFrame) -> list[str] | str | None:
    """``"all"``, a comma-separated string or a list of columns -> what the ordinal fit takes."""
    if ordered is None or ordered == "" or ordered == []:
        return None
    if isinstance(ordered, str):
        if ordered.strip().lower() == "all":
            return "all"
        ordered = [c.strip() for c in ordered.split(",") if c.strip()]
    missing = [c for c in ordered if c not in data.columns]
    if missing:
        raise DataError(f"ordered: column(s) {', '.join(missing)} not in the data; "
                        f"available: {', '.join(map(str, data.columns))}")
    return list(ordered)


def fit_model(data: pd.DataFrame, model: str, *, estimator: str | None = None, group: str | None = None,
              group_equal: Sequence[str] = (), ordered: str | Sequence[str] | None = None,
              missing: str = "listwise", ci_level: float = 0.95) -> FittedSEM:
    """Fit a lavaan-syntax model and return the fitted estimator object.

    Parameters
    ----------
    data : DataFrame
        One row per respondent.
    model : str
        lavaan model syntax (``=~``, ``~``, ``~~``, ``~ 1``, labels, ``:=``).
    estimator : {"ML", "MLR", "WLSMV", "DWLS"}, optional
        Default: WLSMV when ``ordered`` is given, else ML (as lavaan). ``WLSMV``/``DWLS``
        imply ordinal indicators (``ordered="all"`` if not given).
    group : str, optional
        Column of group labels for a multigroup model.
    group_equal : sequence of str
        lavaan ``group.equal``: "loadings", "intercepts", "residuals", ...
    ordered : "all", list of columns or comma-separated string, optional
        Indicators to treat as ordinal (polychoric correlations).
    missing : {"listwise", "fiml", "pairwise"}
        ``fiml`` for continuous data, ``pairwise`` for ordinal data.
    """
    missing = check_choice("missing", str(missing).lower(), MISSING)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    ordinal = parse_ordered(ordered, data)
    if estimator is None:
        estimator = "WLSMV" if ordinal is not None else "ML"
    estimator = check_choice("estimator", str(estimator).upper(), ESTIMATORS)
    if estimator in ("WLSMV", "DWLS") and ordinal is None:
        ordinal = "all"
    if group is not None and group not in data.columns:
        raise DataError(f"group: column {group!r} not in the data; available: {', '.join(map(str, data.columns))}")

    if ordinal is not None:
        if group is not None:
            raise ConfigError("group: multigroup models with ordinal indicators are not supported yet; "
                              "fit each group separately or treat the items as continuous (estimator ML/MLR)")
        if missing == "fiml":
            raise ConfigError("missing: 'fiml' is for continuous indicators; with ordered items use 'pairwise' "
                              "(lavaan's default for WLSMV) or 'listwise'")
        if estimator in ("ML", "MLR"):
            raise ConfigError(f"estimator {estimator!r} cannot be combined with ordered indicators; "
                              "use WLSMV (or drop --ordered to treat the items as continuous)")
        from analysis.sem.ordinal.estimator import OrdinalCFA

        return OrdinalCFA(model, ci_level=ci_level).fit(data, ordered=ordinal, missing=missing)

    if missing == "pairwise":
        raise ConfigError("missing: 'pairwise' applies to ordinal indicators only; use 'listwise' or 'fiml'")
    if estimator == "MLR" and missing == "fiml":
        raise ConfigError("estimator: 'MLR' together with missing='fiml' is not supported yet; "
                          "use estimator 'ML' with FIML, or MLR on complete rows (missing='listwise')")
    from analysis.sem.engine.estimator import SEMEngine

    return SEMEngine(model, group=group, missing=missing, group_equal=tuple(group_equal), estimator=estimator,
                     ci_level=ci_level).fit(data)
