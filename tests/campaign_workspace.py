"""A scored workspace for the worklist and campaign tests, made through the ``cvm`` command as a user would.

3,000 simulated customers (:func:`cvm.data.simulate.write_transactions`, BG/NBD with CDNOW's
parameters over 78 weeks from 2024-01-01), a customers file with a Dutch name and a segment
each, ingested and scored (BG/NBD) by ``cvm`` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CVM = [sys.executable, "-m", "cvm.cli"]
FIRST = ["Anna", "Bram", "Cor", "Daan", "Eva", "Fleur", "Joost", "Lotte", "Mees", "Noor"]
LAST = ["de Jong", "Jansen", "Bakker", "Visser", "Smit", "Meijer"]


def cvm(*args: str, check: bool = True, columns: int = 200) -> subprocess.CompletedProcess:
    """Run ``cvm`` as its own process (the worktree's code: PYTHONPATH is inherited) on a terminal this wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run([*CVM, *args], capture_output=True, text=True, env=env, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"cvm {' '.join(args)} failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return done


def cvm_json(*args: str) -> dict:
    return json.loads(cvm(*args, "--json").stdout)


#: the name every tenth customer gets with ``formula_names``: a text a spreadsheet would run as a formula
FORMULA_NAME = '=HYPERLINK("http://example.invalid","Anna")'


def build(folder: Path, n_customers: int = 3000, seed: int = 21, formula_names: bool = False) -> Path:
    """Ingest and score the simulated customers into ``folder / "ws"``; returns the workspace folder.

    With ``formula_names`` every tenth customer is named :data:`FORMULA_NAME` (for the exports' safety).
    """
    from cvm.data.simulate import write_transactions

    folder.mkdir(parents=True, exist_ok=True)
    tx = write_transactions(folder / "orders.csv", n_customers=n_customers, seed=seed)
    ids = sorted(pd.read_csv(tx, usecols=["customer_id"])["customer_id"].astype(str).unique())
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({"customer_id": ids, "name": [f"{FIRST[i % 10]} {LAST[i % 6]}" for i in range(len(ids))],
                           "segment": rng.choice(["zakelijk", "particulier"], len(ids))})
    if formula_names:
        people.loc[people.index % 10 == 0, "name"] = FORMULA_NAME
    people.to_csv(folder / "klanten.csv", index=False)
    ws = folder / "ws"
    cvm("ingest", str(tx), "--workspace", str(ws), "--json")
    cvm("ingest", str(folder / "klanten.csv"), "--kind", "customers", "--workspace", str(ws), "--json")
    cvm("score", "--model", "bgnbd", "--workspace", str(ws), "--json")
    return ws
