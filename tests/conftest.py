"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Debian's Chromium, installed by `make test` (scripts/system-deps.sh)
CHROMIUM = "/usr/bin/chromium"
#: headless as root, and no background connections: this machine's network is closed
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Real headless Chromium driven by playwright, one per test module.

    Outside CI a machine without Chromium skips the browser tests; under CI (where
    `make test` installs it) a missing browser is a failure, never a silent skip.
    """
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = "chromium is not installed (make test installs it: scripts/system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI nothing may be skipped: Spark, Chromium, lifetimes and every model are installed
    by `make test`, so a skip there would only hide a broken set-up."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run every test: {report.longrepr}"
