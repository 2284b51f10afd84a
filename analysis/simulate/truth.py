"""Ground truth of the simulated e-loyalty survey: latent model, loadings, thresholds.

The default truth follows DOMAIN.md ("Default ground-truth model for the simulator"):
e-service quality (ESQ) is a second-order factor over EFF, SYS, FUL and PRI; it drives
trust (TRU), perceived value (VAL), satisfaction (SAT) and attitudinal loyalty (LOY).
Constructs outside the structural model (CUS, ITB, EMO, MKR) get auxiliary paths so
that the simulated data still carry realistic correlations for them.

Every latent variable has variance 1 and every coefficient is standardized; residual
variances are whatever makes that true (``1 - R^2``). Items follow the latent-response
model ``y* = lambda * eta + sqrt(1 - lambda^2) * epsilon`` and are cut into the 7 scale
points at per-item thresholds chosen to give the negatively skewed answers typical of
e-commerce satisfaction surveys (item means about 5.2-5.5 on 1..7).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis.atomic import atomic_write_text
from analysis.errors import ConfigError, DataError

__all__ = [
    "GroundTruth",
    "default_truth",
    "structural_model_syntax",
    "measurement_model_syntax",
    "TRUTH_FORMAT",
]

TRUTH_FORMAT = "eloyalty-ground-truth/1"
SECOND_ORDER_NAME = "ESQ"

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


def _key(outcome: str, predictor: str) -> str:
    return f"{outcome}~{predictor}"


def _split_key(key: str, section: str) -> tuple[str, str]:
    parts = key.split("~")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise DataError(f"truth: key '{key}' in '{section}': expected 'OUTCOME~PREDICTOR'")
    return parts[0].strip(), parts[1].strip()


@dataclass(frozen=True)
class GroundTruth:
    """Standardized population model behind a simulated survey.

    Attributes
    ----------
    second_order : dict
        First-order dimension -> loading on the second-order factor ``second_order_name``.
    paths : dict
        ``(outcome, predictor)`` -> standardized coefficient of the structural model.
    auxiliary : dict
        ``(outcome, predictor)`` -> standardized coefficient for constructs outside the
        structural model (kept separate so model syntax uses only ``paths``).
    loadings : dict
        Item -> standardized loading; negative for reverse-keyed items.
    indicators : dict
        Construct -> tuple of its item ids.
    thresholds : dict
        Item -> increasing cut points on the standard-normal latent-response scale
        (``points - 1`` of them).
    second_order_name : str
        Name of the second-order factor, "ESQ".
    """

    second_order: dict[str, float]
    paths: dict[tuple[str, str], float]
    auxiliary: dict[tuple[str, str], float]
    loadings: dict[str, float]
    indicators: dict[str, tuple[str, ...]]
    thresholds: dict[str, tuple[float, ...]]
    second_order_name: str = SECOND_ORDER_NAME
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for section, mapping in (("second_order", self.second_order), ("paths", self.paths),
                                 ("auxiliary", self.auxiliary), ("loadings", self.loadings)):
            for key, value in mapping.items():
                if not -1.0 < float(value) < 1.0:
                    raise ConfigError(f"truth: '{section}' entry {key!r}: expected a "
                                      f"standardized value in (-1, 1), got {value!r}")
        for construct, items in self.indicators.items():
            missing = [i for i in items if i not in self.loadings or i not in self.thresholds]
            if missing:
                raise ConfigError(f"truth: construct '{construct}': items {missing} lack a "
                                  "loading or thresholds")
        for item, cuts in self.thresholds.items():
            if len(cuts) < 1 or np.any(np.diff(cuts) <= 0):
                raise ConfigError(f"truth: thresholds of '{item}': expected strictly "
                                  f"increasing cut points, got {list(cuts)}")
        object.__setattr__(self, "_order", self._topological_order())
        bad = {k: v for k, v in self.residual_variances().items() if v <= 0}
        if bad:
            raise ConfigError(f"truth: coefficients imply R^2 >= 1 for {sorted(bad)}; "
                              "expected standardized paths whose explained variance is < 1")

    # ---------------------------------------------------------------- structure
    def equations(self) -> dict[str, dict[str, float]]:
        """Every endogenous latent -> {predictor: standardized coefficient}.

        Combines the second-order loadings, the structural ``paths`` and the
        ``auxiliary`` paths: the full data-generating model of the latents.
        """
        preds: dict[str, dict[str, float]] = {}
        for dim, loading in self.second_order.items():
            preds.setdefault(dim, {})[self.second_order_name] = float(loading)
        for (outcome, predictor), coef in {**self.paths, **self.auxiliary}.items():
            preds.setdefault(outcome, {})[predictor] = float(coef)
        return preds

    @property
    def latents(self) -> list[str]:
        """All latent variables in a causal (topological) order."""
        return list(self._order)

    def _topological_order(self) -> tuple[str, ...]:
        preds = self.equations()
        preferred = [self.second_order_name, *self.second_order, *self.indicators]
        for outcome, ps in preds.items():
            preferred += [outcome, *ps]
        candidates = list(dict.fromkeys(preferred))
        order: list[str] = []
        while candidates:
            ready = next((c for c in candidates
                          if all(p in order for p in preds.get(c, {}))), None)
            if ready is None:
                raise ConfigError(f"truth: the paths among {candidates} form a cycle; "
                                  "expected a recursive (acyclic) model")
            order.append(ready)
            candidates.remove(ready)
        return tuple(order)

    def construct_of(self, item: str) -> str:
        """Construct measured by ``item``."""
        for construct, items in self.indicators.items():
            if item in items:
                return construct
        raise ConfigError(f"truth: unknown item '{item}'; expected one of {list(self.loadings)}")

    @property
    def items(self) -> list[str]:
        """Items with a loading, grouped by construct."""
        return [i for items in self.indicators.values() for i in items]

    # ---------------------------------------------------------------- implied moments
    def _covariance_array(self) -> tuple[np.ndarray, np.ndarray]:
        names = self._order
        index = {n: k for k, n in enumerate(names)}
        preds = self.equations()
        sigma = np.zeros((len(names), len(names)))
        residual = np.ones(len(names))
        for k, name in enumerate(names):
            ps = preds.get(name, {})
            idx = np.array([index[p] for p in ps], dtype=int)
            beta = np.array(list(ps.values()))
            if len(idx):
                sigma[k, :k] = beta @ sigma[idx, :k]
                sigma[:k, k] = sigma[k, :k]
                residual[k] = 1.0 - beta @ sigma[np.ix_(idx, idx)] @ beta
            sigma[k, k] = 1.0
        return sigma, residual

    def latent_covariance(self) -> pd.DataFrame:
        """Model-implied covariance (= correlation) matrix of all latents.

        Notes
        -----
        Latents are processed in causal order; for ``eta_k = sum_p b_kp eta_p + zeta_k``
        with uncorrelated residuals, ``cov(eta_k, eta_j) = sum_p b_kp cov(eta_p, eta_j)``
        for every earlier ``j`` and ``psi_k = 1 - b' Sigma_pp b`` keeps ``var(eta_k) = 1``.
        Checked against lavaan's ``lavInspect(fit, "cov.lv")`` of the population model.
        """
        sigma, _ = self._covariance_array()
        return pd.DataFrame(sigma, index=self.latents, columns=self.latents)

    def residual_variances(self) -> pd.Series:
        """Residual (disturbance) variance ``1 - R^2`` of every latent; 1 for exogenous."""
        _, residual = self._covariance_array()
        return pd.Series(residual, index=self.latents, name="residual_variance")

    def r_squared(self) -> pd.Series:
        """Explained variance of every endogenous latent (SAT about .54, LOY about .48)."""
        endogenous = [n for n in self.latents if n in self.equations()]
        return (1.0 - self.residual_variances()[endogenous]).rename("r_squared")

    def indirect_effects(self, pairs: Iterable[tuple[str, str]] | None = None) -> pd.DataFrame:
        """Standardized direct, specific indirect, total indirect and total effects.

        Parameters
        ----------
        pairs : iterable of (from_, to), optional
            Default: every pair linked by at least one indirect path of ``paths``.

        Returns
        -------
        pandas.DataFrame
            Columns ``effect`` ("direct", "indirect", "total_indirect", "total"),
            ``from_``, ``to``, ``via`` (mediators joined by ">", e.g. "TRU>SAT"),
            ``path`` ("ESQ->TRU->SAT->LOY") and ``est``.

        Notes
        -----
        A specific indirect effect is the product of the coefficients along one path of
        the structural model (Bollen 1987); the total effect is direct + total indirect.
        Only ``paths`` count: auxiliary constructs are not mediators of the model.
        """
        children: dict[str, dict[str, float]] = {}
        for (outcome, predictor), coef in self.paths.items():
            children.setdefault(predictor, {})[outcome] = float(coef)

        def walks(node: str, target: str) -> list[list[str]]:
            if node == target:
                return [[node]]
            return [[node, *rest] for nxt in children.get(node, {})
                    for rest in walks(nxt, target)]

        if pairs is None:
            pairs = [(a, b) for a in self.latents for b in self.latents
                     if any(len(w) > 2 for w in walks(a, b))] if self.paths else []
        rows = []
        for source, target in pairs:
            direct = self.paths.get((target, source), 0.0)
            rows.append(("direct", source, target, "", f"{source}->{target}", direct))
            total_indirect = 0.0
            for walk in walks(source, target):
                if len(walk) <= 2:
                    continue
                est = float(np.prod([children[a][b] for a, b in zip(walk, walk[1:])]))
                total_indirect += est
                rows.append(("indirect", source, target, ">".join(walk[1:-1]),
                             "->".join(walk), est))
            rows.append(("total_indirect", source, target, "", "", total_indirect))
            rows.append(("total", source, target, "", "", direct + total_indirect))
        return pd.DataFrame(rows, columns=["effect", "from_", "to", "via", "path", "est"])

    def implied_item_correlations(self, items: Iterable[str] | None = None) -> pd.DataFrame:
        """Correlations of the continuous latent responses ``y*`` implied by the truth.

        Notes
        -----
        ``corr(y_i, y_j) = lambda_i * lambda_j * Sigma[c(i), c(j)]`` for ``i != j``.
        The observed 1..7 answers are somewhat attenuated relative to these values.
        """
        items = list(self.items if items is None else items)
        lam = np.array([self.loadings[i] for i in items])
        sigma = self.latent_covariance()
        constructs = [self.construct_of(i) for i in items]
        corr = np.outer(lam, lam) * sigma.loc[constructs, constructs].to_numpy()
        np.fill_diagonal(corr, 1.0)
        return pd.DataFrame(corr, index=items, columns=items)

    def category_probabilities(self) -> pd.DataFrame:
        """Population share of each scale point per item (rows items, columns 1..points)."""
        rows = {}
        for item in self.items:
            cdf = norm.cdf(np.asarray(self.thresholds[item]))
            rows[item] = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
        points = len(next(iter(self.thresholds.values()))) + 1 if self.thresholds else 0
        return pd.DataFrame.from_dict(rows, orient="index", columns=range(1, points + 1))

    def implied_item_means(self) -> pd.Series:
        """Population mean of each item's 1..points answer."""
        probs = self.category_probabilities()
        return (probs * probs.columns.to_numpy()).sum(axis=1).rename("mean")

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; paths use string keys like ``"LOY~SAT"``."""
        corr = self.latent_covariance()
        return {
            "format": TRUTH_FORMAT,
            "second_order_name": self.second_order_name,
            "second_order": dict(self.second_order),
            "paths": {_key(*k): v for k, v in self.paths.items()},
            "auxiliary": {_key(*k): v for k, v in self.auxiliary.items()},
            "indicators": {c: list(items) for c, items in self.indicators.items()},
            "loadings": dict(self.loadings),
            "thresholds": {i: list(t) for i, t in self.thresholds.items()},
            # Informational only (recomputed on load): what the truth implies.
            "implied": {
                "r_squared": self.r_squared().round(6).to_dict(),
                "latent_correlations": {
                    f"{a}~~{b}": round(float(corr.loc[a, b]), 6)
                    for k, a in enumerate(corr.index) for b in corr.index[k + 1:]},
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "truth") -> GroundTruth:
        """Inverse of :meth:`to_dict` (``implied`` and ``simulation`` keys are ignored)."""
        required = ["second_order", "paths", "auxiliary", "loadings", "indicators", "thresholds"]
        allowed = {*required, "format", "second_order_name", "implied", "simulation"}
        missing = [k for k in required if k not in data]
        unknown = sorted(set(data) - allowed)
        if missing or unknown:
            raise DataError(f"{source}: expected keys {sorted(allowed)}; missing {missing}, "
                            f"unknown {unknown}")
        if data.get("format", TRUTH_FORMAT) != TRUTH_FORMAT:
            raise DataError(f"{source}: key 'format': expected '{TRUTH_FORMAT}', "
                            f"got {data['format']!r}")
        try:
            fields = dict(
                second_order={k: float(v) for k, v in data["second_order"].items()},
                paths={_split_key(k, "paths"): float(v) for k, v in data["paths"].items()},
                auxiliary={_split_key(k, "auxiliary"): float(v)
                           for k, v in data["auxiliary"].items()},
                loadings={k: float(v) for k, v in data["loadings"].items()},
                indicators={c: tuple(items) for c, items in data["indicators"].items()},
                thresholds={i: tuple(float(x) for x in t)
                            for i, t in data["thresholds"].items()},
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: expected numbers keyed by construct, item or "
                            f"'OUTCOME~PREDICTOR' in every section ({exc})") from None
        return cls(**fields, second_order_name=data.get("second_order_name", SECOND_ORDER_NAME))

    def to_json(self, path: str | os.PathLike, extra: Mapping[str, Any] | None = None) -> Path:
        """Write :meth:`to_dict` (plus ``extra`` keys) atomically to ``path``."""
        payload = {**self.to_dict(), **(extra or {})}
        return atomic_write_text(Path(path), json.dumps(payload, indent=2, ensure_ascii=False))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> GroundTruth:
        """Read a truth written by :meth:`to_json`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: cannot read ground truth JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data, source=str(path))


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
