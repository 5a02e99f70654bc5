"""``python -m cvm.cli``: the same as the ``cvm`` command."""

from cvm.cli import entry

entry()
