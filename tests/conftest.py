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


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on 127.0.0.1 for the whole test session (see tests/postgres_server.py).

    Outside CI a machine without PostgreSQL or psycopg skips the team-workspace tests; under CI
    (where `make test` installs Debian's postgresql and the `team` extra) a missing server is a failure.
    """
    from tests.postgres_server import PostgresServer, postgres_bin

    message = None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        message = "psycopg is not installed (make install installs the `team` extra)"
    if postgres_bin() is None:
        message = "PostgreSQL is not installed (make test installs it: scripts/system-deps.sh)"
    if message:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer.start()
    yield server
    server.stop()


#: the kinds of workspace the workspace tests run against: the embedded default, and a team workspace
#: whose generations have a PostgreSQL catalog (cvm.data.catalog)
WORKSPACE_KINDS = ("embedded", "postgres-catalog")


def make_team_workspace(server, folder: Path, data_path: Path) -> Path:
    """A team workspace at ``folder``: a fresh database of ``server`` as its catalog, files under ``data_path``."""
    from cvm.data.catalog import create

    create(folder, server.new_database(), data_path)
    return folder


@pytest.fixture(params=WORKSPACE_KINDS)
def workspace_dir(request, tmp_path):
    """A workspace folder of each kind, not yet published: embedded (``cvm.duckdb`` will be made
    in it), or a team workspace whose catalog is a fresh database of the test PostgreSQL server
    and whose generations go under ``tmp_path / "shared"``."""
    folder = tmp_path / "ws"
    if request.param == "postgres-catalog":
        make_team_workspace(request.getfixturevalue("postgres"), folder, tmp_path / "shared")
    return folder
