"""Values as JSON can hold them: the one conversion every face uses before ``json.dumps``.

JSON has no NaN, infinity, timestamp, numpy scalar or data frame. :func:`json_safe`
turns them into what a script reading cvm's JSON expects:

- a missing number (NaN, ±infinity, ``pd.NA``, ``NaT``) becomes ``null``;
- numpy scalars become Python numbers and booleans, arrays lists;
- dates and timestamps become ISO 8601 text (``2024-03-01``, ``2024-03-01T12:00:00``);
- a data frame becomes a list of row objects (a named index becomes a column, a
  row number is left out), a
  series an object; ``Decimal`` a float; dictionary keys text.

Anything else is returned as it is (``json.dumps`` then says what it cannot write).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every part made JSON-safe (see the module docstring).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> json_safe({"n": np.int64(3), "x": float("nan"), "t": pd.Timestamp("2024-03-01")})
    {'n': 3, 'x': None, 't': '2024-03-01T00:00:00'}
    """
    import numpy as np
    import pandas as pd

    def safe(v: Any) -> Any:
        if v is None or isinstance(v, (str, bool, int)):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {str(k): safe(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [safe(x) for x in v]
        if v is pd.NaT or v is pd.NA:
            return None
        if isinstance(v, (datetime, date)):  # pd.Timestamp is a datetime
            return v.isoformat()
        if isinstance(v, np.ndarray):
            return [safe(x) for x in v.tolist()]
        if isinstance(v, np.datetime64):
            return None if np.isnat(v) else pd.Timestamp(v).isoformat()
        if isinstance(v, np.generic):  # numpy integers, floats, booleans, strings
            return safe(v.item())
        if isinstance(v, pd.DataFrame):
            frame = v.reset_index() if any(name is not None for name in v.index.names) else v
            return [safe(row) for row in frame.to_dict(orient="records")]
        if isinstance(v, pd.Series):
            return safe(v.to_dict())
        if isinstance(v, Decimal):
            return safe(float(v))
        return v

    return safe(value)
