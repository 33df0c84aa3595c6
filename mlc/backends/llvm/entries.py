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
call takes the Python checks. The checks of one array (:func:`emit_array_check`, against
a parameter's :func:`parameter_words`) are those of the fast entry of a jitted call's cache
hit too (:mod:`.fast_entry`), whose table is a bytes object.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llvmlite import ir

from ...runtime.arguments import C_CONTIGUOUS, OWNDATA, OWNER_DEPTH, WRITEABLE
from ...runtime.ndarray import NDArray
from ...runtime.pointers import ArrayLayout
from .types import I32, I64, PTR

__all__ = ["emit_checked_entry", "emit_array_check", "is_array", "load_field", "require", "expected_objects",
           "parameter_words", "required_flags", "table_symbol", "MAX_DIMS", "SLOTS"]


def table_symbol(entry: str) -> str:
    """The symbol of the expectation table of the checked entry ``entry``."""
    return f"{entry}__expect"


#: The most dimensions a table describes for one parameter; an array of more is never
#: taken by a native check (its expected rank is left at -1).
MAX_DIMS = 8
#: Table words a parameter takes (:func:`parameter_words`).
SLOTS = 3 + MAX_DIMS


def parameter_words(dtype: np.dtype, shape: tuple, flags: int) -> list[int]:
    """The :data:`SLOTS` table words of a parameter of ``dtype``, ``shape`` (None where an
    extent is not known) and required ``flags``: its dtype object (``arg.dtype is dtype`` in
    Python is this pointer comparison), rank, flags and extents; the rank is -1 (no array
    matches) where the shape is not known or has more than MAX_DIMS dimensions."""
    known = len(shape) <= MAX_DIMS and None not in shape
    dims = list(shape) if known else []
    return [id(dtype), len(shape) if known else -1, flags, *dims, *([0] * (MAX_DIMS - len(dims)))]


def expected_objects(specs: Sequence[tuple[np.dtype, tuple[int, ...], int]]) -> list[int]:
    """The table's entries for parameters of (dtype, shape, required flags) ``specs``: the two
    array types an argument may be, then each parameter's :func:`parameter_words`."""
    table = [id(np.ndarray), id(NDArray)]
    for spec in specs:
        table += parameter_words(*spec)
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
    size = 2 + SLOTS * n
    table = ir.GlobalVariable(module, ir.ArrayType(I64, size), name=table_symbol(entry.name))
    table.initializer = ir.Constant(ir.ArrayType(I64, size), None)  # written by the loader
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    decline = entry.append_basic_block("decline")
    owner_slots = [b.alloca(PTR, name=f"{arg.name}_owner") for arg in fn.args]

    def expected(k):  # the table's word k (an int, or an i64 value)
        index = k if isinstance(k, ir.Value) else ir.Constant(I64, k)
        return b.load(b.gep(table, [ir.Constant(I64, 0), index], source_etype=ir.ArrayType(I64, size)), typ=I64)

    # the pairs whose owners must differ, as the Python check asks (never looser): any pair
    # with a written argument in it
    pairs = [(m, k) for m in range(n) for k in range(m + 1, n) if m in written or k in written] if noalias else []
    aliasing = bool(pairs)
    flags = []
    for p, (obj, arg) in enumerate(zip(entry.args, fn.args)):
        obj.name = f"{arg.name}_object"
        flags.append(emit_array_check(b, entry, decline, layout, obj, expected, 0, 2 + SLOTS * p, arg.name))
    if aliasing:
        for p, (obj, arg) in enumerate(zip(entry.args, fn.args)):
            _find_owner(b, entry, decline, layout, obj, flags[p], owner_slots[p], expected, arg.name)
        owners = [b.load(slot, typ=PTR) for slot in owner_slots]
        distinct = None
        for m, k in pairs:
            ne = b.icmp_unsigned("!=", owners[m], owners[k])
            distinct = ne if distinct is None else b.and_(distinct, ne)
        require(b, entry, distinct, decline, "distinct")
    pointers = [load_field(b, obj, layout.data, PTR, arg.name) for obj, arg in zip(entry.args, fn.args)]
    b.call(fn, pointers, attrs=("noinline",))  # the body stays in fn, compiled once
    b.ret(ir.Constant(I32, 0))
    b.position_at_end(decline)
    b.ret(ir.Constant(I32, 1))
    return entry


def is_array(b: ir.IRBuilder, layout: ArrayLayout, obj, word, types: int, name: str):
    """Whether (an i1) the object at ``obj`` is of one of the two array types, the table's words
    ``types`` and ``types + 1``; ``word(k)`` loads the table's word ``k`` (an int, or an i64
    value where the index is known only at run time)."""
    kind = b.ptrtoint(load_field(b, obj, layout.type, PTR, f"{name}_type"), I64)
    return b.or_(b.icmp_unsigned("==", kind, word(types)), b.icmp_unsigned("==", kind, word(types + 1)))


def emit_array_check(b: ir.IRBuilder, fn: ir.Function, decline, layout: ArrayLayout, obj, word, types, at,
                     name: str):
    """Branch to ``decline`` unless the object at ``obj`` is an array (:func:`is_array`) with
    the dtype object, rank, flags (the required ones at least) and extents of the table's
    :func:`parameter_words` from word ``at`` on (an int, or an i64 value); else go on in a
    new block of ``fn``. Each field of NumPy's object ``layout`` is read once it is known to
    be there (the type first; extents below the rank only: a 0-d array's may be null).
    Returns the object's flags (an i32)."""
    def index(k: int):  # the table's word at + k
        return at + k if isinstance(at, int) else b.add(at, ir.Constant(I64, k))

    require(b, fn, is_array(b, layout, obj, word, types, name), decline, f"{name}_array")
    fl = load_field(b, obj, layout.flags, I32, f"{name}_flags")
    rank = b.sext(load_field(b, obj, layout.nd, I32, f"{name}_ndim"), I64)
    need = b.trunc(word(index(2)), I32)
    ok = b.icmp_unsigned("==", b.ptrtoint(load_field(b, obj, layout.descr, PTR, f"{name}_dtype"), I64), word(at))
    ok = b.and_(ok, b.icmp_signed("==", rank, word(index(1))))
    ok = b.and_(ok, b.icmp_unsigned("==", b.and_(fl, need), need))
    require(b, fn, ok, decline, f"{name}_rank")
    _check_extents(b, fn, decline, load_field(b, obj, layout.dimensions, PTR, f"{name}_dims"), rank,
                   word, index(3), name)
    return fl


def _check_extents(b: ir.IRBuilder, fn: ir.Function, decline, dims, rank, word, first, name: str) -> None:
    """Branch to ``decline`` unless each extent ``d < rank`` of the array's ``dims`` equals the
    table's word ``first + d``; else go on in a new block. A loop over the rank (known to
    equal the table's, at most MAX_DIMS), not one written out per dimension: the entry is
    compiled unoptimised, and every kernel has one."""
    entered = b.block
    head, body, shaped = (fn.append_basic_block(f"{name}_{part}") for part in ("extents", "extent", "shaped"))
    b.branch(head)
    b.position_at_end(head)
    d = b.phi(I64, name=f"{name}_d")
    d.add_incoming(ir.Constant(I64, 0), entered)
    b.cbranch(b.icmp_signed("<", d, rank), body, shaped)
    b.position_at_end(body)
    got = b.load(b.gep(dims, [d], source_etype=I64), typ=I64)
    want = word(b.add(first, d) if isinstance(first, ir.Value) else b.add(d, ir.Constant(I64, first)))
    d.add_incoming(b.add(d, ir.Constant(I64, 1)), body)
    b.cbranch(b.icmp_signed("==", got, want), head, decline)
    b.position_at_end(shaped)


def require(b: ir.IRBuilder, fn: ir.Function, condition, decline, block: str) -> None:
    """Go on in a new block ``block`` of ``fn`` where ``condition`` holds; else to ``decline``."""
    passed = fn.append_basic_block(block)
    b.cbranch(condition, passed, decline)
    b.position_at_end(passed)


def load_field(b: ir.IRBuilder, obj, offset: int, typ, name: str = ""):
    """The ``typ`` field ``offset`` bytes into the object at ``obj``."""
    return b.load(b.gep(obj, [ir.Constant(I64, offset)], source_etype=ir.IntType(8)), name=name, typ=typ)


def _find_owner(b: ir.IRBuilder, entry: ir.Function, decline, layout: ArrayLayout, obj, flags, slot,
                expected, name: str) -> None:
    """Store into ``slot`` the array that owns ``obj``'s memory: ``obj`` if its ``flags`` say
    it owns it, else the first down its chain of bases that does, at most OWNER_DEPTH bases
    down, each an ndarray or NDArray; branch to ``decline`` otherwise. A loop down the chain,
    not one written out per step, as :func:`_check_extents`."""
    entered = b.block
    head, further, step, found = (entry.append_basic_block(f"{name}_{part}")
                                  for part in ("chain", "chain_next", "chain_step", "owned"))
    b.branch(head)
    b.position_at_end(head)
    current = b.phi(PTR, name=f"{name}_current")
    current_flags = b.phi(I32, name=f"{name}_current_flags")
    depth = b.phi(I64, name=f"{name}_depth")
    current.add_incoming(obj, entered)
    current_flags.add_incoming(flags, entered)
    depth.add_incoming(ir.Constant(I64, 0), entered)
    b.store(current, slot)
    owns = b.icmp_unsigned("!=", b.and_(current_flags, ir.Constant(I32, OWNDATA)), ir.Constant(I32, 0))
    b.cbranch(owns, found, further)
    b.position_at_end(further)
    b.cbranch(b.icmp_signed("<", depth, ir.Constant(I64, OWNER_DEPTH)), step, decline)
    b.position_at_end(step)
    base = load_field(b, current, layout.base, PTR, f"{name}_base")
    require(b, entry, b.icmp_unsigned("!=", base, ir.Constant(PTR, None)), decline, f"{name}_has_base")
    require(b, entry, is_array(b, layout, base, expected, 0, f"{name}_base"), decline, f"{name}_base_array")
    current.add_incoming(base, b.block)
    current_flags.add_incoming(load_field(b, base, layout.flags, I32, f"{name}_base_flags"), b.block)
    depth.add_incoming(b.add(depth, ir.Constant(I64, 1)), b.block)
    b.branch(head)
    b.position_at_end(found)
