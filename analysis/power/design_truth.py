"""What the estimator targets under a study's design: the design truth.

The population truth is what generated the data. What an analysis of a finite study
estimates on average can differ from it for reasons that have nothing to do with
sampling error: 7-point answers are a coarse, skewed discretisation of the attitudes,
careless answers survive screening (and screening removes some careful ones), missing
answers are deleted, respondents are selected. The design truth is the same analysis
applied to one very large sample drawn with the same design, so that

    estimate - population truth = (estimate - design truth) + (design truth - population truth)
                                 sampling error + estimator bias    design effects

and an interval's coverage can be judged against what it can actually cover. Results
are cached by the design's settings (``data/cache/design_truth/``), since the large
sample takes a few seconds to draw and fit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from analysis.atomic import atomic_write_text
from analysis.paths import DATA_DIR
from analysis.power.design import PowerDesign, hypotheses, parameter_label
from analysis.power.replicate import run_replication
from analysis.seeding import replication_seed

__all__ = ["DESIGN_TRUTH_N", "design_truth"]

#: Size of the one large sample (sampling error of a standardized path about .0013).
DESIGN_TRUTH_N = 500_000
_CACHE = DATA_DIR / "cache" / "design_truth"


def _key(design: PowerDesign, n: int) -> str:
    spec = {"model": design.syntax, "paths": sorted((f"{o}~{p}", v) for (o, p), v in design.truth.paths.items()),
            "loadings": sorted(design.truth.loadings.items()), "careless": design.careless_share,
            "missing_share": design.missing_share, "screen": design.screen, "missing": design.missing,
            "estimator": design.estimator, "seed": design.seed, "n": n}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]


def design_truth(design: PowerDesign, instrument, n: int = DESIGN_TRUTH_N, cache: Path | None = _CACHE) -> dict[str, float]:
    """Parameter label -> the value the design's analysis targets (cached)."""
    key = _key(design, n)
    path = None if cache is None else Path(cache) / f"{key}.json"
    if path is not None and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    result = run_replication(design, n, replication_seed(design.seed, 0, n), instrument)
    values = {parameter_label(kind, outcome, cause): float(value)
              for (kind, outcome, cause, _), value in zip(hypotheses(design.truth), result["estimate"])
              if np.isfinite(value)}
    if path is not None:
        atomic_write_text(path, json.dumps(values, indent=1, sort_keys=True) + "\n")
    return values
