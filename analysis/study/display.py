"""Tables and report sections as the reader sees them, in the report's language.

Kept out of the notebook so that the notebook holds no logic the tests cannot reach. The
notebook calls ``show_table(ctx, frame, "<name>")`` where ``<name>`` is the CSV name the
stage saved the table under; :func:`format_table` turns the computing table into a reading
table and :func:`show_table` displays it with a numbered caption:

* **what is shown** is decided per table by a small *view* in :data:`VIEWS` (name -> function):
  pairwise tables become construct x construct matrices, separate CI bounds become one
  "95% CI" column, identifiers are never shown, long tables are summarised or pivoted;
* **how values read** follows APA: p-values via :func:`~analysis.i18n.format_p`
  ("< .001"), whole numbers without decimals, shares as percentages, coefficients with 2-3
  decimals (no leading zero in English when they cannot exceed 1), booleans as ✓ / ✗ marks,
  codes (constructs, effect kinds, invariance levels, ...) in words from the catalog;
* **what is said once** - a column with the same value in every row is dropped and named in
  the note under the table ("All rows: ...");
* **headers and captions** come from ``analysis/i18n/catalog/tables.yaml``
  (``column.<name>``, ``table.<name>.caption``, ``value.<group>.<code>``); nothing falls back
  to English.

Every reading table must fit the report's text column (:data:`TABLE_WIDTH_PX`): the width
is estimated by :func:`estimated_width` (see there for the rule) and checked by the tests
for every table of a real run, in all three languages.
"""

from __future__ import annotations

import html
import math
import numbers
import platform
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata

import numpy as np
import pandas as pd

from analysis.i18n import (
    MissingTranslation,
    format_date,
    format_integer,
    format_number,
    format_p,
    format_percent,
    text,
)
from analysis.privacy import DEFAULT_MIN_CELL_SIZE, suppressed_cells

__all__ = [
    "TABLE_CSS",
    "TABLE_WIDTH_PX",
    "VIEWS",
    "ReadingTable",
    "appendix_codebook",
    "appendix_questionnaires",
    "construct_label",
    "estimated_width",
    "format_table",
    "next_table_number",
    "run_details",
    "show_table",
    "title_block",
]

_PACKAGES = ("semopy", "pingouin", "pandas", "numpy", "scipy", "seaborn", "papermill")

#: Width of the report's text column; no table may need more (no horizontal scroll bar).
TABLE_WIDTH_PX = 760
#: Average width of one character at the table font size (0.85rem), CJK characters count twice.
CHAR_PX = 7
#: Cell padding (left + right), in characters.
PADDING_CHARS = 2
#: Prose columns (item wording, notes) wrap; they count at most this many characters.
PROSE_CHARS = 30

MARK_YES, MARK_NO, EMPTY = "✓", "✗", "–"
#: Columns that identify people: never shown in a report table (privacy).
IDENTIFIERS = ("respondent_id", "customer_id", "order_id", "session_id")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Stylesheet of the reading tables (APA-like rules, compact cells, numbers right-aligned).
#: Emitted with the first table of a run; renderers may embed it in the page as well.
TABLE_CSS = """
.wb-table { margin: 1.1em 0 1.5em; max-width: 100%; }
.wb-table table { border-collapse: collapse; margin: 0; font-size: .85rem; line-height: 1.3;
  font-variant-numeric: tabular-nums; width: auto; max-width: 100%; }
.wb-table caption { caption-side: top; text-align: left; padding: 0 0 .45em; font-size: .95rem;
  color: inherit; }
.wb-table caption .wb-number { font-weight: 600; margin-right: .3em; }
.wb-table th, .wb-table td { padding: .2em .45em; border: 0; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; text-align: left; background: none; }
.wb-table tbody th { font-weight: normal; }
.wb-table thead th { font-weight: 600; border-top: 1.5px solid #1f2328;
  border-bottom: 1.5px solid #1f2328; vertical-align: bottom; }
.wb-table tbody tr:last-child td { border-bottom: 1.5px solid #1f2328; }
.wb-table .wb-num { text-align: right; white-space: nowrap; }
.wb-table thead th.wb-num { white-space: normal; }
.wb-table .wb-mark { text-align: center; }
.wb-table .wb-prose { white-space: normal; }
.wb-table .wb-pass { color: #1a7f37; }
.wb-table .wb-fail { color: #b42318; background: #fdecea; }
.wb-table .wb-diag { font-weight: 600; }
.wb-table .wb-muted { color: #6e7781; }
.wb-table.wb-compact table { font-size: .78rem; }
.wb-table .wb-note { margin: .4em 0 0; font-size: .8rem; color: #57606a; max-width: 760px; }
""".strip()


# --------------------------------------------------------------------------- reading table

@dataclass
class ReadingTable:
    """A table formatted for reading: every cell a string, headers in the report language."""

    frame: pd.DataFrame
    name: str
    language: str
    caption: str
    notes: list[str] = field(default_factory=list)
    classes: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column position) -> CSS
    prose: dict[int, int] = field(default_factory=dict)  # column position -> wrap width (characters)

    @property
    def width(self) -> int:
        """Estimated rendered width in pixels (:func:`estimated_width`)."""
        return estimated_width(self.frame, self.prose)


def _display_length(value: str) -> int:
    """Characters as they take room: East-Asian wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _header_length(header: str) -> int:
    """Room a header needs when it may wrap onto two lines (at spaces, or between CJK characters)."""
    header = str(header)
    whole = _display_length(header)
    words = header.split()
    longest_word = max((_display_length(w) for w in words if not _has_cjk(w)), default=0)
    return max(math.ceil(whole / 2), longest_word) if (len(words) > 1 or _has_cjk(header)) else whole


def _has_cjk(value: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in str(value))


def estimated_width(frame: pd.DataFrame, prose: dict[int, int] | None = None) -> int:
    """Pixels a reading table needs: the rule the tests hold every table to.

    Each column needs ``max(header, longest cell) + 2`` characters (cell padding) at
    :data:`CHAR_PX` pixels; East-Asian wide characters count as two. Headers may wrap onto
    two lines (at spaces; Chinese anywhere), so a header counts half its length but at least
    its longest word. Prose columns (``prose``: position -> characters) wrap at that width.
    """
    prose = prose or {}
    total = 0
    for position, column in enumerate(frame.columns):
        cells = max((_display_length(v) for v in frame.iloc[:, position].astype(str)), default=0)
        if position in prose:
            cells = min(cells, prose[position])
        total += max(_header_length(column), cells) + PADDING_CHARS
    return total * CHAR_PX


# --------------------------------------------------------------------------- catalog helpers

def _slug(value) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")


def column_label(name: str, language: str) -> str:
    """Header of a column: ``column.<name>`` from the catalog; headers already in words pass."""
    return text(f"column.{name}", language) if _SNAKE.match(str(name)) else str(name)


def construct_label(code: str, language: str, instrument=None, *, with_code: bool = True) -> str:
    """"Efficiency (EFF)": the construct's name from the catalog (``construct.<CODE>``) or the
    instrument's own translations; codes that are no construct (items) stay as they are."""
    name = None
    try:
        name = text(f"construct.{code}", language)
    except MissingTranslation:
        for construct in getattr(instrument, "constructs", ()):
            if construct.code == code and construct.name.get(language):
                name = construct.name[language]
    if name is None:
        return str(code)
    if language == "en":  # the catalog writes names for use inside a sentence; a table cell starts one
        name = name[:1].upper() + name[1:]
    return f"{name} ({code})" if with_code else name


def next_table_number(ctx) -> int:
    """The next table number of this report run (kept on the context as ``table_count``)."""
    number = getattr(ctx, "table_count", 0) + 1
    ctx.table_count = number  # the context lives as long as the run: one counter per report
    return number


# --------------------------------------------------------------------------- the work of a view

class _Work:
    """What a view needs and leaves behind: the language, formatters, notes and cell classes."""

    def __init__(self, ctx, language: str, name: str):
        self.ctx, self.language, self.name = ctx, language, name
        self.notes: list[str] = []
        self.kinds: dict[str, str] = {}
        self.keep: set[str] = set()  # never dropped as constant
        self.group: list[str] = []  # repeated values shown only on the first row of a run
        self.prose: dict[str, int] = {}
        self.classes: dict[tuple[int, str], str] = {}
        self.constants = True  # drop constant columns into the note
        self.plain_marks: set[str] = set()  # ✓ / ✗ meaning yes / no, not met / not met: not coloured

    # words ----------------------------------------------------------------------------------
    def t(self, key: str, **values) -> str:
        return text(key, self.language, **values)

    def value(self, group: str, code) -> str:
        """A categorical code in words: ``value.<group>.<code>``."""
        return self.t(f"value.{group}.{_slug(code)}")

    def note(self, key: str, **values) -> None:
        self.notes.append(self.t(key, **values))

    def construct(self, code, with_code: bool = True) -> str:
        return construct_label(code, self.language, getattr(self.ctx, "instrument", None), with_code=with_code)

    # numbers --------------------------------------------------------------------------------
    def num(self, value, digits: int = 2, bounded: bool = False) -> str:
        return format_number(value, self.language, digits, bounded=bounded)

    def whole(self, value) -> str:
        return format_integer(value, self.language)

    def pct(self, value, digits: int = 1) -> str:
        return format_percent(value, self.language, digits)

    def p(self, value) -> str:
        return format_p(value, self.language)

    def ci(self, lower, upper, fmt: Callable | None = None) -> str:
        """"[.21, .40]": one interval cell."""
        fmt = fmt or (lambda v: self.num(v, 2, bounded=True))
        if _missing(lower) or _missing(upper):
            return EMPTY
        return f"[{fmt(lower)}, {fmt(upper)}]"

    def mark(self, value) -> str:
        if _missing(value):
            return EMPTY
        return MARK_YES if bool(value) else MARK_NO

    def thresholds(self):
        return self.ctx.settings.thresholds


