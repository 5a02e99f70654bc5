"""One small workspace for the report tests: 400 CDNOW customers, a few bad rows, a backtest.

Built once per session; the English and Dutch reports are written from it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def report_ws(tmp_path_factory):
    from cvm.data import Workspace, load_cdnow_transactions
    from cvm.service import backtest

    root = tmp_path_factory.mktemp("report")
    tx = load_cdnow_transactions()
    keep = sorted(tx["customer_id"].unique())[:400]
    ws = Workspace.open(root / "ws")
    ws.ingest(tx[tx["customer_id"].isin(keep)], kind="transactions")
    bad = root / "export.csv"
    # a Dutch export with three rows that must land in quarantine (bad date, no customer, bad amount)
    bad.write_text("customer_id;ts;amount\nX1;31-12-1997;12,50\nX2;not a date;3,00\n;01-01-1998;4,00\nX3;02-01-1998;abc\n",
                   encoding="utf-8")
    ws.ingest(bad, kind="transactions")
    backtest(ws, "1997-09-30", "1998-06-30", models=["bgnbd", "pnbd"])
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def report_files(report_ws, tmp_path_factory):
    from cvm.report.build import collect, render

    out = tmp_path_factory.mktemp("html")
    files, errors = {}, {}
    for language in ("en", "nl"):
        builder = collect(report_ws, language)
        path = out / f"report-{language}.html"
        path.write_text(render(builder), encoding="utf-8")
        files[language] = path
        errors[language] = builder.errors
    return files, errors
