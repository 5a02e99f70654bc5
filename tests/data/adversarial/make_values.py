"""Adversarial files for reading values: amounts, dates, time zones and ids, each with its expected outcome.

:func:`make` writes every file into a folder and returns one :class:`Case` per file: the
ingest options, and per source line either the stored ``(customer_id, ts, amount)`` or
the quarantine reason. Expected values are written by hand here (the date window and
the day's date come from the rules documented in :mod:`cvm.data.values`, computed in
plain Python), never taken from cvm's output.

Run it to look at the files: ``python tests/data/adversarial/make_values.py OUT_DIR``.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

D = dt.datetime


@dataclass
class Case:
    """One adversarial file and what cvm must do with it."""

    name: str
    path: Path
    #: options of ``Workspace.ingest`` (and the same as ``cvm ingest`` flags)
    options: dict = field(default_factory=dict)
    #: source line -> (customer_id, ts, amount) stored in ``transactions``
    stored: dict[int, tuple] = field(default_factory=dict)
    #: source line -> the quarantine reason, exactly
    quarantined: dict[int, str] = field(default_factory=dict)
    #: the ingest is refused with an error whose text contains this
    refused: str | None = None
    why: str = ""


def today() -> dt.date:
    """The ingest day in the workspace's default time zone (Europe/Amsterdam)."""
    return dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()


def two_digit_year(yy: int) -> int:
    """The documented pivot: the latest year ending in ``yy`` that is not after the ingest year."""
    year = 2000 + yy
    return year if year <= today().year else year - 100


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _amounts(folder: Path) -> list[Case]:
    cases = []
    path = _write(folder / "semicolon_mixed_marks.csv",
                  "Klant;Datum;Bedrag\nk1;01-02-2024;12,50\nk2;02-02-2024;1.234,56\nk3;03-02-2024;12.5\n")
    cases.append(Case("semicolon_mixed_marks", path,
                      stored={2: ("k1", D(2024, 2, 1), 12.5), 3: ("k2", D(2024, 2, 2), 1234.56)},
                      quarantined={4: "amount in column Bedrag has a decimal point where the column uses "
                                      "decimal commas: 12.5"},
                      why="12,50 and 1.234,56 prove the decimal comma; 12.5 cannot be read that way (a thousands "
                          "group has three digits), so it is refused, never 125 or 1250"))
    path = _write(folder / "comma_file_quoted_decimal_commas.csv",
                  'klant,datum,bedrag\nk1,2024-01-01,"1,50"\nk2,2024-01-02,"12,5"\nk3,2024-01-03,7\n')
    cases.append(Case("comma_file_quoted_decimal_commas", path,
                      stored={2: ("k1", D(2024, 1, 1), 1.5), 3: ("k2", D(2024, 1, 2), 12.5),
                              4: ("k3", D(2024, 1, 3), 7.0)},
                      why="a comma followed by one or two digits is a decimal comma, in any file"))
    text = 'klant,datum,bedrag\nk1,2024-01-01,"1,234"\nk2,2024-01-02,12\n'
    path = _write(folder / "comma_thousands_unproven.csv", text)
    cases.append(Case("comma_thousands_unproven", path,
                      stored={3: ("k2", D(2024, 1, 2), 12.0)},
                      quarantined={2: "ambiguous amount in column bedrag: 1,234"},
                      why="1,234 is 1234 in English and 1.234 in Dutch; nothing in the file says which"))
    path = _write(folder / "comma_thousands_us_locale.csv", text)
    cases.append(Case("comma_thousands_us_locale", path, options={"locale": "us"},
                      stored={2: ("k1", D(2024, 1, 1), 1234.0), 3: ("k2", D(2024, 1, 2), 12.0)},
                      why="--locale us says the comma groups thousands"))
    path = _write(folder / "comma_thousands_nl_locale.csv", text)
    cases.append(Case("comma_thousands_nl_locale", path, options={"locale": "nl"},
                      stored={2: ("k1", D(2024, 1, 1), 1.234), 3: ("k2", D(2024, 1, 2), 12.0)},
                      why="--locale nl says the comma is the decimal mark"))
    path = _write(folder / "semicolon_comma_group_unproven.csv",
                  "Klant;Datum;Bedrag\nk1;01-02-2024;1,500\nk2;02-02-2024;1.500\nk3;03-02-2024;8\n")
    cases.append(Case("semicolon_comma_group_unproven", path,
                      stored={3: ("k2", D(2024, 2, 2), 1500.0), 4: ("k3", D(2024, 2, 3), 8.0)},
                      quarantined={2: "ambiguous amount in column Bedrag: 1,500"},
                      why="a ; file reads 1.500 as 1500 (Excel writes ; where the comma is the decimal mark), "
                          "but 1,500 could be 1500 (English) or 1.5 with three decimals: refused"))
    nbsp, nnbsp = "\u00a0", "\u202f"
    lines = ["€ 1.234,56", "-€ 12,50", "12,50-", "(12,50)", "€ 12,-", f"1{nbsp}234,56", f"1{nnbsp}234,50 €",
             "EUR 3,00", "−7,25", "+4,00"]
    want = [1234.56, -12.5, -12.5, -12.5, 12.0, 1234.56, 1234.5, 3.0, -7.25, 4.0]
    path = _write(folder / "decorated_amounts_nl_fr.csv",
                  "Klant;Datum;Bedrag\n" + "".join(f"k{i};01-03-2024;{v}\n" for i, v in enumerate(lines)))
    cases.append(Case("decorated_amounts_nl_fr", path,
                      stored={i + 2: (f"k{i}", D(2024, 3, 1), w) for i, w in enumerate(want)},
                      why="currency signs before or after, signs in front or behind, accounting brackets, "
                          "12,- for whole euros, no-break (narrow) spaces as thousands separators"))
    lines = ['"$1,234.56"', "-$12.50", "(12.50)", "USD 3.00", '"1,234,567.89"', "12.50-"]
    want = [1234.56, -12.5, -12.5, 3.0, 1234567.89, -12.5]
    path = _write(folder / "decorated_amounts_us.csv",
                  "customer,date,amount\n" + "".join(f"c{i},2024-03-01,{v}\n" for i, v in enumerate(lines)))
    cases.append(Case("decorated_amounts_us", path,
                      stored={i + 2: (f"c{i}", D(2024, 3, 1), w) for i, w in enumerate(want)}))
    return cases


