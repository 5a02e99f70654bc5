"""The cvm web dashboard and JSON API (FastAPI, Jinja2, Plotly; Dutch and English).

```python
from cvm.web import create_app, add_user, create_token
app = create_app("cvm-workspace")          # serve with uvicorn on 127.0.0.1
```
Names are imported on first use, so importing :mod:`cvm.web` stays cheap.
"""

from __future__ import annotations

from cvm._lazy import lazy_attributes

_LAZY = {
    "create_app": "cvm.web.app",
    "serve": "cvm.web.app",
    "add_user": "cvm.web.auth",
    "create_token": "cvm.web.auth",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes("cvm.web", _LAZY)
