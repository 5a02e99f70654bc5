"""Adversarial files for reading: CSV as RFC 4180 says, odd encodings per line, huge lines, stray cells.

Each ``make_*`` function writes one file into a folder and returns it with its
:class:`Expected` outcome, worked out here from how the file was built (which record starts
on which line, which line is not UTF-8), never from what cvm reads. :func:`make_all` writes
them all and also puts each outcome next to its file as ``<file>.expected.json``.

Run ``python tests/data/adversarial/make_files.py FOLDER`` to look at the files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

HEADER = "klant,datum,bedrag,kanaal,notitie"


@dataclass
class Expected:
    """What an ingest of the file must do.

    ``stored``: every accepted transaction as (customer_id, amount, source line), in line
    order; ``quarantine``: (line, start of the reason) of every quarantined row;
    ``channels``: customer → stored channel, for values that hold a line break;
    ``rows_read`` = len(stored) + len(quarantine) (no duplicates in these files).
    """

    stored: list[tuple[str, float, int]]
    quarantine: list[tuple[int, str]] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)
    #: the reason must say exactly this (full text), by line
    raw: dict[int, str] = field(default_factory=dict)
    #: peak resident memory of a process that ingests the file, at most (MB)
    max_memory_mb: float | None = None

    @property
    def rows_read(self) -> int:
        return len(self.stored) + len(self.quarantine)


class _Lines:
    """A file built record by record, knowing the line each record starts on."""

    def __init__(self, header: str = HEADER, newline: str = "\n") -> None:
        self.parts: list[bytes] = []
        self.line = 1  # the line the next record starts on
        self.newline = newline
        self.stored: list[tuple[str, float, int]] = []
        self.add_text(header)

    def add_text(self, text: str, encoding: str = "utf-8", newline: str | None = None) -> int:
        """Append one record (``text`` may hold line breaks inside quotes); return its first line."""
        start = self.line
        newline = self.newline if newline is None else newline
        self.parts.append((text + newline).encode(encoding))
        # a line break is \r\n, \n or a lone \r
        self.line += text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
        return start

    def add(self, customer: str, amount: float, channel: str = "web", note: str = "", day: int = 5,
            encoding: str = "utf-8", newline: str | None = None) -> int:
        line = self.add_text(f"{customer},2024-01-{day:02d},{amount:.2f},{_quoted(channel)},{_quoted(note)}",
                             encoding, newline)
        self.stored.append((customer, amount, line))
        return line

    def size(self) -> int:
        return sum(len(p) for p in self.parts)

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(self.parts))
        return path


def _quoted(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def make_quoted_line_break(folder: Path) -> tuple[Path, Expected]:
    """The issue's file: a note whose line break is followed by text that looks like a record (K9, €999)."""
    path = folder / "quoted_line_break.csv"
    path.write_text('klant,datum,bedrag,notitie\n'
                    'K1,2024-01-05,10.00,"eerste regel\nK9,2024-01-06,999.00,x"\n'
                    'K2,2024-01-07,20.00,ok\n', encoding="utf-8")
    # K1 starts on line 2 and its note runs into line 3; K2 is on line 4; there is no K9
    return path, Expected(stored=[("K1", 10.0, 2), ("K2", 20.0, 4)])


def make_multiline_notes(folder: Path) -> tuple[Path, Expected]:
    """2,000 records, every tenth with a note over two or three lines, quotes inside, some CRLF inside."""
    f = _Lines()
    for i in range(2000):
        note = ""
        if i % 10 == 0:
            note = f'bel terug\nvraagt naar "actie" {i}' if i % 20 else f"regel een\r\nregel twee\nregel drie {i}"
        f.add(f"K{i}", 10 + i % 97 + 0.25, note=note, day=1 + i % 28)
    return f.write(folder / "multiline_notes_10pct.csv"), Expected(stored=f.stored)


def make_multiline_after_sample(folder: Path) -> tuple[Path, Expected]:
    """Regular for the first 256 kB (so the fast reader is tried), then records whose channel holds a line break."""
    f = _Lines()
    i = 0
    channels = {}
    while f.size() < 300_000:
        f.add(f"K{i}", 5.5, note="gewoon")
        i += 1
    for j in range(10):
        customer = f"M{j}"
        f.add(customer, 7.75, channel=f"winkel\nfiliaal {j}")
        channels[customer] = f"winkel\nfiliaal {j}"
        f.add(f"K{i + j}", 5.5)
    return f.write(folder / "multiline_after_sample.csv"), Expected(stored=f.stored, channels=channels)


