"""The static type of a tensor value, shared by the graph IR, the op registry and the tracer.

>>> TensorType((4, 3), "float32").size
12
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TensorType"]


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
