"""The one compiled part: ``scanner._deltas`` (see ``scanner/packread.py``).

Optional: where no C compiler is at hand the package installs without it, and the
history scanner searches each object it resolves from a pack in full instead (the
same findings, more slowly).  Everything else is declared in ``pyproject.toml``.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("scanner._deltas", ["scanner/_deltas.c"], optional=True)])
