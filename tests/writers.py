"""Shared by the tests of concurrent writers: an order file, and a writer in another process that holds the lock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: a writer process: ingests argv[2] into the workspace argv[1] and keeps it open until the file argv[3] exists
HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cvm.data import Workspace

    ws = Workspace.open(Path(sys.argv[1]))
    ws.ingest(Path(sys.argv[2]))
    print("holding", flush=True)
    release = Path(sys.argv[3])
    deadline = time.monotonic() + 300
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ws.close()
    print("published", flush=True)
""")


def orders(path: Path, prefix: str, n: int) -> Path:
    """``n`` Dutch-formatted orders of customers ``<prefix>0000``… in March 2024, written to ``path``."""
    path.write_text("customer_id;date;amount;channel\n"
                    + "".join(f"{prefix}{i:04d};{1 + i % 28:02d}-03-2024;{10 + i % 7},50;web\n" for i in range(n)),
                    encoding="utf-8")
    return path


def hold(ws: Path, order_file: Path, release: Path) -> subprocess.Popen:
    """A writer in another process that ingests ``order_file`` and keeps the workspace until ``release`` exists."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(ws), str(order_file), str(release)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    assert proc.stdout.readline().strip() == "holding", proc.stderr.read()
    return proc
