"""Careless-response screening: combine the indices of :mod:`analysis.screening.indices` into rules.

``screen_responses(data, instrument)`` computes every index, applies the rules in
:class:`ScreeningThresholds` (defaults from shared/DOMAIN.md) and returns a
:class:`ScreeningResult`: the respondents kept, the respondents excluded (with readable
reasons), a per-respondent flags table and a per-rule summary. Nobody is dropped silently:
``len(clean) + len(excluded) == len(data)``, and ``data`` itself is never modified.

Rules and default actions
-------------------------
=============================  =========================================  ========
rule                           fires when                                 action
=============================  =========================================  ========
instructed_response            >= 1 instructed-response item failed       flag
instructed_response_repeated   >= 2 failed (a missing answer is a fail)   exclude
speeding                       < 2 s per item, or total < 0.4 x median    exclude
longstring                     >= 10 identical in a row, or a run of      exclude
                               >= half a block on every block (page)
mahalanobis                    D^2 p < .001                               flag
even_odd                       Spearman-Brown even-odd r < .30            flag
=============================  =========================================  ========

Flag-only rules are weak evidence alone; a respondent is also excluded when flag-only
rules from two or more *different* indices fire together (``coinciding_flags``; the two
instructed-response rules count as one index).

DOMAIN.md's "longstring >= half a block" is applied to *every* block by default
(``longstring_block_share = 1.0``): the default instrument has short pages (3-8 items), where
half a page is 2-4 answers, and on simulated attentive respondents "any one block" flagged
about 90 % (half a block) or 11 % (half a block and at least 6), whereas straight-liners,
whole-survey or page by page, reach half a page on every page. Set ``longstring_block_share``
to ``1 / n_blocks`` for the literal "any block" reading.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, DataError
from analysis.screening.indices import (
    even_odd_consistency,
    instructed_response_failures,
    intra_individual_response_variability,
    longstring,
    longstring_by_block,
)
from analysis.screening.outliers import mahalanobis_distance, speeding

__all__ = [
    "RULES",
    "ScreeningThresholds",
    "ScreeningResult",
    "screen_responses",
]

# rule -> index it reads; flag-only rules on the same index do not "coincide"
RULES = {
    "instructed_response": "instructed_response",
    "instructed_response_repeated": "instructed_response",
    "speeding": "speeding",
    "longstring": "longstring",
    "mahalanobis": "mahalanobis",
    "even_odd": "even_odd",
}
_INSTRUMENT_ATTRIBUTES = ("attention_checks", "blocks", "substantive_items", "items_of",
                          "construct_codes")
_ITEM_LIKE = re.compile(r"^[A-Z]{1,6}[0-9]{1,3}$")


@dataclass(frozen=True)
class ScreeningThresholds:
    """Cut-offs and actions for :func:`screen_responses` (defaults: shared/DOMAIN.md).

    Attributes
    ----------
    instructed_flag_failures, instructed_exclude_failures : int
        Failed instructed-response items that fire ``instructed_response`` (1) and
        ``instructed_response_repeated`` (2).
    seconds_per_item, median_fraction : float
        ``speeding`` fires below 2 s per item or below 0.4 x the median total time.
    longstring_block_fraction, longstring_block_share : float
        A block counts as long when its longest run reaches 0.5 of its items; the block
        criterion needs ``ceil(share * n_blocks)`` long blocks (1.0: every block).
    longstring_run : int
        ``longstring`` also fires at 10 identical answers in a row anywhere.
    mahalanobis_alpha : float
        ``mahalanobis`` fires when the chi-square p-value of D^2 is below .001.
    mahalanobis_missing : {"available", "mean_impute"}
        See :func:`analysis.screening.outliers.mahalanobis_distance`.
    even_odd_min : float
        ``even_odd`` fires when the Spearman-Brown even-odd coefficient is below .30.
    exclude_rules : frozenset of str
        Rules (keys of :data:`RULES`) that exclude on their own; the others only flag.
    coinciding_flags : int or None
        Exclude when flag-only rules on this many distinct indices fire; None: never.
    """

    instructed_flag_failures: int = 1
    instructed_exclude_failures: int = 2
    seconds_per_item: float = 2.0
    median_fraction: float = 0.4
    longstring_block_fraction: float = 0.5
    longstring_block_share: float = 1.0
    longstring_run: int = 10
    mahalanobis_alpha: float = 0.001
    mahalanobis_missing: str = "available"
    even_odd_min: float = 0.30
    exclude_rules: frozenset[str] = field(default_factory=lambda: frozenset(
        {"instructed_response_repeated", "speeding", "longstring"}))
    coinciding_flags: int | None = 2

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> ConfigError:
            return ConfigError(f"ScreeningThresholds: {name!r}: expected {expected}, "
                               f"got {getattr(self, name)!r}")

        for name in ("instructed_flag_failures", "instructed_exclude_failures",
                     "longstring_run"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise fail(name, "an integer >= 1")
        if self.instructed_exclude_failures < self.instructed_flag_failures:
            raise fail("instructed_exclude_failures",
                       f"an integer >= instructed_flag_failures ({self.instructed_flag_failures})")
        for name, low, high in (("seconds_per_item", 0, math.inf), ("median_fraction", 0, 1),
                                ("longstring_block_fraction", 0, 1),
                                ("longstring_block_share", 0, 1),
                                ("mahalanobis_alpha", 0, 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low < value <= high:
                raise fail(name, f"a number in ({low}, {high}]")
        if isinstance(self.even_odd_min, bool) or not isinstance(self.even_odd_min, (int, float)) \
                or not -1 <= self.even_odd_min <= 1:
            raise fail("even_odd_min", "a number in [-1, 1]")
        if self.mahalanobis_missing not in ("available", "mean_impute"):
            raise fail("mahalanobis_missing", "'available' or 'mean_impute'")
        unknown = set(self.exclude_rules) - set(RULES)
        if isinstance(self.exclude_rules, str) or unknown:
            raise fail("exclude_rules", f"a set of rule names from {', '.join(RULES)}")
        object.__setattr__(self, "exclude_rules", frozenset(self.exclude_rules))
        if self.coinciding_flags is not None and (
                isinstance(self.coinciding_flags, bool)
                or not isinstance(self.coinciding_flags, (int, np.integer))
                or self.coinciding_flags < 2):
            raise fail("coinciding_flags", "None (never) or an integer >= 2")

    @property
    def flag_rules(self) -> list[str]:
        """Rules that only flag (everything not in ``exclude_rules``)."""
        return [rule for rule in RULES if rule not in self.exclude_rules]

    def as_dict(self) -> dict[str, Any]:
        """Plain values, e.g. for a report's methods table or a manifest."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["exclude_rules"] = sorted(self.exclude_rules)
        return values


