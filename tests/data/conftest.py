"""Shared fixtures of the data-layer tests: a fresh workspace per test."""

from __future__ import annotations

import pytest

from cvm.data import Workspace


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace.open(tmp_path / "ws")
    yield workspace
    workspace.close()
