"""Parsed model -> lavaan parameter table (lavaan's ``lavaanify`` for sem()/cfa()).

The table has one row per parameter and group: ``id, lhs, op, rhs, user, group, free,
ustart, exo, label, start, plabel`` (``ustart``: the fixed value, lavaan's name;
``start``: a user ``start()`` value, else NaN). ``free`` is 0 for a fixed parameter and otherwise the
1-based index of the free parameter it uses; parameters constrained equal (same label,
``a == b``, or ``group_equal``) share one index, so the number of free parameters is
``free.max()``. Fixed-x rows (``exo == 1``) get their values from the sample later.

Defaults reproduce lavaan's sem()/cfa() (``auto.fix.first``, ``auto.var``,
``auto.cov.lv.x``, ``auto.cov.y``, ``int.ov.free``, ``fixed.x = TRUE``,
``group.equal`` / ``group.partial`` semantics of ``lav_partable_labels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, ModelError
from analysis.sem.syntax import ParsedModel, UserRow

__all__ = ["GROUP_EQUAL_OPTIONS", "VariableSets", "build_partable", "variable_sets"]

GROUP_EQUAL_OPTIONS = ("loadings", "intercepts", "means", "residuals", "residual.covariances",
                       "lv.variances", "lv.covariances", "regressions")


@dataclass(frozen=True)
class VariableSets:
    """lavaan's variable classes (``lav_partable_vnames``)."""

    ov: tuple[str, ...]        # observed, in lavaan order: indicators, outcomes, covariates, others
    lv: tuple[str, ...]        # latent
    ov_x: tuple[str, ...]      # exogenous observed covariates (fixed.x)
    ov_ind: tuple[str, ...]    # observed indicators of latents
    eqs_y: tuple[str, ...]     # left-hand sides of regressions
    eqs_x: tuple[str, ...]     # right-hand sides of regressions
    lv_x: tuple[str, ...]      # exogenous latents
    cov_y: tuple[str, ...]     # "final" outcomes whose residuals covary by default

    @property
    def ov_nox(self) -> tuple[str, ...]:
        return tuple(v for v in self.ov if v not in self.ov_x)


def variable_sets(rows: list[UserRow], fixed_x: bool = True) -> VariableSets:
    """Classify variables the way lavaan's ``lav_partable_vnames`` does."""
    def unique(values):
        return tuple(dict.fromkeys(values))

    lv = unique(r.lhs for r in rows if r.op == "=~")
    v_ind = unique(r.rhs for r in rows if r.op == "=~")
    ov_ind = tuple(v for v in v_ind if v not in lv)
    eqs_y = unique(r.lhs for r in rows if r.op == "~")
    eqs_x = unique(r.rhs for r in rows if r.op == "~")
    ov_y = tuple(v for v in eqs_y if v not in lv and v not in ov_ind)
    ov_x = [v for v in eqs_x if v not in lv and v not in ov_ind and v not in ov_y]
    if fixed_x:
        # a covariate with user (co)variance or intercept rows becomes a random variable
        touched = {r.lhs for r in rows if r.op in ("~~", "~1")} | {r.rhs for r in rows if r.op == "~~"}
        ov_x = [v for v in ov_x if v not in touched]
    else:
        ov_x = []
    extra = [n for r in rows if r.op in ("~~", "~1") for n in (r.lhs, r.rhs) if n and n not in lv]
    ov = unique([*ov_ind, *ov_y, *ov_x, *extra])
    lv_x = tuple(v for v in lv if v not in v_ind and v not in eqs_y)
    final = [v for v in eqs_y if v not in v_ind and v not in eqs_x]
    cov_y = tuple([v for v in lv if v in final] + [v for v in ov if v in final and v not in lv])
    return VariableSets(ov, lv, tuple(ov_x), ov_ind, eqs_y, eqs_x, lv_x, cov_y)


