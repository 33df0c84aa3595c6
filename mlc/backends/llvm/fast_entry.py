"""One native function, built once per process, that Python calls as a builtin to check a
call's arrays and run a graph's ``main``: a jitted call's cache hit.

A ctypes call costs some 300 ns (its arguments converted, the GIL released and taken
again), a third of a jitted call of ``a + b`` on small arrays, and Python's checks of the
arrays as much again. ``@__mlc_fast_call(ptr self, ptr args, i64 nargs)`` is a function in
CPython's ``METH_FASTCALL`` convention; :func:`fast_entry` makes a builtin of it for one
main (:func:`mlc.runtime.fast_calls.python_function`) whose ``self`` is a bytes object, the
*descriptor*, holding what the call must be (64-bit words): the number of parameters,
main's address, the two array types, then for each parameter its dtype object, rank,
required flags and :data:`MAX_DIMS` extents. The function reads each argument's fields
from NumPy's object layout (:data:`~mlc.runtime.pointers.ARRAY_LAYOUT`) and compares::

    fast = fast_entry(compiled address of main, main's PrimFunc)
    out = np.empty(...)
    if fast(x, y, out) is out:   # ran main(x.data, y.data, out.data)
        return out
    # else it ran nothing and returned its descriptor: take the checks in Python

So a build adds no code for it (one function for every main of the process, compiled
once, unoptimised, at the first), and a main's builtin is a bytes object and a function
object made at load. The builtin runs holding the GIL, so mains qualify only where their
arrays are small (:data:`mlc.runtime.fast_calls.MAX_BYTES`) and their parameters few
(:data:`MAX_PARAMS`).
"""
from __future__ import annotations

import math
import struct
import threading
from contextlib import contextmanager

import numpy as np
from llvmlite import ir

from ...ir import dtype as dt
from ...ir.tir import PrimFunc
from ...runtime import fast_calls
from ...runtime.arguments import C_CONTIGUOUS, WRITEABLE
from ...runtime.ndarray import NDArray
from ...runtime.pointers import ARRAY_LAYOUT, ArrayLayout
from ...target import Target
from .jit import UnitBuild, target_layout
from .types import I32, I64, PTR

__all__ = ["fast_entry", "fast_call_ir", "descriptor", "MAX_PARAMS", "MAX_DIMS", "SYMBOL"]

#: The most parameters (arrays) of a main with a fast entry.
MAX_PARAMS = 16
#: The most dimensions of a parameter of a main with a fast entry.
MAX_DIMS = 8
#: The native function's symbol.
SYMBOL = "__mlc_fast_call"

_HEAD = 4  # words before the parameters: count, main's address, the two array types
_SLOTS = 3 + MAX_DIMS  # words a parameter: dtype object, rank, required flags, extents

_LOCK = threading.Lock()
_BUILT: list = []  # [(the compiled module, the function's address)] once built


def descriptor(main_address: int, specs) -> bytes:
    """The descriptor of a main at ``main_address`` whose parameters have the (NumPy dtype,
    static shape) ``specs``; the last parameter is written (the output)."""
    words = [len(specs), main_address, id(np.ndarray), id(NDArray)]
    for n, (dtype, shape) in enumerate(specs):
        flags = C_CONTIGUOUS | (WRITEABLE if n == len(specs) - 1 else 0)
        words += [id(dtype), len(shape), flags, *shape, *[0] * (MAX_DIMS - len(shape))]
    return struct.pack(f"<{len(words)}q", *words)


def qualifies(func: PrimFunc) -> bool:
    """Whether main ``func`` may have a fast entry: static shapes of at most MAX_DIMS
    dimensions, at most MAX_PARAMS parameters, holding at most ``fast_calls.MAX_BYTES``."""
    if not 0 < len(func.params) <= MAX_PARAMS or fast_calls.BYTES_OFFSET is None or ARRAY_LAYOUT is None:
        return False
    total = 0
    for p in func.params:
        if len(p.shape) > MAX_DIMS or not all(isinstance(getattr(e, "value", None), int) for e in p.shape):
            return False
        total += dt.bits(p.dtype) // 8 * math.prod(e.value for e in p.shape)
    return total <= fast_calls.MAX_BYTES


def fast_entry(main_address: int, func: PrimFunc, target: Target):
    """A :class:`FastEntry` of main ``func`` loaded at ``main_address``, or None where it
    does not :func:`qualify <qualifies>`."""
    return FastEntry(main_address, func, target) if qualifies(func) else None


class FastEntry:
    """``entry()``: (builtin, the dtypes its descriptor names) of one main, made the first
    time it is asked for (a jitted signature's first cache hit: a first call makes no
    builtin, and the process builds the native function at its first hit), or None where
    this interpreter allows no builtin. The caller keeps main's code loaded while the
    builtin lives."""

    __slots__ = ("main_address", "func", "target", "_made")

    def __init__(self, main_address: int, func: PrimFunc, target: Target):
        self.main_address, self.func, self.target = main_address, func, target
        self._made = None

    def __call__(self):
        if self._made is None:
            dtypes = [np.dtype(p.dtype) for p in self.func.params]
            shapes = [tuple(e.value for e in p.shape) for p in self.func.params]
            fast = fast_calls.python_function(_function_address(self.target),
                                              descriptor(self.main_address, list(zip(dtypes, shapes))))
            self._made = (None if fast is None else (fast, dtypes),)
        return self._made[0]


