"""The HTML report: one self-contained file, every section, both languages, graceful when data are missing."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_one_self_contained_file(report_files):
    files, errors = report_files
    assert errors == {"en": [], "nl": []}
    text = files["en"].read_text(encoding="utf-8")
    # plotly.js embedded inline exactly once, and no external script, stylesheet or font
    assert text.count("plotly.js v") >= 1
    assert len(re.findall(r"<script[^>]*>", text)) == text.count("Plotly.newPlot(") + 1
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    # outside the embedded library, nothing points to the web
    bundle_end = text.index("</script>")
    assert "http://" not in text[bundle_end:] and "https://" not in text[bundle_end:]
    assert "default-src 'none'" in text  # the page forbids network requests


def test_every_section_is_present_with_its_content(report_files):
    files, _ = report_files
    text = files["en"].read_text(encoding="utf-8")
    for key in ("overview", "data_quality", "model_fit", "backtest", "value_distribution", "concentration",
                "segments", "value_matrix", "migration", "cohorts", "investment", "receivables", "actions", "network"):
        assert f'<section id="{key}">' in text, key
    # data quality: the three bad rows and their reasons
    assert "unparseable date in column ts" in text and "missing customer_id" in text
    # model fit: the models' own summary tables
    assert text.count('class="dataframe cvm-summary"') >= 3
    # backtest: the chosen model and the reason in words
    assert "Chosen model" in text and "tracks the holdout" in text
    # no invoices in this workspace: the receivables section says so instead of failing
    receivables = text.split('<section id="receivables">')[1].split("</section>")[0]
    assert "No data for this section" in receivables


def test_dutch_report_uses_dutch_words_and_numbers(report_files):
    files, _ = report_files
    text = files["nl"].read_text(encoding="utf-8")
    assert '<html lang="nl">' in text
    assert "Rapport klantwaarde" in text and "Toets op de controleperiode" in text
    # nl_NL money: euro sign first, decimal comma (e.g. "€ 1.234,56")
    assert re.search(r"€\s?\d{1,3}(\.\d{3})*,\d{2}", text)
    assert "Geen gegevens voor dit onderdeel" in text
    # the quarantine in Dutch: reasons counted per kind (the bad date "not a date" is the value, not the kind)
    quality = text.split('<section id="data_quality">')[1].split("</section>")[0]
    assert "onleesbare datum in kolom ts" in quality and "onleesbare datum in kolom ts: not a date" in quality
    assert "unparseable" not in quality and "missing customer_id" not in quality


def test_empty_workspace_degrades_gracefully(tmp_path):
    from cvm.data import Workspace
    from cvm.report import build_report

    ws = Workspace.open(tmp_path / "empty")
    try:
        path = build_report(ws, tmp_path / "out" / "report.html", language="en")
    finally:
        ws.close()
    text = path.read_text(encoding="utf-8")
    body = text[text.index("</script>"):]
    assert body.count("No data for this section") >= 10
    assert 'class="failed"' not in body
    assert "the workspace has no transactions" in body
