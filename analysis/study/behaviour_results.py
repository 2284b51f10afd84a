"""What each step of the behavioural-loyalty chapter hands to the next.

Kept apart from the steps themselves so that :mod:`analysis.study.behaviour` and
:mod:`analysis.study.behaviour_attitudes` both import these types without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.behaviour.clv import BGNBDModel, GammaGammaModel

__all__ = ["BehaviourData", "RFMResults", "CLVResults", "RetentionResults"]


@dataclass(frozen=True)
class BehaviourData:
    """The CRM the chapter analyses and what is known about it."""

    available: bool
    note: str
    customers: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    deliveries: pd.DataFrame | None = None
    complaints: pd.DataFrame | None = None
    observation_end: pd.Timestamp | None = None
    customer_truth: pd.DataFrame | None = None
    crm_truth: dict | None = None
    linked_truth: dict | None = None
    respondents: pd.DataFrame | None = None  # respondent_id, customer_id

    @property
    def simulated(self) -> bool:
        return self.customer_truth is not None


@dataclass
class RFMResults:
    rfm: pd.DataFrame
    rfm_12m: pd.DataFrame
    summary: pd.DataFrame
    repeat: pd.DataFrame
    cohorts: pd.DataFrame | None


@dataclass
class CLVResults:
    bgnbd: BGNBDModel
    gamma_gamma: GammaGammaModel
    customers: pd.DataFrame
    bgnbd_table: pd.DataFrame
    gamma_gamma_table: pd.DataFrame
    summary: pd.DataFrame
    concentration: pd.DataFrame
    frequency_check: pd.DataFrame


@dataclass
class RetentionResults:
    churn: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