def _missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return isinstance(value, numbers.Real) and not math.isfinite(float(value))


def _path(lhs, op, rhs) -> str:
    """A model parameter with arrows: loadings and paths point from cause to effect."""
    if op == "=~":
        return f"{lhs} → {rhs}"
    if op == "~":
        return f"{rhs} → {lhs}"
    if op == "~~":
        return f"{lhs} ↔ {rhs}"
    return f"{lhs} {op} {rhs}"


# --------------------------------------------------------------------------- column kinds

#: How the values of a known column read (views override per table). Kinds: p, int, pct,
#: pct0, b2/b3 (bounded, 2/3 decimals), n1/n2/n3 (decimals), mark, text.
COLUMN_KINDS: dict[str, str] = {
    **dict.fromkeys(["pvalue", "pvalue_diff", "mahalanobis_p", "p"], "p"),
    **dict.fromkeys(["n", "df", "npar", "df_diff", "n_items", "parameters", "n_draws", "n_failed", "position",
                     "mahalanobis_df", "longstring", "segment_size", "cohort_size", "observed", "bgnbd_model",
                     "period", "excluded", "kept", "instructed_response_failures", "max_block_run",
                     "max_block_items", "even_odd_pairs", "n_flag_indices", "longstring_long_blocks",
                     "frequency", "median_weeks", "median_ci_lower", "median_ci_upper", "timeline"], "int"),
    **dict.fromkeys(["alpha", "alpha_ci_lower", "alpha_ci_upper", "composite_reliability", "ave", "min_loading",
                     "max_loading", "std_all", "loading_threshold", "cr_if_deleted", "ave_if_deleted", "htmt",
                     "htmt_threshold", "latent_correlation", "sqrt_ave_a", "sqrt_ave_b", "r", "r_m", "r_adjusted",
                     "true_r", "r2", "r_squared", "sepc_all", "ml", "wlsmv", "listwise", "fiml", "boot_mean",
                     "boot_se", "even_odd", "even_odd_raw", "max_block_ratio", "probability_alive",
                     "total_effect", "mean_score", "longstring_block_criterion"], "b2"),
    **dict.fromkeys(["cfi", "tli", "rmsea", "srmr", "rmsea_ci_lower", "rmsea_ci_upper", "effect"], "b3"),
    **dict.fromkeys(["delta_cfi", "delta_rmsea", "difference", "epc", "max_abs_est_difference",
                     "max_abs_se_difference", "chisq_difference"], "n3"),
    **dict.fromkeys(["chisq", "chisq_diff", "mi", "z", "t", "stat", "est", "se", "coef", "estimate", "true",
                     "vif", "first_eigenvalue", "mahalanobis_d2", "irv", "seconds_per_item", "duration_to_median",
                     "mean", "sd", "min", "max", "median", "q10", "q25", "q75", "q90", "monetary_value",
                     "recency", "T", "clv", "expected_purchases", "expected_average_value", "performance",
                     "duration_sec", "ci_lower", "ci_upper"], "n2"),
    **dict.fromkeys(["aic", "bic"], "n1"),
}
_SHARE_WORDS = ("share", "rate", "percent", "retained_", "retention", "survival")


def _kind_of(name: str, series: pd.Series, work: _Work) -> str:
    if name in work.kinds:
        return work.kinds[name]
    values = series.dropna()
    if len(values) and all(isinstance(v, str) for v in values):
        return "text"
    if pd.api.types.is_bool_dtype(series) or (len(values) and all(isinstance(v, (bool, np.bool_)) for v in values)):
        return "mark"
    if name in COLUMN_KINDS:
        return COLUMN_KINDS[name]
    if any(word in str(name) for word in _SHARE_WORDS):
        return "pct"
    if str(name).startswith("n_") or pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        finite = values[np.isfinite(values.astype(float))]
        return "int" if len(finite) and (finite == finite.round()).all() else "n2"
    return "text"


def _format_cell(value, kind: str, work: _Work) -> str:
    if isinstance(value, str):
        return value
    if kind == "mark":
        return work.mark(value)
    if _missing(value):
        return EMPTY
    if not isinstance(value, numbers.Real):
        return str(value)
    return {
        "p": lambda v: work.p(v),
        "int": lambda v: work.whole(v),
        "pct": lambda v: work.pct(v, 1),
        "pct0": lambda v: work.pct(v, 0),
        "b2": lambda v: work.num(v, 2, bounded=True),
        "b3": lambda v: work.num(v, 3, bounded=True),
        "n1": lambda v: work.num(v, 1),
        "n2": lambda v: work.num(v, 2),
        "n3": lambda v: work.num(v, 3),
    }.get(kind, lambda v: str(v))(value)


def _constant_word(value: str, kind: str, work: _Work) -> str:
    """A constant for the note: marks in words ("yes"), everything else as formatted."""
    if kind == "mark" and value in (MARK_YES, MARK_NO):
        return work.t("value.bool.yes" if value == MARK_YES else "value.bool.no")
    return value


# --------------------------------------------------------------------------- views

def _present(table: pd.DataFrame, *columns: str) -> list[str]:
    return [c for c in columns if c in table.columns]


def _construct_codes(ctx) -> list[str]:
    instrument = getattr(ctx, "instrument", None)
    codes = [c.code for c in getattr(instrument, "constructs", ())]
    return codes


def _pair_matrix(pairs: pd.DataFrame, value: str, order: list[str] | None = None,
                 upper: str | None = None) -> pd.DataFrame:
    """Construct x construct matrix of ``value`` (lower triangle) from a table of pairs;
    ``upper`` fills the upper triangle with a second column."""
    codes = list(dict.fromkeys([*pairs["construct_a"], *pairs["construct_b"]]))
    if order:
        codes = [c for c in order if c in codes] + [c for c in codes if c not in order]
    matrix = pd.DataFrame(np.nan, index=codes, columns=codes, dtype=object)
    position = {c: k for k, c in enumerate(codes)}
    for rec in pairs.itertuples(index=False):
        a, b = rec.construct_a, rec.construct_b
        low, high = (a, b) if position[a] > position[b] else (b, a)
        matrix.loc[low, high] = getattr(rec, value)
        if upper is not None:
            matrix.loc[high, low] = getattr(rec, upper)
    return matrix


def _matrix_frame(matrix: pd.DataFrame, work: _Work, fmt: Callable, *, lower_only: bool,
                  diagonal: dict | None = None, fail: Callable | None = None,
                  muted: Callable | None = None) -> pd.DataFrame:
    """Rows "Name (CODE)", columns CODE; a lower triangle drops the empty first row and last column."""
    codes = list(matrix.index)
    rows = codes[1:] if lower_only and diagonal is None else codes
    columns = codes[:-1] if lower_only and diagonal is None else codes
    out = {"construct": [work.construct(c) for c in rows]}
    for j, col in enumerate(columns):
        cells = []
        for i, row in enumerate(rows):
            if row == col and diagonal is not None:
                cells.append("" if diagonal.get(row) is None else fmt(diagonal[row]))
                work.classes[(i, col)] = "wb-diag"
                continue
            value = matrix.loc[row, col]
            if lower_only and codes.index(col) >= codes.index(row):
                cells.append("")
                continue
            cells.append(fmt(value) if not _missing(value) else "")
            if fail is not None and not _missing(value) and fail(row, col, value):
                work.classes[(i, col)] = "wb-fail"
            elif muted is not None and not _missing(value) and muted(row, col, value):
                work.classes[(i, col)] = "wb-muted"
        out[col] = cells
    work.constants = False
    return pd.DataFrame(out)


