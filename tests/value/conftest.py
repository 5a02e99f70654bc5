"""Small hand-made workspaces for the value-layer tests."""

import pandas as pd
import pytest


@pytest.fixture
def workspace(tmp_path):
    """An empty workspace in a temporary folder (closed after the test)."""
    from cvm.data import Workspace

    ws = Workspace.open(tmp_path / "ws")
    yield ws
    ws.close()


def make_scores(rows, as_of="2024-06-30"):
    """A scores frame from (customer_id, clv, historic_value, probability_alive, value_tier, lifecycle_stage) rows."""
    frame = pd.DataFrame(rows, columns=["customer_id", "clv", "historic_value", "probability_alive", "value_tier", "lifecycle_stage"])
    frame.attrs["as_of"] = as_of
    return frame
