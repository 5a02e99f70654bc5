"""Compatibility layers for code written against other libraries.

* :mod:`cvm.compat.lifetimes` — lifetimes 0.11.3's fitters, ``utils``, ``plotting`` and
  ``datasets`` with lifetimes' signatures, running on cvm's models.
"""
