"""What the behaviour models target on this simulator: the design truth of BG/NBD and Gamma-Gamma.

The simulator's purchase process is a BG/NBD backbone to which one-time buyers and
attitude effects are added, and spend is drawn per order and summed within a week, so a
BG/NBD or Gamma-Gamma fit is not expected to return the backbone parameters. The values
it does target are those of the same fit on a very large customer base simulated with the
study's settings (100,000 customers); they are cached by those settings
(``data/cache/behaviour_truth/``), since the simulation takes several seconds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from analysis.atomic import atomic_write_text
from analysis.behaviour.clv import BGNBDModel, GammaGammaModel
from analysis.behaviour.rfm import rfm_summary
from analysis.paths import DATA_DIR
from analysis.seeding import component_rng, component_seed, seed_sequence
from analysis.simulate import default_truth
from analysis.simulate.crm import CRMParams, simulate_crm
from analysis.simulate.linked import CRM_LATENTS, crm_params_from_truth, customer_latents

__all__ = ["BEHAVIOUR_DESIGN_N", "behaviour_design_truth"]

BEHAVIOUR_DESIGN_N = 100_000
_CACHE = DATA_DIR / "cache" / "behaviour_truth"
WEEKS_PER_YEAR = 52


def behaviour_design_truth(ctx, n_customers: int = BEHAVIOUR_DESIGN_N, cache: Path | None = _CACHE) -> dict[str, float]:
    """Parameter -> value of the BG/NBD and Gamma-Gamma fits on a large customer base (cached)."""
    b = ctx.settings.behaviour
    spec = {"repeat": b.repeat_rate, "return": b.return_rate, "on_time": b.on_time_rate, "months": b.months,
            "seed": ctx.seed, "n": n_customers, "instrument": ctx.instrument.id, "version": 1}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = None if cache is None else Path(cache) / f"{key}.json"
    if path is not None and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    truth = default_truth(ctx.instrument)
    root = seed_sequence(ctx.seed)
    latents = customer_latents(truth, n_customers, component_seed(root, "behaviour-truth-latents"))
    params = crm_params_from_truth(truth, CRMParams(repeat_rate_12m=b.repeat_rate, return_rate=b.return_rate,
                                                   on_time_rate=b.on_time_rate), b.months)
    db = simulate_crm(n_customers, b.months, params, latent=latents[list(CRM_LATENTS)].rename(columns=CRM_LATENTS),
                      random_state=component_rng(root, "behaviour-truth-crm"))
    rfm = rfm_summary(db.orders, observation_end=db.observation_end, freq="W")
    bgnbd = BGNBDModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    spend = GammaGammaModel().fit(rfm["frequency"], rfm["monetary_value"])
    values = {name: float(value) for name, value in bgnbd.params_.items()}
    values.update({name: float(value) for name, value in spend.params_.items()})
    r, alpha = values["r"], values["alpha"]
    values["repeat_rate_12m"] = 1 - (alpha / (alpha + WEEKS_PER_YEAR)) ** r
    values["mean_spend"] = values["p"] * values["gamma"] / (values["q"] - 1)
    if path is not None:
        atomic_write_text(path, json.dumps(values, indent=1, sort_keys=True) + "\n")
    return values