def _v_htmt(table, work):
    """The HTMT matrix (saved square) as its lower triangle; ratios at or above the cut-off marked."""
    if "construct_a" in table:
        matrix = _pair_matrix(table, "htmt", _construct_codes(work.ctx))
    else:
        matrix = table.set_index(table.columns[0])
    cut = work.thresholds().htmt
    frame = _matrix_frame(matrix.astype(object), work, lambda v: work.num(v, 2, bounded=True), lower_only=True,
                          fail=lambda a, b, v: float(v) >= cut)
    work.note("table.htmt.note", cut=work.num(cut, 2, bounded=True))
    return frame


def _v_discriminant(table, work):
    """Fornell-Larcker below the diagonal (sqrt AVE on it), HTMT above: one matrix for both criteria."""
    order = _construct_codes(work.ctx)
    matrix = _pair_matrix(table, "latent_correlation", order, upper="htmt")
    sqrt_ave = {**dict(zip(table["construct_a"], table["sqrt_ave_a"], strict=True)),
                **dict(zip(table["construct_b"], table["sqrt_ave_b"], strict=True))}
    fl_fail = {frozenset((r.construct_a, r.construct_b)) for r in table.itertuples() if not r.fornell_larcker_ok}
    htmt_fail = {frozenset((r.construct_a, r.construct_b)) for r in table.itertuples() if not r.htmt_ok}
    codes = list(matrix.index)

    def fails(row, col, _):
        below = codes.index(row) > codes.index(col)
        return frozenset((row, col)) in (fl_fail if below else htmt_fail)

    frame = _matrix_frame(matrix, work, lambda v: work.num(v, 2, bounded=True), lower_only=False,
                          diagonal=sqrt_ave, fail=fails)
    cuts = sorted(set(table["htmt_threshold"])) if "htmt_threshold" in table else [work.thresholds().htmt]
    work.note("table.discriminant_validity.note",
              cut=" / ".join(work.num(c, 2, bounded=True) for c in cuts))
    return frame


def _v_htmt_intervals(table, work):
    """Upper bounds of the bootstrap HTMT intervals as a matrix (the bound decides discriminance)."""
    matrix = _pair_matrix(table, "ci_upper", _construct_codes(work.ctx))
    cut = work.thresholds().htmt
    frame = _matrix_frame(matrix, work, lambda v: work.num(v, 2, bounded=True), lower_only=True,
                          fail=lambda a, b, v: float(v) >= cut)
    draws = table["n_draws"].max() if "n_draws" in table else np.nan
    work.note("table.htmt_intervals.note", draws=work.whole(draws), cut=work.num(cut, 2, bounded=True))
    if "n_failed" in table and table["n_failed"].sum() > 0:
        work.note("table.htmt_intervals.failed", failed=work.whole(table["n_failed"].max()))
    return frame


def _v_marker(table, work):
    """Marker-corrected correlations (lower triangle) beside the raw ones (upper triangle)."""
    pairs = table[(table["construct_a"] != "MKR") & (table["construct_b"] != "MKR")]
    matrix = _pair_matrix(pairs, "r_adjusted", _construct_codes(work.ctx), upper="r")
    weak = {(r.construct_a, r.construct_b) for r in pairs.itertuples() if r.pvalue >= 0.05}
    codes = list(matrix.index)

    def not_significant(row, col, _):
        return codes.index(row) > codes.index(col) and ((row, col) in weak or (col, row) in weak)

    frame = _matrix_frame(matrix, work, lambda v: work.num(v, 2, bounded=True), lower_only=False,
                          diagonal={c: None for c in codes}, muted=not_significant)
    r_m = pairs["r_m"].iloc[0] if len(pairs) else np.nan
    n = pairs["n"].iloc[0] if len(pairs) and "n" in pairs else np.nan
    work.note("table.marker_correction.note", r_m=work.num(r_m, 2, bounded=True), n=work.whole(n))
    if weak:
        work.note("table.marker_correction.weak")
    elif len(pairs) and (pairs["pvalue"] < 0.001).all():
        work.note("table.marker_correction.all_significant")
    return frame


def _v_reliability(table, work):
    th = work.ctx.validity_thresholds()
    out = pd.DataFrame({"construct": table["construct"].map(work.construct)})
    for column in _present(table, "n_items", "alpha"):
        out[column] = table[column]
    if {"alpha_ci_lower", "alpha_ci_upper"} <= set(table):
        out["alpha_ci"] = [work.ci(lo, hi) for lo, hi in zip(table["alpha_ci_lower"], table["alpha_ci_upper"],
                                                             strict=True)]
    for column in _present(table, "composite_reliability", "ave"):
        out[column] = table[column]
    if {"min_loading", "max_loading"} <= set(table):
        out["loading_range"] = [f"{work.num(lo, 2, True)}–{work.num(hi, 2, True)}"
                                for lo, hi in zip(table["min_loading"], table["max_loading"], strict=True)]
    for column in _present(table, "meets_alpha", "meets_cr", "meets_ave"):
        out[column] = table[column]
    work.note("table.reliability.note", alpha=work.num(th.alpha, 2, True), cr_min=work.num(th.cr_min, 2, True),
              cr_max=work.num(th.cr_max, 2, True), ave=work.num(th.ave, 2, True))
    return out


def _v_loadings(table, work):
    out = table.drop(columns=_present(table, "loading_threshold")).rename(columns={"std_all": "loading"})
    out["construct"] = out["construct"].astype(str)
    work.kinds["loading"] = "b2"
    work.group = ["construct"]
    cut = table["loading_threshold"].iloc[0] if "loading_threshold" in table and len(table) else 0.708
    work.note("table.loadings.note", cut=work.num(cut, 3, True))
    work.keep.add("meets_loading")
    return out


def _v_fit(table, work):
    cut = work.ctx.fit_thresholds()
    out = pd.DataFrame({"model": table["model"].map(lambda m: _model_name(m, work))})
    for column in _present(table, "n", "chisq", "df", "pvalue"):
        out[column] = table[column]
    for index in ("cfi", "tli", "rmsea", "srmr"):
        if index not in table:
            continue
        meets = table.get(f"meets_{index}")
        cells = []
        for i, value in enumerate(table[index]):
            cell = work.num(value, 3, True)
            if index == "rmsea" and {"rmsea_ci_lower", "rmsea_ci_upper"} <= set(table):
                cell += " " + work.ci(table["rmsea_ci_lower"].iloc[i], table["rmsea_ci_upper"].iloc[i],
                                      lambda v: work.num(v, 3, True))
            if meets is not None:
                ok = bool(meets.iloc[i])
                cell += " " + work.mark(ok)
                work.classes[(i, index if index != "rmsea" else "rmsea_ci")] = "wb-pass" if ok else "wb-fail"
            cells.append(cell)
        out[index if index != "rmsea" or "rmsea_ci_lower" not in table else "rmsea_ci"] = cells
    work.note("table.fit.note", cfi=work.num(cut["cfi"], 2, True), tli=work.num(cut["tli"], 2, True),
              rmsea=work.num(cut["rmsea"], 2, True), srmr=work.num(cut["srmr"], 2, True))
    if {"aic", "bic"} & set(table):
        work.note("table.fit.information_criteria")
    work.keep.update(out.columns)
    return out


def _model_name(name, work) -> str:
    """Model labels the notebook passes ("measurement (CFA)", "structural (SEM)", "cfa", ...)."""
    key = {"measurement_cfa": "measurement", "cfa": "measurement", "measurement": "measurement",
           "structural_sem": "structural", "sem": "structural", "structural": "structural"}.get(_slug(name))
    return work.value("model", key) if key else str(name)


def _v_paths(table, work):
    out = pd.DataFrame({"parameter": [_path(r.lhs, r.op, r.rhs) for r in table.itertuples()]})
    fixed = table["se"].isna() if "se" in table else pd.Series(False, index=table.index)
    for column in _present(table, "est", "se", "z", "pvalue"):
        out[column] = table[column].to_numpy()
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = [EMPTY if fix else work.ci(lo, hi, lambda v: work.num(v, 2))
                     for fix, lo, hi in zip(fixed, table["ci_lower"], table["ci_upper"], strict=True)]
    for column in _present(table, "std_all", "true"):
        out[column] = table[column].to_numpy()
    work.kinds.update({"std_all": "b2", "true": "b2", "est": "n2", "se": "n2", "z": "n2"})
    if fixed.any():
        work.note("table.paths.fixed")
    work.keep.update({"est", "std_all"})
    return out


def _v_estimates(table, work):
    table = table[table["op"] != ":="] if "op" in table else table
    out = _v_paths(table, work)
    variances = (table["op"] == "~~") & (table["lhs"] == table["rhs"])
    out.loc[variances.to_numpy(), "parameter"] = [work.t("value.parameter.variance", variable=v)
                                                  for v in table.loc[variances, "lhs"]]
    return out


def _v_r_squared(table, work):
    column = "r2" if "r2" in table else table.columns[-1]
    out = pd.DataFrame({"variable": table["variable"].map(work.construct), "r2": table[column].to_numpy()})
    work.kinds["r2"] = "b2"
    return out


