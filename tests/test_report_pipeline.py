"""Report pipeline: papermill execution, rendering, manifest and the atomic swap.

One real end-to-end build of ``tests/fixtures/tiny_report.ipynb`` (papermill + the
nbconvert fallback) is shared by several tests; Quarto is exercised through a fake
``quarto`` script on PATH that records how it was called.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from analysis.atomic import StagingDirectory, atomic_write_text
from analysis.errors import ConfigError, RenderError
from analysis.report import (
    build_report,
    detect_renderer,
    render_report,
    resolve_kernel,
)
from analysis.report.manifest import sha256_file, tables_digest
from analysis.report.render import find_external_resources

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_report.ipynb"
pytestmark = pytest.mark.slow


def _path_without_quarto() -> str:
    directories = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in directories if not (Path(d) / "quarto").exists())


def _tree_hashes(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): sha256_file(p)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One real build of the tiny fixture with the automatic (fallback) renderer."""
    output_root = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", _path_without_quarto())
        return build_report("default", output_root=output_root, notebook=FIXTURE)


def test_committed_fixture_has_no_outputs():
    nb = nbformat.read(FIXTURE, as_version=4)
    assert len(nb.cells) == 3
    assert "parameters" in nb.cells[0].metadata.get("tags", [])
    assert all(c.outputs == [] and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")


def test_default_kernel_runs_this_interpreter():
    name, python = resolve_kernel()
    assert name in ("python3", "eloyalty")
    assert os.path.abspath(python) == os.path.abspath(sys.executable)


def test_build_swaps_a_complete_report_into_place(built):
    assert built.name == "default"
    for name in ("index.html", "report.ipynb", "manifest.json", "tables/summary.csv"):
        assert (built / name).is_file(), name
    assert [p.name for p in built.parent.iterdir()] == ["default"]  # no staging left over


def test_fallback_html_is_self_contained_with_toc_and_renderer_statement(built):
    page = (built / "index.html").read_text(encoding="utf-8")
    assert '<img alt="No description has been provided for this image" class="" ' \
           'src="data:image/png;base64,' in page
    assert '<nav class="toc"' in page and 'href="#Tiny-section"' in page
    assert "Rendered by nbconvert 7." in page and "fallback; Quarto not found on PATH" in page
    assert "<title>Online customer loyalty" in page
    assert find_external_resources(page) == []
    lowered = page.lower()
    for needle in ("cdn", "require.js", "mathjax", "<script src"):
        assert needle not in lowered, needle
    assert "plt.subplots" not in page  # code is hidden


def test_executed_notebook_is_kept_unmodified_by_rendering(built):
    nb = nbformat.read(built / "report.ipynb", as_version=4)
    tags = [tag for cell in nb.cells for tag in cell.metadata.get("tags", [])]
    assert "injected-parameters" in tags and "workbench-render-note" not in tags
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'profile = "' in injected.source and "default.yml" in injected.source
    assert any(o.get("output_type") == "display_data" for o in nb.cells[-1].outputs)


def test_manifest_hashes_match_the_files(built):
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    outputs = {entry["path"]: entry for entry in manifest["outputs"]}
    on_disk = _tree_hashes(built)
    on_disk.pop("manifest.json")
    assert {path: entry["sha256"] for path, entry in outputs.items()} == on_disk
    assert list(outputs) == sorted(outputs)
    assert manifest["tables_digest"] == tables_digest(built) is not None
    assert manifest["inputs"]["profile"]["path"] == "reports/clients/default.yml"
    assert manifest["inputs"]["notebook"]["sha256"] == sha256_file(FIXTURE)
    assert manifest["seed"] == 20240601 and manifest["parameters"]["analysis"]["seed"] == 20240601
    assert manifest["renderer"]["name"] == "nbconvert"
    assert set(manifest["timings_sec"]) == {"profile", "execute", "render"}
    assert {"numpy", "scipy", "pandas", "semopy", "pingouin", "papermill", "nbconvert",
            "seaborn", "matplotlib", "pyarrow", "python"} <= set(manifest["versions"])
    assert set(manifest["git"]) == {"commit", "dirty"}
    assert manifest["started"] <= manifest["finished"]


def test_failing_cell_raises_render_error_and_keeps_previous_report(built, tmp_path):
    output_root = tmp_path / "reports"
    shutil.copytree(built, output_root / "default")
    before = _tree_hashes(output_root / "default")
    failing = tmp_path / "failing.ipynb"
    nb = nbformat.read(FIXTURE, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('x = 1\nraise ValueError("deliberate failure")'))
    nbformat.write(nb, failing)

    with pytest.raises(RenderError) as info:
        build_report("default", output_root=output_root, notebook=failing,
                     renderer="nbconvert")
    message = str(info.value)
    assert "failing.ipynb: cell 4 (In [" in message
    assert "ValueError: deliberate failure" in message
    assert "Traceback" not in message and "\n" not in message

    assert _tree_hashes(output_root / "default") == before
    leftovers = sorted(p.name for p in output_root.iterdir() if p.name != "default")
    assert len(leftovers) == 1 and leftovers[0].startswith(".default.failed-")
    kept = output_root / leftovers[0] / "report.failed.ipynb"
    assert kept.is_file() and str(kept) in message


def test_find_external_resources_flags_only_fetched_urls():
    page = ('<script src="https://cdn.example.org/x.js"></script>'
            '<link rel="stylesheet" href="//fonts.example.com/a.css">'
            '<style>@import url("https://example.net/b.css");</style>'
            '<a href="https://example.com/paper">a citation link is fine</a>'
            '<img src="data:image/png;base64,AAAA">')
    assert find_external_resources(page) == [
        "//fonts.example.com/a.css", "https://cdn.example.org/x.js", "https://example.net/b.css"]


def test_unknown_renderer_is_rejected_before_execution(tmp_path):
    with pytest.raises(ConfigError, match="renderer: expected one of 'quarto', 'nbconvert'"):
        build_report("default", output_root=tmp_path, notebook=FIXTURE, renderer="pandoc")
    assert list(tmp_path.iterdir()) == []


FAKE_QUARTO = """\
#!/bin/sh
if [ "$1" = "--version" ]; then echo "1.5.57"; exit 0; fi
if [ -n "$FAKE_QUARTO_FAIL" ]; then echo "ERROR: fake failure" >&2; exit 1; fi
printf '%s\\n' "$@" > "$FAKE_QUARTO_LOG/args.txt"
pwd > "$FAKE_QUARTO_LOG/cwd.txt"
cp _quarto.yml "$FAKE_QUARTO_LOG/_quarto.yml"
cp "$2" "$FAKE_QUARTO_LOG/input.ipynb"
printf '<!DOCTYPE html><html><body><p>fake</p></body></html>' > "${2%.ipynb}.html"
"""


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch) -> Path:
    bin_dir, log_dir = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    log_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(FAKE_QUARTO, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(log_dir))
    return log_dir


