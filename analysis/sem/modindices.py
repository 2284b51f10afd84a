"""Modification indices and expected parameter changes (lavaan ``modindices``).

For every parameter that is fixed (usually to zero) but could be freed — cross-loadings,
residual covariances, regressions among the model's variables, latent covariances, and
the model's own fixed parameters — the score test says how much the chi-square would
drop if it were freed (MI, 1 df) and by how much the parameter would move (EPC).
Chi-square difference tests (plain and scaled) and AIC/BIC model tables are in
:mod:`.compare` and re-exported here.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.sem.compare import chisq_difference, compare_models
from analysis.sem.engine import fiml as lik
from analysis.sem.engine.ram import RamModel
from analysis.sem.engine.results import standardize_all
from analysis.sem.information import complete_data_information, expected_information

__all__ = ["candidate_parameters", "chisq_difference", "compare_models", "modification_indices"]

_MAX_PATTERN_COST = 2e9


def candidate_parameters(engine) -> pd.DataFrame:
    """Parameters lavaan's ``lav_partable_full`` would add, absent from the model.

    Per group: loadings of every observed non-covariate variable that is not a
    regression outcome on every latent; residual covariances among indicators;
    covariances among latents; regressions among all variables in regressions (both
    directions, except indicator-on-own-latent); intercepts when there are means.
    """
    vs = engine.variables_
    ov_nox, lv = list(vs.ov_nox), list(vs.lv)
    eqs = list(dict.fromkeys([*vs.eqs_y, *vs.eqs_x]))
    pairs: list[tuple[str, str, str]] = []
    pairs += [(f, "=~", v) for f in lv for v in ov_nox if v not in vs.eqs_y]
    others = {v for v in vs.ov if v not in vs.ov_ind}
    pairs += [(ov_nox[j], "~~", ov_nox[i]) for j in range(len(ov_nox)) for i in range(j, len(ov_nox))
              if ov_nox[i] not in others and ov_nox[j] not in others]
    x = list(vs.ov_x)
    pairs += [(x[j], "~~", x[i]) for j in range(len(x)) for i in range(j, len(x))]
    pairs += [(lv[j], "~~", lv[i]) for j in range(len(lv)) for i in range(j, len(lv))]
    pairs += [(y, "~", z) for y in eqs for z in eqs if y != z and not (y in vs.ov_ind and z in lv)]
    if engine.meanstructure_:
        pairs += [(v, "~1", "") for v in [*vs.ov, *lv]]
    table = engine.partable_[engine.partable_["op"] != ":="]
    rows = []
    for g in range(1, len(engine.groups_) + 1):
        present = table[table["group"] == g]
        keys = set(zip(present["lhs"], present["op"], present["rhs"]))
        keys |= {(r, o, l) for l, o, r in keys if o == "~~"}
        rows += [{"lhs": a, "op": o, "rhs": b, "group": g} for a, o, b in pairs if (a, o, b) not in keys]
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "group"])


def modification_indices(engine, *, sort: bool = True, minimum_value: float = 0.0,
                         maximum_number: int | None = None) -> pd.DataFrame:
    """Score tests for freeing each fixed parameter of a fitted :class:`SEMEngine`.

    Parameters
    ----------
    engine : SEMEngine
        A fitted ML / FIML engine.
    sort : bool
        Sort by ``mi`` (largest first), as ``modindices(fit, sort. = TRUE)``.
    minimum_value : float
        Keep rows with ``mi`` above this value.
    maximum_number : int, optional
        Keep at most this many rows (after sorting).

    Returns
    -------
    DataFrame
        lhs, op, rhs, [group, group_label,] mi, epc, sepc_all. Parameters whose score
        test is undefined (e.g. a marker loading) are dropped. For FIML fits with very
        many missing-data patterns the information is approximated (see
        ``attrs["note"]``).

    Notes
    -----
    With I the expected unit information of the model extended by the candidates
    (Saris, Satorra & Sorbom 1987), g the gradient of lavaan's fmin = F_ML / 2 at the
    estimates (candidates at their fixed values), and
    V = I_11 - I_12 I_22^-1 I_21 (1 = candidates, 2 = free parameters):
    MI = N g^2 / diag(V), EPC = -g / diag(V); diag(V) < eps^(1/3) gives no test.
    sepc_all is the EPC standardised like ``std.all`` (residual covariances by the two
    residual variances). Checked against ``lavaan::modindices`` on the HS CFA.
    """
    with threadpool_limits(limits=1):
        return _modification_indices(engine, sort, minimum_value, maximum_number)


def _modification_indices(engine, sort, minimum_value, maximum_number) -> pd.DataFrame:
    base = engine.partable_[engine.partable_["op"] != ":="].copy()
    npar = engine.model_.npar
    fixed = base[(base["free"] == 0)].copy()
    extra = pd.concat([fixed.assign(origin="fixed"),
                       candidate_parameters(engine).assign(est=0.0, exo=0, origin="new")], ignore_index=True)
    if extra.empty:
        return pd.DataFrame(columns=["lhs", "op", "rhs", "mi", "epc", "sepc_all"])
    kept = base[base["free"] > 0]
    extended = pd.concat([kept[["lhs", "op", "rhs", "group", "free", "est"]],
                          extra[["lhs", "op", "rhs", "group", "est"]].assign(
                              free=np.arange(npar + 1, npar + len(extra) + 1))], ignore_index=True)
    extended["ustart"] = extended["est"]
    model = RamModel(extended, engine.model_.observed, engine.model_.latent, len(engine.groups_),
                     engine.meanstructure_)
    x_ext = np.concatenate([engine.x_, extra["est"].to_numpy(dtype=float)])
    _, d_sigma, d_mu = lik.objective(engine.groups_, model.implied(x_ext), engine.n_, engine.meanstructure_)
    score = model.gradient(x_ext, d_sigma, d_mu)[npar:] / 2.0
    proxy = SimpleNamespace(model_=model, groups_=engine.groups_, n_=engine.n_,
                            meanstructure_=engine.meanstructure_, x_=x_ext)
    n_patterns = sum(len(g.patterns) for g in engine.groups_)
    cost = n_patterns * float(model.npar) ** 2 * engine.model_.p ** 2
    if n_patterns > len(engine.groups_) and cost > _MAX_PATTERN_COST:
        # per-pattern expected information would take minutes; the complete-data form
        # at the same implied moments is the usual large-sample approximation
        info = complete_data_information(proxy)
        note = (f"expected information approximated by its complete-data form ({n_patterns} missing-data "
                "patterns); lavaan sums it over patterns")
    else:
        info = expected_information(proxy)
        note = ""
    i11, i12, i22 = info[npar:, npar:], info[npar:, :npar], info[:npar, :npar]
    v_diag = np.diag(i11) - np.einsum("ij,ji->i", i12, np.linalg.solve(i22, i12.T)) if npar else np.diag(i11)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_diag = np.where(v_diag < np.finfo(float).eps ** (1 / 3), np.nan, v_diag)
        mi = engine.n_ * score**2 / v_diag
        epc = -score / v_diag
    total = engine.model_.total_covariance(engine.x_)
    total_var = [dict(zip(engine.model_.names, np.diag(c))) for c in total]
    variances = [{} for _ in total]
    for rec in base[(base["op"] == "~~") & (base["lhs"] == base["rhs"])].itertuples(index=False):
        variances[rec.group - 1][rec.lhs] = rec.est
    out = extra[["lhs", "op", "rhs", "group"]].copy()
    out["mi"], out["epc"] = mi, epc
    out["sepc_all"] = standardize_all(out, epc, total_var, variances)
    out = out[np.isfinite(out["mi"])]
    if len(engine.groups_) > 1:
        labels = [g.label for g in engine.groups_]
        out.insert(4, "group_label", [labels[g - 1] for g in out["group"]])
    else:
        out = out.drop(columns="group")
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    if minimum_value > 0:
        out = out[out["mi"] > minimum_value]
    if maximum_number is not None:
        out = out.head(maximum_number)
    out = out.reset_index(drop=True)
    if note:
        out.attrs["note"] = note
    return out
