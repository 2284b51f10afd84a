"""`make report` in miniature: profile -> papermill -> render -> manifest -> atomic publish."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.paths import CLIENTS_DIR, PROJECT_ROOT
from analysis.report.build import build_report

pytestmark = pytest.mark.slow


def _profile(tmp_path: Path) -> Path:
    raw = yaml.safe_load((CLIENTS_DIR / "default.yml").read_text(encoding="utf-8"))
    raw["client"]["id"] = "e2e"
    raw["simulation"]["sample_size"] = 300
    raw["analysis"]["bootstrap_draws"] = 20
    path = tmp_path / "e2e.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    profile = _profile(tmp)
    first = build_report(client=str(profile), output_root=tmp / "out", renderer="nbconvert")
    manifest_1 = json.loads((first / "manifest.json").read_text())
    second = build_report(client=str(profile), output_root=tmp / "out", renderer="nbconvert")
    manifest_2 = json.loads((second / "manifest.json").read_text())
    return second, manifest_1, manifest_2


def test_report_folder_is_complete(two_runs):
    final, _, manifest = two_runs
    for name in ("index.html", "report.ipynb", "manifest.json"):
        assert (final / name).is_file()
    for table in ("reliability", "fit", "paths", "indirect", "recovery"):
        assert (final / "tables" / f"{table}.csv").is_file(), table
    assert (final / "figures" / "path_diagram.png").stat().st_size > 10_000
    html = (final / "index.html").read_text(encoding="utf-8")
    assert "Rendered by nbconvert" in html and "data:image/png;base64" in html
    assert "Does the method recover the truth?" in html
    assert "Strongly agree" in html and "非常同意" not in html  # the questionnaire in the report language only
    assert manifest["renderer"]["name"] == "nbconvert"
    assert manifest["seed"] == manifest["parameters"]["analysis"]["seed"]
    assert manifest["inputs"]["data"]["path"].endswith("responses.parquet")
    assert not [p for p in final.parent.iterdir() if p.name.startswith(".e2e.")], "no staging leftovers"


def test_second_run_with_same_seed_has_identical_tables(two_runs):
    _, first, second = two_runs
    assert first["tables_digest"] == second["tables_digest"]
    tables = lambda m: {o["path"]: o["sha256"] for o in m["outputs"] if o["path"].startswith(("tables/", "figures/"))}
    assert tables(first) == tables(second)


def test_cli_user_error_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "acme.yml"
    bad.write_text("client: {name: Acme, id: acme}\nreport: {title: T}\nanalysis: {seed: many}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "analysis", "report", "--client", str(bad)],
                            capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "analysis.seed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_unknown_client_lists_available_profiles():
    result = subprocess.run([sys.executable, "-m", "analysis", "report", "--client", "no-such-client"],
                            capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 2 and "default" in result.stderr and "Traceback" not in result.stderr
