"""cvm — customer value management.

Probabilistic customer-lifetime-value models (BG/NBD, MBG/NBD, Pareto/NBD,
BG/BB, shifted-beta-geometric, Gamma-Gamma), an embedded DuckDB workspace for
the files people really have, and the value-management questions built on top.
"""

from cvm.errors import AuthError, ConvergenceError, CvmError, NotFittedError, SchemaError, WorkspaceError

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "ConvergenceError",
    "CvmError",
    "NotFittedError",
    "SchemaError",
    "WorkspaceError",
    "__version__",
]
