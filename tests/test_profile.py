"""Client profiles: schema validation, messages and notebook parameters."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from analysis.errors import ConfigError
from analysis.paths import PROJECT_ROOT
from analysis.profile import SCHEMA, Field, available_profiles, load_profile

MINIMAL = """\
client:
  name: Acme Retail
  id: acme
report:
  title: Acme loyalty study
analysis:
  seed: 7
"""


def write_profile(directory: Path, text: str, name: str = "acme") -> Path:
    path = directory / f"{name}.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(directory: Path, text: str, name: str = "acme") -> str:
    path = write_profile(directory, text, name)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    return str(info.value)


def test_default_profile_is_valid_and_complete():
    profile = load_profile("default")
    assert profile.client.id == "default"
    assert profile.client.name == "Default study (simulated)"
    assert profile.report.language == "en"
    assert profile.data.source == "simulated" and profile.data.path is None
    assert profile.simulation.sample_size == 600
    assert profile.analysis.bootstrap_draws == 1000
    assert profile.thresholds.htmt == pytest.approx(0.85)
    assert "default" in available_profiles()


def test_minimal_profile_gets_documented_defaults(tmp_path):
    profile = load_profile(write_profile(tmp_path, MINIMAL))
    assert profile.report.language == "en" and profile.report.author == ""
    assert (profile.simulation.sample_size, profile.simulation.careless_share,
            profile.simulation.missing_share) == (600, 0.08, 0.01)
    assert (profile.analysis.seed, profile.analysis.bootstrap_draws, profile.analysis.n_jobs,
            profile.analysis.ci_level) == (7, 1000, 2, 0.95)
    assert dataclasses.astuple(profile.thresholds) == (0.95, 0.95, 0.06, 0.08, 0.70, 0.50, 0.85)
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.analysis.seed = 8  # type: ignore[misc]


def test_bare_name_resolves_in_clients_dir(tmp_path):
    write_profile(tmp_path, MINIMAL)
    assert load_profile("acme", clients_dir=tmp_path).client.name == "Acme Retail"


def test_settings_are_typed_and_serialise_to_plain_values(tmp_path):
    text = MINIMAL + "simulation:\n  careless_share: 0\n"
    settings = load_profile(write_profile(tmp_path, text))
    assert isinstance(settings.simulation.careless_share, float) and settings.simulation.careless_share == 0.0
    assert settings.analysis.seed == 7 and isinstance(settings.analysis.seed, int)
    assert settings.survey.instrument == (PROJECT_ROOT / "survey" / "instrument.yaml").resolve()
    plain = settings.to_dict()
    assert set(plain) == set(SCHEMA) | {"profile_path"}
    assert plain["data"]["path"] is None and plain["survey"]["instrument"].endswith("instrument.yaml")
    flat = [v for section in plain.values() if isinstance(section, dict) for v in section.values()]
    plain = (str, int, float, bool)
    assert all(v is None or type(v) in plain or (type(v) in (list, dict) and all(
        type(x) in plain for x in (v.values() if isinstance(v, dict) else v))) for v in flat)


def test_data_file_path_is_resolved_next_to_the_profile(tmp_path):
    (tmp_path / "export.csv").write_text("a\n1\n", encoding="utf-8")
    text = MINIMAL + "data:\n  source: file\n  path: export.csv\n  format: csv\n"
    profile = load_profile(write_profile(tmp_path, text))
    assert profile.data.path == (tmp_path / "export.csv").resolve()


def test_unknown_key_names_its_path_and_the_allowed_keys(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("  seed: 7", "  seed: 7\n  sed: 8"))
    assert "analysis.sed: unknown key" in message
    assert "did you mean 'seed'" in message
    assert "allowed keys: seed, bootstrap_draws, n_jobs, ci_level" in message
    top = error_of(tmp_path, MINIMAL + "behavior: {}\n")
    assert "behavior: unknown key" in top and "client, report, survey, data" in top


def test_wrong_type_names_key_expectation_and_received_value(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("seed: 7", "seed: abc"))
    assert message.endswith("acme.yml: analysis.seed: expected an integer >= 0, got 'abc' (str)")
    boolean = error_of(tmp_path, MINIMAL + "simulation:\n  sample_size: true\n")
    assert "simulation.sample_size: expected an integer between 100 and 100000, got True (bool)" \
        in boolean
    language = error_of(tmp_path, MINIMAL.replace("  title: Acme loyalty study",
                                                  "  title: Acme\n  language: fr"))
    assert "report.language: expected one of 'en', 'zh-Hans', 'zh-Hant', got 'fr' (str)" \
        in language


@pytest.mark.parametrize("section, key, value, expected", [
    ("simulation", "sample_size", "10", "an integer between 100 and 100000, got 10 (int)"),
    ("simulation", "careless_share", "0.7", "a number between 0 and 0.5, got 0.7 (float)"),
    ("analysis", "ci_level", "1.5", "a number between 0.5 and 0.999, got 1.5 (float)"),
    ("analysis", "n_jobs", "0", "an integer between 1 and 64, got 0 (int)"),
    ("thresholds", "cfi", ".nan", "a number between 0 and 1, got nan (float)"),
])
def test_out_of_range_values_are_rejected(tmp_path, section, key, value, expected):
    if section == "analysis":
        text = MINIMAL + f"  {key}: {value}\n"
    else:
        text = MINIMAL + f"{section}:\n  {key}: {value}\n"
    assert f"{section}.{key}: expected {expected}" in error_of(tmp_path, text)


def test_missing_required_keys_and_cross_field_rules(tmp_path):
    assert "analysis.seed: required key missing; expected an integer >= 0" in error_of(
        tmp_path, MINIMAL.replace("analysis:\n  seed: 7\n", ""))
    assert "client.id: expected 'acme' (the file name), got 'other'" in error_of(
        tmp_path, MINIMAL.replace("id: acme", "id: other"))
    assert "data.path: required when data.source is 'file'" in error_of(
        tmp_path, MINIMAL + "data:\n  source: file\n")
    assert "data.path: file not found: 'nope.csv'" in error_of(
        tmp_path, MINIMAL + "data:\n  source: file\n  path: nope.csv\n")
    assert "expected a mapping with sections client, report" in error_of(tmp_path, "")


def test_missing_profile_lists_available_ones(tmp_path):
    write_profile(tmp_path, MINIMAL)
    write_profile(tmp_path, MINIMAL.replace("id: acme", "id: beta"), name="beta")
    with pytest.raises(ConfigError, match=r"no such client profile; available profiles in "
                                          r".*: acme, beta$"):
        load_profile("gamma", clients_dir=tmp_path)


def test_yaml_syntax_errors_name_file_and_line(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("  title: Acme loyalty study",
                                                 "  title: [unclosed"))
    assert "acme.yml, line 6" in message and "YAML syntax error" in message
    duplicate = error_of(tmp_path, MINIMAL + "analysis:\n  seed: 8\n")
    assert "acme.yml, line 8" in duplicate
    assert "duplicate key 'analysis' (first given on line 6)" in duplicate


def test_schema_fields_map_onto_dataclasses():
    for section_name, section in SCHEMA.items():
        attributes = {f.name for f in dataclasses.fields(section.build)}
        assert set(section.children) == attributes, section_name
        assert all(isinstance(spec, Field) for spec in section.children.values())


def test_behaviour_defaults(tmp_path):
    profile = load_profile(write_profile(tmp_path, MINIMAL))
    assert dataclasses.astuple(profile.behaviour) == (True, 20000, 24, 0.5, 0.25, 0.18, 0.85, 26, 52, 0.10, None)
    assert type(profile.behaviour.enabled) is bool and type(profile.behaviour.n_customers) is int
    default = load_profile("default").behaviour
    assert default.enabled and default.n_customers == 20000


@pytest.mark.parametrize("key, value, expected", [
    ("n_customers", "500", "an integer between 1000 and 2000000, got 500 (int)"),
    ("months", "100", "an integer between 6 and 60, got 100 (int)"),
    ("response_bias", "4", "a number between 0 and 3, got 4 (int)"),
    ("repeat_rate", "1.5", "a number between 0.01 and 0.99, got 1.5 (float)"),
    ("discount_rate", "-0.1", "a number between 0 and 1, got -0.1 (float)"),
    ("churn_window_weeks", "26.5", "an integer between 1 and 260, got 26.5 (float)"),
    ("enabled", "maybe", "true or false, got 'maybe' (str)"),
    ("enabled", "1", "true or false, got 1 (int)"),
])
def test_behaviour_values_are_validated(tmp_path, key, value, expected):
    message = error_of(tmp_path, MINIMAL + f"behaviour:\n  {key}: {value}\n")
    assert f"behaviour.{key}: expected {expected}" in message


def test_behaviour_unknown_key_and_cross_field_rules(tmp_path):
    message = error_of(tmp_path, MINIMAL + "behaviour:\n  n_customer: 5000\n")
    assert "behaviour.n_customer: unknown key (did you mean 'n_customers'?)" in message
    assert "allowed keys: enabled, n_customers, months, response_bias" in message
    small = error_of(tmp_path, MINIMAL + "simulation:\n  sample_size: 3000\nbehaviour:\n  n_customers: 2000\n")
    assert "behaviour.n_customers: expected at least simulation.sample_size (3000)" in small
    off = MINIMAL + "simulation:\n  sample_size: 3000\nbehaviour:\n  enabled: false\n  n_customers: 2000\n"
    assert load_profile(write_profile(tmp_path, off)).behaviour.enabled is False
    missing = error_of(tmp_path, MINIMAL + "behaviour:\n  crm_path: no_such_folder\n")
    assert "behaviour.crm_path: folder not found: 'no_such_folder'" in missing


def test_crm_path_is_resolved_next_to_the_profile(tmp_path):
    (tmp_path / "acme_crm").mkdir()
    profile = load_profile(write_profile(tmp_path, MINIMAL + "behaviour:\n  crm_path: acme_crm\n"))
    assert profile.behaviour.crm_path == (tmp_path / "acme_crm").resolve()


def test_instrument_is_resolved_and_a_missing_one_is_named(tmp_path):
    message = error_of(tmp_path, MINIMAL + "survey:\n  instrument: nowhere.yaml\n")
    assert "survey.instrument: file not found: 'nowhere.yaml'" in message
