"""The self-contained HTML report (``cvm report``) and the Plotly figures it is made of.

```python
from cvm.report import build_report
build_report(ws, "report.html", language="nl")
```
Names are imported on first use, so ``import cvm.report`` does not load Plotly.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "build_report": "cvm.report.build",
    "collect": "cvm.report.build",
    "render_table": "cvm.report.build",
    "Formatter": "cvm.report.i18n",
    "save_png": "cvm.report.plots",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "plots":
        return importlib.import_module("cvm.report.plots")
    raise AttributeError(f"module 'cvm.report' has no attribute {name!r}")


__all__ = sorted([*_LAZY, "plots"])
