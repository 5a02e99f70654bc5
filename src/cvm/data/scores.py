"""The identity of a scoring run, shared by both engines (the DuckDB workspace and Spark)."""

from __future__ import annotations

import uuid
from datetime import datetime


def new_run_id() -> str:
    """A sortable, unique id: creation time plus a short random suffix."""
    return datetime.now().strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]
