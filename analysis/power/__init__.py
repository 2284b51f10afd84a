"""Monte Carlo power and sample-size planning for a client's structural model and design.

:func:`design_from_settings` reads the profile's ``power`` section; :func:`run_power`
maps the replications over Dask; :func:`write_power_outputs` writes ``power.csv``
(one row per sample size and hypothesis: true value, mean estimate, bias, RMSE, power,
coverage, convergence), ``minimum_n.csv`` and the power-curve figure.
"""

from __future__ import annotations

from analysis.power.design import EFFECTS, PowerDesign, assumed_truth, design_from_settings, hypotheses
from analysis.power.outputs import write_power_outputs
from analysis.power.run import POWER_COLUMNS, PowerResult, dask_client, minimum_sample_sizes, run_power

__all__ = ["EFFECTS", "PowerDesign", "assumed_truth", "design_from_settings", "hypotheses", "POWER_COLUMNS",
           "PowerResult", "dask_client", "minimum_sample_sizes", "run_power", "write_power_outputs"]
