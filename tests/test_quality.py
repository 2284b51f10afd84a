"""Tests for analysis/careless.py (per-index functions) and analysis/quality.py (screening).

R reference: tests/reference/careless_reference.R -> careless_reference.json (R 4.2.2,
psych 2.2.9). The R package ``careless`` itself is not installable here (no Debian
package), so the script reproduces what careless calls: ``psych::outlier`` for
``careless::mahad``, ``max(rle(row)$lengths)`` for ``careless::longstring``,
``sd(row, na.rm = TRUE)`` for ``careless::irv`` and careless's even-odd definition.
Screening is tested on synthetic data generated here with planted careless respondents.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analysis.errors import ConfigError, DataError
from analysis.paths import PROJECT_ROOT
from analysis.screening.indices import (
    even_odd_consistency,
    instructed_response_failures,
    intra_individual_response_variability,
    longstring,
    longstring_by_block,
)
from analysis.screening.outliers import mahalanobis_distance, speeding
from analysis.screening.rules import (
    RULES,
    ScreeningResult,
    ScreeningThresholds,
    screen_responses,
)

REFERENCE = PROJECT_ROOT / "tests" / "reference" / "careless_reference.json"
TOL = 1e-10  # R and numpy differ only by floating-point rounding on these small fixtures


# ---------------------------------------------------------------- R reference parity

@pytest.fixture(scope="module")
def reference() -> dict:
    with REFERENCE.open(encoding="utf-8") as handle:
        return json.load(handle)


def _as_float(values) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] if isinstance(row, list)
                     else (np.nan if row is None else row) for row in values], dtype=float)


def _case(reference: dict, case: str) -> tuple[pd.DataFrame, dict, list[str], dict]:
    items = reference["meta"]["items"]
    frame = pd.DataFrame(_as_float(reference[case]["x"]), columns=items).astype("Int8")
    sizes = np.cumsum([0, *reference["meta"]["factors"]])
    scales = {name: items[start:stop]
              for name, start, stop in zip("ABC", sizes[:-1], sizes[1:])}
    return frame, reference[case]["results"], items, scales


@pytest.mark.parametrize("case", ["complete", "with_missing"])
def test_longstring_and_irv_match_r(reference, case):
    """R: ``apply(x, 1, function(r) max(rle(r)$lengths))`` (careless::longstring),
    ``apply(x, 1, sd, na.rm = TRUE)`` (careless::irv) and its split = TRUE, num.split = 3."""
    data, expected, items, _ = _case(reference, case)
    assert_array_equal(longstring(data, items).to_numpy(), expected["longstring"])
    assert_allclose(intra_individual_response_variability(data, items).to_numpy(),
                    expected["irv"], rtol=0, atol=TOL)
    split = intra_individual_response_variability(data, items, num_split=3)
    assert_allclose(split[["irv_1", "irv_2", "irv_3"]].to_numpy(),
                    _as_float(expected["irv_split3"]), rtol=0, atol=TOL)


@pytest.mark.parametrize("case", ["complete", "with_missing"])
def test_mahalanobis_matches_r(reference, case):
    """R: ``psych::outlier(x, plot = FALSE)`` (what careless::mahad returns) for
    missing = "mean_impute"; per row ``stats::mahalanobis(row[obs], colMeans(x, na.rm =
    TRUE)[obs], cov(x, use = "pairwise")[obs, obs])`` and ``pchisq(d2, sum(obs),
    lower.tail = FALSE)`` for missing = "available"."""
    data, expected, items, _ = _case(reference, case)
    imputed = mahalanobis_distance(data, items, missing="mean_impute")
    assert_allclose(imputed["mahalanobis_d2"], expected["psych_outlier"], rtol=1e-10, atol=TOL)
    available = mahalanobis_distance(data, items)
    assert_allclose(available["mahalanobis_d2"], expected["mahalanobis_available_d2"],
                    rtol=1e-10, atol=TOL)
    assert_array_equal(available["mahalanobis_df"], expected["mahalanobis_available_df"])
    assert_allclose(available["mahalanobis_p"], expected["mahalanobis_available_p"],
                    rtol=1e-8, atol=TOL)


def test_mahalanobis_complete_cases_match_stats_mahalanobis(reference):
    """R: ``stats::mahalanobis(x, colMeans(x), cov(x))``, ``pchisq(d2, 8, lower.tail = FALSE)``."""
    data, expected, items, _ = _case(reference, "complete")
    result = mahalanobis_distance(data, items)
    assert_allclose(result["mahalanobis_d2"], expected["stats_mahalanobis"], rtol=1e-10)
    assert_allclose(result["mahalanobis_p"], expected["chisq_p"], rtol=1e-8)
    assert (result["mahalanobis_df"] == len(items)).all()


@pytest.mark.parametrize("case", ["complete", "with_missing"])
def test_even_odd_matches_careless_definition(reference, case):
    """R: ``evenodd_definition(x, c(3, 3, 2))`` in careless_reference.R, i.e.
    ``-careless::evenodd(x, c(3, 3, 2), diag = TRUE)`` (r, Spearman-Brown, pairs)."""
    data, expected, _, scales = _case(reference, case)
    result = even_odd_consistency(data, scales)
    assert_allclose(result["even_odd_raw"], _as_float(expected["evenodd_r"]), rtol=0, atol=TOL)
    assert_allclose(result["even_odd"], _as_float(expected["evenodd_sb"]), rtol=0, atol=TOL)
    assert_array_equal(result["even_odd_pairs"], expected["evenodd_n_pairs"])


# ---------------------------------------------------------------- hand-computed fixtures

def test_longstring_breaks_runs_on_missing_answers():
    """Rows: 3 3 NA 3 3 3 1 -> 3 (NA breaks the run); NA NA NA NA -> 1 (as rle());
    5 5 5 5 -> 4; 1 2 1 2 -> 1."""
    data = pd.DataFrame([[3, 3, None, 3], [None, None, None, None], [5, 5, 5, 5],
                         [1, 2, 1, 2]], columns=list("abcd"), dtype="Int8")
    data["e"], data["f"], data["g"] = pd.array([3, None, 5, 1], dtype="Int8"), \
        pd.array([3, None, 5, 2], dtype="Int8"), pd.array([1, None, 5, 1], dtype="Int8")
    assert longstring(data, list("abcdefg")).tolist() == [3, 1, 7, 1]


def test_longstring_by_block_reports_runs_and_best_ratio():
    """Block p1 = a b c (3 items), p2 = d e f g (4 items); row 1: 3 3 NA | 3 3 3 1 gives
    runs 2 and 3, ratios 2/3 and 3/4, so the best block is p2 with 3 of 4."""
    data = pd.DataFrame({"a": [3, 1], "b": [3, 2], "c": [None, 3], "d": [3, 4],
                         "e": [3, 4], "f": [3, 4], "g": [1, 4]}, dtype="Int8")
    result = longstring_by_block(data, {"p1": list("abc"), "p2": list("defg")})
    assert result[["longstring_p1", "longstring_p2"]].to_numpy().tolist() == [[2, 3], [1, 4]]
    assert result["max_block"].tolist() == ["p2", "p2"]
    assert_allclose(result["max_block_ratio"], [0.75, 1.0])
    assert result["max_block_run"].tolist() == [3, 4]
    assert result["max_block_items"].tolist() == [4, 4]


def test_even_odd_hand_computed():
    """Scales A = 1 2 3 4, B = 5 5, C = 2 4: odd halves (2, 5, 2), even halves (3, 5, 4);
    r = 3 / sqrt(2 * 6) = .8660, Spearman-Brown 2r / (1 + r) = .9282. A straight-liner has
    no variance in its halves -> NaN; an inverse pattern r = -1 -> floored at -1."""
    columns = ["A1", "A2", "A3", "A4", "B1", "B2", "C1", "C2"]
    data = pd.DataFrame([[1, 2, 3, 4, 5, 5, 2, 4], [4] * 8, [1, 2, 5, 6, 7, 3, 4, 1]],
                        columns=columns, dtype="Int8")
    scales = {"A": columns[:4], "B": columns[4:6], "C": columns[6:]}
    result = even_odd_consistency(data, scales)
    r = 3 / np.sqrt(12)
    assert_allclose(result.loc[0, ["even_odd_raw", "even_odd"]], [r, 2 * r / (1 + r)],
                    rtol=1e-12)
    assert np.isnan(result.loc[1, "even_odd"])
    assert result["even_odd_pairs"].tolist() == [3, 3, 3]
    assert result.loc[2, "even_odd"] >= -1.0
    with pytest.raises(ConfigError, match="at least two scales"):
        even_odd_consistency(data, {"A": columns[:4]})


def test_instructed_response_failures_counts_missing_as_failed():
    """Expected QC1 = 6, QC2 = 1: (6, 1) -> 0, (6, 2) -> 1, (NA, 1) -> 1, (5, 5) -> 2."""
    data = pd.DataFrame({"QC1": [6, 6, None, 5], "QC2": [1, 2, 1, 5]}, dtype="Int8")
    result = instructed_response_failures(data, {"QC1": 6, "QC2": 1})
    assert result.tolist() == [0, 1, 1, 2]
    assert result.name == "instructed_response_failures"


def test_speeding_hand_computed():
    """40 items, durations 100 30 200 NA 300 60 s; median of the five known = 100 s.
    Seconds per item 2.5 .75 5 NA 7.5 1.5; ratio to median 1 .3 2 NA 3 .6."""
    data = pd.DataFrame({"duration_sec": [100, 30, 200, np.nan, 300, 60]})
    result = speeding(data, n_items=40)
    assert_allclose(result["seconds_per_item"], [2.5, 0.75, 5, np.nan, 7.5, 1.5])
    assert_allclose(result["duration_to_median"], [1, 0.3, 2, np.nan, 3, 0.6])
    assert result["too_fast_per_item"].tolist() == [False, True, False, False, False, True]
    assert result["too_fast_vs_median"].tolist() == [False, True, False, False, False, False]
    assert result["speeding"].tolist() == [False, True, False, False, False, True]
    with pytest.raises(DataError, match="rows 1"):
        speeding(pd.DataFrame({"duration_sec": [10.0, -1.0]}), n_items=4)
    with pytest.raises(ConfigError, match="n_items"):
        speeding(data, n_items=0)


def test_irv_hand_computed():
    """1 7 1 7 -> sd = sqrt(4 * 9 / 3) = 3.4641; 4 4 4 4 -> 0; one answer -> NaN."""
    data = pd.DataFrame([[1, 7, 1, 7], [4, 4, 4, 4], [2, None, None, None]],
                        columns=list("abcd"), dtype="Int8")
    result = intra_individual_response_variability(data, list("abcd"))
    assert_allclose(result, [np.sqrt(12), 0.0, np.nan])


def test_mahalanobis_is_robust_to_singular_covariance():
    """A duplicated and a constant item add no information: with the pseudo-inverse, D^2
    equals the distance on the other items and df drops to the covariance rank, also for
    respondents with missing answers (per-pattern pseudo-inverse path)."""
    rng = np.random.default_rng(3)
    base = pd.DataFrame(rng.integers(1, 8, size=(60, 4)), columns=list("abcd"), dtype=float)
    base = base.mask(rng.random(base.shape) < 0.05)
    widened = base.assign(e=base["a"], f=4.0)
    narrow = mahalanobis_distance(base, list("abcd"))
    wide = mahalanobis_distance(widened, list("abcdef"))
    assert_allclose(wide["mahalanobis_d2"], narrow["mahalanobis_d2"], rtol=1e-8)
    assert_array_equal(wide["mahalanobis_df"], narrow["mahalanobis_df"])
    assert (wide["mahalanobis_df"] < 4).any() and (wide["mahalanobis_df"] == 4).any()
    assert_allclose(wide["mahalanobis_p"], narrow["mahalanobis_p"], rtol=1e-8)


def test_mahalanobis_missing_rows_and_errors():
    data = pd.DataFrame({"a": [1, 2, 3, 4, None], "b": [2, 2, 4, 5, None],
                         "c": [1, 3, 3, 5, None]}, dtype="Int8")
    result = mahalanobis_distance(data, list("abc"))
    assert result.loc[4].isna()[["mahalanobis_d2", "mahalanobis_p"]].all()
    assert result.loc[4, "mahalanobis_df"] == 0
    never_together = pd.DataFrame({"a": [1, 2, None, None], "b": [None, None, 3, 4]})
    with pytest.raises(DataError, match="'a' and 'b'"):
        mahalanobis_distance(never_together, ["a", "b"])
    with pytest.raises(DataError, match="'zz'"):
        mahalanobis_distance(data, ["a", "zz"])
    with pytest.raises(ConfigError, match="missing"):
        mahalanobis_distance(data, list("abc"), missing="pairwise")


def test_index_functions_name_bad_columns():
    data = pd.DataFrame({"a": [1, 2], "b": ["x", 3]})
    with pytest.raises(DataError, match="'b'.*'x'"):
        longstring(data, ["a", "b"])
    with pytest.raises(DataError, match="'c'"):
        intra_individual_response_variability(data, ["a", "c"])


# ---------------------------------------------------------------- screening, synthetic data

SCALE = {"A": 4, "B": 4, "C": 4, "D": 4, "E": 4, "F": 4, "R": 3}
BLOCKS = {
    "p1": ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "QC1"],
    "p2": ["C1", "C2", "C3", "C4", "D1", "D2", "D3", "D4"],
    "p3": ["E1", "E2", "E3", "E4", "F1", "F2", "F3", "F4", "QC2", "R1", "R2", "R3"],
}
CHECKS = {"QC1": 6, "QC2": 1}
PLANTED = {"attentive": 360, "straightliner": 15, "pagewise": 15, "random": 20, "speeder": 15}


def fake_instrument(blocks: dict[str, list[str]] = BLOCKS) -> SimpleNamespace:
    items = {code: [f"{code}{k}" for k in range(1, n + 1)] for code, n in SCALE.items()}
    return SimpleNamespace(
        attention_checks=dict(CHECKS), blocks=blocks,
        substantive_items=[i for b in blocks.values() for i in b if i not in CHECKS],
        items_of=lambda code: list(items[code]), construct_codes=list(SCALE),
        reverse_keyed=["R3"], scale=SimpleNamespace(points=7))


def synthetic_responses(seed: int = 2024) -> tuple[pd.DataFrame, np.ndarray]:
    """Attentive respondents: one general factor (.6) per construct, loadings .75, 1%
    missing, QC right 98%, ~6 s per item. Planted: whole-survey and page-wise
    straight-liners who answer both QC items correctly, uniform random responders and
    speeders (~1 s per item, answers random or one value per page)."""
    rng = np.random.default_rng(seed)
    order = [i for b in BLOCKS.values() for i in b]
    kinds = np.repeat(list(PLANTED), list(PLANTED.values()))
    n = len(kinds)
    general = rng.standard_normal(n)
    answers = pd.DataFrame(index=range(n), columns=order, dtype=float)
    for code, count in SCALE.items():
        latent = 0.6 * general + 0.8 * rng.standard_normal(n)
        for k in range(1, count + 1):
            score = 0.75 * latent + np.sqrt(1 - 0.75 ** 2) * rng.standard_normal(n)
            answers[f"{code}{k}"] = np.clip(np.round(4.6 + 1.3 * score), 1, 7)
    answers["R3"] = 8 - answers["R3"]
    for item, expected in CHECKS.items():
        slip = rng.random(n) < 0.02
        answers[item] = np.where(slip, expected + np.where(expected < 7, 1, -1), expected)
    substantive = [i for i in order if i not in CHECKS]
    blank = rng.random((n, len(substantive))) < 0.01
    answers[substantive] = answers[substantive].mask(blank)
    seconds = 6.0 * np.exp(0.3 * rng.standard_normal(n))
    for r in np.flatnonzero(kinds != "attentive"):
        kind = kinds[r]
        if kind in ("straightliner", "pagewise"):
            value = rng.choice([4, 5, 7])
            for block in BLOCKS.values():
                if kind == "pagewise":
                    value = rng.integers(1, 8)
                answers.loc[r, block] = value
            answers.loc[r, list(CHECKS)] = list(CHECKS.values())
            seconds[r] = 3.0 * np.exp(0.3 * rng.standard_normal())
        elif kind == "random":
            answers.loc[r, order] = rng.integers(1, 8, size=len(order))
            seconds[r] = 4.0 * np.exp(0.3 * rng.standard_normal())
        else:
            for block in BLOCKS.values():
                answers.loc[r, block] = (rng.integers(1, 8) if rng.random() < 0.5
                                         else rng.integers(1, 8, size=len(block)))
            seconds[r] = rng.uniform(0.6, 1.6)
    data = answers.astype("Int8")
    data.insert(0, "respondent_id", [f"R{k:05d}" for k in range(1, n + 1)])
    data.insert(1, "survey_language", "en")
    data.insert(2, "duration_sec", np.round(seconds * len(order), 1))
    data["gender"] = rng.choice(["f", "m"], size=n)
    shuffle = rng.permutation(n)
    return data.iloc[shuffle].reset_index(drop=True), kinds[shuffle]


@pytest.fixture(scope="module")
def screened() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, ScreeningResult]:
    data, kinds = synthetic_responses()
    untouched = data.copy(deep=True)
    result = screen_responses(data, fake_instrument())
    return data, untouched, kinds, result


def test_screening_keeps_everyone_accounted_for_and_leaves_data_alone(screened):
    data, untouched, _, result = screened
    pd.testing.assert_frame_equal(data, untouched)
    assert len(result.clean) + len(result.excluded) == len(data)
    kept, dropped = set(result.clean["respondent_id"]), set(result.excluded["respondent_id"])
    assert kept.isdisjoint(dropped) and kept | dropped == set(data["respondent_id"])
    pd.testing.assert_frame_equal(result.clean, data.loc[~result.flags["excluded"]])
    pd.testing.assert_frame_equal(result.excluded.drop(columns="reasons"),
                                  data.loc[result.flags["excluded"]])
    assert (result.excluded["reasons"].str.len() > 0).all()
    assert result.flags.index.equals(data.index)
    assert result.flags["respondent_id"].equals(data["respondent_id"])
    flagged_reasons = result.flags.loc[result.flags["flagged"], "reasons"]
    assert (flagged_reasons.str.len() > 0).all()
    assert (result.flags.loc[~result.flags["flagged"], "reasons"] == "").all()


def test_screening_flags_table_and_summary_are_consistent(screened):
    data, _, _, result = screened
    flags, summary = result.flags, result.summary
    for column in ["instructed_response_failures", "seconds_per_item", "longstring",
                   "longstring_p1", "max_block_ratio", "mahalanobis_d2", "mahalanobis_p",
                   "even_odd", "irv", "flagged", "excluded", "reasons", "n_flag_indices"]:
        assert column in flags.columns
    assert all(f"rule_{rule}" in flags.columns for rule in RULES)
    assert all(name.isidentifier() for name in flags.columns)
    assert summary.columns.tolist() == ["rule", "action", "n_flagged", "share"]
    counts = summary.set_index("rule")["n_flagged"]
    for rule in RULES:
        assert counts[rule] == flags[f"rule_{rule}"].sum()
    assert counts["excluded_total"] == len(result.excluded)
    assert counts["flagged_any"] == flags["flagged"].sum()
    assert_allclose(summary["share"], summary["n_flagged"] / len(data))
    actions = summary.set_index("rule")["action"]
    assert actions["speeding"] == "exclude" and actions["mahalanobis"] == "flag"
    assert "clean=" in repr(result)


def test_screening_detects_planted_careless_respondents(screened):
    """Measured on this seed: sensitivity 1.00 and specificity ~.99 (see the report);
    the assertions leave a margin so that small threshold changes do not break them."""
    _, _, kinds, result = screened
    excluded = result.flags["excluded"].to_numpy()
    careless = kinds != "attentive"
    sensitivity, specificity = excluded[careless].mean(), 1 - excluded[~careless].mean()
    assert sensitivity >= 0.95, f"sensitivity {sensitivity:.3f}"
    assert specificity >= 0.95, f"specificity {specificity:.3f}"
    for kind in ("straightliner", "pagewise", "speeder"):
        assert excluded[kinds == kind].all(), kind
    assert excluded[kinds == "random"].mean() >= 0.9


def test_screening_reasons_name_the_evidence(screened):
    _, _, kinds, result = screened
    reasons = result.flags["reasons"]
    straight = reasons[kinds == "straightliner"]
    assert straight.str.contains(r"\d+ identical answers in a row \(>= 10\)").all()
    pagewise = reasons[kinds == "pagewise"]
    assert pagewise.str.contains("of a page on 3 of 3 pages").all()
    assert reasons[kinds == "speeder"].str.contains("s per item (< 2 s)", regex=False).all()
    random_reasons = reasons[kinds == "random"]
    assert random_reasons.str.contains("instructed-response items (QC", regex=False).mean() > 0.5
    assert random_reasons.str.contains("Mahalanobis D²").mean() > 0.5


def test_even_odd_uses_reverse_keyed_recoding(screened):
    """R3 is stored reverse-keyed; screening must score even-odd on 8 - R3."""
    data, _, _, result = screened
    keyed = data.assign(R3=8 - data["R3"])
    scales = {code: [f"{code}{k}" for k in range(1, n + 1)] for code, n in SCALE.items()}
    expected = even_odd_consistency(keyed, scales)["even_odd"]
    assert_allclose(result.flags["even_odd"], expected, rtol=1e-12)
    unkeyed = even_odd_consistency(data, scales)["even_odd"]
    assert not np.allclose(result.flags["even_odd"], unkeyed, equal_nan=True)


def test_coinciding_flags_exclude_and_thresholds_are_configurable(screened):
    data, _, _, default = screened
    flags = default.flags
    coincide = flags["rule_coinciding_flags"]
    assert (flags.loc[coincide, "n_flag_indices"] >= 2).all()
    lone_flags = flags["flagged"] & ~flags["excluded"]
    assert (flags.loc[lone_flags, "n_flag_indices"] <= 1).all()
    never = screen_responses(data, fake_instrument(), ScreeningThresholds(coinciding_flags=None))
    assert not never.flags["rule_coinciding_flags"].any()
    assert len(never.excluded) <= len(default.excluded)
    strict = ScreeningThresholds(exclude_rules=frozenset(
        {"instructed_response_repeated", "speeding", "longstring", "mahalanobis"}))
    stricter = screen_responses(data, fake_instrument(), strict)
    assert stricter.flags.loc[stricter.flags["rule_mahalanobis"], "excluded"].all()
    assert "mahalanobis" not in strict.flag_rules and strict.as_dict()["exclude_rules"][0]


def test_two_instructed_rules_count_as_one_index():
    """Two failed QC items with the 'repeated' rule demoted to flag-only: one index, so no
    coinciding-flags exclusion from the QC items alone."""
    data, _ = synthetic_responses(seed=7)
    data = data.copy()
    first = data.index[0]
    data.loc[first, ["QC1", "QC2"]] = [3, 3]
    thresholds = ScreeningThresholds(exclude_rules=frozenset({"speeding", "longstring"}))
    flags = screen_responses(data, fake_instrument(), thresholds).flags
    assert flags.loc[first, "rule_instructed_response_repeated"]
    assert flags.loc[first, "n_flag_indices"] == 1 + int(flags.loc[first, "rule_mahalanobis"]) \
        + int(flags.loc[first, "rule_even_odd"])


def test_literal_any_block_longstring_reading_is_available(screened):
    data, _, kinds, default = screened
    any_block = ScreeningThresholds(longstring_block_share=1 / 3)
    loose = screen_responses(data, fake_instrument(), any_block)
    assert loose.flags["rule_longstring"].sum() > default.flags["rule_longstring"].sum()


def test_screening_errors_name_the_problem():
    data, _ = synthetic_responses(seed=1)
    instrument = fake_instrument()
    with pytest.raises(DataError, match="duration_sec, B2"):
        screen_responses(data.drop(columns=["B2", "duration_sec"]), instrument)
    with pytest.raises(DataError, match="Z9"):
        screen_responses(data.assign(Z9=1), instrument)
    bad = data.copy()
    bad.loc[3, "C2"] = 9
    with pytest.raises(DataError, match=r"'C2'.*1\.\.7.*" + bad.loc[3, "respondent_id"]):
        screen_responses(bad, instrument)
    twice = data.copy()
    twice.loc[5, "respondent_id"] = twice.loc[4, "respondent_id"]
    with pytest.raises(DataError, match="respondent_id"):
        screen_responses(twice, instrument)
    with pytest.raises(DataError, match="no rows"):
        screen_responses(data.iloc[:0], instrument)
    with pytest.raises(ConfigError, match="items_of"):
        screen_responses(data, SimpleNamespace(attention_checks={}, blocks={},
                                               substantive_items=[], construct_codes=[]))


@pytest.mark.parametrize("kwargs, key", [
    ({"exclude_rules": frozenset({"longstring", "speling"})}, "exclude_rules"),
    ({"mahalanobis_alpha": 0}, "mahalanobis_alpha"),
    ({"instructed_exclude_failures": 0}, "instructed_exclude_failures"),
    ({"even_odd_min": 2}, "even_odd_min"),
    ({"coinciding_flags": 1}, "coinciding_flags"),
    ({"mahalanobis_missing": "pairwise"}, "mahalanobis_missing"),
])
def test_thresholds_reject_bad_values(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        ScreeningThresholds(**kwargs)


def test_default_thresholds_follow_domain():
    t = ScreeningThresholds()
    assert (t.instructed_flag_failures, t.instructed_exclude_failures) == (1, 2)
    assert (t.seconds_per_item, t.median_fraction) == (2.0, 0.4)
    assert (t.longstring_block_fraction, t.longstring_run) == (0.5, 10)
    assert (t.mahalanobis_alpha, t.even_odd_min) == (0.001, 0.30)
    assert t.exclude_rules == {"instructed_response_repeated", "speeding", "longstring"}
    assert t.flag_rules == ["instructed_response", "mahalanobis", "even_odd"]
    with pytest.raises(AttributeError):
        t.even_odd_min = 0.5  # frozen