def _function_address(target: Target) -> int:
    """The address of the native function, built (unoptimised) the first time."""
    with _LOCK:
        if not _BUILT:
            build = UnitBuild(target)
            build.submit(fast_call_ir(*target_layout(target), ARRAY_LAYOUT, fast_calls.BYTES_OFFSET), quick=True)
            compiled = build.finish([SYMBOL])
            _BUILT.append((compiled, compiled.address(SYMBOL)))
        return _BUILT[0][1]


def fast_call_ir(triple: str, data_layout: str, layout: ArrayLayout, bytes_offset: int) -> str:
    """LLVM IR text of ``@__mlc_fast_call`` (module docstring), for NumPy's object ``layout``
    and a bytes object's data ``bytes_offset`` bytes into it."""
    module = ir.Module(name="mlc_fast_call")
    module.triple, module.data_layout = triple, data_layout
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR, PTR, I64]), name=SYMBOL)
    self_obj, args, nargs = fn.args
    self_obj.name, args.name, nargs.name = "self", "args", "nargs"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    decline = fn.append_basic_block("decline")
    pointers = b.alloca(PTR, size=ir.Constant(I64, MAX_PARAMS), name="pointers")
    words = b.gep(self_obj, [ir.Constant(I64, bytes_offset)], source_etype=ir.IntType(8), name="descriptor")

    def word(k):
        return b.load(b.gep(words, [k if isinstance(k, ir.Value) else ir.Constant(I64, k)], source_etype=I64),
                      typ=I64)

    def field(obj, offset, typ):
        return b.load(b.gep(obj, [ir.Constant(I64, offset)], source_etype=ir.IntType(8)), typ=typ)

    def require(condition, name):
        passed = fn.append_basic_block(name)
        b.cbranch(condition, passed, decline)
        b.position_at_end(passed)

    @contextmanager
    def counting(name, limit):  # for name in range(limit): the with block's body
        slot = b.alloca(I64, name=name)
        b.store(ir.Constant(I64, 0), slot)
        head, body, done = (fn.append_basic_block(f"{name}_{part}") for part in ("test", "body", "done"))
        b.branch(head)
        b.position_at_end(head)
        i = b.load(slot, typ=I64)
        b.cbranch(b.icmp_signed("<", i, limit), body, done)
        b.position_at_end(body)
        yield i
        b.store(b.add(i, ir.Constant(I64, 1)), slot)
        b.branch(head)
        b.position_at_end(done)

    count = word(0)
    require(b.icmp_signed("==", nargs, count), "counted")
    with counting("p", count) as p:  # check args[p], keep its data pointer
        obj = b.load(b.gep(args, [p], source_etype=PTR), typ=PTR)
        kind = b.ptrtoint(field(obj, layout.type, PTR), I64)
        require(b.or_(b.icmp_unsigned("==", kind, word(2)), b.icmp_unsigned("==", kind, word(3))), "array")
        at = b.add(ir.Constant(I64, _HEAD), b.mul(p, ir.Constant(I64, _SLOTS)))
        rank = word(b.add(at, ir.Constant(I64, 1)))
        need = b.trunc(word(b.add(at, ir.Constant(I64, 2))), I32)
        ok = b.icmp_unsigned("==", b.ptrtoint(field(obj, layout.descr, PTR), I64), word(at))
        ok = b.and_(ok, b.icmp_signed("==", b.sext(field(obj, layout.nd, I32), I64), rank))
        ok = b.and_(ok, b.icmp_unsigned("==", b.and_(field(obj, layout.flags, I32), need), need))
        require(ok, "described")
        dims = field(obj, layout.dimensions, PTR)
        with counting("d", rank) as d:
            got = b.load(b.gep(dims, [d], source_etype=I64), typ=I64)
            require(b.icmp_signed("==", got, word(b.add(b.add(at, ir.Constant(I64, 3)), d))), "extent_ok")
        b.store(field(obj, layout.data, PTR), b.gep(pointers, [p], source_etype=PTR))
    # main(pointers[0], ..., pointers[count - 1]), one call site per count
    main = word(1)
    loaded = [b.load(b.gep(pointers, [ir.Constant(I64, k)], source_etype=PTR), typ=PTR) for k in range(MAX_PARAMS)]
    ran = fn.append_basic_block("ran")
    switch = b.switch(count, decline)
    for n in range(1, MAX_PARAMS + 1):
        block = fn.append_basic_block(f"call{n}")
        switch.add_case(ir.Constant(I64, n), block)
        b.position_at_end(block)
        callee = b.inttoptr(main, ir.FunctionType(ir.VoidType(), [PTR] * n).as_pointer())  # (its type: the call's)
        b.call(callee, loaded[:n])
        b.branch(ran)
    b.position_at_end(ran)
    out = b.load(b.gep(args, [b.sub(count, ir.Constant(I64, 1))], source_etype=PTR), typ=PTR)
    for block, obj in ((ran, out), (decline, self_obj)):
        b.position_at_end(block)
        refs = b.load(obj, typ=I64)  # ob_refcnt, the object's first field: Py_INCREF
        b.store(b.add(refs, ir.Constant(I64, 1)), obj)
        b.ret(obj)
    return str(module)
