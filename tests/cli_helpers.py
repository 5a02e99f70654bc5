"""Shared by the CLI tests: a workspace made through the CLI itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cvm.cli import main


def scored_workspace(tmp_path_factory, tx_file: Path, prefix: str) -> Path:
    """Ingest ``tx_file`` into a new workspace and score it with BG/NBD, both through ``cvm.cli.main``."""
    ws = tmp_path_factory.mktemp(prefix) / "ws"
    assert main(["ingest", str(tx_file), "--workspace", str(ws), "--json"]) == 0
    assert main(["score", "--model", "bgnbd", "--workspace", str(ws), "--json"]) == 0
    return ws


def finish(proc: subprocess.Popen, timeout: float = 600) -> subprocess.CompletedProcess:
    """Wait for a started ``cvm`` process as ``subprocess.run(timeout=...)`` would: killed after ``timeout``."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
