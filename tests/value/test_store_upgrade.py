"""A workspace made by an earlier cvm (score_runs without reason-code columns) still scores."""

import json

import duckdb

from cvm.data.scores import RUN_COLUMNS, _ensure_tables


def test_old_score_runs_table_gains_the_new_columns_and_keeps_its_rows():
    con = duckdb.connect()
    old = {k: v for k, v in RUN_COLUMNS.items() if k not in ("model_reason_code", "model_reason_values")}
    con.execute("CREATE TABLE score_runs (" + ", ".join(f'"{k}" {v}' for k, v in old.items()) + ")")
    con.execute("INSERT INTO score_runs (run_id, model, model_reason) VALUES ('r1', 'bgnbd', 'chosen by the user')")
    _ensure_tables(con)
    cols = [r[0] for r in con.execute("DESCRIBE score_runs").fetchall()]
    assert set(cols) == set(RUN_COLUMNS)  # added columns go last; inserts are BY NAME
    assert con.execute("SELECT run_id, model_reason, model_reason_code FROM score_runs").fetchall() == [
        ("r1", "chosen by the user", None)
    ]
    # and a new run with a code and its values round-trips as JSON
    values = {"model": "pnbd", "error": 0.081}
    con.execute("INSERT INTO score_runs (run_id, model_reason_code, model_reason_values) VALUES ('r2', 'best_tracking_error', ?)",
                [json.dumps(values)])
    got = con.execute("SELECT model_reason_values FROM score_runs WHERE run_id = 'r2'").fetchall()[0][0]
    assert json.loads(got) == values