def _dates(folder: Path) -> list[Case]:
    cases = []
    y25, y99 = two_digit_year(25), two_digit_year(99)
    path = _write(folder / "dutch_dates_two_digit_years.csv",
                  "Klant;Datum;Bedrag\nk1;11-09-2024;1\nk2;11-09-25;2\nk3;13-09-2024;3\nk4;01-02-99;4\n")
    cases.append(Case("dutch_dates_two_digit_years", path,
                      stored={2: ("k1", D(2024, 9, 11), 1.0), 3: ("k2", D(y25, 9, 11), 2.0),
                              4: ("k3", D(2024, 9, 13), 3.0), 5: ("k4", D(y99, 2, 1), 4.0)},
                      why="two-digit years follow the pivot (never year 0025), also in a four-digit column"))
    # a US export sorted by date: its first 2,400 rows have days of 1..12 only
    start = dt.date(2024, 1, 1)
    days = [start + dt.timedelta(days=i // 200) for i in range(2400)] + \
           [start + dt.timedelta(days=12 + i) for i in range(60)]
    path = _write(folder / "us_dates_sorted.csv",
                  "customer,date,amount\n" + "".join(f"c{i},{d:%m/%d/%Y},1.50\n" for i, d in enumerate(days)))
    cases.append(Case("us_dates_sorted", path,
                      stored={i + 2: (f"c{i}", D(d.year, d.month, d.day), 1.5) for i, d in enumerate(days)},
                      why="month-first is proven by dates after the 12th at the end of the file"))
    path = _write(folder / "day_month_unproven.csv", "klant,datum,bedrag\nk1,03/04/2024,1\nk2,05/05/2024,2\n")
    cases.append(Case("day_month_unproven", path,
                      stored={3: ("k2", D(2024, 5, 5), 2.0)},
                      quarantined={2: "ambiguous date in column datum (day-first or month-first?): 03/04/2024"},
                      why="nothing proves day-first or month-first (and the file is not ;-separated)"))
    path = _write(folder / "day_month_us_locale.csv", "klant,datum,bedrag\nk1,03/04/2024,1\nk2,05/05/2024,2\n")
    cases.append(Case("day_month_us_locale", path, options={"locale": "us"},
                      stored={2: ("k1", D(2024, 3, 4), 1.0), 3: ("k2", D(2024, 5, 5), 2.0)}))
    path = _write(folder / "day_month_mixed.csv",
                  "klant,datum,bedrag\nk1,13/01/2024,1\nk2,01/13/2024,2\nk3,14/01/2024,3\nk4,03/04/2024,4\n"
                  "k5,05/05/2024,5\n")
    cases.append(Case("day_month_mixed", path,
                      stored={2: ("k1", D(2024, 1, 13), 1.0), 4: ("k3", D(2024, 1, 14), 3.0),
                              6: ("k5", D(2024, 5, 5), 5.0)},
                      quarantined={3: "month-first date in day-first column datum: 01/13/2024",
                                   5: "ambiguous date in column datum (day-first or month-first?): 03/04/2024"},
                      why="two dates prove day-first, one month-first: the column mixes both"))
    future = today().replace(month=1, day=1) + dt.timedelta(days=5 * 366)
    path = _write(folder / "implausible_and_future_dates.csv",
                  "Klant;Datum;Bedrag\nk1;01-01-1850;1\nk2;31-12-1899;2\n"
                  f"k3;{future:%d-%m-%Y};3\nk4;15-03-2024;4\nk5;15-03-0025;5\n")
    cases.append(Case("implausible_and_future_dates", path,
                      stored={5: ("k4", D(2024, 3, 15), 4.0)},
                      quarantined={2: "implausible date in column Datum (before 1950): 01-01-1850",
                                   3: "implausible date in column Datum (before 1950): 31-12-1899",
                                   4: f"date in the future in column Datum: {future:%d-%m-%Y}",
                                   6: "implausible date in column Datum (before 1950): 15-03-0025"}))
    # Amsterdam is UTC+1 in winter, UTC+2 in summer
    path = _write(folder / "iso_offsets.csv",
                  "klant,datum,bedrag\nk1,2024-01-31T23:30:00Z,1\nk2,2024-02-01T00:30:00+01:00,2\n"
                  "k3,2024-06-30T22:15:00-00:00,3\nk4,2024-03-01 10:00:00,4\n")
    cases.append(Case("iso_offsets", path,
                      stored={2: ("k1", D(2024, 2, 1, 0, 30), 1.0), 3: ("k2", D(2024, 2, 1, 0, 30), 2.0),
                              4: ("k3", D(2024, 7, 1, 0, 15), 3.0)},
                      quarantined={5: "time without a zone in column datum, whose times carry one: "
                                      "2024-03-01 10:00:00"},
                      why="times with an offset are converted to Europe/Amsterdam; one without is unknown"))
    import pandas as pd

    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c"],
        # midnight in Amsterdam: on a UTC machine this used to become the previous day (and month)
        "ts": pd.to_datetime(["2024-03-01 00:00", "2024-07-01 00:00", "2024-12-31 23:59"]).tz_localize(
            "Europe/Amsterdam"),
        "amount": [10.0, 20.0, 30.0]})
    path = folder / "zone_aware.parquet"
    frame.to_parquet(path)
    cases.append(Case("zone_aware_parquet", path,
                      stored={1: ("a", D(2024, 3, 1), 10.0), 2: ("b", D(2024, 7, 1), 20.0),
                              3: ("c", D(2024, 12, 31, 23, 59), 30.0)}))
    frame = pd.DataFrame({"customer_id": ["u"], "ts": pd.to_datetime(["2024-02-29 23:30"]).tz_localize("UTC"),
                          "amount": [5.0]})
    path = folder / "zone_aware_utc.parquet"
    frame.to_parquet(path)
    cases.append(Case("zone_aware_utc_parquet", path, stored={1: ("u", D(2024, 3, 1, 0, 30), 5.0)}))
    return cases


