"""Behavioural loyalty from CRM data: RFM, CLV (BG/NBD + Gamma-Gamma), retention,
web-behaviour segments and the link between attitudes and behaviour.

Submodules: :mod:`~analysis.behaviour.rfm`, :mod:`~analysis.behaviour.clv`,
:mod:`~analysis.behaviour.survival`, :mod:`~analysis.behaviour.segments`,
:mod:`~analysis.behaviour.linkage`. Time is in weeks unless stated otherwise.
"""

from __future__ import annotations

from analysis.behaviour.clv import BGNBDModel, GammaGammaModel, customer_lifetime_value
from analysis.behaviour.linkage import attitude_behaviour, attitude_behaviour_models
from analysis.behaviour.rfm import cohort_retention, repeat_customer_rate, rfm_summary
from analysis.behaviour.segments import (
    kmeans_segments,
    quantile_segments,
    segment_profile,
    web_behaviour_profile,
)
from analysis.behaviour.survival import (
    churn_table,
    kaplan_meier_retention,
    median_retention,
)

__all__ = [
    "rfm_summary",
    "repeat_customer_rate",
    "cohort_retention",
    "BGNBDModel",
    "GammaGammaModel",
    "customer_lifetime_value",
    "churn_table",
    "kaplan_meier_retention",
    "median_retention",
    "web_behaviour_profile",
    "quantile_segments",
    "kmeans_segments",
    "segment_profile",
    "attitude_behaviour",
    "attitude_behaviour_models",
]