def make_multiline_with_rejects(folder: Path) -> tuple[Path, Expected]:
    """Regular at first, then multi-line notes around a rejected multi-line record and a row of delimiters only."""
    f = _Lines()
    i = 0
    while f.size() < 1_000:
        f.add(f"K{i}", 1.25)
        i += 1
    f.add("N1", 2.5, note="eerste\ntweede")
    bad = f.add_text('B1,2024-01-05,vijf,web,"kapot\nbedrag"')
    f.add_text(",,,,")  # blank: not a row
    f.add("N2", 3.5, note='met "aanhalingstekens"\nen een regel')
    f.add("K99", 4.0)
    expected = Expected(stored=f.stored, quarantine=[(bad, "non-numeric amount")])
    return f.write(folder / "multiline_with_rejects.csv"), expected


def _one_cp1252_line(folder: Path, name: str, before_bytes: int) -> tuple[Path, Expected]:
    """A UTF-8 file (names with ë) with one line saved as cp1252 after about ``before_bytes`` bytes."""
    f = _Lines()
    i = 0
    while f.size() < before_bytes:
        f.add(f"Zoë{i}", 12.5)
        i += 1
    odd = f.add_text("Zoë-cp,2024-01-06,1.00,web,", encoding="cp1252")
    for j in range(100):
        f.add(f"Zoë{i + j}", 2.0)
    # "Zoë" in cp1252 is 5A 6F EB: 0xEB is the 3rd byte, and not UTF-8
    expected = Expected(stored=f.stored, quarantine=[(odd, "invalid UTF-8: 0xEB at byte 3")],
                        raw={odd: "Zoë-cp,2024-01-06,1.00,web,"})
    return f.write(folder / name), expected


def make_cp1252_line_early(folder: Path) -> tuple[Path, Expected]:
    return _one_cp1252_line(folder, "cp1252_line_early.csv", 2_000)


def make_cp1252_line_late(folder: Path) -> tuple[Path, Expected]:
    return _one_cp1252_line(folder, "cp1252_line_late.csv", 300_000)


def make_cp1252_file_ascii_head(folder: Path) -> tuple[Path, Expected]:
    """A whole cp1252 file whose first 300 kB are ASCII: no line is UTF-8, so it is read as cp1252."""
    f = _Lines()
    i = 0
    while f.size() < 300_000:
        f.add(f"K{i}", 3.0, encoding="cp1252")
        i += 1
    for j in range(50):
        f.add(f"Zoë{j}", 4.0, channel="café", encoding="cp1252")
    return f.write(folder / "cp1252_ascii_head.csv"), Expected(stored=f.stored, channels={"Zoë0": "café"})


def make_utf8_bom_with_cp1252_line(folder: Path) -> tuple[Path, Expected]:
    """A UTF-8 file with a byte order mark, ASCII but for one cp1252 line: the mark proves UTF-8."""
    f = _Lines()
    f.parts[0] = b"\xef\xbb\xbf" + f.parts[0]
    for i in range(5):
        f.add(f"K{i}", 1.5)
    odd = f.add_text("Zoë,2024-01-06,1.00,web,", encoding="cp1252")
    f.add("K5", 2.5)
    expected = Expected(stored=f.stored, quarantine=[(odd, "invalid UTF-8: 0xEB at byte 3")],
                        raw={odd: "Zoë,2024-01-06,1.00,web,"})
    return f.write(folder / "utf8_bom_with_cp1252_line.csv"), expected


def _long_line(folder: Path, name: str, size: int) -> tuple[Path, Expected]:
    """A note of ``size`` bytes (with a comma and a quote in it, so quoted) on the second record."""
    f = _Lines()
    f.add("K1", 10.0)
    f.add("K2", 11.0, note='lang, "heel" lang ' + "x" * size)
    f.add("K3", 12.0)
    return f.write(folder / name), Expected(stored=f.stored)


def make_long_field_in_sample(folder: Path) -> tuple[Path, Expected]:
    """A 200 kB field inside the 256 kB sample: over the csv module's 128 kB field limit."""
    return _long_line(folder, "long_field_in_sample.csv", 200_000)


def make_long_line_3mb(folder: Path) -> tuple[Path, Expected]:
    return _long_line(folder, "long_line_3mb.csv", 3 << 20)


def make_long_line_40mb(folder: Path) -> tuple[Path, Expected]:
    return _long_line(folder, "long_line_40mb.csv", 40 << 20)