def _v_indirect(table, work):
    out = pd.DataFrame({"effect_path": [f"{a} → {b}" for a, b in zip(table["from_"], table["to"], strict=True)],
                        "kind": table["kind"].map(lambda k: work.value("effect", k))})
    out["est"] = table["est"].to_numpy()
    work.kinds["est"] = "b3"
    if "boot_se" in table:
        out["boot_se"] = table["boot_se"].to_numpy()
        work.kinds["boot_se"] = "b3"
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = [work.ci(lo, hi, lambda v: work.num(v, 3, True))
                     for lo, hi in zip(table["ci_lower"], table["ci_upper"], strict=True)]
    for column in _present(table, "n_draws", "n_failed"):
        out[column] = table[column].to_numpy()
    if "true" in table:
        out["true"] = table["true"].to_numpy()
        work.kinds["true"] = "b3"
    work.group = ["effect_path"]
    if "ci" in out:
        level = work.ctx.settings.analysis.ci_level
        work.note("table.indirect.note", level=work.pct(level, 0))
        if not math.isclose(level, 0.95):
            out = out.rename(columns={"ci": work.t("value.ci_header", level=work.pct(level, 0))})
    return out


def _v_specific_indirect(table, work):
    out = pd.DataFrame({"path": table["path"].str.replace(" -> ", " → ", regex=False),
                        "effect": table["effect"].to_numpy()})
    work.kinds["effect"] = "b3"
    work.keep.add("effect")
    return out


def _v_recovery(table, work):
    def name(parameter: str) -> str:
        parameter = str(parameter)
        if parameter.startswith("R2 "):
            return f"R² {parameter[3:]}"
        for kind in ("indirect", "total", "direct"):
            if parameter.startswith(kind + " "):
                return work.t("value.recovery.effect", kind=work.value("effect", kind),
                              path=parameter[len(kind) + 1:].replace(" -> ", " → "))
        lhs, op, rhs = (parameter.split(" ", 2) + ["", ""])[:3]
        return _path(lhs, op, rhs) if op in ("=~", "~") else parameter

    out = pd.DataFrame({"parameter": table["parameter"].map(name), "true": table["true"].to_numpy(),
                        "estimate": table["estimate"].to_numpy()})
    if {"ci_lower", "ci_upper"} <= set(table) and table["ci_lower"].notna().any():
        out["ci"] = [work.ci(lo, hi) for lo, hi in zip(table["ci_lower"], table["ci_upper"], strict=True)]
    if "design_true" in table:  # the truth check: sampling error and design effects apart
        out.insert(2, "design_true", table["design_true"].to_numpy())
        out["sampling_error"] = table["sampling_error"].to_numpy()
        out["design_effect"] = table["design_effect"].to_numpy()
        out["covers_design"] = [work.mark(bool(v)) for v in table["covers_design"]]
        work.kinds.update({"design_true": "b2", "sampling_error": "b2", "design_effect": "b2"})
    else:
        out["difference"] = table["difference"].to_numpy() if "difference" in table else out["estimate"] - out["true"]
    work.kinds.update({"true": "b2", "estimate": "b2", "difference": "b2"})
    return out


def _v_screening_summary(table, work):
    out = pd.DataFrame({"rule": table["rule"].map(lambda r: work.value("rule", r)),
                        "action": table["action"].map(lambda a: work.value("action", a)),
                        "n_flagged": table["n_flagged"].to_numpy()})
    if "share" in table:
        out["share"] = table["share"].to_numpy()
    return out


def _v_screening_flags(table, work):
    """Per-respondent flags summarised: how many respondents each rule flagged (no identifiers)."""
    booleans = [c for c in table.columns if pd.api.types.is_bool_dtype(table[c])
                and (c.startswith("rule_") or c in ("flagged", "excluded"))]
    out = pd.DataFrame({"flag": [column_label(c, work.language) for c in booleans],
                        "n_respondents": [int(table[c].sum()) for c in booleans],
                        "share": [float(table[c].mean()) for c in booleans]})
    work.note("table.screening_flags.note", n=work.whole(len(table)))
    work.constants = False
    return out


_REASONS = (("instructed_response_repeated", r"failed (?:[2-9]|\d\d+) of \d+ instructed"),
            ("instructed_response", r"failed 1 of \d+ instructed"),
            ("speeding", r"completed in"), ("longstring", r"identical answers"),
            ("mahalanobis", r"Mahalanobis"), ("even_odd", r"even-odd"),
            ("coinciding_flags", r"independent flags coincide"))


def _v_excluded(table, work):
    """Counts by reason, never the respondents themselves.

    The rule columns decide when the frame has them (the screening's flags); otherwise the
    reasons the screening wrote for each respondent are read.
    """
    reasons = table["reasons"].fillna("").astype(str) if "reasons" in table else pd.Series("", index=table.index)
    rows = []
    for rule, pattern in _REASONS:
        column = f"rule_{rule}"
        hit = table[column].astype(bool) if column in table else reasons.str.contains(pattern, regex=True)
        if hit.any():
            rows.append({"reason": work.value("rule", rule), "n_respondents": int(hit.sum()),
                         "share_of_excluded": float(hit.mean())})
    if not rows and len(table):  # reasons in a form this view does not know: the total at least
        rows.append({"reason": work.value("rule", "excluded_total"), "n_respondents": len(table),
                     "share_of_excluded": 1.0})
    out = pd.DataFrame(rows, columns=["reason", "n_respondents", "share_of_excluded"])
    work.note("table.excluded_respondents.note", n=work.whole(len(table)))
    work.constants = False
    return out


def _v_screening_vs_truth(table, work):
    out = table.copy()
    first = out.columns[0]
    out[first] = out[first].map(lambda v: work.value("respondent_type", v))
    work.constants = False
    return out


def _groups_text(value: str, work) -> str:
    """"female (n=292) vs male (n=231)" in the report language."""
    parts = re.findall(r"\s*(?:vs\s+)?([^,()]+?) \(n=(<?\d+)\)", str(value))
    if not parts:
        return str(value)
    small = [n[1:] for _, n in parts if n.startswith("<")]
    if small:  # a small group's size was suppressed (analysis.privacy)
        work.note("privacy.groups_suppressed", k=small[0])
    return work.t("value.list_separator").join(
        work.t("value.group_size", group=_demographic(g.strip(), work), n=n if n.startswith("<") else work.whole(n))
        for g, n in parts)


def _demographic(code: str, work) -> str:
    for demographic in getattr(getattr(work.ctx, "instrument", None), "demographics", ()):
        for option, labels in demographic.options:
            if option == code and labels.get(work.language):
                return labels[work.language]
    return code


def _v_invariance(table, work):
    if not len(table):
        work.note("table.invariance.not_tested")
        work.constants = False
        return pd.DataFrame({"level": []})
    out = pd.DataFrame({"level": table["level"].map(lambda v: work.value("invariance_level", v))})
    for column in _present(table, "chisq", "df", "cfi", "rmsea", "srmr", "delta_cfi", "delta_rmsea"):
        out[column] = table[column].to_numpy()
    if {"chisq_diff", "df_diff"} <= set(table):
        out["chisq_diff_df"] = [EMPTY if _missing(c) else f"{work.num(c, 2)} ({work.whole(d)})"
                                for c, d in zip(table["chisq_diff"], table["df_diff"], strict=True)]
    if "pvalue_diff" in table:
        out["pvalue_diff"] = table["pvalue_diff"].to_numpy()
    if "decision" in table:
        def decision(text_):
            head = str(text_).split(" (")[0].strip()
            return work.value("invariance_decision", head)
        out["decision"] = table["decision"].map(decision)
        work.classes.update({(i, "decision"): "wb-pass" if str(d).startswith("supported") else
                             "wb-fail" if str(d).startswith("not supported") else ""
                             for i, d in enumerate(table["decision"])})
    if "groups" in table and len(table):
        work.note("table.invariance.groups", groups=_groups_text(table["groups"].iloc[0], work))
    if "note" in table and len(table) and str(table["note"].iloc[0]).strip():
        left = str(table["note"].iloc[0]).split(":", 1)[-1]
        work.note("table.invariance.left_out", groups=_groups_text(left, work))
    work.note("table.invariance.criteria")
    work.kinds.update({"cfi": "b3", "rmsea": "b3", "srmr": "b3", "delta_cfi": "b3", "delta_rmsea": "b3"})
    work.constants = False
    return out


def _v_missing(table, work):
    out = pd.DataFrame({"parameter": [f"{p} → {o}" for o, p in zip(table["outcome"], table["predictor"],
                                                                    strict=True)]})
    for column in _present(table, "listwise", "fiml", "difference", "n_listwise", "n_fiml"):
        out[column] = table[column].to_numpy()
    work.kinds["difference"] = "b3"
    return out


