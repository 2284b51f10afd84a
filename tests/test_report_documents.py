"""The delivered documents, checked as a reader would: HTML in a browser, PDF, Word.

One report per language (en with the default formats, zh-Hans and zh-Hant) is rendered on
a small simulated study. The HTML is opened in headless Chromium (Debian ``chromium``;
``.ci/run`` installs it): no console errors, no broken images, nothing wider than the
text column. The PDF is read with poppler's ``pdftotext``/``pdffonts`` (``poppler-utils``):
A4, every font embedded, Chinese text extractable. The Word document is opened with
python-docx: real headings, tables and pictures. Where a tool is missing the test
says so in its skip reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import write_profile

from analysis.i18n import text
from analysis.paths import CLIENTS_DIR, PROJECT_ROOT
from analysis.report.build import build_report

pytestmark = pytest.mark.slow

CJK = re.compile(r"[\u4e00-\u9fff]")
LANGUAGES = ("en", "zh-Hans", "zh-Hant")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The page reports what a reader's browser sees into a data attribute that --dump-dom prints.
_PROBE = """
<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.target && e.target.src)), true);
const original = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); original(...a); };
window.addEventListener('load', () => {
  const main = document.querySelector('main') || document.body;
  const limit = main.getBoundingClientRect().right + 1;
  const wide = [...main.querySelectorAll('table, img, figure, pre, svg')]
    .filter(el => el.getBoundingClientRect().right > limit && !el.closest('.jp-OutputArea-output[style*="overflow"]'))
    .map(el => el.tagName + ':' + Math.round(el.getBoundingClientRect().width));
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  const scroll = document.documentElement.scrollWidth > window.innerWidth + 1;
  document.body.setAttribute('data-check', JSON.stringify({errors: window.__errors, wide, broken, scroll,
    images: document.images.length, lang: document.documentElement.lang}));
});
</script>
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("documents")
    base = yaml.safe_load((CLIENTS_DIR / "default.yml").read_text(encoding="utf-8"))
    out = {}
    for language in LANGUAGES:
        client = f"docs-{language.lower()}"
        profile = write_profile(tmp / "clients", client, report={**base["report"], "language": language,
                                                                  "logo": str(PROJECT_ROOT / base["report"]["logo"])},
                                simulation={"sample_size": 300}, analysis={"seed": 5, "bootstrap_draws": 50},
                                behaviour={"n_customers": 2000})
        out[language] = build_report(client=str(profile), output_root=tmp / "out", renderer="nbconvert")
    return out


def test_every_format_is_produced_and_listed_in_the_manifest(reports):
    for language, folder in reports.items():
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        listed = {entry["path"] for entry in manifest["outputs"]}
        assert {"index.html", "report.pdf", "report.docx"} <= listed, language
        assert set(manifest["documents"]) == {"html", "pdf", "docx"}
        assert manifest["documents"]["pdf"]["name"] == "weasyprint"
        assert manifest["documents"]["docx"]["name"] == "pandoc"


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package 'chromium'; "
                                             ".ci/run installs it)")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_html_reads_cleanly_in_a_browser(reports, language, tmp_path):
    page = (reports[language] / "index.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</head>", _PROBE + "</head>", 1), encoding="utf-8")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900",
                           "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=180)
    found = re.search(r'data-check="([^"]*)"', done.stdout)
    assert found, f"the page did not finish loading: {done.stderr[-500:]}"
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["errors"] == [] and check["broken"] == 0 and check["images"] > 10
    assert check["lang"] == language
    assert not check["scroll"] and check["wide"] == [], f"wider than the text column: {check['wide']}"


@pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdffonts") is None,
                    reason="poppler-utils (pdftotext, pdffonts) not installed; .ci/run installs it")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_pdf_is_a4_with_embedded_fonts_and_extractable_text(reports, language):
    pdf = reports[language] / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "595.276 x 841.89" in info  # A4 in points
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all("yes" == row[-5] for row in rows), fonts  # the "emb" column
    body = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    first = text("report.page", language, page=1, pages=pages)
    assert first in body, f"page numbers ({first!r}) are printed"
    if language != "en":
        assert len(CJK.findall(body)) > 500, "Chinese text is extractable from the PDF"
        assert any("Noto" in row[0] for row in rows)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_word_document_has_headings_tables_and_figures(reports, language):
    from docx import Document

    document = Document(str(reports[language] / "report.docx"))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert len(headings) > 10 and not any("¶" in h for h in headings)
    assert len(document.tables) > 10
    assert len(document.inline_shapes) > 10
    if language != "en":
        assert sum(len(CJK.findall(h)) for h in headings) > 20, "headings are in Chinese"
