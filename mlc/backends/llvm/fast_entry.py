"""One native function, built once per process, that Python calls as a builtin to check a
call's arguments and run a graph's ``main``: a jitted call's cache hit.

A ctypes call costs some 300 ns (its arguments converted, the GIL released and taken
again), a third of a jitted call of ``a + b`` on small arrays, and Python's checks of the
arrays as much again. ``@__mlc_fast_call(ptr self, ptr args, i64 nargs)`` is a function in
CPython's ``METH_FASTCALL`` convention; :func:`fast_entry` makes a builtin of it for one main
(:func:`mlc.runtime.fast_calls.python_function`) whose ``self`` is a bytes object, the
*descriptor*, holding what the call must be (64-bit words): the number of parameters, main's
address, the two array types, how the output is made (NumPy's ``PyArray_New``, the address of
``PyObject_CallNoArgs`` and a Python function of no arguments or 0, the output's type
number), how a Python int is read (``PyLong_AsLongLongAndOverflow``) and what ``True`` is,
how many of the last inputs may come by keyword and how a dict is read (``PyDict_GetItem``,
``PyDict_Size``, the dict type), the tuple type; then for each parameter its dtype object, rank, required
flags and :data:`MAX_DIMS` extents, or, for a Python number passed by value, its type,
:data:`SCALAR` and how its value is read; then the keyword names (str objects the builtin
keeps). The function finds each input (positional, or, where the call passes a tuple and a
dict, ``fast((x,), {"y": y})``, the tuple's items, then the dict's item of each name), checks an
array as the checked entry does (:func:`~.entries.emit_array_check`, reading NumPy's object
layout :data:`~mlc.runtime.pointers.ARRAY_LAYOUT`) and a number by its exact type, copying
its value to the stack (a 0-d buffer of main), then makes the output (``PyArray_New`` at
the last parameter's extents, or the Python function where the output must be aligned
further than NumPy aligns) and runs main::

    fast = fast_entry(compiled address of main, main's PrimFunc)
    out = fast(x, 1.5)            # ran main(x.data, &1.5, out.data) on a new out
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
from .entries import MAX_DIMS, SLOTS, emit_array_check, load_field, parameter_words, require as branch_unless
from .jit import UnitBuild, target_layout
from .types import I32, I64, PTR

__all__ = ["fast_entry", "fast_call_ir", "descriptor", "MAX_PARAMS", "MAX_DIMS", "SYMBOL", "SCALAR",
           "BY_VALUE"]

#: The most parameters (arrays) of a main with a fast entry.
MAX_PARAMS = 16
#: The native function's symbol.
SYMBOL = "__mlc_fast_call"

#: words before the parameters: count, main's address, the two array types, PyArray_New,
#: PyObject_CallNoArgs, the output's maker (or 0), the output's type number,
#: PyLong_AsLongLongAndOverflow, True, the number of inputs that may come by keyword,
#: PyDict_GetItem, PyDict_Size, the dict type, the tuple type
_HEAD = 15

#: The rank word of a parameter passed as a Python number, by value (no array matches it).
SCALAR = -2
#: How the value of a Python number of each type is read, and the dtype of main's 0-d
#: parameter it fills (NumPy 2's weak scalars: :data:`mlc.tracer.arguments.WEAK_DTYPES`).
_FLOAT, _COMPLEX, _INT, _BOOL = 1, 2, 3, 4
BY_VALUE = {float: (_FLOAT, "float64"), complex: (_COMPLEX, "complex128"), int: (_INT, "int64"),
            bool: (_BOOL, "bool")}

_LOCK = threading.Lock()
_BUILT: list = []  # [(the compiled module, the function's address)] once built


def descriptor(main_address: int, specs, new_output=None, scalars=(), keywords=()) -> bytes:
    """The descriptor of a main at ``main_address`` whose parameters have the (NumPy dtype,
    static shape) ``specs``; the last parameter is the output, made by ``new_output()``
    where that is given, else by NumPy's ``PyArray_New``. ``scalars``: for each input the
    Python number type (a key of :data:`BY_VALUE`) passed by value in its place, or None
    for an array (none given: arrays only); ``keywords``: the names by which the last
    inputs may come (each a str the caller keeps alive)."""
    maker = 0 if new_output is None else id(new_output)
    words = [len(specs), main_address, id(np.ndarray), id(NDArray), fast_calls.ARRAY_NEW or 0,
             fast_calls.CALL_NO_ARGS or 0, maker, specs[-1][0].num, fast_calls.LONG_AS_INT64 or 0, id(True),
             len(keywords), fast_calls.DICT_GET_ITEM or 0, fast_calls.DICT_SIZE or 0, id(dict), id(tuple)]
    for n, (dtype, shape) in enumerate(specs):
        kind = scalars[n] if n < len(scalars) else None
        if kind is None:
            words += parameter_words(dtype, shape, C_CONTIGUOUS)
        else:
            words += [id(kind), SCALAR, BY_VALUE[kind][0]] + [0] * (SLOTS - 3)
    words += [id(name) for name in keywords]
    return struct.pack(f"<{len(words)}q", *words)


def _by_value_fits(specs, scalars) -> bool:
    """Whether each input ``scalars`` passes by value is a 0-d parameter of the dtype its
    Python type fills (:data:`BY_VALUE`), and reading numbers in place is possible here."""
    if not any(kind is not None for kind in scalars):
        return True
    if fast_calls.FLOAT_VALUE is None or len(scalars) != len(specs) - 1:
        return False
    return all(kind is None or (kind in BY_VALUE and shape == () and dtype == np.dtype(BY_VALUE[kind][1]))
               for kind, (dtype, shape) in zip(scalars, specs))


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
    """``entry(new_output, scalars=(), keywords=())``: (builtin, descriptor, what the builtin
    keeps alive) of one main, made the first time it is asked for (a jitted signature's first
    cache hit: a first call makes no builtin, and the process builds the native function at
    its first hit), or None where this interpreter allows no builtin. ``new_output``: the
    Python function making main's output, or None where NumPy's ``PyArray_New`` makes it;
    ``scalars`` and ``keywords``: the Python numbers passed by value and the names the last
    inputs may come by (:func:`descriptor`). The caller keeps main's code loaded while the
    builtin lives."""

    __slots__ = ("main_address", "func", "target", "_made")

    def __init__(self, main_address: int, func: PrimFunc, target: Target):
        self.main_address, self.func, self.target = main_address, func, target
        self._made: dict = {}

    def __call__(self, new_output=None, scalars=(), keywords=()):
        how = (scalars, keywords)
        made = self._made.get(how)
        if made is None:
            dtypes = [np.dtype(p.dtype) for p in self.func.params]
            shapes = [tuple(e.value for e in p.shape) for p in self.func.params]
            specs = list(zip(dtypes, shapes))
            fast = None
            if _by_value_fits(specs, scalars) and len(keywords) < len(specs):
                marker = descriptor(self.main_address, specs, new_output, scalars, keywords)
                fast = fast_calls.python_function(_function_address(self.target), marker)
            made = self._made[how] = (None if fast is None else (fast, marker, (dtypes, new_output, keywords)),)
        return made[0]


def _function_address(target: Target) -> int:
    """The address of the native function, built (unoptimised) the first time."""
    with _LOCK:
        if not _BUILT:
            build = UnitBuild(target)
            build.submit(fast_call_ir(*target_layout(target), ARRAY_LAYOUT, fast_calls.BYTES_OFFSET,
                                      fast_calls.FLOAT_VALUE or 0), quick=True)
            compiled = build.finish([SYMBOL])
            _BUILT.append((compiled, compiled.address(SYMBOL)))
        return _BUILT[0][1]


def fast_call_ir(triple: str, data_layout: str, layout: ArrayLayout, bytes_offset: int, value_offset: int) -> str:
    """LLVM IR text of ``@__mlc_fast_call`` (module docstring), for NumPy's object ``layout``,
    a bytes object's data ``bytes_offset`` bytes into it and a float's value ``value_offset``
    bytes into it (a complex's two parts there too, a tuple's length, its items after it)."""
    module = ir.Module(name="mlc_fast_call")
    module.triple, module.data_layout = triple, data_layout
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR, PTR, I64]), name=SYMBOL)
    self_obj, args, nargs = fn.args
    self_obj.name, args.name, nargs.name = "self", "args", "nargs"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    decline = fn.append_basic_block("decline")
    pointers = b.alloca(PTR, size=ir.Constant(I64, MAX_PARAMS), name="pointers")
    objects = b.alloca(PTR, size=ir.Constant(I64, MAX_PARAMS), name="objects")
    values = b.alloca(I64, size=ir.Constant(I64, 2 * MAX_PARAMS), name="values")  # numbers passed by value
    overflow = b.alloca(I32, name="overflow")
    counters = {name: b.alloca(I64, name=name) for name in ("p", "q")}
    words = b.gep(self_obj, [ir.Constant(I64, bytes_offset)], source_etype=ir.IntType(8), name="descriptor")
    null = ir.Constant(PTR, None)

    def word(k):
        return b.load(b.gep(words, [k if isinstance(k, ir.Value) else ir.Constant(I64, k)], source_etype=I64),
                      typ=I64)

    def require(condition, name):  # (in this function's blocks, declining to ``decline``)
        branch_unless(b, fn, condition, decline, name)

    @contextmanager
    def counting(name, limit):  # for name in range(limit): the with block's body
        slot = counters[name]
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

    def item(array, k):
        return b.load(b.gep(array, [k], source_etype=PTR), typ=PTR)

    count = word(0)
    inputs = b.sub(count, ir.Constant(I64, 1))
    # the inputs: a call's (positional tuple, keyword dict), the last word(10) inputs found in the
    # dict by name; or every one positional
    maybe_keyed, keyed, positional, gathering = (fn.append_basic_block(name) for name in (
        "maybe_keyed", "keyed", "positional", "gathering"))
    n_keywords = word(10)
    b.cbranch(b.and_(b.icmp_signed(">", n_keywords, ir.Constant(I64, 0)), b.icmp_signed("==", nargs, ir.Constant(I64, 2))),
              maybe_keyed, positional)
    b.position_at_end(maybe_keyed)  # (a tuple or a dict is no parameter's argument)
    given, keywords = item(args, ir.Constant(I64, 0)), item(args, ir.Constant(I64, 1))
    is_tuple = b.icmp_unsigned("==", b.ptrtoint(load_field(b, given, layout.type, PTR), I64), word(14))
    is_dict = b.icmp_unsigned("==", b.ptrtoint(load_field(b, keywords, layout.type, PTR), I64), word(13))
    b.cbranch(b.and_(is_tuple, is_dict), keyed, positional)
    b.position_at_end(keyed)
    n_given = load_field(b, given, value_offset, I64, "n_given")
    require(b.icmp_signed("==", b.add(n_given, n_keywords), inputs), "keyed_counted")
    dict_size = b.call(b.inttoptr(word(12), ir.FunctionType(I64, [PTR]).as_pointer()), [keywords])
    require(b.icmp_signed("==", dict_size, n_keywords), "keyed_sized")
    given_items = b.gep(given, [ir.Constant(I64, value_offset + 8)], source_etype=ir.IntType(8))
    keyed_block = b.block
    b.branch(gathering)
    b.position_at_end(positional)
    require(b.icmp_signed("==", nargs, inputs), "counted")
    positional_block = b.block
    b.branch(gathering)
    b.position_at_end(gathering)
    n_positional = b.phi(I64, name="n_positional")
    n_positional.add_incoming(inputs, positional_block)
    n_positional.add_incoming(n_given, keyed_block)
    items = b.phi(PTR, name="items")
    items.add_incoming(args, positional_block)
    items.add_incoming(given_items, keyed_block)
    named = b.phi(PTR, name="named")
    named.add_incoming(null, positional_block)
    named.add_incoming(keywords, keyed_block)
    names_at = b.sub(b.add(ir.Constant(I64, _HEAD), b.mul(count, ir.Constant(I64, SLOTS))), n_positional)
    get_item = b.inttoptr(word(11), ir.FunctionType(PTR, [PTR, PTR]).as_pointer())
    with counting("p", inputs) as p:  # objects[p]: args[p], or the dict's item of its name
        positional, by_name, found = (fn.append_basic_block(f"p_{part}") for part in ("positional", "by_name", "found"))
        b.cbranch(b.icmp_signed("<", p, n_positional), positional, by_name)
        b.position_at_end(positional)
        b.store(item(items, p), b.gep(objects, [p], source_etype=PTR))
        b.branch(found)
        b.position_at_end(by_name)  # PyDict_GetItem(named, name): a borrowed reference, or NULL
        obj = b.call(get_item, [named, b.inttoptr(word(b.add(names_at, p)), PTR)])
        require(b.icmp_unsigned("!=", obj, null), "p_named")
        b.store(obj, b.gep(objects, [p], source_etype=PTR))
        b.branch(found)
        b.position_at_end(found)
    with counting("q", inputs) as p:  # check objects[p], keep its data pointer (or its value's)
        obj = item(objects, p)
        at = b.add(ir.Constant(I64, _HEAD), b.mul(p, ir.Constant(I64, SLOTS)))
        array, number, checked = (fn.append_basic_block(f"q_{part}") for part in ("array", "number", "checked"))
        b.cbranch(b.icmp_signed("==", word(b.add(at, ir.Constant(I64, 1))), ir.Constant(I64, SCALAR)), number, array)
        b.position_at_end(array)
        emit_array_check(b, fn, decline, layout, obj, word, 2, at, "arg")
        b.store(load_field(b, obj, layout.data, PTR), b.gep(pointers, [p], source_etype=PTR))
        b.branch(checked)
        b.position_at_end(number)  # a Python number of exactly the type made for: its value, by value
        require(b.icmp_unsigned("==", b.ptrtoint(load_field(b, obj, layout.type, PTR), I64), word(at)), "q_typed")
        value = b.gep(values, [b.mul(p, ir.Constant(I64, 2))], source_etype=I64)
        b.store(value, b.gep(pointers, [p], source_etype=PTR))
        kinds = {kind: fn.append_basic_block(f"q_{name}") for kind, name in
                 ((_FLOAT, "float"), (_COMPLEX, "complex"), (_INT, "int"), (_BOOL, "bool"))}
        switch = b.switch(word(b.add(at, ir.Constant(I64, 2))), decline)
        for kind, block in kinds.items():
            switch.add_case(ir.Constant(I64, kind), block)
        b.position_at_end(kinds[_FLOAT])
        b.store(load_field(b, obj, value_offset, I64), value)
        b.branch(checked)
        b.position_at_end(kinds[_COMPLEX])
        b.store(load_field(b, obj, value_offset, I64), value)
        b.store(load_field(b, obj, value_offset + 8, I64), b.gep(value, [ir.Constant(I64, 1)], source_etype=I64))
        b.branch(checked)
        b.position_at_end(kinds[_INT])  # PyLong_AsLongLongAndOverflow(obj, &overflow): past int64, declined
        as_int64 = ir.FunctionType(I64, [PTR, PTR]).as_pointer()
        b.store(b.call(b.inttoptr(word(8), as_int64), [obj, overflow]), value)
        require(b.icmp_signed("==", b.load(overflow, typ=I32), ir.Constant(I32, 0)), "q_int64")
        b.branch(checked)
        b.position_at_end(kinds[_BOOL])
        b.store(b.zext(b.icmp_unsigned("==", b.ptrtoint(obj, I64), word(9)), I64), value)  # (little-endian: its first byte)
        b.branch(checked)
        b.position_at_end(checked)
    # the output: PyArray_New(ndarray, rank, extents, type number, NULL, NULL, 0, 0, NULL), or
    # PyObject_CallNoArgs(maker); NULL (an exception raised) is handed on
    at = b.add(ir.Constant(I64, _HEAD), b.mul(inputs, ir.Constant(I64, SLOTS)))
    maker = word(6)
    by_numpy, by_maker, made = (fn.append_basic_block(name) for name in ("by_numpy", "by_maker", "made"))
    b.cbranch(b.icmp_unsigned("==", maker, ir.Constant(I64, 0)), by_numpy, by_maker)
    b.position_at_end(by_numpy)
    new_type = ir.FunctionType(PTR, [PTR, I32, PTR, I32, PTR, PTR, I32, I32, PTR])
    extents = b.gep(words, [b.add(at, ir.Constant(I64, 3))], source_etype=I64)
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