def _ids(folder: Path) -> list[Case]:
    cases = []
    path = _write(folder / "ids_unicode_space.csv",
                  "klant;datum;bedrag\n123\u00a0;2024-01-01;1\n123;2024-01-02;2\n\u200b123\t;2024-01-03;3\n"
                  "\u00a0K\u00a07\u2007;2024-01-04;4\n12\u00013;2024-01-05;5\n\u200b;2024-01-06;6\n")
    cases.append(Case("ids_unicode_space", path,
                      stored={2: ("123", D(2024, 1, 1), 1.0), 3: ("123", D(2024, 1, 2), 2.0),
                              4: ("123", D(2024, 1, 3), 3.0), 5: ("K 7", D(2024, 1, 4), 4.0)},
                      quarantined={6: "control character in customer_id in column klant: 12\ufffd3",
                                   7: "missing customer_id: column klant is empty"},
                      why="no-break and zero-width spaces and tabs around an id are trimmed: one customer 123"))
    import pandas as pd

    frame = pd.DataFrame({"customer_id": ["123\x00\x00", "123", "12\x003"],
                          "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                          "amount": [1.0, 2.0, 3.0]})
    path = folder / "ids_nul.parquet"
    frame.to_parquet(path)
    cases.append(Case("ids_nul_parquet", path,
                      stored={1: ("123", D(2024, 1, 1), 1.0), 2: ("123", D(2024, 1, 2), 2.0)},
                      quarantined={3: "control character in customer_id in column customer_id: 12\ufffd3"},
                      why="NUL padding is trimmed; a NUL inside an id is a damaged export"))
    path = _write(folder / "unknown_locale.csv", "klant,datum,bedrag\nk1,2024-01-01,1\n")
    cases.append(Case("unknown_locale", path, options={"locale": "xx"}, refused="unknown locale 'xx'"))
    return cases


def make(folder: Path) -> list[Case]:
    """Write every adversarial values file into ``folder``; return the cases with their expected outcomes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return _amounts(folder) + _dates(folder) + _ids(folder)


if __name__ == "__main__":
    for case in make(Path(sys.argv[1] if len(sys.argv) > 1 else "adversarial-values")):
        outcome = f"refused: {case.refused}" if case.refused else \
            f"{len(case.stored)} stored, {len(case.quarantined)} quarantined"
        print(f"{case.path}  {case.options or ''}  {outcome}  {case.why}")
