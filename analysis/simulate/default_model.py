"""The DOMAIN.md default model for an instrument: its ground truth and its model syntax.

The default truth follows DOMAIN.md ("Default ground-truth model for the simulator"):
e-service quality (ESQ) is a second-order factor over EFF, SYS, FUL and PRI; it drives
trust (TRU), perceived value (VAL), satisfaction (SAT) and attitudinal loyalty (LOY).
Constructs outside the structural model (CUS, ITB, EMO, MKR) get auxiliary paths so
that the simulated data still carry realistic correlations for them. Items are cut into
the 7 scale points at per-item thresholds chosen to give the negatively skewed answers
typical of e-commerce satisfaction surveys (item means about 5.2-5.5 on 1..7).

:func:`measurement_model_syntax` and :func:`structural_model_syntax` write the matching
lavaan/semopy syntax; the :class:`~analysis.simulate.truth.GroundTruth` model itself
lives in :mod:`analysis.simulate.truth`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from scipy.stats import norm

from analysis.errors import ConfigError
from analysis.simulate.truth import SECOND_ORDER_NAME, GroundTruth

__all__ = [
    "default_truth",
    "structural_model_syntax",
    "measurement_model_syntax",
]

DEFAULT_SECOND_ORDER = {"EFF": 0.82, "SYS": 0.72, "FUL": 0.80, "PRI": 0.75}
DEFAULT_PATHS = {
    ("TRU", "ESQ"): 0.55,
    ("VAL", "ESQ"): 0.55,
    ("SAT", "ESQ"): 0.40,
    ("SAT", "TRU"): 0.25,
    ("SAT", "VAL"): 0.25,
    ("LOY", "SAT"): 0.40,
    ("LOY", "TRU"): 0.30,
    ("LOY", "ESQ"): 0.10,
}
# MKR~ESQ = 0 is stated explicitly: the marker is independent of everything by design.
DEFAULT_AUXILIARY = {
    ("CUS", "ESQ"): 0.60,
    ("ITB", "ESQ"): 0.45,
    ("EMO", "LOY"): 0.65,
    ("MKR", "ESQ"): 0.00,
}
# Loadings by position within the construct; SYS4, FUL4 and CUS4 are the deliberately
# weak items (.55-.65) that item purification should flag.
DEFAULT_LOADING_PATTERNS = {
    "EFF": (0.82, 0.78, 0.85, 0.74),
    "SYS": (0.80, 0.76, 0.83, 0.60),
    "FUL": (0.84, 0.81, 0.77, 0.62),
    "PRI": (0.86, 0.80, 0.78),
    "CUS": (0.79, 0.83, 0.75, 0.58),
    "ITB": (0.81, 0.77, 0.74),
    "TRU": (0.85, 0.80, 0.83, 0.76),
    "VAL": (0.84, 0.88, 0.79),
    "SAT": (0.88, 0.85, 0.82, 0.86),
    "LOY": (0.87, 0.83, 0.85, 0.78),
    "EMO": (0.84, 0.80, 0.76),
    "MKR": (0.80, 0.75, 0.72),
}
FALLBACK_LOADING = 0.75
# Category shares on the 1..7 scale before shifting: mean 5.36, skewness -0.98.
SKEWED_CATEGORY_SHARES = (0.02, 0.03, 0.05, 0.12, 0.25, 0.31, 0.22)
# The marker is about something unrelated to shopping, hence symmetric around 4.
SYMMETRIC_CATEGORY_SHARES = (0.07, 0.11, 0.17, 0.30, 0.17, 0.11, 0.07)
# Construct-level favourability on the latent-response scale (SD units); +0.05 moves an
# item mean up by roughly 0.07 scale points.
CONSTRUCT_SHIFTS = {
    "EFF": 0.05, "SYS": 0.00, "FUL": -0.05, "PRI": -0.10, "CUS": -0.10, "ITB": 0.05,
    "TRU": 0.00, "VAL": -0.05, "SAT": 0.05, "LOY": -0.05, "EMO": -0.10,
}
ITEM_SHIFT_CYCLE = (0.0, 0.04, -0.04, 0.02, -0.02)
NON_MODEL_ROLES = ("attention",)


def _thresholds(shares: tuple[float, ...], shift: float) -> tuple[float, ...]:
    cumulative = np.cumsum(shares)[:-1] / np.sum(shares)
    return tuple(float(t) for t in norm.ppf(cumulative) - shift)


def _resample_shares(shares: tuple[float, ...], points: int) -> tuple[float, ...]:
    """Stretch a 7-point share profile onto another number of scale points."""
    if points == len(shares):
        return shares
    grid = np.linspace(0, 1, points + 1)
    cumulative = np.interp(grid, np.linspace(0, 1, len(shares) + 1),
                           np.concatenate([[0.0], np.cumsum(shares)]))
    return tuple(np.diff(cumulative))


def _load(instrument):
    if instrument is None:
        from analysis.instrument import load_instrument
        return load_instrument()
    return instrument


def default_truth(instrument=None) -> GroundTruth:
    """The DOMAIN.md ground truth, with indicators taken from ``instrument``.

    Constructs of the instrument that the default model does not know (a client's own
    additions) become independent latents with loadings of .75 and skewed thresholds.
    Reverse-keyed items get a negative loading, so the truth describes raw answers.
    """
    instrument = _load(instrument)
    points = int(instrument.scale.points)
    roles = {c.code: c.role for c in instrument.constructs}
    indicators = {code: tuple(instrument.items_of(code)) for code in instrument.construct_codes
                  if roles.get(code) not in NON_MODEL_ROLES and instrument.items_of(code)}
    needed = set(DEFAULT_SECOND_ORDER) | {n for k in DEFAULT_PATHS for n in k} - {SECOND_ORDER_NAME}
    absent = sorted(needed - set(indicators))
    if absent:
        raise ConfigError(f"{instrument.source_path}: the default ground truth needs items for "
                          f"constructs {sorted(needed)}; none found for {absent}")
    loadings: dict[str, float] = {}
    thresholds: dict[str, tuple[float, ...]] = {}
    for code, items in indicators.items():
        pattern = DEFAULT_LOADING_PATTERNS.get(code, ())
        marker = roles.get(code) == "marker"
        shares = _resample_shares(SYMMETRIC_CATEGORY_SHARES if marker
                                  else SKEWED_CATEGORY_SHARES, points)
        for position, item in enumerate(items):
            loading = pattern[position] if position < len(pattern) else FALLBACK_LOADING
            loadings[item] = -loading if instrument.item(item).reverse else loading
            shift = 0.0 if marker else (CONSTRUCT_SHIFTS.get(code, 0.0)
                                        + ITEM_SHIFT_CYCLE[position % len(ITEM_SHIFT_CYCLE)])
            thresholds[item] = _thresholds(shares, shift)
    auxiliary = {k: v for k, v in DEFAULT_AUXILIARY.items() if k[0] in indicators}
    return GroundTruth(second_order=dict(DEFAULT_SECOND_ORDER), paths=dict(DEFAULT_PATHS),
                       auxiliary=auxiliary, loadings=loadings, indicators=indicators,
                       thresholds=thresholds)


def measurement_model_syntax(instrument=None, constructs: Iterable[str] | None = None) -> str:
    """CFA syntax (lavaan/semopy) with the reflective first-order constructs as factors.

    By default every construct except the marker and attention checks; lavaan's
    ``cfa()`` and semopy both let exogenous factors correlate freely.
    """
    instrument = _load(instrument)
    roles = {c.code: c.role for c in instrument.constructs}
    allowed = [c for c in instrument.construct_codes
               if roles.get(c) not in ("marker", "attention") and instrument.items_of(c)]
    chosen = allowed if constructs is None else list(constructs)
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise ConfigError(f"measurement_model_syntax: constructs {unknown} are not reflective "
                          f"constructs of the instrument; allowed: {allowed}")
    return "\n".join(f"{c} =~ {' + '.join(instrument.items_of(c))}" for c in chosen) + "\n"


def structural_model_syntax(instrument=None, truth: GroundTruth | None = None) -> str:
    """lavaan/semopy syntax of the truth's structural model (second order + paths)."""
    instrument = _load(instrument)
    truth = default_truth(instrument) if truth is None else truth
    structural = list(dict.fromkeys(n for k in truth.paths for n in k))
    measured = [c for c in truth.latents if c in truth.second_order
                or (c in structural and c != truth.second_order_name)]
    lines = ["# measurement model"]
    lines += [f"{c} =~ {' + '.join(instrument.items_of(c))}" for c in measured]
    lines += ["# second-order factor",
              f"{truth.second_order_name} =~ {' + '.join(truth.second_order)}",
              "# structural model"]
    for outcome in truth.latents:
        predictors = [p for (o, p) in truth.paths if o == outcome]
        if predictors:
            lines.append(f"{outcome} ~ {' + '.join(predictors)}")
    return "\n".join(lines) + "\n"
