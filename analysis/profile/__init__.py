"""Client profiles: one strictly validated YAML file per client, read into one typed :class:`Settings`.

The schema in :mod:`analysis.profile.settings` is the single home of every default.
"""

from __future__ import annotations

from analysis.profile.schema import (
    Field,
    Section,
    read_yaml,
    validate,
)
from analysis.profile.settings import (
    SCHEMA,
    AnalysisSettings,
    BehaviourSettings,
    ClientInfo,
    DataSettings,
    ReportSettings,
    Settings,
    SimulationSettings,
    SurveySettings,
    Thresholds,
    available_profiles,
    load_profile,
)

__all__ = [
    "Field",
    "Section",
    "validate",
    "read_yaml",
    "ClientInfo",
    "ReportSettings",
    "DataSettings",
    "SimulationSettings",
    "AnalysisSettings",
    "Thresholds",
    "BehaviourSettings",
    "SurveySettings",
    "Settings",
    "SCHEMA",
    "load_profile",
    "available_profiles",
]