def make_crlf_cr_mix(folder: Path) -> tuple[Path, Expected]:
    """Windows, Unix and old-Mac line ends in one file, and a quoted CRLF inside a field."""
    f = _Lines(newline="\r\n")
    channels = {}
    for i in range(30):
        newline = ("\r\n", "\n", "\r")[i % 3]
        if i == 10:
            f.add("Q10", 9.0, channel="web\r\nshop", newline=newline)
            channels["Q10"] = "web\nshop"  # a line break inside a field is stored as \n
        else:
            f.add(f"K{i}", 1.0 + i, newline=newline)
    return f.write(folder / "crlf_cr_mix.csv"), Expected(stored=f.stored, channels=channels)


def make_unclosed_quote(folder: Path) -> tuple[Path, Expected]:
    """A quote opened and never closed: that line is quarantined, the lines after it are read."""
    f = _Lines()
    f.add("K1", 1.0)
    f.add("K2", 2.0)
    broken = f.add_text('K3,2024-01-05,3.00,web,"scherm 24 inch')
    for i in range(4, 10):
        f.add(f"K{i}", float(i))
    expected = Expected(stored=f.stored,
                        quarantine=[(broken, 'unclosed quote: the line opens a field with " that is never closed')])
    return f.write(folder / "unclosed_quote.csv"), expected


def make_inch_marks(folder: Path) -> tuple[Path, Expected]:
    """Quotes inside unquoted fields (``24" scherm``) are characters, not the start of a multi-line field."""
    f = _Lines()
    f.add("K0", 1.0, note="gewoon")
    for i in range(1, 40):
        f.add_text(f'K{i},2024-01-05,{i}.00,web,monitor {20 + i % 8}" breed')
        f.stored.append((f"K{i}", float(i), f.line - 1))
    # a quoted field holding a line break right after them is still one record
    f.add("K40", 40.0, note='27" scherm\nbezorgd')
    return f.write(folder / "inch_marks.csv"), Expected(stored=f.stored)


def _sheet(path: Path, stray: tuple[int, int] | None) -> list[tuple[str, float, int]]:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Klant", "Datum", "Bedrag"])
    stored = []
    for i in range(20):
        sheet.append([f"K{i}", f"2024-02-{i + 1:02d}", 10.0 + i])
        stored.append((f"K{i}", 10.0 + i, i + 2))
    if stray:
        sheet.cell(row=stray[0], column=stray[1], value="x")
    book.save(path)
    return stored


def make_stray_cell_far_corner(folder: Path) -> tuple[Path, Expected]:
    """A 5 kB workbook whose one stray cell sits at XFD1048576: its dimension is the whole grid."""
    path = folder / "stray_cell_far_corner.xlsx"
    stored = _sheet(path, (1_048_576, 16_384))
    # the stray cell's row has a value but no customer: quarantined, at its own row number
    return path, Expected(stored=stored, quarantine=[(1_048_576, "missing customer_id")], max_memory_mb=600)


def make_stray_cell_far_right(folder: Path) -> tuple[Path, Expected]:
    """A stray cell far right in a data row: the row is still a good transaction."""
    path = folder / "stray_cell_far_right.xlsx"
    stored = _sheet(path, (5, 16_384))
    return path, Expected(stored=stored, max_memory_mb=600)


MAKERS = [make_quoted_line_break, make_multiline_notes, make_multiline_after_sample, make_multiline_with_rejects,
          make_cp1252_line_early,
          make_cp1252_line_late, make_cp1252_file_ascii_head, make_utf8_bom_with_cp1252_line,
          make_long_field_in_sample, make_long_line_3mb, make_long_line_40mb,
          make_crlf_cr_mix, make_unclosed_quote, make_inch_marks, make_stray_cell_far_corner, make_stray_cell_far_right]


def make_all(folder: Path) -> dict[str, tuple[Path, Expected]]:
    """Write every file into ``folder``; return case → (path, expected), and write the expectations beside them.

    A case is named after its maker (``make_crlf_cr_mix`` → ``crlf_cr_mix``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for make in MAKERS:
        path, expected = make(folder)
        out[make.__name__.removeprefix("make_")] = (path, expected)
        summary = {"rows_read": expected.rows_read, **asdict(expected)}
        if len(summary["stored"]) > 20:
            summary["stored"] = summary["stored"][:10] + ["…"] + summary["stored"][-5:]
        path.with_name(path.name + ".expected.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    return out


if __name__ == "__main__":
    for name, (path, expected) in make_all(Path(sys.argv[1] if len(sys.argv) > 1 else "adversarial-files")).items():
        print(f"{path}: {expected.rows_read} rows, {len(expected.quarantine)} quarantined")