@dataclass(frozen=True, eq=False)
class ScreeningResult:
    """Outcome of :func:`screen_responses`.

    Attributes
    ----------
    clean : pandas.DataFrame
        Rows of ``data`` kept, unchanged.
    excluded : pandas.DataFrame
        Rows of ``data`` removed, plus a ``reasons`` column.
    flags : pandas.DataFrame
        One row per respondent (index of ``data``): ``respondent_id``, every index value,
        one ``rule_<name>`` boolean per rule, ``n_flag_indices`` (distinct indices with a
        flag-only rule fired), ``flagged``, ``excluded`` and ``reasons``.
    summary : pandas.DataFrame
        ``rule``, ``action`` ("exclude", "flag"; "off" for ``coinciding_flags=None``),
        ``n_flagged``, ``share`` per rule, then the rows ``coinciding_flags``,
        ``flagged_any`` and ``excluded_total``.
    thresholds : ScreeningThresholds
        The thresholds applied.
    """

    clean: pd.DataFrame
    excluded: pd.DataFrame
    flags: pd.DataFrame
    summary: pd.DataFrame
    thresholds: ScreeningThresholds

    def __repr__(self) -> str:
        total = len(self.clean) + len(self.excluded)
        return (f"ScreeningResult(n={total}, clean={len(self.clean)}, "
                f"excluded={len(self.excluded)}, flagged={int(self.flags['flagged'].sum())})")


