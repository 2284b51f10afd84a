"""Ground truth of the simulated e-loyalty survey: the standardized population model.

:class:`GroundTruth` holds the latent model, loadings and thresholds, derives what they
imply (latent covariances, R^2, indirect effects, item correlations and category
shares) and reads and writes truth.json. The DOMAIN.md default model and the lavaan
syntax built from an instrument live in :mod:`analysis.simulate.default_model`.

Every latent variable has variance 1 and every coefficient is standardized; residual
variances are whatever makes that true (``1 - R^2``). Items follow the latent-response
model ``y* = lambda * eta + sqrt(1 - lambda^2) * epsilon`` and are cut into the scale
points at per-item thresholds.
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
    "TRUTH_FORMAT",
]

TRUTH_FORMAT = "eloyalty-ground-truth/1"
SECOND_ORDER_NAME = "ESQ"


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
