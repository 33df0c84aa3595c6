"""The ``mlc.numpy`` functions generated from the op registry: one per op that declares a
:class:`~mlc.ops.registry.NumpyAPI` (reductions, ``matmul``, ``dot``, ``expand_dims``, ...).

Each takes NumPy's parameters (the op's ``NumpyAPI.signature``): the array
parameters become the op's inputs (promoted together, NEP 50), ``out`` must
be None, and every other parameter is passed to the op as an attribute. So a
new NumPy function that is a plain function of arrays is one registry entry.

>>> import inspect, numpy as np, mlc
>>> print(inspect.signature(mlc.numpy.sum))
(a, axis=None, dtype=None, out=None, keepdims=False, initial=None)
>>> mlc.numpy.sum(np.arange(6, dtype="int32").reshape(2, 3), axis=1)
array([ 3, 12])
"""
from __future__ import annotations

import ast
import inspect

from ..errors import MLCError, TraceError
from ..ir import dtype as dt
from ..ops.registry import OpDef, get_op, list_ops
from ..tracer.operands import as_tracer, as_tracers
from ._api import emit, hashable, numpy_function

__all__ = ["GENERATED"]


def _signature(op: OpDef) -> inspect.Signature:
    """``op.numpy.signature`` ("(a, axis=None, ...)") as an inspect.Signature."""
    source = f"def f{op.numpy.signature}: pass"
    try:
        node = ast.parse(source).body[0]
    except SyntaxError as err:
        raise MLCError(f"op {op.name}: NumpyAPI signature {op.numpy.signature!r} is not a Python "
                       f"parameter list ({err.msg})") from None
    args = node.args
    if args.vararg or args.kwarg:
        raise MLCError(f"op {op.name}: a NumpyAPI signature takes named parameters only, got "
                       f"{op.numpy.signature!r}")
    kinds = ([(a, inspect.Parameter.POSITIONAL_ONLY) for a in args.posonlyargs]
             + [(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in args.args])
    defaults = [None] * (len(kinds) - len(args.defaults)) + list(args.defaults)
    params = [inspect.Parameter(a.arg, kind, default=inspect.Parameter.empty if d is None else ast.literal_eval(d))
              for (a, kind), d in zip(kinds, defaults)]
    params += [inspect.Parameter(a.arg, inspect.Parameter.KEYWORD_ONLY,
                                 default=inspect.Parameter.empty if d is None else ast.literal_eval(d))
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return inspect.Signature(params)


def _inputs(op: OpDef, sig: inspect.Signature) -> int:
    """How many inputs ``op`` takes: its ``infer``'s parameters without defaults (a fixed count,
    at least one, each with a parameter in NumPy's signature)."""
    params = inspect.signature(op.infer).parameters.values()
    n = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
    if n == 0 or any(p.kind is p.VAR_POSITIONAL for p in params) or n > len(sig.parameters):
        raise MLCError(f"op {op.name}: a NumpyAPI needs an op with a fixed number of inputs (at least "
                       f"one), each a parameter of {op.numpy.signature!r}; use numpy_function instead")
    return n


def _attribute(name: str, value):
    """An argument as the op's attribute: dtypes as NumPy names, keepdims a bool, lists tuples."""
    if name == "dtype":
        return None if value is None else dt.canonical(value)
    if name == "keepdims":
        return bool(value)
    return hashable(value)


def _generate(op: OpDef):
    """The ``mlc.numpy`` function of ``op``, with NumPy's parameters and ``op.numpy.doc``."""
    sig = _signature(op)
    names = list(sig.parameters)
    arrays = names[:_inputs(op, sig)]
    attributes = [n for n in names[len(arrays):] if n != "out"]
    infer = inspect.signature(op.infer).parameters
    keywords = {n for n, p in infer.items() if p.kind is p.KEYWORD_ONLY}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in infer.values())
    if set(attributes) - keywords and not takes_any:
        raise MLCError(f"op {op.name}: NumpyAPI parameters {sorted(set(attributes) - keywords)} are not "
                       f"attributes of the op (its infer takes {sorted(keywords)})")
    name = op.name

    def impl(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as err:  # as Python says it for a def: "sum() got an unexpected ..."
            raise TypeError(f"{name}() {err}") from None
        bound.apply_defaults()
        values = bound.arguments
        if values.get("out") is not None:
            raise TraceError(f"{name}(out=...) is not supported when tracing; use the returned value")
        operands = ([as_tracer(values[arrays[0]])] if len(arrays) == 1
                    else as_tracers([values[a] for a in arrays], op=name))
        return emit(name, operands, **{a: _attribute(a, values[a]) for a in attributes})

    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = op.numpy.doc
    impl.__signature__ = sig
    return numpy_function(*arrays)(impl)


#: op name -> its generated ``mlc.numpy`` function.
GENERATED = {name: _generate(get_op(name)) for name in list_ops() if get_op(name).numpy is not None}