def _check_instrument(instrument: Any) -> None:
    missing = [name for name in _INSTRUMENT_ATTRIBUTES if not hasattr(instrument, name)]
    if missing:
        raise ConfigError(f"screen_responses: the instrument ({type(instrument).__name__}) "
                          f"lacks attribute(s) {', '.join(missing)}; expected an "
                          f"analysis.instrument.model.Instrument")


def _questionnaire_order(instrument: Any) -> list[str]:
    order = list(getattr(instrument, "likert_items", None) or [])
    if not order:
        order = [item for items in instrument.blocks.values() for item in items]
    extra = list(instrument.substantive_items) + list(instrument.attention_checks)
    return list(dict.fromkeys(order + extra))


def _check_data(data: pd.DataFrame, items: list[str], id_col: str, duration_col: str,
                points: int) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"screen_responses: expected a pandas DataFrame of responses, "
                        f"got {type(data).__name__}")
    if data.empty:
        raise DataError("screen_responses: the responses table has no rows")
    missing = [c for c in [id_col, duration_col, *items] if c not in data.columns]
    if missing:
        raise DataError(f"screen_responses: the responses lack column(s) "
                        f"{', '.join(missing)} required by the instrument")
    extra = [c for c in data.columns if isinstance(c, str) and _ITEM_LIKE.match(c)
             and c not in items]
    if extra:
        raise DataError(f"screen_responses: column(s) {', '.join(extra)} look like item "
                        f"columns but are not in the instrument; expected only "
                        f"{items[0]} ... {items[-1]} ({len(items)} items)")
    ids = data[id_col]
    if ids.isna().any() or ids.duplicated().any():
        bad = list(ids[ids.isna() | ids.duplicated(keep=False)].astype(str).unique()[:8])
        raise DataError(f"screen_responses: column {id_col!r} must hold unique, non-missing "
                        f"ids; found missing or repeated values {bad}")
    for item in items:
        values = pd.to_numeric(data[item], errors="coerce")
        bad = data[item].notna() & ~values.isin(range(1, points + 1))
        if bad.any():
            rows = list(ids[bad].astype(str)[:8])
            found = list(pd.unique(data.loc[bad, item])[:8])
            raise DataError(f"screen_responses: column {item!r} must hold whole numbers "
                            f"1..{points} or missing; respondents {rows} have {found}")


