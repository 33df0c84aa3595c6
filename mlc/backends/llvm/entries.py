"""Checked object entries: a built function's arguments checked in native code.

``lib["f"](a, b, c)`` must make sure each array is what ``f`` was compiled for
(its type, dtype, shape, C-contiguity, writeable where written, no two
written arguments sharing memory) before the kernel runs. In Python that is
a dozen attribute reads an array, most of a small call's time. The checked
entry ``i32 @<f>__checked(ptr a_object, ...)`` takes each array object
(``id(array)``), reads the same fields from NumPy's object layout
(:data:`~mlc.runtime.pointers.ARRAY_LAYOUT`) and either calls ``f`` with the
data pointers and returns 0, or returns 1 having run nothing: the caller then
takes the checks in Python, which explain what is wrong (or accept what only
they know to be right, a subclass of ndarray say)::

    define i32 @f__checked(ptr %A_object, ptr %B_object) {
      ; type is ndarray or mlc's NDArray, dtype object, rank, flags (C-contiguous,
      ; writeable where written), each extent, for A then B, else: ret i32 1
      ; each written argument's owner (itself if it owns its memory, else down its
      ; chain of bases) differs from every other argument's owner, else: ret i32 1
      ; (arguments only read may be one array: f(x, x, out))
      call void @f(ptr %A, ptr %B) noinline
      ret i32 0

What each argument must be comes from the function as scheduled, whose
parameters the loader knows (the code sees them flattened), and the type and
dtype objects are addresses of this process; so neither is in the code (which
the object cache keeps across processes) but in the table
``@<f>__checked__expect`` (the two array types, then each parameter's dtype
object, rank, required flags and extents) that the loader fills
(:func:`expected_objects`); a table left empty matches no argument, and every
call takes the Python checks.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llvmlite import ir

from ...runtime.arguments import C_CONTIGUOUS, OWNDATA, OWNER_DEPTH, WRITEABLE
from ...runtime.ndarray import NDArray
from ...runtime.pointers import ArrayLayout
from .types import I32, I64, PTR

__all__ = ["emit_checked_entry", "expected_objects", "required_flags", "table_symbol", "MAX_DIMS"]


def table_symbol(entry: str) -> str:
    """The symbol of the expectation table of the checked entry ``entry``."""
    return f"{entry}__expect"


#: The most dimensions the table describes for one parameter; an array of more is never
#: taken by the checked entry (its expected rank is left at -1).
MAX_DIMS = 8
#: Table slots a parameter takes: its dtype object, rank, required flags, then MAX_DIMS extents.
_SLOTS = 3 + MAX_DIMS


def expected_objects(specs: Sequence[tuple[np.dtype, tuple[int, ...], int]]) -> list[int]:
    """The table's entries for parameters of (dtype, shape, required flags) ``specs``: the two
    array types an argument may be, then for each parameter its dtype object (``arg.dtype is
    dtype`` in Python is this pointer comparison), rank, flags and extents."""
    table = [id(np.ndarray), id(NDArray)]
    for dtype, shape, flags in specs:
        known = len(shape) <= MAX_DIMS and None not in shape
        dims = list(shape) if known else []
        table += [id(dtype), len(shape) if known else -1, flags, *dims, *([0] * (MAX_DIMS - len(dims)))]
    return table


def required_flags(written: bool) -> int:
    """The flag bits an argument must have: C-contiguous, and writeable if ``written``."""
    return C_CONTIGUOUS | (WRITEABLE if written else 0)


def emit_checked_entry(module: ir.Module, fn: ir.Function, layout: ArrayLayout, noalias: bool,
                       written: frozenset[int]) -> ir.Function:
    """Add ``i32 @<fn>__checked(ptr, ...)`` and its table (module docstring) for ``fn``; with
    ``noalias``, no argument the function writes (the positions ``written``) may
    share an owner with another argument (the Python check's rule: arguments only read may
    be one array). What each argument must be (type, dtype, shape, flags) is in the table,
    which the loader fills from the function as scheduled."""
    n = len(fn.args)
    entry = ir.Function(module, ir.FunctionType(I32, [PTR] * n), name=f"{fn.name}__checked")
    # unoptimised, as a kernel's launch code: a few dozen loads and compares a call, where
    # LLVM's O3 and instruction selection of them cost a first call milliseconds
    entry.attributes.add("noinline")
    entry.attributes.add("optnone")
    size = 2 + _SLOTS * n
    table = ir.GlobalVariable(module, ir.ArrayType(I64, size), name=table_symbol(entry.name))
    table.initializer = ir.Constant(ir.ArrayType(I64, size), None)  # written by the loader
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    decline = entry.append_basic_block("decline")
    owner_slots = [b.alloca(PTR, name=f"{arg.name}_owner") for arg in fn.args]

    def field(obj, offset: int, typ, name: str):
        return _field(b, obj, offset, typ, name)

    def expected(k: int):
        return b.load(b.gep(table, [ir.Constant(I64, 0), ir.Constant(I64, k)],
                            source_etype=ir.ArrayType(I64, size)), typ=I64)

    def an_array(obj, name: str):
        kind = b.ptrtoint(field(obj, layout.type, PTR, f"{name}_type"), I64)
        return b.or_(b.icmp_unsigned("==", kind, expected(0)), b.icmp_unsigned("==", kind, expected(1)))

    def require(condition, name: str) -> None:
        passed = entry.append_basic_block(name)
        b.cbranch(condition, passed, decline)
        b.position_at_end(passed)

    # the pairs whose owners must differ, as the Python check asks (never looser): any pair
    # with a written argument in it
    pairs = [(m, k) for m in range(n) for k in range(m + 1, n) if m in written or k in written] if noalias else []
    aliasing = bool(pairs)
    flags = []
    for p, (obj, arg) in enumerate(zip(entry.args, fn.args)):
        obj.name = f"{arg.name}_object"
        at = 2 + _SLOTS * p
        require(an_array(obj, arg.name), f"{arg.name}_array")  # (any object has a type; only then the rest)
        fl = field(obj, layout.flags, I32, f"{arg.name}_flags")
        rank = b.sext(field(obj, layout.nd, I32, f"{arg.name}_ndim"), I64)
        need = b.trunc(expected(at + 2), I32)
        ok = b.icmp_unsigned("==", b.ptrtoint(field(obj, layout.descr, PTR, f"{arg.name}_dtype"), I64), expected(at))
        ok = b.and_(ok, b.icmp_signed("==", rank, expected(at + 1)))
        ok = b.and_(ok, b.icmp_unsigned("==", b.and_(fl, need), need))
        require(ok, f"{arg.name}_rank")
        shaped = entry.append_basic_block(f"{arg.name}_shaped")
        dims = field(obj, layout.dimensions, PTR, f"{arg.name}_dims")
        for d in range(MAX_DIMS):  # extent d, read while d < rank (a 0-d array's extents may be null)
            more = entry.append_basic_block(f"{arg.name}_dim{d}")
            b.cbranch(b.icmp_signed(">", rank, ir.Constant(I64, d)), more, shaped)
            b.position_at_end(more)
            got = b.load(b.gep(dims, [ir.Constant(I64, d)], source_etype=I64), typ=I64)
            require(b.icmp_signed("==", got, expected(at + 3 + d)), f"{arg.name}_extent{d}")
        b.branch(shaped)
        b.position_at_end(shaped)
        flags.append(fl)
    if aliasing:
        for p, (obj, arg) in enumerate(zip(entry.args, fn.args)):
            _find_owner(b, entry, decline, layout, obj, flags[p], owner_slots[p], an_array, arg.name)
        owners = [b.load(slot, typ=PTR) for slot in owner_slots]
        distinct = None
        for m, k in pairs:
            ne = b.icmp_unsigned("!=", owners[m], owners[k])
            distinct = ne if distinct is None else b.and_(distinct, ne)
        require(distinct, "distinct")
    pointers = [field(obj, layout.data, PTR, arg.name) for obj, arg in zip(entry.args, fn.args)]
    b.call(fn, pointers, attrs=("noinline",))  # the body stays in fn, compiled once
    b.ret(ir.Constant(I32, 0))
    b.position_at_end(decline)
    b.ret(ir.Constant(I32, 1))
    return entry


def _field(b: ir.IRBuilder, obj, offset: int, typ, name: str = ""):
    """The ``typ`` field ``offset`` bytes into the object at ``obj``."""
    return b.load(b.gep(obj, [ir.Constant(I64, offset)], source_etype=ir.IntType(8)), name=name, typ=typ)


def _find_owner(b: ir.IRBuilder, entry: ir.Function, decline, layout: ArrayLayout, obj, flags, slot,
                an_array, name: str) -> None:
    """Store into ``slot`` the array that owns ``obj``'s memory: ``obj`` if its ``flags`` say
    it owns it, else the first down its chain of bases that does, at most OWNER_DEPTH bases
    down, each an ndarray or NDArray; branch to ``decline`` otherwise."""
    found = entry.append_basic_block(f"{name}_owned")
    current, current_flags = obj, flags
    for depth in range(OWNER_DEPTH + 1):
        here = entry.append_basic_block(f"{name}_owner{depth}")
        further = entry.append_basic_block(f"{name}_base{depth}")
        owns = b.icmp_unsigned("!=", b.and_(current_flags, ir.Constant(I32, OWNDATA)), ir.Constant(I32, 0))
        b.cbranch(owns, here, further)
        b.position_at_end(here)
        b.store(current, slot)
        b.branch(found)
        b.position_at_end(further)
        if depth == OWNER_DEPTH:
            b.branch(decline)
            break
        base = _field(b, current, layout.base, PTR, f"{name}_base")
        has_base = entry.append_basic_block(f"{name}_has_base{depth}")
        b.cbranch(b.icmp_unsigned("!=", base, ir.Constant(PTR, None)), has_base, decline)
        b.position_at_end(has_base)
        typed = entry.append_basic_block(f"{name}_array{depth}")
        b.cbranch(an_array(base, f"{name}_base{depth}"), typed, decline)
        b.position_at_end(typed)
        current = base
        current_flags = _field(b, base, layout.flags, I32, f"{name}_base_flags")
    b.position_at_end(found)
