"""The operator registry: one entry per op, used by tracing, fusion, lowering and tests.

An op declares
- ``infer(*types, **attrs)``: output TensorType(s) from input TensorTypes
  (NumPy broadcasting and NumPy 2 promotion); raises ShapeError/DTypeError
  naming the op, what was expected and what came;
- ``lower(*tensors, **attrs)``: te tensors computing the outputs from te inputs;
- ``reference(*arrays, **attrs)``: the NumPy implementation (the test oracle);
- ``pattern``: how it fuses (TVM's FuseOps kinds).

Attributes are hashable Python values (ints, floats, bools, strings, None and
tuples of them), so graph nodes can be compared and cached.

>>> add = get_op("add")
>>> add.infer(TensorType((4, 1), "float32"), TensorType((3,), "float32"))
TensorType(shape=(4, 3), dtype='float32')
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import MLCError

__all__ = ["TensorType", "OpDef", "PATTERNS", "register_op", "get_op", "list_ops"]

#: Fusion patterns, from most to least fusable.
PATTERNS = ("elemwise", "broadcast", "injective", "reduction", "out_elemwise_fusable", "opaque")


@dataclass(frozen=True, slots=True)
class TensorType:
    """The static type of a tensor value: shape (ints) and dtype (a NumPy name)."""
    shape: tuple[int, ...]
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class OpDef:
    name: str
    pattern: str
    infer: Callable
    lower: Callable
    reference: Callable
    num_outputs: int = 1
    doc: str = ""


_REGISTRY: dict[str, OpDef] = {}


def register_op(name: str, *, pattern: str, infer: Callable, lower: Callable, reference: Callable,
                num_outputs: int = 1, doc: str = "") -> OpDef:
    """Add an op; user-defined ops (``mlc.op``) use the same path."""
    if pattern not in PATTERNS:
        raise MLCError(f"op {name}: pattern must be one of {PATTERNS}, got {pattern!r}")
    if name in _REGISTRY:
        raise MLCError(f"op {name!r} is already registered")
    op = OpDef(name, pattern, infer, lower, reference, num_outputs, doc)
    _REGISTRY[name] = op
    return op


def get_op(name: str) -> OpDef:
    _load_library()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MLCError(f"unknown op {name!r}") from None


def list_ops() -> list[str]:
    _load_library()
    return sorted(_REGISTRY)


def _load_library() -> None:
    """Import the op library modules once (they register themselves)."""
    from . import library  # noqa: F401
