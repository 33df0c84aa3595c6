"""The operator library: one registry of ops, each a shape/dtype rule, a te
lowering, a NumPy reference and a fusion pattern.

Importing ``mlc.ops`` (or any module in it) registers the built-in library.

>>> from mlc.ops import get_op, TensorType
>>> get_op("matmul").infer(TensorType((8, 4, 3), "float32"), TensorType((3, 5), "float32"))
TensorType(shape=(8, 4, 5), dtype='float32')
"""
from .registry import (PATTERNS, NumpyAPI, OpDef, TensorType, define_rules, get_op, list_ops, register_alias,
                       register_op)
from . import library  # noqa: E402,F401 - the op library registers itself in the registry above
from . import rules  # noqa: E402,F401 - and its ops' transformation rules

__all__ = ["PATTERNS", "NumpyAPI", "OpDef", "TensorType", "define_rules", "get_op", "list_ops", "register_op",
           "register_alias"]
