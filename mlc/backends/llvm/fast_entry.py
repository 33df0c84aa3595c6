"""One native function, built once per process, that Python calls as a builtin to check a
call's arrays and run a graph's ``main``: a jitted call's cache hit.

A ctypes call costs some 300 ns (its arguments converted, the GIL released and taken
again), a third of a jitted call of ``a + b`` on small arrays, and Python's checks of the
arrays as much again. ``@__mlc_fast_call(ptr self, ptr args, i64 nargs)`` is a function in
CPython's ``METH_FASTCALL`` convention; :func:`fast_entry` makes a builtin of it for one
main (:func:`mlc.runtime.fast_calls.python_function`) whose ``self`` is a bytes object, the
*descriptor*, holding what the call must be (64-bit words): the number of parameters,
main's address, the two array types, how the output is made (NumPy's ``PyArray_New``, the
address of ``PyObject_CallNoArgs`` and a Python function of no arguments or 0, the
output's type number), then for each parameter its dtype object, rank, required flags and
:data:`MAX_DIMS` extents. The function checks each input as the checked entry does
(:func:`~.entries.emit_array_check`, reading NumPy's object layout
:data:`~mlc.runtime.pointers.ARRAY_LAYOUT`), then makes the output
(``PyArray_New`` at the last parameter's extents, or the Python function where the output
must be aligned further than NumPy aligns) and runs main::

    fast = fast_entry(compiled address of main, main's PrimFunc)
    out = fast(x, y)              # ran main(x.data, y.data, out.data) on a new out
    if out is not descriptor:
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
from ...runtime.arguments import C_CONTIGUOUS
from ...runtime.ndarray import NDArray
from ...runtime.pointers import ARRAY_LAYOUT, ArrayLayout
from ...target import Target
from .entries import MAX_DIMS, SLOTS, emit_array_check, load_field, parameter_words
from .jit import UnitBuild, target_layout
from .types import I32, I64, PTR

__all__ = ["fast_entry", "fast_call_ir", "descriptor", "MAX_PARAMS", "MAX_DIMS", "SYMBOL"]

#: The most parameters (arrays) of a main with a fast entry.
MAX_PARAMS = 16
#: The native function's symbol.
SYMBOL = "__mlc_fast_call"

#: words before the parameters: count, main's address, the two array types, PyArray_New,
#: PyObject_CallNoArgs, the output's maker (or 0), the output's type number
_HEAD = 8

_LOCK = threading.Lock()
_BUILT: list = []  # [(the compiled module, the function's address)] once built


def descriptor(main_address: int, specs, new_output=None) -> bytes:
    """The descriptor of a main at ``main_address`` whose parameters have the (NumPy dtype,
    static shape) ``specs``; the last parameter is the output, made by ``new_output()``
    where that is given, else by NumPy's ``PyArray_New``."""
    maker = 0 if new_output is None else id(new_output)
    words = [len(specs), main_address, id(np.ndarray), id(NDArray), fast_calls.ARRAY_NEW or 0,
             fast_calls.CALL_NO_ARGS or 0, maker, specs[-1][0].num]
    for dtype, shape in specs:
        words += parameter_words(dtype, shape, C_CONTIGUOUS)
    return struct.pack(f"<{len(words)}q", *words)


