"""Corrected orders and returns, as real exports carry them (issue 11, items 3 and 4).

``make(folder)`` writes every file and returns, next to each, what cvm must do with it.
Every expected figure is worked out by hand in the comments beside it, from the rules in
:mod:`cvm.data.corrections` (the newer version of an order wins, the older goes to history; the lines of one order in one file are all kept)
and :mod:`cvm.data.summary` (a negative amount is a return: it joins the purchase of its
order id, else it comes off the customer's repeat spend; it is never a purchase).

Files (``;``-separated, decimal comma, ISO dates, as a Dutch webshop exports them):

* ``jan.csv`` then ``feb.csv``: February re-sends order o2 with a new amount and date
  (a correction between files), repeats o1 unchanged (a duplicate) and adds o3.
* ``corrected_within.csv``: order lines: o10 with two products in one file (both kept).
* ``march_lines.csv`` then ``april_lines.csv``: an order of two products, one corrected a
  month later: the whole order is replaced.
* ``returns.csv``: returns with and without an order id, a customer with only returns,
  a customer whose return exceeds the repeat spend, a fully returned order, and 120
  ordinary customers so that the models can be fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HEADER = "Klant;Datum;Bedrag;Ordernummer"


@dataclass
class Case:
    """One file and what cvm must do with it."""

    path: Path
    expect: dict[str, Any] = field(default_factory=dict)


def _write(path: Path, rows: list[tuple]) -> Path:
    text = HEADER + "\n" + "".join(";".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path


def make(folder: Path) -> dict[str, Case]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Case] = {}

    # ------------------------------------------------------------------ a correction between two files
    # header is line 1, so the rows are lines 2, 3, ...
    cases["jan"] = Case(_write(folder / "jan.csv", [
        ("k1", "2024-01-05", "10,00", "o1"),   # line 2
        ("k2", "2024-01-20", "20,00", "o2"),   # line 3
    ]), {
        # a first load: both new
        "report": {"rows_read": 2, "accepted": 2, "quarantined": 0, "duplicates": 0, "changed": 0},
    })
    cases["feb"] = Case(_write(folder / "feb.csv", [
        ("k1", "2024-01-05", "10,00", "o1"),   # line 2: the same as stored -> duplicate
        ("k2", "2024-01-22", "21,50", "o2"),   # line 3: o2 with a new amount and date -> changed
        ("k1", "2024-02-03", "30,00", "o3"),   # line 4: new -> accepted
    ]), {
        # 3 = 1 accepted + 0 quarantined + 1 duplicate + 1 changed
        "report": {"rows_read": 3, "accepted": 1, "quarantined": 0, "duplicates": 1, "changed": 1},
        # (customer, order, day, amount, source, line) in transactions after jan then feb
        "stored": [("k1", "o1", "2024-01-05", 10.0, "jan.csv", 2),
                   ("k1", "o3", "2024-02-03", 30.0, "feb.csv", 4),
                   ("k2", "o2", "2024-01-22", 21.5, "feb.csv", 3)],
        # (customer, order, day, amount, source, line, replaced by source, replaced by line)
        "history": [("k2", "o2", "2024-01-20", 20.0, "jan.csv", 3, "feb.csv", 3)],
        # reading jan.csv again: o1 is stored as is, o2's January version was replaced before -> 2 duplicates
        "jan_again": {"rows_read": 2, "accepted": 0, "quarantined": 0, "duplicates": 2, "changed": 0},
    })

    # ------------------------------------------------------------------ order lines within one file
    # rows that share an order id in one file are the lines of that order (a row per product),
    # never corrections of each other: every line is kept
    cases["corrected_within"] = Case(_write(folder / "corrected_within.csv", [
        ("k3", "2024-03-01", "30,00", "o10"),  # line 2: first product of o10 -> accepted
        ("k3", "2024-03-04", "15,00", "o11"),  # line 3: new -> accepted
        ("k3", "2024-03-01", "20,00", "o10"),  # line 4: second product of o10 -> accepted
        ("k4", "2024-03-05", "12,00", "o12"),  # line 5: two identical lines of one order: both kept
        ("k4", "2024-03-05", "12,00", "o12"),  # line 6
    ]), {
        # 5 = 5 accepted + 0 quarantined + 0 duplicates + 0 changed
        "report": {"rows_read": 5, "accepted": 5, "quarantined": 0, "duplicates": 0, "changed": 0},
        "stored": [("k3", "o10", "2024-03-01", 30.0, "corrected_within.csv", 2),
                   ("k3", "o10", "2024-03-01", 20.0, "corrected_within.csv", 4),
                   ("k3", "o11", "2024-03-04", 15.0, "corrected_within.csv", 3),
                   ("k4", "o12", "2024-03-05", 12.0, "corrected_within.csv", 5),
                   ("k4", "o12", "2024-03-05", 12.0, "corrected_within.csv", 6)],
        "history": [],
        # the same file again changes nothing: every line is stored already
        "again": {"rows_read": 5, "accepted": 0, "quarantined": 0, "duplicates": 5, "changed": 0},
    })

    # ------------------------------------------------------------------ a correction of an order with several lines
    # march_lines.csv holds o20 with two products (30 + 20); its correction in april_lines.csv
    # changes the second product to 25: the whole order is replaced (both stored lines to history,
    # both new lines in, counted changed), and reading March again brings nothing back
    cases["lines_march"] = Case(_write(folder / "march_lines.csv", [
        ("k5", "2024-03-10", "30,00", "o20"),  # line 2
        ("k5", "2024-03-10", "20,00", "o20"),  # line 3
    ]), {"report": {"rows_read": 2, "accepted": 2, "quarantined": 0, "duplicates": 0, "changed": 0}})
    cases["lines_april"] = Case(_write(folder / "april_lines.csv", [
        ("k5", "2024-03-10", "30,00", "o20"),  # line 2: unchanged product, but its order changed -> changed
        ("k5", "2024-03-10", "25,00", "o20"),  # line 3: corrected product -> changed
    ]), {
        # 2 = 0 accepted + 0 quarantined + 0 duplicates + 2 changed
        "report": {"rows_read": 2, "accepted": 0, "quarantined": 0, "duplicates": 0, "changed": 2},
        "stored": [("k5", "o20", "2024-03-10", 30.0, "april_lines.csv", 2),
                   ("k5", "o20", "2024-03-10", 25.0, "april_lines.csv", 3)],
        "history": [("k5", "o20", "2024-03-10", 30.0, "march_lines.csv", 2, "april_lines.csv", 2),
                    ("k5", "o20", "2024-03-10", 20.0, "march_lines.csv", 3, "april_lines.csv", 2)],
        # March again: that version of o20 was replaced, so both lines are duplicates
        "march_again": {"rows_read": 2, "accepted": 0, "quarantined": 0, "duplicates": 2, "changed": 0},
    })

    # ------------------------------------------------------------------ returns
    special = [
        # A: a return with its order id, and one without
        ("A", "2024-01-01", "100,00", "a1"),
        ("A", "2024-01-15", "60,00", "a2"),
        ("A", "2024-01-20", "-20,00", "a2"),   # belongs to a2: the 01-15 purchase is worth 40
        ("A", "2024-02-01", "40,00", "a3"),
        ("A", "2024-02-10", "-10,00", None),   # no order id: off A's repeat spend
        # B: only returns (one without order id, one naming an order B never placed)
        ("B", "2024-01-10", "-25,00", None),
        ("B", "2024-02-10", "-5,00", "b9"),
        # C: the return exceeds the repeat spend
        ("C", "2024-01-05", "80,00", "c1"),
        ("C", "2024-01-25", "30,00", "c2"),
        ("C", "2024-02-05", "-50,00", None),
        # D: the repeat order is returned in full
        ("D", "2024-01-03", "50,00", "d1"),
        ("D", "2024-01-10", "70,00", "d2"),
        ("D", "2024-01-12", "-70,00", "d2"),
    ]
    rng = np.random.default_rng(2024)
    ordinary = []
    for c in range(120):
        day = int(rng.integers(0, 40))
        for k in range(1 + int(rng.poisson(1.5))):
            day += int(rng.integers(1, 25)) if k else 0
            if day > 60:  # 2024-03-01 is day 60
                break
            date = (np.datetime64("2024-01-01") + day).astype(str)
            amount = f"{int(rng.integers(5, 150))},{int(rng.integers(0, 100)):02d}"
            ordinary.append((f"n{c:03d}", date, amount, f"n{c:03d}-{k}"))
    cases["returns"] = Case(_write(folder / "returns.csv", special + ordinary), {
        "as_of": "2024-03-01",
        # time unit day, as of 2024-03-01 (2024 is a leap year: Jan 1 -> Mar 1 = 31 + 29 = 60 days)
        "summary": {
            # purchase days 01-01, 01-15, 02-01 (the returns make none): x = 2, t_x = 31, T = 60;
            # repeat spend (60 - 20) + 40 = 80, less the loose return 10: 70 / 2 = 35;
            # total 100 + 40 + 40 - 10 = 170 over 3 purchase rows
            "A": {"frequency": 2.0, "recency": 31.0, "T": 60.0, "monetary_value": 35.0, "total_amount": 170.0,
                  "n_transactions": 3},
            # 01-05 and 01-25: x = 1, t_x = 20, T = 26 + 29 + 1 = 56; repeat spend 30 - 50 = -20; total 60
            "C": {"frequency": 1.0, "recency": 20.0, "T": 56.0, "monetary_value": -20.0, "total_amount": 60.0,
                  "n_transactions": 2},
            # 01-03 and 01-10 (the purchase happened; its spend is returned): x = 1, t_x = 7, T = 58;
            # repeat spend 70 - 70 = 0; total 50
            "D": {"frequency": 1.0, "recency": 7.0, "T": 58.0, "monetary_value": 0.0, "total_amount": 50.0,
                  "n_transactions": 2},
        },
        "returns_only": ["B"],
        # calibration to 2024-01-31, holdout to 2024-03-01 (30 days): only returns dated in a period count there
        "holdout": {
            # calibration 01-01 100, 01-15 60 - 20 (a2's return on 01-20): x = 1, m = 40; holdout 02-01 40 and the
            # loose -10: 1 period, (40 - 10) / 1 = 30
            "A": {"frequency": 1.0, "monetary_value": 40.0, "frequency_holdout": 1.0, "monetary_value_holdout": 30.0},
            # calibration 80 and 30: x = 1, m = 30; the holdout has only the return: no period, 0
            "C": {"frequency": 1.0, "monetary_value": 30.0, "frequency_holdout": 0.0, "monetary_value_holdout": 0.0},
            "D": {"frequency": 1.0, "monetary_value": 0.0, "frequency_holdout": 0.0, "monetary_value_holdout": 0.0},
        },
        # C (-20) and D (0) have a zero or negative repeat spend: out of the spend model, named, valued with
        # its population mean E[M] = p * gamma / (q - 1); every other customer is valued as usual
        "spend_excluded": ["C", "D"],
        # rows: 13 special + the ordinary ones, all accepted (returns are transactions, not errors)
        "report": {"rows_read": len(special) + len(ordinary), "accepted": len(special) + len(ordinary),
                   "quarantined": 0, "duplicates": 0, "changed": 0},
    })
    return cases
