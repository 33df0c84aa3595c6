"""The NumPy and llvmlite mlc needs, checked where each is first used.

mlc follows NumPy 2.3's results (its special values of complex functions, ``clip``
without bounds, NEP 50's weak Python scalars) and is tested against them; ``import
mlc`` checks NumPy. The llvm backend writes LLVM 22's IR (``captures(none)``, ``splat``
constants) and runs llvmlite's new pass manager: llvmlite 0.48 is the first release with
both, and importing the backend checks it. An older version, one that an environment
pins, is named with the fix instead of failing later with a message about a missing
attribute of NumPy or an unknown LLVM attribute.

>>> check_version("llvmlite", "0.50.0", LLVMLITE_MINIMUM, "its llvm backend (LLVM 22)")
>>> check_version("llvmlite", "0.45.1", LLVMLITE_MINIMUM, "its llvm backend (LLVM 22)")
Traceback (most recent call last):
  ...
mlc.errors.MLCError: mlc needs llvmlite 0.48 or newer for its llvm backend (LLVM 22), found llvmlite 0.45.1; ...
"""
from __future__ import annotations

import re

from .errors import MLCError

__all__ = ["NUMPY_MINIMUM", "LLVMLITE_MINIMUM", "check_version", "check_numpy", "check_llvmlite"]

#: The oldest NumPy whose results mlc follows (and its tests pass against).
NUMPY_MINIMUM = (2, 3)
#: The oldest llvmlite release the llvm backend works with.
LLVMLITE_MINIMUM = (0, 48)


def check_version(package: str, version: str, minimum: tuple[int, int], what: str) -> None:
    """Raise an MLCError naming ``version`` and the fix when it is older than ``minimum``."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < minimum:
        need = ".".join(map(str, minimum))
        raise MLCError(f"mlc needs {package} {need} or newer for {what}, found {package} {version}; "
                       f"upgrade it with pip install -U '{package}>={need}' (a package that pins an "
                       f"older {package} must be upgraded with it)")


def check_numpy() -> None:
    import numpy
    check_version("numpy", numpy.__version__, NUMPY_MINIMUM, "the NumPy semantics it follows")


def check_llvmlite() -> None:
    import llvmlite
    check_version("llvmlite", llvmlite.__version__, LLVMLITE_MINIMUM, "its llvm backend (LLVM 22)")