def _default_rows(vs: VariableSets, meanstructure: bool) -> list[tuple[str, str, str]]:
    rows = [(v, "~~", v) for v in vs.ov_nox] + [(v, "~~", v) for v in vs.lv]
    rows += [(a, "~~", b) for a, b in combinations(vs.lv_x, 2)]
    rows += [(a, "~~", b) for a, b in combinations(vs.cov_y, 2)]
    x = vs.ov_x
    rows += [(x[j], "~~", x[i]) for j in range(len(x)) for i in range(j, len(x))]
    if meanstructure:
        rows += [(v, "~1", "") for v in vs.ov] + [(v, "~1", "") for v in vs.lv]
    return rows


def _per_group(values: tuple | None, ngroups: int, what: str, row: UserRow) -> list | None:
    if values is None:
        return None
    if len(values) == 1:
        return list(values) * ngroups
    if len(values) != ngroups:
        raise ModelError(f"model syntax line {row.line}: {what} c(...) of '{row.lhs} {row.op} {row.rhs}' "
                         f"has {len(values)} values but the model has {ngroups} group(s)")
    return list(values)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def build_partable(parsed: ParsedModel, *, ngroups: int = 1, meanstructure: bool = False,
                   std_lv: bool = False, group_equal=(), group_partial=(),
                   fixed_x: bool = True) -> tuple[pd.DataFrame, VariableSets]:
    """lavaan parameter table of a parsed model (sem()/cfa() defaults).

    Parameters
    ----------
    parsed : ParsedModel
        Output of :func:`analysis.sem.syntax.parse_model`.
    ngroups : int
        Number of groups; every parameter appears once per group.
    meanstructure : bool
        Add intercepts (observed: free; latent: fixed 0). Forced on when the syntax
        has ``~ 1`` rows.
    std_lv : bool
        Identify latents by fixing their variances to 1 instead of the first loading.
    group_equal : sequence of str
        Any of :data:`GROUP_EQUAL_OPTIONS` (lavaan's ``group.equal``).
    group_partial : sequence of str
        Parameters exempt from ``group_equal``, e.g. ``"visual =~ x2"`` or ``"x3 ~ 1"``.
    fixed_x : bool
        Treat exogenous observed covariates as fixed (lavaan default).

    Returns
    -------
    (DataFrame, VariableSets)

    Notes
    -----
    Checked against ``lavaan::lavaanify(model, auto = TRUE, ngroups = G, ...)`` /
    ``parTable(cfa(...))`` for the Holzinger-Swineford and Political Democracy models.
    """
    unknown = [g for g in group_equal if g not in GROUP_EQUAL_OPTIONS]
    if unknown:
        raise ConfigError(f"group_equal: expected any of {', '.join(map(repr, GROUP_EQUAL_OPTIONS))}, "
                          f"got {', '.join(map(repr, unknown))}")
    rows = parsed.rows
    meanstructure = meanstructure or any(r.op == "~1" for r in rows)
    vs = variable_sets(rows, fixed_x)
    user_keys = {(r.lhs, r.op, r.rhs) for r in rows} | {(r.rhs, r.op, r.lhs) for r in rows if r.op == "~~"}
    defaults = [key for key in _default_rows(vs, meanstructure) if key not in user_keys]
    base = [(r.lhs, r.op, r.rhs, 1, r) for r in rows] + [(*key, 0, None) for key in defaults]

    records = []
    for g in range(1, ngroups + 1):
        seen_first: set[str] = set()
        for lhs, op, rhs, user, source in base:
            free, ustart, exo = 1, np.nan, 0
            if op == "=~" and lhs not in seen_first:
                seen_first.add(lhs)
                if not std_lv:
                    free, ustart = 0, 1.0
            if std_lv and op == "~~" and lhs == rhs and lhs in vs.lv:
                free, ustart = 0, 1.0
                if g > 1 and "loadings" in group_equal and "lv.variances" not in group_equal and not user:
                    free, ustart = 1, np.nan
            if op == "~1" and not user and lhs in vs.lv:
                free, ustart = 0, 0.0
                if g > 1 and "intercepts" in group_equal and "means" not in group_equal:
                    free, ustart = 1, np.nan
            if not user and lhs in vs.ov_x and (op == "~1" or (op == "~~" and rhs in vs.ov_x)):
                free, exo = 0, 1
            label, start = "", np.nan
            if source is not None:
                fixed = _per_group(source.fixed, ngroups, "fixed value", source)
                if fixed is not None:
                    value = fixed[g - 1]
                    free, ustart = (1, np.nan) if value is None else (0, float(value))
                labels = _per_group(source.label, ngroups, "label", source)
                label = labels[g - 1] if labels else ""
                starts = _per_group(source.start, ngroups, "start value", source)
                start = starts[g - 1] if starts else np.nan
            records.append({"lhs": lhs, "op": op, "rhs": rhs, "user": user, "group": g, "free": free,
                            "ustart": ustart, "exo": exo, "label": label, "start": start})
    table = pd.DataFrame(records)
    table.insert(0, "id", np.arange(1, len(table) + 1))
    table["plabel"] = [f".p{i}." for i in table["id"]]
    _assign_free_indices(table, parsed, vs, ngroups, group_equal, group_partial)
    return table, vs


