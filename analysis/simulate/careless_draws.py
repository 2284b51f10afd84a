"""Careless responders, answering times and missing cells for :mod:`analysis.simulate.survey`.

The draws that turn attentive simulated answers into a realistic export: which
respondents answer carelessly (straight-lining, random, speeding) and how, attention-check
answers, durations and the cells left blank. Each helper takes the generator it draws
from; :func:`~analysis.simulate.survey.simulate_survey` passes each one its own
component stream, so the order of calls here is part of the seeded output.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from analysis.errors import ConfigError

__all__ = [
    "CARELESS_TYPES",
    "DEFAULT_CARELESS_MIX",
    "MAX_SHARE",
    "check_share",
    "check_mix",
    "careless_answers",
    "attention_answers",
    "assign_careless",
    "durations",
    "missing_cells",
]

CARELESS_TYPES = ("straightliner", "random", "speeder")
DEFAULT_CARELESS_MIX = {"straightliner": 0.35, "random": 0.40, "speeder": 0.25}
MAX_SHARE = 0.5
ATTENTIVE_QC_ACCURACY = 0.98
# Straight-liners mostly pick the midpoint, a favourable answer or an extreme.
STRAIGHTLINE_VALUE_WEIGHTS = np.array([0.06, 0.03, 0.05, 0.30, 0.16, 0.12, 0.28])
STRAIGHTLINE_WHOLE_SURVEY = 0.70
SPEEDER_STRAIGHT_BLOCK = 0.50
# Seconds per Likert item: median and log-SD of a lognormal, or a uniform range (speeders).
SECONDS_PER_ITEM = {"attentive": (6.0, 0.30), "straightliner": (3.0, 0.35),
                    "random": (4.0, 0.35)}
SPEEDER_SECONDS_PER_ITEM = (0.6, 1.6)


def check_share(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not 0.0 <= float(value) <= MAX_SHARE:
        raise ConfigError(f"simulate_survey: parameter '{name}': expected a number in "
                          f"[0, {MAX_SHARE}], got {value!r}")
    return float(value)


def check_mix(mix: Mapping[str, float] | None, careless_share: float) -> dict[str, float]:
    if mix is None:
        return dict(DEFAULT_CARELESS_MIX)
    if not isinstance(mix, Mapping):
        raise ConfigError("simulate_survey: parameter 'careless_mix': expected a mapping "
                          f"with keys from {list(CARELESS_TYPES)}, got {mix!r}")
    unknown = sorted(set(mix) - set(CARELESS_TYPES))
    if unknown:
        raise ConfigError(f"simulate_survey: parameter 'careless_mix': unknown keys {unknown}; "
                          f"allowed keys: {list(CARELESS_TYPES)}")
    bad = {k: v for k, v in mix.items() if isinstance(v, bool)
           or not isinstance(v, (int, float, np.number)) or not v >= 0}
    total = sum(float(v) for k, v in mix.items() if k not in bad)
    if bad or (careless_share > 0 and total <= 0):
        raise ConfigError("simulate_survey: parameter 'careless_mix': expected non-negative "
                          f"weights with a positive sum for {list(CARELESS_TYPES)}, got "
                          f"{dict(mix)!r}")
    return {t: float(mix.get(t, 0.0)) / total if total > 0 else 0.0 for t in CARELESS_TYPES}


def _allocate(total: int, mix: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``mix`` with the largest-remainder method (exact shares)."""
    raw = {t: total * w for t, w in mix.items()}
    counts = {t: int(np.floor(v)) for t, v in raw.items()}
    by_remainder = sorted(raw, key=lambda t: (-(raw[t] - counts[t]), CARELESS_TYPES.index(t)))
    for t in by_remainder[: total - sum(counts.values())]:
        counts[t] += 1
    return counts


def careless_answers(kind: str, blocks: list[list[int]], n_items: int, points: int,
                      rng: np.random.Generator) -> np.ndarray:
    """One careless respondent's answers over all Likert columns (indices per block)."""
    weights = STRAIGHTLINE_VALUE_WEIGHTS if points == len(STRAIGHTLINE_VALUE_WEIGHTS) \
        else np.full(points, 1.0 / points)

    def straight_value() -> int:
        return int(rng.choice(points, p=weights)) + 1

    row = rng.integers(1, points + 1, size=n_items)
    if kind == "random":
        return row
    whole = kind == "straightliner" and rng.random() < STRAIGHTLINE_WHOLE_SURVEY
    value = straight_value()
    for block in blocks:
        if kind == "straightliner":
            if not whole and rng.random() < 0.5:
                value = straight_value()
            row[block] = value
        elif rng.random() < SPEEDER_STRAIGHT_BLOCK:
            row[block] = straight_value()
    return row


def attention_answers(checks: Mapping[str, int], n: int, points: int,
                       rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Attentive answers to instructed-response items; a miss lands next to the target."""
    out = {}
    for item, expected in checks.items():
        miss = rng.random(n) >= ATTENTIVE_QC_ACCURACY
        step = np.where(rng.random(n) < 0.5, -1, 1)
        outside = (expected + step < 1) | (expected + step > points)
        out[item] = np.where(miss, np.where(outside, expected - step, expected + step),
                             expected).astype(np.int8)
    return out


def assign_careless(n: int, share: float, mix: dict[str, float],
                     rng: np.random.Generator) -> tuple[np.ndarray, dict[str, int]]:
    n_careless = int(round(share * n))
    counts = _allocate(n_careless, mix)
    kinds = np.full(n, "attentive", dtype=object)
    chosen = rng.permutation(n)[:n_careless]
    kinds[chosen] = np.repeat(list(CARELESS_TYPES), [counts[t] for t in CARELESS_TYPES])
    return kinds, counts


def durations(kinds: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
    per_item = np.empty(len(kinds))
    for kind, (median, log_sd) in SECONDS_PER_ITEM.items():
        mask = kinds == kind
        per_item[mask] = median * np.exp(log_sd * rng.standard_normal(mask.sum()))
    speeders = kinds == "speeder"
    per_item[speeders] = rng.uniform(*SPEEDER_SECONDS_PER_ITEM, size=speeders.sum())
    return np.round(per_item * n_items, 1)


def missing_cells(n: int, n_items: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``round(share * n * n_items)`` cells, chosen completely at random."""
    mask = np.zeros(n * n_items, dtype=bool)
    mask[rng.choice(n * n_items, size=int(round(share * n * n_items)), replace=False)] = True
    return mask.reshape(n, n_items)

