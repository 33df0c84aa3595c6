"""The llvmlite the llvm backend needs, checked when the backend is first imported.

The IR the backend writes uses LLVM 22's spellings (``captures(none)``, ``splat``
constants) and runs through llvmlite's new pass manager: llvmlite 0.48 is the first
release with both. An older one (an environment that pins it, as Numba's releases do)
would fail later, at the first build, with a message about an unknown attribute; this
says what to install instead.

>>> check_llvmlite("0.50.0")
>>> check_llvmlite("0.45.1")
Traceback (most recent call last):
  ...
mlc.errors.MLCError: mlc's llvm backend needs llvmlite 0.48 or newer (LLVM 22), found llvmlite 0.45.1; ...
"""
from __future__ import annotations

import re

import llvmlite

from ..errors import MLCError

__all__ = ["MINIMUM", "check_llvmlite"]

#: The oldest llvmlite release the backend works with.
MINIMUM = (0, 48)


def check_llvmlite(version: str = llvmlite.__version__) -> None:
    """Raise an MLCError naming ``version`` and the fix when it is older than MINIMUM."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < MINIMUM:
        need = ".".join(map(str, MINIMUM))
        raise MLCError(f"mlc's llvm backend needs llvmlite {need} or newer (LLVM 22), found llvmlite "
                       f"{version}; upgrade it with pip install -U 'llvmlite>={need}' (a package that "
                       "pins an older llvmlite, such as an older Numba, must be upgraded with it)")


check_llvmlite()
