"""What a power study simulates: the client's assumed model and the study's design.

The assumed model is the default ground truth of the instrument with the client's
changes (standardized paths, and a factor that scales every item loading, e.g. .9 for a
weaker questionnaire); the design is the sample sizes, the careless share and whether
careless respondents are screened out, the missing share and how missing answers are
handled, and the estimator. Each replication draws a survey from the model under the
design, analyses it as the real study would, and tests every hypothesis.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from analysis.errors import ConfigError
from analysis.simulate import GroundTruth, default_truth, structural_model_syntax

__all__ = ["EFFECTS", "PowerDesign", "parse_path", "assumed_truth", "design_from_settings", "hypotheses",
           "parameter_label"]

#: Indirect and total effects tested besides the paths (cause, outcome).
EFFECTS = (("ESQ", "LOY"), ("TRU", "LOY"), ("VAL", "LOY"), ("ESQ", "SAT"))
_PATH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*~\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


@dataclass(frozen=True)
class PowerDesign:
    """Everything one replication needs (picklable: it travels to Dask workers)."""

    truth: GroundTruth
    syntax: str
    sample_sizes: tuple[int, ...]
    replications: int
    alpha: float
    target: float
    careless_share: float
    missing_share: float
    screen: bool
    missing: str
    estimator: str
    seed: int


def parse_path(text: str, source: str = "power.paths") -> tuple[str, str]:
    """``"SAT ~ TRU"`` -> ``("SAT", "TRU")`` (outcome, predictor)."""
    match = _PATH.match(str(text))
    if not match:
        raise ConfigError(f"{source}: expected a path written 'OUTCOME ~ PREDICTOR', got {text!r}")
    return match.group(1), match.group(2)


def assumed_truth(instrument, paths: dict[str, float] | None = None, loading_scale: float = 1.0,
                  source: str = "power") -> GroundTruth:
    """The default truth with the client's standardized paths and scaled loadings."""
    truth = default_truth(instrument)
    changed = dict(truth.paths)
    for text, value in (paths or {}).items():
        key = parse_path(text, f"{source}.paths")
        if key not in changed:
            known = ", ".join(f"{o} ~ {p}" for o, p in truth.paths)
            raise ConfigError(f"{source}.paths: {text!r} is not a path of the model; expected one of {known}")
        changed[key] = float(value)
    loadings = {item: value * loading_scale for item, value in truth.loadings.items()}
    try:
        return dataclasses.replace(truth, paths=changed, loadings=loadings)
    except ConfigError as exc:
        raise ConfigError(f"{source}: the assumed model is not valid: {exc}") from None


def design_from_settings(settings, instrument, *, sample_sizes=None, replications=None) -> PowerDesign:
    """The power design of a client profile (``power`` section; CLI values override)."""
    power = settings.power
    truth = assumed_truth(instrument, power.paths, power.loading_scale, f"{settings.source_path.name}: power")
    try:
        truth.latent_covariance()
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"power.paths: the assumed paths imply no valid latent covariance ({exc})") from None
    sizes = tuple(sorted(set(sample_sizes or power.sample_sizes)))
    return PowerDesign(truth=truth, syntax=structural_model_syntax(instrument, truth), sample_sizes=sizes,
                       replications=int(replications or power.replications), alpha=power.alpha,
                       target=power.target, careless_share=settings.simulation.careless_share,
                       missing_share=settings.simulation.missing_share, screen=power.screen,
                       missing=power.missing, estimator=power.estimator, seed=settings.analysis.seed)


def hypotheses(truth: GroundTruth) -> list[tuple[str, str, str, float]]:
    """(kind, outcome, cause, true standardized value) of every path and tested effect."""
    out = [("path", outcome, predictor, float(value)) for (outcome, predictor), value in truth.paths.items()]
    table = truth.indirect_effects(list(EFFECTS))
    for row in table.itertuples():
        if row.effect in ("total_indirect", "total"):
            out.append(("indirect" if row.effect == "total_indirect" else "total", row.to, row.from_, float(row.est)))
    return out


def parameter_label(kind: str, outcome: str, cause: str) -> str:
    """``"SAT ~ TRU"`` for a path, ``"indirect ESQ -> LOY"`` / ``"total ESQ -> LOY"`` for effects."""
    return f"{outcome} ~ {cause}" if kind == "path" else f"{kind} {cause} -> {outcome}"
