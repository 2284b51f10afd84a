"""Client profiles: one strictly validated YAML file per client.

A profile (``reports/clients/<id>.yml``) says who the report is for, where the data
come from, how to simulate them, which seed and bootstrap settings to use and which
quality thresholds to apply. :func:`load_profile` turns it into one frozen, typed
:class:`Settings` object, which is what every later stage reads: the study notebook
receives the profile's path and rebuilds the same object, so there is no second list
of parameters and no second home for a default. :data:`SCHEMA` is the one place where
every key's type, range and default is declared.

Validation is driven by one declarative :data:`SCHEMA` (sections of :class:`Field`
specs) walked by one generic function, so a new section or key is a few lines in the
schema plus a dataclass field, never another if-chain. That generic machinery lives in
:mod:`analysis.profile.schema`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError
from analysis.paths import CLIENTS_DIR, PROJECT_ROOT
from analysis.profile.schema import Field, Section
from analysis.profile.schema import read_yaml as _read_yaml
from analysis.profile.schema import validate as _validate

__all__ = [
    "ClientInfo",
    "ReportSettings",
    "DataSettings",
    "SimulationSettings",
    "AnalysisSettings",
    "Thresholds",
    "PowerSettings",
    "BehaviourSettings",
    "SurveySettings",
    "REPORT_FORMATS",
    "Settings",
    "SCHEMA",
    "load_profile",
    "available_profiles",
]


# --------------------------------------------------------------------------- values
@dataclass(frozen=True)
class ClientInfo:
    name: str
    id: str


@dataclass(frozen=True)
class ReportSettings:
    """Who the report is for and how it looks: language, formats, branding."""

    title: str
    language: str
    author: str
    organisation: str
    formats: tuple[str, ...]
    logo: Path | None
    primary_color: str


@dataclass(frozen=True)
class SurveySettings:
    """The instrument the study uses (resolved to an absolute path)."""

    instrument: Path


@dataclass(frozen=True)
class DataSettings:
    source: str
    path: Path | None
    format: str


@dataclass(frozen=True)
class SimulationSettings:
    sample_size: int
    careless_share: float
    missing_share: float


@dataclass(frozen=True)
class AnalysisSettings:
    seed: int
    bootstrap_draws: int
    n_jobs: int
    ci_level: float


@dataclass(frozen=True)
class PowerSettings:
    """Monte Carlo power and sample-size planning (``python -m analysis power``)."""

    sample_sizes: tuple[int, ...]
    replications: int
    target: float
    alpha: float
    paths: dict
    loading_scale: float
    screen: bool
    missing: str
    estimator: str
    in_report: bool


@dataclass(frozen=True)
class Thresholds:
    """Cut-offs; ``rmsea`` and ``srmr`` are maxima, all others minima (``htmt``: below)."""

    cfi: float
    tli: float
    rmsea: float
    srmr: float
    alpha: float
    ave: float
    htmt: float


@dataclass(frozen=True)
class BehaviourSettings:
    """Behavioural-loyalty chapter: CRM simulation, churn window, CLV horizon."""

    enabled: bool
    n_customers: int
    months: int
    response_bias: float
    repeat_rate: float
    return_rate: float
    on_time_rate: float
    churn_window_weeks: int
    clv_horizon_weeks: int
    discount_rate: float
    crm_path: Path | None


# --------------------------------------------------------------------------- schema
#: Output documents a report can have (``report.formats``).
REPORT_FORMATS = ("html", "pdf", "docx")


def _share(default: float) -> Field:
    return Field("float", default, 0.0, 0.5)


def _cut(default: float, name: str) -> Field:
    return Field("float", default, 0.0, 1.0)


SCHEMA: dict[str, Section] = {
    "client": Section({"name": Field("str"), "id": Field("slug")}, ClientInfo),
    "report": Section(
        {
            "title": Field("str"),
            "language": Field("choice", "en", choices=("en", "zh-Hans", "zh-Hant")),
            "author": Field("text", ""),
            "organisation": Field("text", ""),
            "formats": Field("choices", ("html", "pdf", "docx"), choices=REPORT_FORMATS),
            "logo": Field("path", None, nullable=True),
            "primary_color": Field("color", "#0b5cad"),
        },
        ReportSettings,
    ),
    "survey": Section({"instrument": Field("path", "survey/instrument.yaml")}, SurveySettings),
    "data": Section(
        {
            "source": Field("choice", "simulated", choices=("simulated", "file")),
            "path": Field("path", None, nullable=True),
            "format": Field("choice", "auto", choices=("auto", "csv", "xlsx", "parquet", "sav")),
        },
        DataSettings,
    ),
    "simulation": Section(
        {
            "sample_size": Field("int", 600, 50, 100_000),
            "careless_share": _share(0.08),
            "missing_share": _share(0.01),
        },
        SimulationSettings,
    ),
    "analysis": Section(
        {
            "seed": Field("int", minimum=0),
            "bootstrap_draws": Field("int", 1000, 0, 100_000),
            "n_jobs": Field("int", 2, 1, 64),
            "ci_level": Field("float", 0.95, 0.5, 0.999),
        },
        AnalysisSettings,
    ),
    "thresholds": Section(
        {
            "cfi": _cut(0.95, "cfi"),
            "tli": _cut(0.95, "tli"),
            "rmsea": _cut(0.06, "rmsea"),
            "srmr": _cut(0.08, "srmr"),
            "alpha": _cut(0.70, "alpha"),
            "ave": _cut(0.50, "ave"),
            "htmt": _cut(0.85, "htmt"),
        },
        Thresholds,
    ),
    "power": Section(
        {
            "sample_sizes": Field("ints", (200, 300, 500, 800), 50, 100_000),
            "replications": Field("int", 500, 10, 100_000),
            "target": Field("float", 0.80, 0.5, 0.99),
            "alpha": Field("float", 0.05, 0.001, 0.2),
            "paths": Field("numbers", {}, -1.0, 1.0),
            "loading_scale": Field("float", 1.0, 0.5, 1.2),
            "screen": Field("bool", True),
            "missing": Field("choice", "listwise", choices=("listwise", "fiml")),
            "estimator": Field("choice", "ML", choices=("ML", "MLR")),
            "in_report": Field("bool", False),
        },
        PowerSettings,
    ),
    "behaviour": Section(
        {
            "enabled": Field("bool", True),
            "n_customers": Field("int", 20_000, 1_000, 2_000_000),
            "months": Field("int", 24, 6, 60),
            "response_bias": Field("float", 0.5, 0.0, 3.0),
            "repeat_rate": Field("float", 0.25, 0.01, 0.99),
            "return_rate": Field("float", 0.18, 0.0, 1.0),
            "on_time_rate": Field("float", 0.85, 0.0, 1.0),
            "churn_window_weeks": Field("int", 26, 1, 260),
            "clv_horizon_weeks": Field("int", 52, 1, 520),
            "discount_rate": Field("float", 0.10, 0.0, 1.0),
            "crm_path": Field("path", None, nullable=True),
        },
        BehaviourSettings,
    ),
}


# --------------------------------------------------------------------------- profile
@dataclass(frozen=True)
class Settings:
    """A validated client profile (see ``reports/clients/default.yml``): every setting of a run."""

    client: ClientInfo
    report: ReportSettings
    survey: SurveySettings
    data: DataSettings
    simulation: SimulationSettings
    analysis: AnalysisSettings
    thresholds: Thresholds
    power: PowerSettings
    behaviour: BehaviourSettings
    source_path: Path = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Nested ``{section: {key: value}}`` with paths as strings (for the manifest)."""
        def plain(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            return list(value) if isinstance(value, tuple) else value
        return {name: {key: plain(value) for key, value in dataclasses.asdict(getattr(self, name)).items()}
                for name in SCHEMA} | {"profile_path": str(self.source_path)}


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _resolve_path(raw: str, profile_path: Path, source: str, key: str, folder: bool, hint: str = "") -> Path:
    """A file (or folder) named in the profile: absolute, or next to the profile, or under the project."""
    candidate = Path(raw).expanduser()
    tried = [candidate] if candidate.is_absolute() else [profile_path.parent / candidate, PROJECT_ROOT / candidate]
    for path in tried:
        if path.is_dir() if folder else path.is_file():
            return path.resolve()
    raise ConfigError(f"{source}: {key}: {'folder' if folder else 'file'} not found: {raw!r} (looked in "
                      + " and ".join(str(p) for p in tried) + ")" + hint)


_LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")


def _check_report(report: ReportSettings, path: Path, source: str) -> ReportSettings:
    """The logo resolved to an existing image file (PNG, JPEG or SVG)."""
    if report.logo is None:
        return report
    logo = _resolve_path(str(report.logo), path, source, "report.logo", folder=False)
    if logo.suffix.lower() not in _LOGO_SUFFIXES:
        raise ConfigError(f"{source}: report.logo: expected an image file ({', '.join(_LOGO_SUFFIXES)}), "
                          f"got {logo.name!r}")
    head = logo.read_bytes()[:512]
    looks = {".png": head.startswith(b"\x89PNG"), ".jpg": head.startswith(b"\xff\xd8"),
             ".jpeg": head.startswith(b"\xff\xd8"), ".svg": b"<svg" in head or b"<?xml" in head}
    if not looks[logo.suffix.lower()]:
        raise ConfigError(f"{source}: report.logo: {logo.name!r} is not a valid {logo.suffix.lstrip('.')} image")
    return dataclasses.replace(report, logo=logo)


def _check_behaviour(sections: dict, path: Path, source: str) -> BehaviourSettings:
    """Cross-field rules of the behaviour section; returns it with crm_path resolved."""
    behaviour: BehaviourSettings = sections["behaviour"]
    simulated = sections["data"].source == "simulated"
    sample_size = sections["simulation"].sample_size
    if behaviour.enabled and simulated and behaviour.n_customers < sample_size:
        raise ConfigError(f"{source}: behaviour.n_customers: expected at least "
                          f"simulation.sample_size ({sample_size}) customers to draw the "
                          f"survey respondents from, got {behaviour.n_customers}")
    if behaviour.crm_path is None:
        return behaviour
    crm_path = _resolve_path(str(behaviour.crm_path), path, source, "behaviour.crm_path", folder=True,
                             hint="; expected a folder with the CRM tables (orders.csv or orders.parquet, "
                                  "optionally customers and sessions)")
    return dataclasses.replace(behaviour, crm_path=crm_path)


def available_profiles(clients_dir: Path | None = None) -> list[str]:
    """Sorted profile names (file stems of ``*.yml``) in ``clients_dir``."""
    directory = Path(clients_dir) if clients_dir is not None else CLIENTS_DIR
    return sorted(p.stem for p in directory.glob("*.yml")) if directory.is_dir() else []


def load_profile(name_or_path: str | os.PathLike, *, clients_dir: Path | None = None
                 ) -> Settings:
    """Load and validate a client profile.

    Parameters
    ----------
    name_or_path : str or path-like
        A bare name (``"default"``) resolves to ``<clients_dir>/<name>.yml``; anything
        with a directory part or a ``.yml``/``.yaml`` suffix is taken as a path.
    clients_dir : path-like, optional
        Where bare names are looked up; defaults to ``analysis.paths.CLIENTS_DIR``.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        The file is missing (the message lists the available profiles), is not valid
        YAML (file and line), has an unknown key (the allowed keys are listed), a value
        of the wrong type or out of range, or ``client.id`` differs from the file name.
    """
    directory = Path(clients_dir) if clients_dir is not None else CLIENTS_DIR
    text = os.fspath(name_or_path)
    is_path = isinstance(name_or_path, os.PathLike) or os.sep in text or "/" in text or (
        text.endswith((".yml", ".yaml")))
    path = Path(text) if is_path else directory / f"{text}.yml"
    source = _display(path)
    if not path.is_file():
        names = available_profiles(path.parent if is_path else directory)
        listing = ", ".join(names) if names else "none"
        raise ConfigError(f"{source}: no such client profile; available profiles in "
                          f"{_display(path.parent)}: {listing}")
    raw = _read_yaml(path, source)
    if not isinstance(raw, dict):
        kind = "an empty file" if raw is None else f"{raw!r} ({type(raw).__name__})"
        raise ConfigError(f"{source}: expected a mapping with sections "
                          f"{', '.join(SCHEMA)}, got {kind}")
    sections = _validate(raw, Section(SCHEMA), "", source)
    if sections["client"].id != path.stem:
        raise ConfigError(f"{source}: client.id: expected {path.stem!r} (the file name), "
                          f"got {sections['client'].id!r}")
    data: DataSettings = sections["data"]
    if data.source == "file":
        if data.path is None:
            raise ConfigError(f"{source}: data.path: required when data.source is 'file'; "
                              "expected a file path, got None")
        data = DataSettings(data.source, _resolve_path(str(data.path), path, source, "data.path", folder=False),
                            data.format)
    elif data.path is not None:
        data = DataSettings(data.source, Path(data.path), data.format)
    sections["data"] = data
    sections["behaviour"] = _check_behaviour(sections, path, source)
    sections["report"] = _check_report(sections["report"], path, source)
    survey: SurveySettings = sections["survey"]
    sections["survey"] = SurveySettings(_resolve_path(str(survey.instrument), path, source, "survey.instrument",
                                                      folder=False))
    return Settings(**sections, source_path=path.resolve())
