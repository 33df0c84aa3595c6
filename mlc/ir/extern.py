"""Calls to functions outside the program: what a tensor intrinsic's implementation calls.

``T.call_extern("int32", "mlc_x86_vnni_dot_16x4", T.address_of(C[0]), ...)``
calls a function the backend provides by name (a micro-kernel it emits or
links). ``T.address_of(A[i, j])`` is the address of one element, the way an
implementation hands a tile to such a function; buffer passes rewrite its
indices like any other access.

>>> from mlc.ir import decl_buffer
>>> C = decl_buffer((16,), "int32", "C")
>>> call_extern("int32", "f", address_of(C[0]))
T.call_extern("int32", "f", T.address_of(C[0]))
"""
from __future__ import annotations

from ..errors import IRError
from . import dtype as dt
from .expr import BufferLoad, PrimExpr, convert
from .node import node

__all__ = ["CallExtern", "AddressOf", "call_extern", "address_of", "HANDLE", "PREFETCH_FOR_WRITE", "PREFETCH_FOR_READ",
           "PREFETCH_FOR_LATER", "PREFETCH_AHEAD", "PREFETCHES", "vsort_name"]

#: The dtype of an address (an opaque pointer).
HANDLE = "handle"
#: ``T.call_extern("int32", PREFETCH_FOR_WRITE, T.address_of(A[i]))``: a hint that A[i]'s cache
#: line will be written soon. It computes nothing: a backend without such an instruction (a
#: GPU's, the interpreters) drops it.
PREFETCH_FOR_WRITE = "mlc_prefetch_for_write"
#: ``T.call_extern("int32", PREFETCH_FOR_READ, T.address_of(A[i]))``: a hint that A[i]'s cache
#: line will be read soon (a row kernel's first pass asking for what its later passes read:
#: :mod:`mlc.passes.tir.row_prefetch`). Dropped alike where there is no such instruction.
PREFETCH_FOR_READ = "mlc_prefetch_for_read"
#: ``T.call_extern("int32", PREFETCH_FOR_LATER, T.address_of(A[i]))``: a hint that A[i]'s cache
#: line will be read after the lines in use now: fetched into the outer caches, not the first
#: level, whose lines it would evict (a row kernel's last pass asking for the next rows' lines:
#: :mod:`mlc.passes.tir.row_prefetch`). Dropped alike where there is no such instruction.
PREFETCH_FOR_LATER = "mlc_prefetch_for_later"
#: ``T.call_extern("int32", PREFETCH_AHEAD, T.address_of(A[i]), bytes)``: a hint that the
#: cache line ``bytes`` (an int64) past A[i] will be read soon; it may lie past the buffer's
#: end (a register tile's packed panel read ahead: :mod:`mlc.passes.tir.prefetch`). Dropped
#: alike, and by the interpreters.
PREFETCH_AHEAD = "mlc_prefetch_ahead"
#: The cache hints: calls that compute nothing.
PREFETCHES = frozenset({PREFETCH_FOR_WRITE, PREFETCH_FOR_READ, PREFETCH_FOR_LATER, PREFETCH_AHEAD})


def vsort_name(entry: str, dtype: str, descending: bool = False) -> str:
    """The llvm backend's vectorised quicksort (AVX-512 targets; ``mlc.backends.llvm.vector_sort``)
    of 4-byte values: ``entry`` "sort" (``(x, out, scratch, flag, n)``: all of it) or "half"
    (``(x, out, scratch, flag, n, part)``: half of it, part 0 or 1, which two threads run at
    once); ``dtype`` float32, int32 or uint32, or a codec's name (``f32``...).

    >>> vsort_name("half", "float32", True)
    'mlc_vsort_half_f32_desc'
    """
    codec = {"float32": "f32", "int32": "i32", "uint32": "u32"}.get(dtype, dtype) + ("_desc" if descending else "")
    return "mlc_vsort_" + codec if entry == "sort" else f"mlc_vsort_{entry}_{codec}"


@node
class AddressOf(PrimExpr):
    """The address of the element ``load`` reads (its value is not read)."""
    load: BufferLoad
    dtype: str = HANDLE


@node
class CallExtern(PrimExpr):
    """A call of the external function ``name`` with ``args``, returning ``dtype``."""
    name: str
    args: tuple[PrimExpr, ...]
    dtype: str


def address_of(load) -> AddressOf:
    """``T.address_of(A[i, j])``: the address of one element of a buffer."""
    if not isinstance(load, BufferLoad):
        raise IRError(f"address_of takes a buffer element such as A[i, j], got {load!r}")
    return AddressOf(load)


def call_extern(dtype: str, name: str, *args) -> CallExtern:
    """``T.call_extern(dtype, name, *args)``: call the external function ``name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise IRError(f"call_extern: the function name must be an identifier, got {name!r}")
    return CallExtern(name, tuple(a if isinstance(a, PrimExpr) else convert(a) for a in args),
                      dt.canonical(dtype))