def _v_ordinal(table, work):
    out = table.copy()
    work.group = ["construct"]
    work.kinds["difference"] = "b3"
    fit = table.attrs.get("fit")
    if fit:
        work.note("table.ordinal_vs_ml.fit", ml_cfi=work.num(fit.get("ml_cfi"), 3, True),
                  ml_rmsea=work.num(fit.get("ml_rmsea"), 3, True),
                  wlsmv_cfi=work.num(fit.get("wlsmv_cfi_scaled"), 3, True),
                  wlsmv_rmsea=work.num(fit.get("wlsmv_rmsea_scaled"), 3, True))
    return out


def _v_robust_fit(table, work):
    def row(index, value):
        if index == "p-value":
            return work.p(value)
        if index in ("CFI", "TLI", "RMSEA"):
            return work.num(value, 3, True)
        return work.num(value, 3 if index == "scaling factor" else 2)

    out = pd.DataFrame({"index": table["index"].map(lambda i: work.value("fit_index", i))})
    for column in _present(table, "ml", "mlr"):
        out[column] = [row(i, v) for i, v in zip(table["index"], table[column], strict=True)]
    work.constants = False
    return out


def _v_harman(table, work):
    out = pd.DataFrame({"method": table["method"].map(lambda m: work.value("factor_method", m))})
    for column in _present(table, "first_eigenvalue", "variance_share", "n_items", "n"):
        out[column] = table[column].to_numpy()
    if "exceeds_threshold" in table:
        out["below_half"] = ~table["exceeds_threshold"].astype(bool).to_numpy()
    work.kinds.update({"variance_share": "pct", "first_eigenvalue": "n2"})
    work.note("table.harman.note")
    return out


def _v_vif(table, work):
    out = pd.DataFrame({"construct": table["construct"].map(work.construct)})
    for column in _present(table, "r_squared", "vif"):
        out[column] = table[column].to_numpy()
    if "exceeds_threshold" in table:
        out["vif_ok"] = ~table["exceeds_threshold"].astype(bool).to_numpy()
    work.keep.add("vif_ok")
    work.note("table.full_collinearity_vif.note")
    return out


def _v_modindices(table, work):
    out = pd.DataFrame({"parameter": [_path(r.lhs, r.op, r.rhs) for r in table.itertuples()]})
    for column in _present(table, "mi", "epc", "sepc_all"):
        out[column] = table[column].to_numpy()
    work.kinds.update({"mi": "n2", "epc": "n2", "sepc_all": "b2"})
    work.note("table.modindices.note")
    return out


def _v_admissibility(table, work):
    rows = []
    for rec in table.itertuples():
        kind = str(rec.kind)
        rows.append({"model": _model_name(rec.model, work), "finding": work.value("problem", kind),
                     "where": "" if _missing(getattr(rec, "where", "")) else str(rec.where),
                     "value": rec.value})
    out = pd.DataFrame(rows, columns=["model", "finding", "where", "value"])
    work.kinds["value"] = "n3"
    work.keep.update({"finding"})
    work.constants = False
    return out


def _v_engine_agreement(table, work):
    out = pd.DataFrame({"model": table["model"].map(lambda m: _model_name(m, work))})
    for column in _present(table, "parameters", "max_abs_est_difference", "max_abs_se_difference",
                           "chisq_difference"):
        out[column] = [_tiny(v, work) for v in table[column]] if column != "parameters" else table[column].to_numpy()
    if "agree" in table:
        out["agree"] = table["agree"].to_numpy()
    if "note" in table and table["note"].notna().any():  # semopy could not be asked for this model
        agree = out["agree"] if "agree" in out else pd.Series(np.nan, index=out.index)
        out["agree"] = [work.t("value.engine.not_compared") if not _missing(n) else work.mark(a)
                        for a, n in zip(agree, table["note"], strict=True)]
    engines = (table["engine"].iloc[0], table["second_engine"].iloc[0]) if {"engine", "second_engine"} <= set(
        table) and len(table) else ("workbench", "semopy")
    work.note("table.engine_agreement.note", engine=work.value("engine", engines[0]), other=engines[1])
    work.keep.update(out.columns)
    return out


def _tiny(value, work) -> str:
    """Differences between programs: "< 10⁻⁶" rather than "0.000"."""
    if _missing(value):
        return EMPTY
    value = abs(float(value))
    if value == 0:
        return "0"
    if value >= 0.001:
        return work.num(value, 3)
    exponent = math.ceil(math.log10(value))
    return "< 10" + str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


_OVERVIEW_FORMATS = {"respondents": "int", "substantive_items": "int", "constructs": "int",
                     "missing_answers_share_of_cells": "pct", "mean_answer_1_7": "n2",
                     "median_completion_time_min": "n1", "customers_with_orders": "int", "orders": "int",
                     "observation": "range", "mean_order_value": "n2", "on_time_deliveries": "pct",
                     "orders_returned": "pct", "orders_with_a_complaint": "pct", "complaints_resolved": "pct",
                     "survey_respondents_linked_by_customer_id": "int"}


def _v_overview(table, work):
    """Quantity/value tables whose values the stage wrote as English strings: read them again."""
    def value(quantity, raw):
        kind = _OVERVIEW_FORMATS.get(_slug(quantity), "text")
        raw = str(raw).strip()
        if kind == "range" and " to " in raw:
            start, end = raw.split(" to ", 1)
            return work.t("value.date_range", start=start, end=end)
        try:
            number = float(raw.replace(",", "").rstrip("%")) / (100 if raw.endswith("%") else 1)
        except ValueError:
            return raw
        return {"int": work.whole, "pct": lambda v: work.pct(v, 1), "n1": lambda v: work.num(v, 1),
                "n2": lambda v: work.num(v, 2)}.get(kind, lambda v: raw)(number)

    out = pd.DataFrame({"quantity": table["quantity"].map(lambda q: work.value("quantity", q)),
                        "value": [value(q, v) for q, v in zip(table["quantity"], table["value"], strict=True)]})
    work.constants = False
    return out


def _distribution_row_format(variable, values, work) -> list[str]:
    finite = [float(v) for v in values if not _missing(v)]
    if variable == "probability_alive":
        return [work.num(v, 2, True) for v in values]
    if finite and all(v.is_integer() for v in finite):
        return [work.whole(v) for v in values]
    return [work.num(v, 2) for v in values]


def _v_distribution(table, work):
    """rfm_summary / clv_summary: quartiles per variable, each row in its own unit."""
    stats = _present(table, "mean", "sd", "min", "q25", "median", "q75", "max")
    horizon = getattr(getattr(work.ctx.settings, "behaviour", None), "clv_horizon_weeks", 52)
    out = pd.DataFrame({"variable": table["variable"].map(lambda v: work.value("variable", v)),
                        "unit": table["variable"].map(lambda v: work.t(f"value.unit.{_slug(v)}", weeks=horizon))})
    cells = [_distribution_row_format(r["variable"], [r[s] for s in stats], work) for _, r in table.iterrows()]
    for k, column in enumerate(stats):
        out[column] = [row[k] for row in cells]
    if "n" in table:
        out["n"] = table["n"].to_numpy()
    work.prose["unit"] = 14
    if _present(table, "q10", "q90"):
        work.note("table.distribution.deciles", name=work.name)
    return out


def _v_concentration(table, work):
    out = table.copy()
    work.kinds.update({"top_share_of_customers": "pct0", "share_of_total_clv": "pct"})
    work.constants = False
    return out


def _rate_ci(table, work):
    return [work.ci(lo, hi, lambda v: work.pct(v, 1)) for lo, hi in zip(table["ci_lower"], table["ci_upper"],
                                                                       strict=True)]


def _v_repeat(table, work):
    everybody = table["grouping"].map(_slug).eq("all_customers")
    out = pd.DataFrame({
        "grouping": table["grouping"].map(lambda g: work.value("grouping", g)),
        "group": ["" if all_ else work.value(_slug(g), v)
                  for all_, g, v in zip(everybody, table["grouping"], table["group"], strict=True)],
        "window": table["window"].map(lambda w_: work.value("window", w_))})
    for column in _present(table, "n_customers", "n_repeat", "repeat_rate"):
        out[column] = table[column].to_numpy()
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = _rate_ci(table, work)
    work.group = ["grouping"]
    return out


def _v_service_retention(table, work):
    out = pd.DataFrame({"service": table["service"].map(lambda s: work.value("service", s)),
                        "group": table["group"].map(lambda g: work.value("service_group", g))})
    for column in _present(table, "n_customers", "n_repeat", "repeat_rate"):
        out[column] = table[column].to_numpy()
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = _rate_ci(table, work)
    work.group = ["service"]
    return out


