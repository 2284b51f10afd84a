"""Client profiles: schema validation, messages and notebook parameters."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from analysis.errors import ConfigError
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


def test_to_parameters_are_flat_typed_literals(tmp_path):
    text = MINIMAL + "simulation:\n  careless_share: 0\n"
    parameters = load_profile(write_profile(tmp_path, text)).to_parameters()
    expected_types = {
        "client_name": str, "client_id": str, "report_title": str, "language": str,
        "report_author": str, "data_source": str, "data_format": str, "sample_size": int,
        "careless_share": float, "missing_share": float, "seed": int,
        "bootstrap_draws": int, "n_jobs": int, "ci_level": float, "profile_path": str,
    }
    for name, kind in expected_types.items():
        assert type(parameters[name]) is kind, name
    for name in ("cfi", "tli", "rmsea", "srmr", "alpha", "ave", "htmt"):
        assert type(parameters[f"threshold_{name}"]) is float
    assert parameters["data_path"] is None
    assert parameters["careless_share"] == 0.0 and parameters["seed"] == 7
    assert all(v is None or type(v) in (str, int, float, bool) for v in parameters.values())


def test_data_file_path_is_resolved_next_to_the_profile(tmp_path):
    (tmp_path / "export.csv").write_text("a\n1\n", encoding="utf-8")
    text = MINIMAL + "data:\n  source: file\n  path: export.csv\n  format: csv\n"
    profile = load_profile(write_profile(tmp_path, text))
    assert profile.data.path == (tmp_path / "export.csv").resolve()
    assert profile.to_parameters()["data_path"] == str((tmp_path / "export.csv").resolve())


def test_unknown_key_names_its_path_and_the_allowed_keys(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("  seed: 7", "  seed: 7\n  sed: 8"))
    assert "analysis.sed: unknown key" in message
    assert "did you mean 'seed'" in message
    assert "allowed keys: seed, bootstrap_draws, n_jobs, ci_level" in message
    top = error_of(tmp_path, MINIMAL + "behavior: {}\n")
    assert "behavior: unknown key" in top and "client, report, data" in top


def test_wrong_type_names_key_expectation_and_received_value(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace("seed: 7", "seed: abc"))
    assert message.endswith("acme.yml: analysis.seed: expected an integer >= 0, got 'abc' (str)")
    boolean = error_of(tmp_path, MINIMAL + "simulation:\n  sample_size: true\n")
    assert "simulation.sample_size: expected an integer between 50 and 100000, got True (bool)" \
        in boolean
    language = error_of(tmp_path, MINIMAL.replace("  title: Acme loyalty study",
                                                  "  title: Acme\n  language: fr"))
    assert "report.language: expected one of 'en', 'zh-Hans', 'zh-Hant', got 'fr' (str)" \
        in language


@pytest.mark.parametrize("section, key, value, expected", [
    ("simulation", "sample_size", "10", "an integer between 50 and 100000, got 10 (int)"),
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


def test_schema_fields_map_onto_dataclasses_and_unique_parameter_names():
    names = []
    for section_name, section in SCHEMA.items():
        attributes = {f.name for f in dataclasses.fields(section.build)}
        assert set(section.children) == attributes, section_name
        for key, spec in section.children.items():
            assert isinstance(spec, Field)
            names.append(spec.param or section.param_prefix + key)
    assert len(names) == len(set(names))


def test_behaviour_defaults_and_parameters(tmp_path):
    profile = load_profile(write_profile(tmp_path, MINIMAL))
    assert dataclasses.astuple(profile.behaviour) == (True, 20000, 24, 0.5, 0.25, 0.18, 0.85, 26, 52, 0.10, None)
    parameters = profile.to_parameters()
    expected = {"behaviour_enabled": True, "n_customers": 20000, "crm_months": 24, "response_bias": 0.5,
                "repeat_rate": 0.25, "return_rate": 0.18, "on_time_rate": 0.85, "churn_window_weeks": 26,
                "clv_horizon_weeks": 52, "discount_rate": 0.10, "crm_path": None}
    assert {k: parameters[k] for k in expected} == expected
    assert type(parameters["behaviour_enabled"]) is bool and type(parameters["n_customers"]) is int
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
    assert profile.to_parameters()["crm_path"] == str((tmp_path / "acme_crm").resolve())


def test_parameter_names_come_from_the_schema_not_a_profile_file():
    """The notebook learns which globals are parameters without reading any profile."""
    from analysis.profile import load_profile, parameter_names

    assert set(parameter_names()) == set(load_profile("default").to_parameters())