def _keyed_scales(data: pd.DataFrame, instrument: Any, points: int,
                  ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Scale items with reverse-keyed items recoded (points + 1 - x), on a private copy."""
    scales = {code: list(instrument.items_of(code)) for code in instrument.construct_codes}
    columns = list(dict.fromkeys(item for items in scales.values() for item in items))
    keyed = data[columns].apply(pd.to_numeric).astype(float)
    for item in getattr(instrument, "reverse_keyed", []) or []:
        if item in keyed.columns:
            keyed[item] = points + 1 - keyed[item]
    return keyed, {code: items for code, items in scales.items() if items}


def _join(parts: list[pd.Series]) -> pd.Series:
    frame = pd.concat(parts, axis=1)
    return frame.apply(lambda row: "; ".join(text for text in row if text), axis=1)


def _reasons(flags: pd.DataFrame, attention: dict[str, int], data: pd.DataFrame,
             t: ScreeningThresholds, n_blocks: int) -> pd.Series:
    def when(mask: pd.Series, texts: pd.Series | str) -> pd.Series:
        texts = texts if isinstance(texts, pd.Series) else pd.Series(texts, index=mask.index)
        return texts.where(mask, "")

    answers = {item: pd.to_numeric(data[item], errors="coerce") for item in attention}
    failed = pd.DataFrame({item: answer.isna() | (answer != attention[item])
                           for item, answer in answers.items()})
    failed_items = failed.apply(lambda row: ", ".join(row.index[row.to_numpy()]), axis=1)
    failures = flags["instructed_response_failures"]
    instructed = ("failed " + failures.astype(str) + f" of {len(attention)} "
                  "instructed-response items (" + failed_items + ")")
    fast = []
    per_item = flags["seconds_per_item"].map("{:.1f}".format)
    ratio = flags["duration_to_median"].map("{:.2f}".format)
    fast.append(when(flags["too_fast_per_item"],
                     per_item + f" s per item (< {t.seconds_per_item:g} s)"))
    fast.append(when(flags["too_fast_vs_median"],
                     ratio + f" x the median time (< {t.median_fraction:g})"))
    speed = "completed in " + _join(fast).str.replace("; ", " and ", regex=False)
    longest = when(flags["longstring_block_criterion"],
                   "identical answers over at least "
                   f"{t.longstring_block_fraction:g} of a page on "
                   + flags["longstring_long_blocks"].astype(str) + f" of {n_blocks} pages "
                   "(longest " + flags["max_block_run"].astype(str) + " of "
                   + flags["max_block_items"].astype(str) + " items on page "
                   + flags["max_block"].astype(str) + ")")
    overall = when(flags["longstring"] >= t.longstring_run,
                   flags["longstring"].astype(str) + " identical answers in a row "
                   f"(>= {t.longstring_run})")
    mahalanobis = ("Mahalanobis D² " + flags["mahalanobis_d2"].map("{:.1f}".format)
                   + " on " + flags["mahalanobis_df"].astype(str) + " items (p = "
                   + flags["mahalanobis_p"].map("{:.2g}".format)
                   + f" < {t.mahalanobis_alpha:g})")
    even_odd = ("even-odd consistency " + flags["even_odd"].map("{:.2f}".format)
                + f" (< {t.even_odd_min:.2f})")
    coincide = (flags["n_flag_indices"].astype(str) + " independent flags coincide")
    only_coinciding = flags["excluded"] & flags["rule_coinciding_flags"] & ~flags[
        [f"rule_{r}" for r in t.exclude_rules]].any(axis=1)
    return _join([
        when(flags["rule_instructed_response"] | flags["rule_instructed_response_repeated"],
             instructed),
        when(flags["rule_speeding"], speed),
        longest, when(flags["rule_longstring"], overall),
        when(flags["rule_mahalanobis"], mahalanobis),
        when(flags["rule_even_odd"], even_odd),
        when(only_coinciding, coincide),
    ])


def screen_responses(data: pd.DataFrame, instrument: Any,
                     thresholds: ScreeningThresholds | None = None, *,
                     id_col: str = "respondent_id",
                     duration_col: str = "duration_sec") -> ScreeningResult:
    """Screen survey responses for careless answering and set excluded respondents aside.

    Parameters
    ----------
    data : pandas.DataFrame
        Responses, one row per respondent (see shared contracts: ``respondent_id``,
        ``duration_sec``, one column per Likert item). Not modified.
    instrument : analysis.instrument.model.Instrument or alike
        Anything with ``attention_checks``, ``blocks``, ``substantive_items``,
        ``items_of(code)`` and ``construct_codes``; ``likert_items``, ``reverse_keyed``
        and ``scale.points`` are used when present (defaults: block order, none, 7).
    thresholds : ScreeningThresholds, optional
        Cut-offs and actions; default ``ScreeningThresholds()``.
    id_col, duration_col : str
        Respondent id and total completion time (seconds) columns.

    Returns
    -------
    ScreeningResult

    Notes
    -----
    Indices: instructed-response failures over ``attention_checks``; longstring over all
    Likert items in questionnaire order and within each block (``longstring_long_blocks``
    counts blocks whose run reaches ``longstring_block_fraction`` of the block); speeding
    with n_items = number of Likert items; Mahalanobis D^2 over ``substantive_items``;
    even-odd over each construct's items (reverse-keyed items recoded to points + 1 - x);
    IRV over all Likert items (reported, no rule). A respondent is excluded when any rule in
    ``exclude_rules`` fires, or when flag-only rules on ``coinciding_flags`` or more
    distinct indices fire together. Missing index values (e.g. even-odd of a
    straight-liner, whose half-scores have no variance) never fire a rule.
    """
    t = thresholds if thresholds is not None else ScreeningThresholds()
    if not isinstance(t, ScreeningThresholds):
        raise ConfigError(f"screen_responses: thresholds must be a ScreeningThresholds, "
                          f"got {type(t).__name__}")
    _check_instrument(instrument)
    points = int(getattr(getattr(instrument, "scale", None), "points", 7) or 7)
    attention = dict(instrument.attention_checks)
    blocks = {block: list(items) for block, items in instrument.blocks.items() if items}
    order = _questionnaire_order(instrument)
    _check_data(data, order, id_col, duration_col, points)

    keyed, scales = _keyed_scales(data, instrument, points)
    by_block = longstring_by_block(data, blocks)
    parts = [
        data[[id_col]],
        instructed_response_failures(data, attention).to_frame(),
        speeding(data, len(order), duration_col, t.seconds_per_item, t.median_fraction),
        longstring(data, order).to_frame(),
        by_block,
        mahalanobis_distance(data, list(instrument.substantive_items), t.mahalanobis_missing),
        even_odd_consistency(keyed, scales),
        intra_individual_response_variability(data, order).to_frame(),
    ]
    flags = pd.concat(parts, axis=1)
    block_sizes = np.array([len(items) for items in blocks.values()])
    block_runs = by_block[[f"longstring_{b}" for b in blocks]].to_numpy()
    long_blocks = block_runs >= np.ceil(t.longstring_block_fraction * block_sizes - 1e-9)
    flags["longstring_long_blocks"] = long_blocks.sum(axis=1)
    blocks_needed = max(1, math.ceil(t.longstring_block_share * len(blocks) - 1e-9))
    flags["longstring_block_criterion"] = flags["longstring_long_blocks"] >= blocks_needed

    failures = flags["instructed_response_failures"]
    rules = {
        "instructed_response": failures >= t.instructed_flag_failures,
        "instructed_response_repeated": failures >= t.instructed_exclude_failures,
        "speeding": flags["speeding"],
        "longstring": (flags["longstring_block_criterion"]
                       | (flags["longstring"] >= t.longstring_run)),
        "mahalanobis": flags["mahalanobis_p"] < t.mahalanobis_alpha,
        "even_odd": flags["even_odd"] < t.even_odd_min,
    }
    for rule, fired in rules.items():
        flags[f"rule_{rule}"] = fired.fillna(False).astype(bool)
    flag_indices = {RULES[rule] for rule in t.flag_rules}
    flags["n_flag_indices"] = sum(
        flags[[f"rule_{r}" for r in t.flag_rules if RULES[r] == index]].any(axis=1).astype(int)
        for index in sorted(flag_indices)) if flag_indices else 0
    flags["rule_coinciding_flags"] = (flags["n_flag_indices"] >= t.coinciding_flags
                                      if t.coinciding_flags is not None else False)
    rule_columns = [f"rule_{rule}" for rule in RULES]
    flags["flagged"] = flags[rule_columns].any(axis=1)
    flags["excluded"] = (flags[[f"rule_{r}" for r in sorted(t.exclude_rules)]].any(axis=1)
                         | flags["rule_coinciding_flags"])
    flags["reasons"] = _reasons(flags, attention, data, t, len(blocks))

    excluded_mask = flags["excluded"].to_numpy()
    clean = data.loc[~excluded_mask].copy()
    excluded = data.loc[excluded_mask].copy()
    excluded["reasons"] = flags.loc[excluded_mask, "reasons"]
    if len(clean) + len(excluded) != len(data):  # guards the promise in the module docstring
        raise RuntimeError("screening lost respondents; this is a bug")

    n = len(data)
    rows = [(rule, "exclude" if rule in t.exclude_rules else "flag",
             int(flags[f"rule_{rule}"].sum())) for rule in RULES]
    rows += [("coinciding_flags", "exclude" if t.coinciding_flags is not None else "off",
              int(flags["rule_coinciding_flags"].sum())),
             ("flagged_any", "flag", int(flags["flagged"].sum())),
             ("excluded_total", "exclude", int(flags["excluded"].sum()))]
    summary = pd.DataFrame(rows, columns=["rule", "action", "n_flagged"])
    summary["share"] = summary["n_flagged"] / n
    return ScreeningResult(clean=clean, excluded=excluded, flags=flags, summary=summary,
                           thresholds=t)