def _v_parameters(table, work):
    """BG/NBD and Gamma-Gamma: estimates with CIs beside the simulation's values."""
    shares = table["parameter"].astype(str).str.startswith("repeat_rate")
    def fmt(value, share):
        return work.pct(value, 1) if share else work.num(value, 3)

    out = pd.DataFrame({"parameter": table["parameter"].map(lambda p: work.value("parameter", p))})
    for column in _present(table, "estimate", "se"):
        out[column] = [fmt(v, s) for v, s in zip(table[column], shares, strict=True)]
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = [work.ci(lo, hi, lambda v, s=s: fmt(v, s))
                     for lo, hi, s in zip(table["ci_lower"], table["ci_upper"], shares, strict=True)]
    for column in _present(table, "true", "design_true", "estimate_pure_backbone"):
        out[column] = [fmt(v, s) for v, s in zip(table[column], shares, strict=True)]
    if "true" in table and table["true"].notna().any():
        work.note(f"table.{work.name}.truth")
    work.constants = False
    return out


def _v_fit_check(table, work):
    out = table.copy()
    work.constants = False
    return out


def _v_retention_curves(table, work):
    """Kaplan-Meier curves at a few weeks instead of one row per week."""
    weeks = [w for w in (0, 13, 26, 52, 78, 104) if (table["timeline"] == w).any()]
    keep = table[table["timeline"].isin(weeks)]
    wide = keep.pivot_table(index=["source", "group"], columns="timeline", values="survival", sort=False)
    out = pd.DataFrame({"source": [work.value("source", s) for s, _ in wide.index],
                        "group": [work.value("group", g) for _, g in wide.index]})
    for week in weeks:
        out[work.t("value.after_weeks", weeks=week)] = [work.pct(v, 1) for v in wide[float(week)]]
    work.group = ["source"]
    work.note("table.retention_by_satisfaction.note")
    work.constants = False
    return out


def _v_retention_summary(table, work):
    out = pd.DataFrame({"source": table["source"].map(lambda s: work.value("source", s)),
                        "group": table["group"].map(lambda g: work.value("group", g))})
    for column in _present(table, "n_customers", "churned_share", "median_weeks"):
        out[column] = table[column].to_numpy()
    for column in [c for c in table.columns if re.fullmatch(r"retained_\d+w", c)]:
        out[work.t("value.after_weeks", weeks=int(column[9:-1]))] = [work.pct(v, 1) for v in table[column]]
    work.group = ["source"]
    work.note("table.retention_summary.note")
    return out


def _v_cohorts(table, work):
    periods = [p for p in (1, 2, 3, 6, 12) if (table["period"] == p).any()]
    wide = table.pivot_table(index="cohort", columns="period", values="retention", sort=True)
    sizes = table.groupby("cohort")["cohort_size"].first()
    out = pd.DataFrame({"cohort": wide.index.astype(str), "cohort_size": sizes.reindex(wide.index).to_numpy()})
    for period in periods:
        out[work.t("value.after_months", months=period)] = [work.pct(v, 1) for v in wide[period]]
    work.note("table.cohort_retention.note")
    work.constants = False
    return out


_SOURCES = {"survey scores (respondents)": "survey", "true latent (respondents)": "true_respondents",
            "true latent (all customers)": "true_all"}


def _v_attitude_behaviour(table, work):
    """Correlations of attitudes with behaviour: survey scores (with CI) beside the true latents."""
    if "method" in table:  # the saved long table: Pearson correlations, one column per source
        data = table[table["method"] == "pearson"]
        wide = data.pivot_table(index=["attitude", "behaviour"], columns="source", values="r", sort=False)
        survey = data[data["source"] == "survey scores (respondents)"].set_index(["attitude", "behaviour"])
        ci = {k: (lo, hi) for k, lo, hi in zip(survey.index, survey["ci_lower"], survey["ci_upper"], strict=True)}
    else:  # correlation_table(): already wide
        wide = table.set_index(["attitude", "behaviour"])
        ci_column = next((c for c in table.columns if str(c).endswith("95% CI")), None)
        ci = {k: _interval(v) for k, v in zip(wide.index, wide[ci_column], strict=True)} if ci_column else {}
        wide = wide.drop(columns=[ci_column] if ci_column else [])
    out = pd.DataFrame({"attitude": [work.construct(a, with_code=False) for a, _ in wide.index],
                        "behaviour": [work.value("behaviour", b) for _, b in wide.index]})
    for source, key in _SOURCES.items():
        if source not in wide:
            continue
        out[key] = wide[source].to_numpy()
        work.kinds[key] = "b2"
        if key == "survey" and ci:
            out["survey_ci"] = [work.ci(*ci[k]) if k in ci else EMPTY for k in wide.index]
    work.group = ["attitude"]
    work.note("table.attitude_behaviour.note")
    work.constants = False
    return out


def _interval(value) -> tuple[float, float]:
    """"[0.06, 0.25]" (a CI another function already wrote as text) back to its two numbers."""
    numbers_ = re.findall(r"-?\d+(?:\.\d+)?", str(value))
    return (float(numbers_[0]), float(numbers_[1])) if len(numbers_) == 2 else (np.nan, np.nan)


def _v_attitude_models(table, work):
    """Joint models of the main behaviours: attitude terms, survey estimate with CI, true latents beside."""
    main = ("repeat_12m", "churned", "log_clv")
    rows = table[(table["term"] != "intercept") & table["behaviour"].isin(main)]
    keys = list(dict.fromkeys(zip(rows["behaviour"], rows["term"])))
    by = {source: rows[rows["source"] == source].set_index(["behaviour", "term"]) for source in _SOURCES}
    out = pd.DataFrame({"behaviour": [work.value("behaviour", b) for b, _ in keys],
                        "term": [work.construct(t_, with_code=False) for _, t_ in keys]})
    survey = by["survey scores (respondents)"]
    if len(survey):
        out["survey"] = [survey["coef"].get(k, np.nan) for k in keys]
        work.kinds["survey"] = "n2"
        out["ci"] = [work.ci(survey["ci_lower"].get(k, np.nan), survey["ci_upper"].get(k, np.nan),
                             lambda v: work.num(v, 2)) for k in keys]
        out["pvalue"] = [survey["pvalue"].get(k, np.nan) for k in keys]
    for source, key in (("true latent (respondents)", "true_respondents"), ("true latent (all customers)", "true_all")):
        if len(by[source]):
            out[key] = [by[source]["coef"].get(k, np.nan) for k in keys]
            work.kinds[key] = "n2"
    work.group = ["behaviour"]
    models = dict(zip(rows["behaviour"], rows["model"], strict=False))
    work.note("table.attitude_behaviour_models.note", models=text("value.list_separator", work.language).join(
        work.t("value.behaviour_model", behaviour=work.value("behaviour", b), model=work.value("regression", m))
        for b, m in models.items()))
    work.constants = False
    return out


def _v_loyalty_bins(table, work):
    out = pd.DataFrame({"source": table["source"].map(lambda s: work.value("source", s)),
                        "group": table["group"].astype(str)})
    for column in _present(table, "n_customers", "n_repeat", "repeat_rate"):
        out[column] = table[column].to_numpy()
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = _rate_ci(table, work)
    if "mean_score" in table:
        out["mean_score"] = table["mean_score"].to_numpy()
        work.kinds["mean_score"] = "n2"
    work.group = ["source"]
    return out


def _v_response_bias(table, work):
    def fmt(measure, value):
        return work.pct(value, 1) if str(measure).endswith("(share)") else work.num(value, 2)

    out = pd.DataFrame({"measure": table["measure"].map(lambda m: work.value("measure", m))})
    for column in _present(table, "all_customers", "respondents", "difference"):
        out[column] = [fmt(m, v) for m, v in zip(table["measure"], table[column], strict=True)]
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = [work.ci(lo, hi, lambda v, m=m: fmt(m, v))
                     for m, lo, hi in zip(table["measure"], table["ci_lower"], table["ci_upper"], strict=True)]
    if "relative_difference" in table:
        out["relative_difference"] = [EMPTY if _missing(v) else work.pct(v, 0) for v in table["relative_difference"]]
    if "n_respondents" in table and len(table):
        work.note("table.response_bias.note", n=work.whole(table["n_respondents"].iloc[0]))
    work.constants = False
    return out


_SEGMENT_SHARES = ("conversion_rate", "repeat_12m", "churned")


def _segment_variable(variable: str, work) -> str:
    if "=" in variable:
        column, value = variable.split("=", 1)
        return work.t("value.indicator", variable=column_label(column, work.language),
                      value=work.value(column, value))
    if variable.startswith("survey_"):
        return work.t("value.survey_score", construct=work.construct(variable[7:]))
    return column_label(variable, work.language)


