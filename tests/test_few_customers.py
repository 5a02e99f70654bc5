"""A fit on a handful of customers says so, in the library and in the CLI, and its table stays readable.

Two customers (one buying twice a month apart, one once) push BG/NBD's r and alpha beyond 1e7: the
likelihood keeps rising along r -> inf with r/alpha fixed (the gamma mixing collapses to one rate),
so the "optimum" is at the edge even though the optimiser reports convergence.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from cvm.cli import main
from cvm.models.base import FEW_CUSTOMERS, FewCustomersWarning


def tiny_file(tmp_path, n_customers: int):
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n_customers):
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        for k in range(1 + int(rng.poisson(1.5))):
            rows.append((f"K{i}", (start + pd.Timedelta(days=25 * k)).strftime("%Y-%m-%d"), 10.0 + k))
    path = tmp_path / f"tx{n_customers}.csv"
    pd.DataFrame(rows, columns=["customer_id", "ts", "amount"]).to_csv(path, index=False)
    return path


def fitted_warnings(tmp_path, n_customers: int):
    from cvm.data import Workspace
    from cvm.fitting import fit_workspace

    ws = Workspace.open(tmp_path / f"ws{n_customers}")
    ws.ingest(tiny_file(tmp_path, n_customers), kind="transactions")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_workspace(ws, model="bgnbd", store=False)
    ws.close()
    return result


def test_a_fit_on_few_customers_warns_with_the_count(tmp_path):
    result = fitted_warnings(tmp_path, 3)
    few = [w for w in result.warnings if "too few for reliable estimates" in w]
    assert len(few) == 1 and "only 3 customers for 4 parameters" in few[0]


def test_enough_customers_do_not_get_that_warning(tmp_path):
    result = fitted_warnings(tmp_path, FEW_CUSTOMERS + 20)
    assert not [w for w in result.warnings if "too few" in w]


def test_valuation_warns_too(tmp_path):
    from cvm.data import Workspace
    from cvm.service import score_customers

    ws = Workspace.open(tmp_path / "ws")
    ws.ingest(tiny_file(tmp_path, 12), kind="transactions")
    with pytest.warns(FewCustomersWarning, match="only 12 customers"):
        score_customers(ws, model="bgnbd", horizon=4, store=False)
    ws.close()


def test_a_valuation_from_fewer_than_ten_customers_is_refused_in_words(tmp_path):
    """Four customers: the fit runs to the edge of its range (r, alpha ~ 1e7); a CLV from it is no estimate."""
    from cvm.data import Workspace
    from cvm.errors import ConvergenceError
    from cvm.fitting import MIN_CUSTOMERS_TO_VALUE
    from cvm.service import score_customers

    assert MIN_CUSTOMERS_TO_VALUE == 10
    ws = Workspace.open(tmp_path / "ws")
    ws.ingest(tiny_file(tmp_path, 4), kind="transactions")
    for model in ("auto", "bgnbd", "pnbd"):
        with pytest.raises(ConvergenceError, match="only 4 customers have a history before") as caught:
            score_customers(ws, model=model, horizon=4, store=False)
        assert caught.value.code == "too_few_to_value" and "cvm formula" in caught.value.hint
    ws.close()


def test_cvm_run_on_one_customer_refuses_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-01,10\nA,2024-02-01,20\nA,2024-03-05,15\n")
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "--out", str(out), "--workspace", str(tmp_path / "ws")]) != 0
    err = capsys.readouterr().err
    assert "only 1 customers have a history before 2024-03-05" in err and "Traceback" not in err
    assert not out.exists()


def test_the_cli_shows_the_fit_warnings_and_a_readable_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    ws = tmp_path / "ws"
    # two customers: the case in the module docstring
    path = tmp_path / "two.csv"
    path.write_text("customer_id,ts,amount\nA,2024-01-01,10\nA,2024-02-01,12\nB,2024-01-15,8\n")
    assert main(["ingest", str(path), "--workspace", str(ws), "--json"]) == 0
    capsys.readouterr()
    assert main(["fit", "--model", "bgnbd", "--workspace", str(ws)]) == 0
    captured = capsys.readouterr()
    # the warnings recorded during the fit reach the person (before, only --json showed them)
    assert "warning: BGNBD was fitted on only 2 customers" in captured.err
    assert "went to the edge of their range" in captured.err
    # parameters beyond 1e7 in powers of ten, not as eighteen-digit numbers
    assert re.search(r"\d{9}", captured.out) is None, captured.out
    assert re.search(r"^r\s+\d\.\d{4}e\+\d\d", captured.out, flags=re.M), captured.out
    # the scored list shows the columns a person reads, not every column squeezed into the terminal
    capsys.readouterr()
    # scoring two customers is refused (test above); twelve give the scored list
    assert main(["score", "--model", "bgnbd", "--workspace", str(ws)]) != 0
    assert "only 2 customers have a history" in capsys.readouterr().err
    ws12 = tmp_path / "ws12"
    assert main(["ingest", str(tiny_file(tmp_path, 12)), "--workspace", str(ws12), "--json"]) == 0
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", "--model", "bgnbd", "--workspace", str(ws12)]) == 0
    table = capsys.readouterr().out
    from cvm.cli.value_commands import CUSTOMER_COLUMNS

    header = next(line for line in table.splitlines() if line.startswith("┃"))
    assert header.count("┃") - 1 == len(CUSTOMER_COLUMNS) == 10  # scores have 20+ columns; --json/--out give all
    assert "CLV high" in header and "Customer" in header  # the dashboard's headers, not the raw column names
