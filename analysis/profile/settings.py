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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError, one_line, shorten
from analysis.paths import CLIENTS_DIR, PROJECT_ROOT
from analysis.profile.schema import Field, Problems, Section
from analysis.profile.schema import read_yaml as _read_yaml
from analysis.profile.schema import validate_sections as _validate_sections

__all__ = [
    "ClientInfo",
    "ReportSettings",
    "DataSettings",
    "SimulationSettings",
    "AnalysisSettings",
    "Thresholds",
    "PowerSettings",
    "BehaviourSettings",
    "PrivacySettings",
    "SurveySettings",
    "REPORT_FORMATS",
    "Settings",
    "SCHEMA",
    "load_profile",
    "available_profiles",
    "allowed_roots",
    "ALLOWED_ROOTS_ENV",
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
    """Where the survey data come from and how to read a client's export (analysis.data)."""

    source: str
    path: Path | None
    format: str
    sheet: str | int | None = None
    encoding: str = "auto"
    layout: str = "auto"
    columns: dict = field(default_factory=dict)
    recode: dict = field(default_factory=dict)
    missing_codes: tuple[str, ...] = ("", "NA", "N/A", "-99")


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


@dataclass(frozen=True)
class PrivacySettings:
    """Pseudonymisation and small-cell suppression (see :mod:`analysis.privacy`).

    ``min_cell_size`` is the k of every group and segment table: cells based on fewer
    cases are suppressed. ``salt_file`` overrides where the client's secret salt is kept
    (default ``data/secrets/<client id>.salt``; never inside an output folder).
    """

    min_cell_size: int
    salt_file: Path | None


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
            "format": Field("choice", "auto", choices=("auto", "csv", "xlsx", "parquet", "sav", "excel", "spss")),
            "sheet": Field("sheet", None, nullable=True),
            "encoding": Field("choice", "auto", choices=("auto", "utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk",
                                                         "big5")),
            "layout": Field("choice", "auto", choices=("auto", "plain", "qualtrics", "wenjuanxing", "kobo")),
            "columns": Field("mapping", {}),
            "recode": Field("points", {}, 0, 100),
            "missing_codes": Field("texts", ("", "NA", "N/A", "-99")),
        },
        DataSettings,
    ),
    "simulation": Section(
        {
            "sample_size": Field("int", 600, 100, 100_000),  # 43 items need > 43 complete rows after screening
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
    "privacy": Section(
        {
            "min_cell_size": Field("int", 5, 1, 100),
            "salt_file": Field("path", None, nullable=True),
        },
        PrivacySettings,
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
    privacy: PrivacySettings
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
        return one_line(str(path), 120)


#: Environment variable with extra folders (separated by ``os.pathsep``) that profiles and the
#: files they name may live in besides the project; the test suite sets it to its temporary folder.
ALLOWED_ROOTS_ENV = "ELOYALTY_ALLOWED_ROOTS"


def allowed_roots() -> tuple[Path, ...]:
    """The folders profiles and their files must resolve into: the project, plus ``$ELOYALTY_ALLOWED_ROOTS``."""
    extra = os.environ.get(ALLOWED_ROOTS_ENV, "")
    return (PROJECT_ROOT.resolve(), *(Path(p).resolve() for p in extra.split(os.pathsep) if p.strip()))


def _inside(path: Path) -> bool:
    """Does ``path`` (symbolic links and ``..`` resolved) lie in an allowed folder? Nothing is read."""
    resolved = path.expanduser().resolve()
    return any(resolved.is_relative_to(root) for root in allowed_roots())


def _resolve_path(raw: str, profile_path: Path, key: str, folder: bool, problems: Problems,
                  hint: str = "") -> Path | None:
    """A file (or folder) named in the profile, next to the profile or under the project; None if not.

    A path that resolves outside the allowed folders (``..``, an absolute path, a symbolic
    link pointing out) is refused without looking at it, so nothing outside can be read or
    echoed; relative paths are tried next to the profile, then at the project root.
    """
    candidate = Path(raw).expanduser()
    tried = [candidate] if candidate.is_absolute() else [profile_path.parent / candidate, PROJECT_ROOT / candidate]
    inside = [path for path in tried if _inside(path)]
    for path in inside:
        if path.is_dir() if folder else path.is_file():
            return path.resolve()
    kind = "folder" if folder else "file"
    if not inside:
        problems.add(key, f"{shorten(raw)} is outside the project folder; expected a {kind} inside it")
    else:
        problems.add(key, f"{kind} not found: {shorten(raw)} (looked next to the profile and under the project "
                          f"root){hint}")
    return None


_LOGO_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")


def _check_report(report: ReportSettings, path: Path, problems: Problems) -> ReportSettings:
    """The logo resolved to an existing image file (PNG, JPEG or SVG)."""
    if report.logo is None:
        return report
    logo = _resolve_path(str(report.logo), path, "report.logo", False, problems)
    if logo is None:
        return report
    if logo.suffix.lower() not in _LOGO_SUFFIXES:
        problems.add("report.logo", f"expected an image file ({', '.join(_LOGO_SUFFIXES)}), "
                                    f"got {shorten(logo.name)}")
        return report
    with logo.open("rb") as handle:
        head = handle.read(512)
    looks = {".png": head.startswith(b"\x89PNG"), ".jpg": head.startswith(b"\xff\xd8"),
             ".jpeg": head.startswith(b"\xff\xd8"), ".svg": b"<svg" in head or b"<?xml" in head}
    if not looks[logo.suffix.lower()]:
        problems.add("report.logo", f"{shorten(logo.name)} is not a valid {logo.suffix.lstrip('.')} image")
        return report
    return dataclasses.replace(report, logo=logo)


def _check_behaviour(sections: dict, path: Path, problems: Problems) -> BehaviourSettings:
    """Cross-field rules of the behaviour section; returns it with crm_path resolved."""
    behaviour: BehaviourSettings = sections["behaviour"]
    if sections["data"] is not None and sections["simulation"] is not None:
        simulated = sections["data"].source == "simulated"
        sample_size = sections["simulation"].sample_size
        if behaviour.enabled and simulated and behaviour.n_customers < sample_size:
            problems.add("behaviour.n_customers", f"expected at least simulation.sample_size ({sample_size}) "
                                                  f"customers to draw the survey respondents from, "
                                                  f"got {behaviour.n_customers}")
    if behaviour.crm_path is None:
        return behaviour
    crm_path = _resolve_path(str(behaviour.crm_path), path, "behaviour.crm_path", True, problems,
                             hint="; expected a folder with the CRM tables (orders.csv or orders.parquet, "
                                  "optionally customers and sessions)")
    return behaviour if crm_path is None else dataclasses.replace(behaviour, crm_path=crm_path)


def available_profiles(clients_dir: Path | None = None) -> list[str]:
    """Sorted profile names (file stems of ``*.yml``) in ``clients_dir``."""
    directory = Path(clients_dir) if clients_dir is not None else CLIENTS_DIR
    return sorted(p.stem for p in directory.glob("*.yml")) if directory.is_dir() else []


_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _profile_path(name_or_path: str | os.PathLike, directory: Path) -> Path:
    """The profile file a client argument names, refused before anything is read if it may not be used."""
    text = os.fspath(name_or_path)
    shown = shorten(text)
    is_path = isinstance(name_or_path, os.PathLike) or os.sep in text or "/" in text or (
        text.endswith((".yml", ".yaml")))
    if not is_path:
        if not _PROFILE_NAME.match(text):
            raise ConfigError(f"client {shown}: expected a profile name (a lower-case slug: letters, digits, "
                              "'-', '_') or a path to a .yml file")
        path = directory / f"{text}.yml"
    else:
        path = Path(text)
        if path.suffix.lower() not in (".yml", ".yaml"):
            raise ConfigError(f"client {shown}: expected a profile file ending in .yml or .yaml")
    if not _inside(path):
        raise ConfigError(f"client {shown}: the profile is outside the project folder; expected a name in "
                          "reports/clients/ or a .yml file inside the project (see reports/clients/README.md)")
    return path


def load_profile(name_or_path: str | os.PathLike, *, clients_dir: Path | None = None
                 ) -> Settings:
    """Load and validate a client profile.

    Parameters
    ----------
    name_or_path : str or path-like
        A bare name (``"default"``, a lower-case slug) resolves to ``<clients_dir>/<name>.yml``;
        anything with a directory part or a ``.yml``/``.yaml`` suffix is taken as a path.
        The profile, and every file it names, must resolve inside the project (or a folder
        listed in ``$ELOYALTY_ALLOWED_ROOTS``): nothing outside is read.
    clients_dir : path-like, optional
        Where bare names are looked up; defaults to ``analysis.paths.CLIENTS_DIR``.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        The name or path may not be used or the file is missing (the message lists the
        available profiles), it is not valid YAML (file and line), or it has problems:
        all of them at once (unknown keys, wrong types, values out of range, missing
        keys, ``client.id`` differing from the file name, files not found), counted in
        the message and listed whole in ``exc.problems``.
    """
    directory = Path(clients_dir) if clients_dir is not None else CLIENTS_DIR
    path = _profile_path(name_or_path, directory)
    source = _display(path)
    if not path.is_file():
        names = available_profiles(path.parent)
        listing = ", ".join(names) if names else "none"
        raise ConfigError(f"{source}: no such client profile; available profiles in "
                          f"{_display(path.parent)}: {listing}")
    raw = _read_yaml(path, source)
    if not isinstance(raw, dict):
        kind = "an empty file" if raw is None else f"a {type(raw).__name__}"  # never the content itself
        raise ConfigError(f"{source}: expected a mapping with sections "
                          f"{', '.join(SCHEMA)}, got {kind}")
    problems = Problems(source)
    sections = _validate_sections(raw, SCHEMA, problems)
    if sections["client"] is not None and sections["client"].id != path.stem:
        problems.add("client.id", f"expected {path.stem!r} (the file name), got {shorten(sections['client'].id)}")
    data: DataSettings | None = sections["data"]
    if data is not None and data.source == "file":
        if data.path is None:
            problems.add("data.path", "required when data.source is 'file'; expected a file path, got None")
        else:
            resolved = _resolve_path(str(data.path), path, "data.path", False, problems)
            sections["data"] = dataclasses.replace(data, path=resolved)
    elif data is not None and data.path is not None:
        sections["data"] = dataclasses.replace(data, path=Path(data.path))
    if sections["behaviour"] is not None:
        sections["behaviour"] = _check_behaviour(sections, path, problems)
    if sections["report"] is not None:
        sections["report"] = _check_report(sections["report"], path, problems)
    survey: SurveySettings | None = sections["survey"]
    if survey is not None:
        instrument = _resolve_path(str(survey.instrument), path, "survey.instrument", False, problems)
        sections["survey"] = dataclasses.replace(survey, instrument=instrument)
    problems.raise_if_any()
    return Settings(**sections, source_path=path.resolve())