def qualifies(func: PrimFunc) -> bool:
    """Whether main ``func`` may have a fast entry: static shapes of at most MAX_DIMS
    dimensions, at most MAX_PARAMS parameters, holding at most ``fast_calls.MAX_BYTES``."""
    if (not 0 < len(func.params) <= MAX_PARAMS or fast_calls.BYTES_OFFSET is None or ARRAY_LAYOUT is None
            or fast_calls.ARRAY_NEW is None or fast_calls.CALL_NO_ARGS is None):
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
    """``entry(new_output)``: (builtin, descriptor, what the builtin keeps alive) of one
    main, made the first time it is asked for (a jitted signature's first cache hit: a
    first call makes no builtin, and the process builds the native function at its first
    hit), or None where this interpreter allows no builtin. ``new_output``: the Python
    function making main's output, or None where NumPy's ``PyArray_New`` makes it. The
    caller keeps main's code loaded while the builtin lives."""

    __slots__ = ("main_address", "func", "target", "_made")

    def __init__(self, main_address: int, func: PrimFunc, target: Target):
        self.main_address, self.func, self.target = main_address, func, target
        self._made = None

    def __call__(self, new_output=None):
        if self._made is None:
            dtypes = [np.dtype(p.dtype) for p in self.func.params]
            shapes = [tuple(e.value for e in p.shape) for p in self.func.params]
            marker = descriptor(self.main_address, list(zip(dtypes, shapes)), new_output)
            fast = fast_calls.python_function(_function_address(self.target), marker)
            self._made = (None if fast is None else (fast, marker, (dtypes, new_output)),)
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
    inputs = b.sub(count, ir.Constant(I64, 1))
    require(b.icmp_signed("==", nargs, inputs), "counted")
    with counting("p", inputs) as p:  # check args[p], keep its data pointer
        obj = b.load(b.gep(args, [p], source_etype=PTR), typ=PTR, name="arg")
        at = b.add(ir.Constant(I64, _HEAD), b.mul(p, ir.Constant(I64, SLOTS)))
        emit_array_check(b, fn, decline, layout, obj, word, 2, at, "arg")
        b.store(load_field(b, obj, layout.data, PTR), b.gep(pointers, [p], source_etype=PTR))
    # the output: PyArray_New(ndarray, rank, extents, type number, NULL, NULL, 0, 0, NULL), or
    # PyObject_CallNoArgs(maker); NULL (an exception raised) is handed on
    at = b.add(ir.Constant(I64, _HEAD), b.mul(inputs, ir.Constant(I64, SLOTS)))
    maker = word(6)
    by_numpy, by_maker, made = (fn.append_basic_block(name) for name in ("by_numpy", "by_maker", "made"))
    b.cbranch(b.icmp_unsigned("==", maker, ir.Constant(I64, 0)), by_numpy, by_maker)
    b.position_at_end(by_numpy)
    new_type = ir.FunctionType(PTR, [PTR, I32, PTR, I32, PTR, PTR, I32, I32, PTR])
    extents = b.gep(words, [b.add(at, ir.Constant(I64, 3))], source_etype=I64)
    null = ir.Constant(PTR, None)
    zero = ir.Constant(I32, 0)
    numpy_out = b.call(b.inttoptr(word(4), new_type.as_pointer()),
                       [b.inttoptr(word(2), PTR), b.trunc(word(b.add(at, ir.Constant(I64, 1))), I32), extents,
                        b.trunc(word(7), I32), null, null, zero, zero, null])
    b.branch(made)
    b.position_at_end(by_maker)
    call_type = ir.FunctionType(PTR, [PTR])
    maker_out = b.call(b.inttoptr(word(5), call_type.as_pointer()), [b.inttoptr(maker, PTR)])
    b.branch(made)
    b.position_at_end(made)
    out = b.phi(PTR, name="out")
    out.add_incoming(numpy_out, by_numpy)
    out.add_incoming(maker_out, by_maker)
    failed, allocated = fn.append_basic_block("failed"), fn.append_basic_block("allocated")
    b.cbranch(b.icmp_unsigned("==", b.ptrtoint(out, I64), ir.Constant(I64, 0)), failed, allocated)
    b.position_at_end(failed)
    b.ret(null)
    b.position_at_end(allocated)
    b.store(load_field(b, out, layout.data, PTR), b.gep(pointers, [inputs], source_etype=PTR))
    # main(pointers[0], ..., pointers[count - 1]), one call site per count
    main = word(1)
    loaded = [b.load(b.gep(pointers, [ir.Constant(I64, k)], source_etype=PTR), typ=PTR) for k in range(MAX_PARAMS)]
    ran = fn.append_basic_block("ran")
    switch = b.switch(count, ran)
    for n in range(1, MAX_PARAMS + 1):
        block = fn.append_basic_block(f"call{n}")
        switch.add_case(ir.Constant(I64, n), block)
        b.position_at_end(block)
        callee = b.inttoptr(main, ir.FunctionType(ir.VoidType(), [PTR] * n).as_pointer())  # (its type: the call's)
        b.call(callee, loaded[:n])
        b.branch(ran)
    b.position_at_end(ran)
    b.ret(out)  # (the new array's one reference: the caller's)
    b.position_at_end(decline)
    refs = b.load(self_obj, typ=I64)  # ob_refcnt, the object's first field: Py_INCREF
    b.store(b.add(refs, ir.Constant(I64, 1)), self_obj)
    b.ret(self_obj)
    return str(module)