def test_quarto_renders_a_copy_without_executing_it(built, tmp_path, fake_quarto):
    work = tmp_path / "work"
    work.mkdir()
    executed = work / "report.ipynb"
    shutil.copyfile(built / "report.ipynb", executed)
    before = sha256_file(executed)

    assert detect_renderer() == "quarto"
    info = render_report(executed, work / "index.html", "Quarto title")

    assert (info.name, info.version) == ("quarto", "1.5.57")
    args = (fake_quarto / "args.txt").read_text().split()
    assert args[0] == "render" and args[1].endswith(".ipynb")
    assert args[2:] == ["--to", "html", "--no-execute", "-M", "lang:en"] and "--execute" not in args
    assert Path((fake_quarto / "cwd.txt").read_text().strip()) == work.resolve()
    config = yaml.safe_load((fake_quarto / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["execute"]["enabled"] is False and config["execute"]["echo"] is False
    assert config["format"]["html"]["embed-resources"] is True
    assert config["format"]["html"]["toc"] is True
    assert "eval" not in config["execute"]  # eval: false would drop .ipynb outputs

    copy = nbformat.read(fake_quarto / "input.ipynb", as_version=4)
    assert copy.cells[0].cell_type == "raw" and 'title: "Quarto title"' in copy.cells[0].source
    assert "Rendered by Quarto 1.5.57" in copy.cells[1].source
    assert sha256_file(executed) == before
    assert sorted(p.name for p in work.iterdir()) == ["index.html", "report.ipynb"]


def test_quarto_failure_is_one_line_render_error(built, tmp_path, fake_quarto, monkeypatch):
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "1")
    shutil.copyfile(built / "report.ipynb", tmp_path / "report.ipynb")
    with pytest.raises(RenderError, match="quarto render failed: ERROR: fake failure"):
        render_report(tmp_path / "report.ipynb", tmp_path / "index.html", "T", "quarto")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "log", "report.ipynb"]


def test_staging_directory_interrupted_midway_keeps_previous_version(tmp_path):
    final = tmp_path / "client"
    final.mkdir()
    (final / "index.html").write_text("previous complete report", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        with StagingDirectory(final) as staging:
            (staging / "index.html").write_text("half", encoding="utf-8")
            raise KeyboardInterrupt
    assert (final / "index.html").read_text(encoding="utf-8") == "previous complete report"
    others = [p.name for p in tmp_path.iterdir() if p != final]
    assert len(others) == 1 and others[0].startswith(".client.failed-")

    with pytest.raises(RuntimeError):
        with StagingDirectory(final, keep_failed=False) as staging:
            raise RuntimeError("boom")
    assert not staging.exists() and sorted(p.name for p in tmp_path.iterdir())[-1] == "client"

    with StagingDirectory(final) as staging:
        (staging / "index.html").write_text("new report", encoding="utf-8")
    assert (final / "index.html").read_text(encoding="utf-8") == "new report"
    assert not any(".partial-" in p.name or ".old-" in p.name for p in tmp_path.iterdir())


def test_atomic_write_text_replaces_whole_file_or_nothing(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    atomic_write_text(target, "first")
    with monkeypatch.context() as patch:
        def interrupted(*args):
            raise OSError("disk full")
        patch.setattr(os, "replace", interrupted)
        with pytest.raises(OSError, match="disk full"):
            atomic_write_text(target, "second, never visible")
    assert target.read_text(encoding="utf-8") == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # temp file removed
    atomic_write_text(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