def _v_segments(table, work):
    order = sorted(dict.fromkeys(table["segment"]), key=lambda s: ("low" not in s, "high" in s, s))
    sizes = table.groupby("segment")["segment_size"].first() if "segment_size" in table else {}
    variables = list(dict.fromkeys(table["variable"]))
    out = pd.DataFrame({"variable": [_segment_variable(v, work) for v in variables]})
    keyed = table.set_index(["segment", "variable"])
    for segment in order:
        header = work.value("segment", segment)
        if len(sizes):
            header = work.t("value.group_size", group=header, n=work.whole(sizes[segment]))
        cells = []
        for variable in variables:
            if (segment, variable) not in keyed.index:
                cells.append(EMPTY)
                continue
            rec = keyed.loc[(segment, variable)]
            if bool(rec.get("suppressed", False)) or _missing(rec["mean"]):
                cells.append(EMPTY)  # the note on suppressed cells comes from format_table
            elif "=" in variable or variable in _SEGMENT_SHARES:
                cells.append(work.pct(rec["mean"], 1))
            else:
                cells.append(work.num(rec["mean"], 2))
        out[header] = cells
    work.note("table.segments.note")
    work.constants = False
    return out


def _v_customers(table, work):
    """Per-customer tables (rfm_customers, clv_customers) only as a summary: never one row per person."""
    numeric = [c for c in table.columns if c not in IDENTIFIERS and pd.api.types.is_numeric_dtype(table[c])
               and not pd.api.types.is_bool_dtype(table[c])]
    rows = [{"variable": c, "n": int(table[c].count()), "mean": table[c].mean(), "sd": table[c].std(),
             "min": table[c].min(), "q25": table[c].quantile(.25), "median": table[c].median(),
             "q75": table[c].quantile(.75), "max": table[c].max()} for c in numeric]
    summary = pd.DataFrame(rows, columns=["variable", "n", "mean", "sd", "min", "q25", "median", "q75", "max"])
    out = pd.DataFrame({"variable": summary["variable"].map(lambda v: column_label(v, work.language))})
    cells = [_distribution_row_format(r["variable"], [r[s] for s in ("mean", "sd", "min", "q25", "median", "q75",
                                                                      "max")], work) for _, r in summary.iterrows()]
    for k, column in enumerate(("mean", "sd", "min", "q25", "median", "q75", "max")):
        out[column] = [row[k] for row in cells]
    out["n"] = summary["n"].to_numpy()
    work.note("table.customers.note", name=work.name)
    return out


def _v_ipma(table, work):
    """Drivers of loyalty: importance (total effect, CI) against performance, in priority order."""
    out = pd.DataFrame({"driver": table["driver"].map(work.construct),
                        "total_effect": table["total_effect"].to_numpy()})
    if {"ci_lower", "ci_upper"} <= set(table):
        out["ci"] = [work.ci(lo, hi) for lo, hi in zip(table["ci_lower"], table["ci_upper"], strict=True)]
    out["performance"] = table["performance"].to_numpy()
    if "priority" in table:
        out["priority"] = table["priority"].to_numpy()
    work.kinds.update({"total_effect": "b2", "performance": "n1", "priority": "b2"})
    work.note("table.ipma.note")
    work.constants = False
    return out


def _v_ipma_dimensions(table, work):
    out = pd.DataFrame({"construct": table["construct"].map(work.construct)})
    if "group" in table:
        out["group"] = table["group"].map(lambda g: work.value("ipma_group", g))
    out["performance"] = table["performance"].to_numpy()
    work.kinds["performance"] = "n1"
    work.group = ["group"]
    work.constants = False
    return out[["group", "construct", "performance"]] if "group" in out else out


def _v_run_details(table, work):
    work.constants = False
    work.prose["value"] = PROSE_CHARS
    return table.copy()


def _v_codebook(table, work):
    # the item code names its construct (EFF1: EFF); the page titles are in the questionnaires
    out = table.drop(columns=_present(table, "block", "construct"))
    work.prose.update({"text": PROSE_CHARS, "values": 22})
    work.keep.add("attention_check")
    work.plain_marks.update({"reverse", "attention_check"})
    if table.attrs.get("scale"):
        work.note("table.codebook.scale", anchors=table.attrs["scale"])
    return out


#: name -> view: what of a computing table the reader sees (tables without a view are
#: formatted column by column).
VIEWS: dict[str, Callable[[pd.DataFrame, _Work], pd.DataFrame]] = {
    "reliability": _v_reliability, "loadings": _v_loadings, "discriminant_validity": _v_discriminant,
    "htmt": _v_htmt, "fit": _v_fit, "paths": _v_paths, "estimates_structural": _v_estimates,
    "r_squared": _v_r_squared, "indirect": _v_indirect, "specific_indirect": _v_specific_indirect,
    "recovery": _v_recovery, "screening_summary": _v_screening_summary, "screening_flags": _v_screening_flags,
    "excluded_respondents": _v_excluded, "screening_vs_truth": _v_screening_vs_truth,
    "invariance": _v_invariance, "missing_data_sensitivity": _v_missing, "ordinal_vs_ml": _v_ordinal,
    "robust_fit": _v_robust_fit, "harman": _v_harman, "full_collinearity_vif": _v_vif,
    "marker_correction": _v_marker, "htmt_intervals": _v_htmt_intervals, "modindices": _v_modindices,
    "admissibility": _v_admissibility, "engine_agreement": _v_engine_agreement,
    "crm_overview": _v_overview, "data_overview": _v_overview, "rfm_summary": _v_distribution,
    "clv_summary": _v_distribution, "clv_concentration": _v_concentration,
    "repeat_customer_rate": _v_repeat, "service_retention": _v_service_retention,
    "bgnbd": _v_parameters, "gamma_gamma": _v_parameters, "bgnbd_fit_check": _v_fit_check,
    "retention_by_satisfaction": _v_retention_curves, "retention_summary": _v_retention_summary,
    "cohort_retention": _v_cohorts, "attitude_behaviour": _v_attitude_behaviour,
    "attitude_behaviour_models": _v_attitude_models, "loyalty_repeat_bins": _v_loyalty_bins,
    "response_bias": _v_response_bias, "segments": _v_segments, "rfm_customers": _v_customers,
    "clv_customers": _v_customers, "ipma": _v_ipma,
    "ipma_dimensions": _v_ipma_dimensions, "run_details": _v_run_details, "codebook": _v_codebook,
}


# --------------------------------------------------------------------------- formatting