def _equality_classes(table: pd.DataFrame, parsed: ParsedModel, vs: VariableSets, ngroups: int,
                      group_equal, group_partial) -> _UnionFind:
    uf = _UnionFind(len(table))
    by_label: dict[str, int] = {}
    for i, label in enumerate(table["label"]):
        if label:
            if label in by_label:
                uf.union(by_label[label], i)
            else:
                by_label[label] = i
    for lhs, rhs, _ in parsed.equalities:
        uf.union(by_label[lhs], by_label[rhs])
    if ngroups > 1 and group_equal:
        partial = {str(p).replace(" ", "") for p in group_partial}
        ov_nox, lv = set(vs.ov_nox), set(vs.lv)
        op, lhs, rhs = table["op"], table["lhs"], table["rhs"]
        flag = np.zeros(len(table), dtype=bool)
        same = lhs == rhs
        rules = {
            "loadings": op == "=~",
            "intercepts": (op == "~1") & lhs.isin(ov_nox),
            "means": (op == "~1") & lhs.isin(lv),
            "regressions": op == "~",
            "residuals": (op == "~~") & lhs.isin(ov_nox) & same,
            "residual.covariances": (op == "~~") & lhs.isin(ov_nox) & ~same,
            "lv.variances": (op == "~~") & lhs.isin(lv) & same,
            "lv.covariances": (op == "~~") & lhs.isin(lv) & ~same,
        }
        for option in group_equal:
            flag |= rules[option].to_numpy()
        keys = (lhs + op + rhs).to_numpy()
        first_group = {}
        for i in np.flatnonzero(table["group"].to_numpy() == 1):
            if flag[i] and keys[i] not in partial and not table.at[i, "label"]:
                first_group[keys[i]] = i
        for i in np.flatnonzero(table["group"].to_numpy() > 1):
            if keys[i] in first_group and not table.at[i, "label"]:
                uf.union(first_group[keys[i]], i)
    return uf


def _assign_free_indices(table: pd.DataFrame, parsed: ParsedModel, vs: VariableSets, ngroups: int,
                         group_equal, group_partial) -> None:
    uf = _equality_classes(table, parsed, vs, ngroups, group_equal, group_partial)
    roots = [uf.find(i) for i in range(len(table))]
    free = table["free"].to_numpy().copy()
    ustart = table["ustart"].to_numpy().copy()
    # an equality with a fixed parameter fixes the whole class at that value
    fixed_value: dict[int, float] = {}
    for i, root in enumerate(roots):
        if free[i] == 0 and table.at[i, "exo"] == 0:
            fixed_value.setdefault(root, ustart[i])
    index: dict[int, int] = {}
    for i, root in enumerate(roots):
        if free[i] == 0:
            continue
        if root in fixed_value:
            free[i], ustart[i] = 0, fixed_value[root]
            continue
        index.setdefault(root, len(index) + 1)
        free[i] = index[root]
    table["free"] = free.astype(int)
    table["ustart"] = ustart
    # lavaan shows the first member's plabel as the label of unlabelled constrained rows
    members: dict[int, list[int]] = {}
    for i, root in enumerate(roots):
        if free[i] > 0:
            members.setdefault(root, []).append(i)
    labels = table["label"].to_numpy().copy()
    for rows in members.values():
        if len(rows) > 1:
            for i in rows:
                if not labels[i]:
                    labels[i] = table.at[rows[0], "plabel"]
    table["label"] = labels

