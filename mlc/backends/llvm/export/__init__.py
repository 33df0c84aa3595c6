"""Export: a built CPU module as a shared library that runs without mlc's compiler.

:func:`~.library.export_library` is the whole export; ``LLVMModule.export`` and
``Compiled.export`` call it. The loader is :mod:`mlc.runtime.loader`.
"""
from .library import export_library

__all__ = ["export_library"]