def _blank_repeats(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        if column in frame:
            values = frame[column].tolist()
            frame[column] = [v if k == 0 or v != values[k - 1] else "" for k, v in enumerate(values)]
    return frame


def format_table(ctx, table: pd.DataFrame, name: str, *, max_rows: int | None = 60,
                 caption_values: dict | None = None) -> ReadingTable:
    """``table`` (as a stage returned or saved it under ``name``) as the reader sees it.

    Nothing is displayed and the table counter is not advanced (:func:`show_table` does both).
    """
    language = ctx.language
    work = _Work(ctx, language, name)
    source = table.drop(columns=[c for c in IDENTIFIERS if c in table.columns])
    source.attrs = dict(table.attrs)
    view = VIEWS.get(name)
    shown = view(source, work) if view else source.copy()
    if suppressed_cells(table):  # small cells were suppressed (analysis.privacy)
        work.note("privacy.suppressed", k=work.whole(table.attrs.get("min_cell_size", DEFAULT_MIN_CELL_SIZE)))
    shown = shown.reset_index(drop=True)

    # empty columns say nothing; constant ones are said once, under the table
    shown = shown[[c for c in shown.columns if not shown[c].map(_missing).all()] or list(shown.columns)]
    kinds = {c: _kind_of(c, shown[c], work) for c in shown.columns}
    cells = pd.DataFrame({c: [_format_cell(v, kinds[c], work) for v in shown[c]] for c in shown.columns},
                         index=shown.index, columns=shown.columns)
    constants = []
    if work.constants and len(cells) >= 2:
        for column in list(cells.columns[1:]):
            if column in work.keep or column in work.group or cells[column].nunique(dropna=False) != 1:
                continue
            constants.append(f"{column_label(column, language)} = "
                             f"{_constant_word(cells[column].iloc[0], kinds[column], work)}")
            cells = cells.drop(columns=column)
    if constants:
        work.note("display.constant_note", items=text("value.list_separator", language).join(constants))
    cells = _blank_repeats(cells, work.group)

    if max_rows is not None and len(cells) > max_rows:
        hidden = len(cells) - max_rows
        cells = cells.head(max_rows)
        saved = getattr(ctx, "output_dir", None) is not None and (ctx.output_dir / "tables" / f"{name}.csv").is_file()
        work.note("display.more_rows_file" if saved else "display.more_rows", n=format_integer(hidden, language),
                  file=f"tables/{name}.csv")

    positions = {c: k for k, c in enumerate(cells.columns)}
    classes = {(row, positions[col]): css for (row, col), css in work.classes.items()
               if col in positions and row < len(cells) and css}
    for col, k in positions.items():  # a cell that is only a verdict mark is coloured by it
        if col in work.plain_marks:
            continue
        for row, value in enumerate(cells[col]):
            if value in (MARK_YES, MARK_NO):
                classes.setdefault((row, k), "wb-pass" if value == MARK_YES else "wb-fail")
    prose = {positions[c]: width for c, width in work.prose.items() if c in positions}
    cells.columns = [column_label(c, language) for c in cells.columns]
    caption = text(f"table.{name}.caption", language, rows=len(table), **(caption_values or {}))
    return ReadingTable(cells, name, language, caption, work.notes, classes, prose)


# --------------------------------------------------------------------------- HTML

_NUMERIC = re.compile(r"^[\s<>≤≥=+\-−–\d.,%\[\]()·×⁰¹²³⁴⁵⁶⁷⁸⁹⁻✓✗]*$")


def _cell_html(value: str, language: str) -> str:
    escaped = html.escape(str(value))
    for mark, key in ((MARK_YES, "value.bool.yes"), (MARK_NO, "value.bool.no")):
        if mark in escaped:
            word = html.escape(text(key, language))
            escaped = escaped.replace(mark, f'<span role="img" aria-label="{word}" title="{word}">{mark}</span>')
    return escaped


def _join_notes(reading: ReadingTable) -> str:
    """Sentences of the note: a space between them in English, none after a Chinese full stop."""
    return ("" if reading.language.startswith("zh") else " ").join(reading.notes)


def to_html(reading: ReadingTable, *, number: int | None = None, css: bool = False) -> str:
    """The reading table as compact HTML (caption, header row, body, note)."""
    frame = reading.frame
    numeric = [all(_NUMERIC.match(str(v)) for v in frame.iloc[:, k]) and k > 0 for k in range(frame.shape[1])]
    marks = [all(str(v) in (MARK_YES, MARK_NO, EMPTY, "") for v in frame.iloc[:, k]) and k > 0
             for k in range(frame.shape[1])]

    def cls(k: int, extra: str = "") -> str:
        names = ["wb-mark" if marks[k] else "wb-num" if numeric[k] else "",
                 "wb-prose" if k in reading.prose else "", extra]
        names = [n for n in names if n]
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f'<th scope="col"{cls(k)}>{html.escape(str(c))}</th>' for k, c in enumerate(frame.columns))
    body = []
    for row in range(len(frame)):
        cells = []
        for k in range(frame.shape[1]):
            tag = "th" if k == 0 else "td"
            scope = ' scope="row"' if k == 0 else ""
            cells.append(f"<{tag}{scope}{cls(k, reading.classes.get((row, k), ''))}>"
                         f"{_cell_html(frame.iat[row, k], reading.language)}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = html.escape(reading.caption)
    if number is not None:
        label = html.escape(text("display.table_number", reading.language, number=number))
        caption = f'<span class="wb-number">{label}</span>{html.escape(reading.caption)}'
    notes = ""
    if reading.notes:
        lead = html.escape(text("display.note", reading.language))
        notes = (f'<p class="wb-note"><em>{lead}</em> '
                 + _cell_html(_join_notes(reading), reading.language) + "</p>")
    wide = " wb-compact" if reading.width > TABLE_WIDTH_PX else ""
    style = f"<style>{TABLE_CSS}</style>\n" if css else ""
    return (f'{style}<div class="wb-table{wide}" data-table="{html.escape(reading.name)}">'
            f'<table data-quarto-disable-processing="true"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{notes}</div>')


def to_markdown(reading: ReadingTable, *, number: int | None = None) -> str:
    """The same table as Markdown (for PDF and Word renders)."""
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    label = text("display.table_number", reading.language, number=number) if number is not None else ""
    lines = [f"**{label}** {reading.caption}" if label else reading.caption, "",
             "| " + " | ".join(cell(c) for c in reading.frame.columns) + " |",
             "|" + "|".join(":--" if k == 0 else "--:" for k in range(reading.frame.shape[1])) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in reading.frame.itertuples(index=False)]
    if reading.notes:
        lines += ["", f"*{text('display.note', reading.language)}* " + _join_notes(reading)]
    return "\n".join(lines)


class DisplayedTable(pd.DataFrame):
    """What :func:`show_table` displayed (every cell a string, headers in words).

    It is already on the page, so as the last value of a notebook cell it shows nothing
    again; ``attrs`` hold the caption, the notes and the estimated width.
    """

    @property
    def _constructor(self):
        return pd.DataFrame  # anything derived from it is an ordinary frame again

    def _ipython_display_(self) -> None:
        return None


def show_table(ctx, table: pd.DataFrame | None = None, name: str | None = None, *, max_rows: int | None = 60,
               caption_values: dict | None = None) -> DisplayedTable:
    """Display ``table`` for reading with a numbered caption; return the displayed frame.

    ``name`` is the CSV name the stage saved the table under (or a short snake_case name for
    tables that are not saved): it selects the view (:data:`VIEWS`), the caption
    (``table.<name>.caption``) and the note's file reference. ``caption_values`` fill the
    caption's format fields (``{rows}`` is always available).
    """
    from IPython.display import display

    if isinstance(ctx, pd.DataFrame):  # the notebook's old call show_table(frame): until it passes ctx and name
        display(ctx.head(max_rows) if max_rows else ctx)
        return ctx
    number = next_table_number(ctx)
    reading = format_table(ctx, table, name, max_rows=max_rows, caption_values=caption_values)
    first = number == 1
    display({"text/html": to_html(reading, number=number, css=first),
             "text/markdown": to_markdown(reading, number=number),
             "text/plain": to_markdown(reading, number=number)}, raw=True)
    shown = DisplayedTable(reading.frame)
    shown.attrs.update(caption=f"{text('display.table_number', reading.language, number=number)} {reading.caption}",
                       notes=list(reading.notes), width=reading.width)
    return shown


# --------------------------------------------------------------------------- report sections

def title_block(ctx) -> str:
    s = ctx.settings
    language = ctx.language
    now = datetime.now(UTC)
    # the renderer puts the profile's title on top; this is the line beneath it
    parts = [text("display.title_client", language, client=s.client.name)]
    if s.report.author:
        parts.append(s.report.author)
    parts += [text("display.title_seed", language, seed=s.analysis.seed),
              text("display.title_generated", language, date=format_date(now, language), time=f"{now:%H:%M}")]
    return " · ".join(parts)


def run_details(ctx, data, screening) -> pd.DataFrame:
    """Parameters and software of this run (the full record is manifest.json)."""
    s = ctx.settings
    language = ctx.language

    def label(key: str) -> str:
        return text(f"value.run.{key}", language)

    rows = [(label("client"), s.client.name), (label("data"), str(data.source)),
            (label("seed"), str(s.analysis.seed)),
            (label("respondents_analysed"), format_integer(len(screening.clean), language)),
            (label("respondents_excluded"), format_integer(len(screening.excluded), language)),
            (label("bootstrap_draws"), format_integer(s.analysis.bootstrap_draws, language)),
            (label("confidence_level"), format_percent(s.analysis.ci_level, language)),
            ("Python", platform.python_version())]
    rows += [(name, metadata.version(name)) for name in _PACKAGES]
    return pd.DataFrame(rows, columns=["setting", "value"]).astype({"value": str})


def appendix_codebook(ctx) -> pd.DataFrame:
    """The codebook in the report's language (the full codebook is written to survey/)."""
    from analysis.instrument.questionnaire import codebook

    language = ctx.language
    instrument = ctx.instrument
    table = codebook(instrument)
    language_column = {"en": "text_en", "zh-Hans": "text_zh_hans", "zh-Hant": "text_zh_hant"}[language]
    anchors = instrument.scale.anchors.get(language) or {}
    scale = f"{instrument.scale.minimum}–{instrument.scale.maximum}"
    options = {d.id: "; ".join(f"{code} = {labels.get(language, code)}" for code, labels in d.options)
               for d in instrument.demographics}
    values = [options.get(v, scale) if kind != "likert" else scale
              for v, kind in zip(table["variable"], table["variable_type"], strict=True)]
    shown = pd.DataFrame({"position": table["position"], "variable": table["variable"],
                          "construct": table["construct"].fillna(""), "text": table[language_column],
                          "values": values, "reverse": table["reverse"], "attention_check": table["attention_check"]})
    # the agreement scale is the same for every item: said once, under the table
    shown.attrs["scale"] = text("value.list_separator", language).join(
        f"{point} = {label}" for point, label in anchors.items())
    return shown


def appendix_questionnaires(ctx) -> dict[str, str]:
    """Write the codebook and questionnaires to <output>/survey/ and return the Markdown texts."""
    from analysis.instrument.questionnaire import export_survey, questionnaire_markdown

    ctx.saved.extend(export_survey(ctx.instrument, ctx.output_dir / "survey"))
    texts = {}
    for language in ctx.instrument.languages:
        # demote headings so each questionnaire nests under the appendix in the table of contents
        texts[language] = "\n".join(("##" + line) if line.startswith("#") else line
                                    for line in questionnaire_markdown(ctx.instrument, language).splitlines())
    return texts
