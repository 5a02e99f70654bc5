"""The report in real headless Chromium: no console errors, every chart drawn, nothing loaded from the network.

The screenshot is kept in test-artifacts/report/ (gitignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"


@pytest.mark.parametrize("language", ["en", "nl"])
def test_report_renders_offline_in_chromium(browser, report_files, language):
    files, _ = report_files
    path = files[language]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console_errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri(), wait_until="load")
    expected = page.locator(".plotly-graph-div").count()
    # every Plotly div draws its main SVG (wait until the last one has)
    page.wait_for_function(
        "n => document.querySelectorAll('.plotly-graph-div .main-svg').length > 0 && "
        "Array.from(document.querySelectorAll('.plotly-graph-div')).every(d => d.querySelector('svg.main-svg'))",
        arg=expected, timeout=30_000,
    )
    rendered = page.evaluate(
        "Array.from(document.querySelectorAll('.plotly-graph-div')).filter(d => d.querySelector('svg.main-svg')).length")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{language}.png"), full_page=True)
    context.close()

    # tracking x2, conditional, histogram, P(alive) calibration, CLV histogram, two heatmaps, P(alive) history,
    # Lorenz, segment bars, value matrix, migration heatmap and sankey, two cohort charts
    assert expected >= 15
    assert rendered == expected
    assert console_errors == []
    assert requests and all(url.startswith("file://") for url in requests), [u for u in requests if not u.startswith("file://")]
