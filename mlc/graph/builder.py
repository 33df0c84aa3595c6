"""BlockBuilder: write the course's graph functions (``R.function``) from Python.

>>> import numpy as np, mlc
>>> from mlc import te
>>> from mlc.graph import BlockBuilder, Tensor, Var
>>> def relu(x):
...     return te.compute(x.shape, lambda *i: te.max(x[i], te.const(0, x.dtype)), name="relu")
>>> bb = BlockBuilder()
>>> x = Var("x", Tensor((1, 4), "float32"))
>>> with bb.function("main", [x]):
...     with bb.dataflow():
...         lv0 = bb.emit_te(relu, x)
...         gv = bb.emit_output(lv0)
...     bb.emit_func_output(gv)
>>> mod = bb.get()
>>> print(mod["main"].script())
@R.function
def main(x: R.Tensor((1, 4), "float32")):
    with R.dataflow():
        gv = R.call_tir(relu, (x,), out_sinfo=R.Tensor((1, 4), "float32"))
        R.output(gv)
    return gv
>>> mlc.build(mod, "llvm")["main"](np.array([[-1, 2, -3, 4]], "float32"))
array([[0., 2., 0., 4.]], dtype=float32)

Expressions a builder emits are :class:`Call` values: ``op("add", x, y)`` (a
registry op, type inferred by its shape rule), ``call_tir(prim_func, args,
out_sinfo)``, ``call_dps_packed("env.linear", args, out_sinfo)``,
``call_te(te_function, *args)`` and ``call_fused(graph, args)``. Their
arguments are graph values (:class:`Var`, :class:`Constant`) or other Calls,
which are emitted first. Every malformed call raises an MLCError subclass
that names the function and binding.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DTypeError, IRError, MLCError, ShapeError
from ..ir import dtype as dt
from ..ir import te
from ..ir.expr import IntImm, PrimExpr
from ..ir.expr import Var as ExprVar
from ..ir.graph import Binding, Constant, Graph, Var, constant
from ..ir.structural import structural_equal
from ..ir.tir import PrimFunc
from ..ops.registry import TensorType, get_op
from .module import GraphModule

__all__ = ["BlockBuilder", "Call", "TECall", "Tensor", "shape_var", "op", "call_tir", "call_dps_packed", "call_te",
           "call_fused", "Var", "Constant"]


_SYMBOLS: dict[str, ExprVar] = {}


def shape_var(name: str) -> ExprVar:
    """The symbolic dimension named ``name``: the same variable wherever the name is used, so
    ``Tensor(("n", 4))`` and ``Tensor(("n", 8))`` share their first dimension."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ShapeError(f"Tensor: a symbolic dimension is named by an identifier, got {name!r}")
    return _SYMBOLS.setdefault(name, ExprVar(name, dt.INDEX))


def _dim(d):
    if isinstance(d, str):
        return shape_var(d)
    if isinstance(d, PrimExpr):
        return d.value if isinstance(d, IntImm) else d
    return int(d)


def Tensor(shape: Sequence[int | str], dtype: str = "float32") -> TensorType:
    """``R.Tensor((1, 784), "float32")``: the type of a graph value. A dimension may be
    symbolic: a name (``Tensor(("n", 784))``, one variable per name) or a ``te.var``; a
    function built with such inputs runs for every size (one build)."""
    try:
        shape = tuple(_dim(d) for d in shape)
    except ShapeError:
        raise
    except (TypeError, ValueError):
        raise ShapeError(f"Tensor: shape must be a sequence of ints or dimension names, got {shape!r}") from None
    if any(isinstance(d, int) and d < 0 for d in shape):
        raise ShapeError(f"Tensor: shape {shape} has a negative dimension")
    return TensorType(shape, dt.canonical(dtype))


@dataclass(frozen=True, eq=False)
class Call:
    """An expression to emit: ``op(*args, **attrs)``; ``out_types`` for the forms that
    declare their results (call_tir, call_dps_packed, fused), None for registry ops."""
    op: str
    args: tuple
    attrs: tuple[tuple[str, Any], ...] = ()
    out_types: tuple[TensorType, ...] | None = None


@dataclass(frozen=True, eq=False)
class TECall:
    """``call_te(te_function, *args)``: emitted as a new PrimFunc and a call_tir of it."""
    func: Callable
    args: tuple
    kwargs: tuple[tuple[str, Any], ...] = ()
    name_hint: str | None = None


def _sinfo(out_sinfo, what: str) -> tuple[TensorType, ...]:
    items = out_sinfo if isinstance(out_sinfo, (list, tuple)) and not isinstance(out_sinfo, TensorType) \
        else [out_sinfo]
    types = []
    for t in items:
        t = getattr(t, "type", t)  # a Var stands for its type
        if not isinstance(t, TensorType):
            raise IRError(f"{what}: out_sinfo must be Tensor(shape, dtype) or a list of them, got {t!r}")
        types.append(t)
    if not types:
        raise IRError(f"{what}: out_sinfo declares no result")
    return tuple(types)


def op(name: str, *args, **attrs) -> Call:
    """A call of registry op ``name`` (``op("nn.dense", x, w)``, ``op("add", a, b)``)."""
    get_op(name)  # raises naming the unknown op
    return Call(get_op(name).name, tuple(args), tuple(sorted(attrs.items())))


def call_tir(func: PrimFunc | str, args, out_sinfo) -> Call:
    """``R.call_tir(func, args, out_sinfo)``: call a PrimFunc, destination passing."""
    args = tuple(args) if isinstance(args, (list, tuple)) else (args,)
    return Call("call_tir", args, (("func", func),), _sinfo(out_sinfo, "call_tir"))


def call_dps_packed(name: str, args, out_sinfo) -> Call:
    """``R.call_dps_packed("env.linear", args, out_sinfo)``: call a library function
    registered with :func:`mlc.register_func`, destination passing."""
    if not isinstance(name, str):
        raise IRError(f"call_dps_packed: the function must be named by a string, got {name!r}")
    args = tuple(args) if isinstance(args, (list, tuple)) else (args,)
    return Call("call_dps_packed", args, (("func", name),), _sinfo(out_sinfo, f"call_dps_packed({name!r})"))


def call_te(func: Callable, *args, primfunc_name_hint: str | None = None, **kwargs) -> TECall:
    """``bb.call_te``: a te function of graph values, emitted through :meth:`BlockBuilder.emit_te`."""
    return TECall(func, args, tuple(kwargs.items()), primfunc_name_hint)


def call_fused(func: Graph, args, name: str | None = None) -> Call:
    """A call of graph function ``func`` as one fused kernel (the course's function with
    ``{"Primitive": True}``): FuseTIR lowers it to one PrimFunc."""
    if not isinstance(func, Graph):
        raise IRError(f"call_fused: expected a Graph, got {type(func).__name__}")
    name = name or func.name
    return Call("fused", tuple(args), (("body", func), ("name", name)),
                tuple(v.type for v in func.outputs))


class _Frame:
    """One function being built."""

    def __init__(self, name: str, params: Sequence[Var] | None):
        self.name = name
        self.params = None if params is None else tuple(params)
        self.bindings: list[Binding] = []
        self.defined: set[int] = set(id(p) for p in self.params or ())
        self.in_dataflow = False
        self.dataflow_vars: set[int] = set()
        self.marked_outputs: set[int] = set()
        self.had_dataflow = False
        self.result: Graph | None = None
        self.counter = 0
        self.free: dict[int, Var] = {}  # values used before the parameters were given


class BlockBuilder:
    """Build a :class:`GraphModule` one function, dataflow block and binding at a time.

    ``with bb.function(name, params):`` opens a function, ``with bb.dataflow():``
    its dataflow block; ``emit``/``emit_te``/``call_tir``/``call_dps_packed`` add
    bindings and return their results; ``emit_output`` marks a dataflow value as
    visible after the block; ``emit_func_output`` ends the function; ``get()``
    returns the module. ``BlockBuilder(mod)`` continues an existing module.
    """

    def __init__(self, mod: GraphModule | None = None):
        self._functions: dict[str, Graph | PrimFunc] = dict(mod.items()) if mod is not None else {}
        self._frame: _Frame | None = None

    # ------------------------------------------------------------ functions

    @contextlib.contextmanager
    def function(self, name: str, params: Sequence[Var] | None = None):
        """Open graph function ``name`` taking ``params`` (or given to emit_func_output)."""
        self.begin_function(name, params)
        try:
            yield self
        except BaseException:
            self._frame = None
            raise
        frame, self._frame = self._frame, None
        if frame.result is None:
            raise IRError(f"function {name!r}: its body ended without bb.emit_func_output(...)")
        self._functions[name] = frame.result

    def begin_function(self, name: str, params: Sequence[Var] | None = None) -> None:
        if self._frame is not None:
            raise IRError(f"function {name!r}: function {self._frame.name!r} is still open; "
                          "functions do not nest (build it with another BlockBuilder)")
        if not isinstance(name, str) or not name.isidentifier():
            raise IRError(f"function names must be identifiers, got {name!r}")
        if params is not None:
            self._check_params(name, params)
        self._frame = _Frame(name, params)

    def end_function(self, outputs, dataflow: bool | None = None) -> Graph:
        """Close the open function with ``outputs`` (used by GraphMutator)."""
        frame = self._require("end_function")
        self._finish(frame, outputs, frame.params or (), dataflow)
        self._frame = None
        self._functions[frame.name] = frame.result
        return frame.result

    @staticmethod
    def _check_params(name: str, params) -> None:
        seen = set()
        for p in params:
            if not isinstance(p, Var):
                raise IRError(f"function {name!r}: parameters must be graph Vars "
                              f"(Var('x', Tensor(shape, dtype))), got {type(p).__name__}")
            if id(p) in seen:
                raise IRError(f"function {name!r}: parameter {p.name} is listed twice")
            seen.add(id(p))

    @contextlib.contextmanager
    def dataflow(self):
        """The function's dataflow block: pure bindings, results leave it by emit_output."""
        frame = self._require("dataflow")
        if frame.in_dataflow:
            raise IRError(f"function {frame.name!r}: dataflow blocks do not nest")
        frame.in_dataflow = frame.had_dataflow = True
        try:
            yield self
        finally:
            frame.in_dataflow = False

    def emit_func_output(self, output, params: Sequence[Var] | None = None) -> None:
        """End the open function, returning ``output`` (a value, or a tuple of values)."""
        frame = self._require("emit_func_output")
        if frame.in_dataflow:
            raise IRError(f"function {frame.name!r}: emit_func_output inside the dataflow block; "
                          "call it after the `with bb.dataflow():` block ends")
        if params is not None:
            if frame.params is not None:
                raise IRError(f"function {frame.name!r}: parameters given twice (to function() "
                              "and to emit_func_output())")
            self._check_params(frame.name, params)
            frame.params = tuple(params)
        if frame.params is None:
            raise IRError(f"function {frame.name!r}: no parameters given; pass them to "
                          "bb.function(name, params) or bb.emit_func_output(out, params)")
        self._finish(frame, output, frame.params, None)

    def _finish(self, frame: _Frame, output, params, dataflow) -> None:
        outputs = tuple(output) if isinstance(output, (tuple, list)) else (output,)
        outputs = tuple(self._atom(o, frame, "the function's output") for o in outputs)
        defined = {id(p) for p in params} | {id(v) for b in frame.bindings for v in b.outputs}
        for v in frame.free.values():
            if id(v) not in defined:
                raise IRError(f"function {frame.name!r}: {v.name} is used but is neither a parameter "
                              "nor a value this function computes")
        for o in outputs:
            if isinstance(o, Var) and id(o) not in defined:
                raise IRError(f"function {frame.name!r}: output {o.name} is neither a parameter "
                              "nor a value this function computes")
            if id(o) in frame.dataflow_vars and id(o) not in frame.marked_outputs and dataflow is None:
                raise IRError(f"function {frame.name!r}: output {o.name} is defined inside the "
                              f"dataflow block but not marked as its output; write "
                              f"`{o.name} = bb.emit_output(...)` in the block")
        frame.result = Graph(tuple(params), tuple(frame.bindings), outputs, None, (), frame.name,
                             frame.had_dataflow if dataflow is None else dataflow)

    def _require(self, what: str) -> _Frame:
        if self._frame is None:
            raise IRError(f"bb.{what}: no function is open; use `with bb.function(name, params):`")
        return self._frame

    # -------------------------------------------------------------- emitting

    def emit(self, expr, name_hint: str = ""):
        """Bind ``expr`` (a Call, TECall or value) in the open function; returns its
        result Var (a tuple of Vars for several results)."""
        frame = self._require("emit")
        if isinstance(expr, TECall):
            kwargs = dict(expr.kwargs)
            return self.emit_te(expr.func, *expr.args, primfunc_name_hint=expr.name_hint, **kwargs)
        if not isinstance(expr, Call):
            return self._atom(expr, frame, "emit")
        args = tuple(self._arg(a, frame, expr.op, n) for n, a in enumerate(expr.args))
        attrs = expr.attrs
        where = f"function {frame.name!r}, binding lv{frame.counter} = {expr.op}(...)"
        if expr.op == "call_tir":
            func = dict(attrs)["func"]
            name = self.add_func(func) if isinstance(func, PrimFunc) else func
            attrs = (("func", name),)
            self._check_call_tir(where.replace("call_tir(...)", f"call_tir({name})"), name, args,
                                 expr.out_types)
            types = expr.out_types
        elif expr.out_types is not None:
            types = expr.out_types
        else:
            try:
                result = get_op(expr.op).infer(*(a.type for a in args), **dict(attrs))
            except MLCError as err:
                raise type(err)(f"{where}: {err}") from err
            types = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        outs = []
        for t in types:
            outs.append(Var(name_hint if name_hint and len(types) == 1 else f"lv{frame.counter}", t))
            frame.counter += 1
        binding = Binding(tuple(outs), expr.op, args, attrs)
        self.emit_binding(binding)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def emit_binding(self, binding: Binding) -> None:
        """Append an already-built Binding to the open function."""
        frame = self._require("emit_binding")
        for a in binding.args:
            if isinstance(a, Var) and id(a) not in frame.defined and frame.params is None:
                frame.free.setdefault(id(a), a)
            elif isinstance(a, Var) and id(a) not in frame.defined:
                raise IRError(f"function {frame.name!r}, binding {binding.describe()}: argument "
                              f"{a.name} is not defined in this function (a parameter or an earlier "
                              "binding)")
        frame.bindings.append(binding)
        for v in binding.outputs:
            frame.defined.add(id(v))
            if frame.in_dataflow:
                frame.dataflow_vars.add(id(v))

    def emit_output(self, expr, name_hint: str = ""):
        """Emit ``expr`` (or take a value already emitted) as an output of the dataflow block."""
        frame = self._require("emit_output")
        if not frame.in_dataflow:
            raise IRError(f"function {frame.name!r}: emit_output outside a dataflow block; "
                          "use it inside `with bb.dataflow():`")
        value = self.emit(expr, name_hint)
        for v in value if isinstance(value, tuple) else (value,):
            frame.marked_outputs.add(id(v))
        return value

    def call_tir(self, func: PrimFunc | str, args, out_sinfo, name_hint: str = ""):
        """Emit ``R.call_tir(func, args, out_sinfo)``; returns its result(s)."""
        return self.emit(call_tir(func, args, out_sinfo), name_hint)

    def call_dps_packed(self, name: str, args, out_sinfo, name_hint: str = ""):
        """Emit ``R.call_dps_packed(name, args, out_sinfo)``; returns its result(s)."""
        return self.emit(call_dps_packed(name, args, out_sinfo), name_hint)

    def emit_te(self, te_func: Callable, *args, primfunc_name_hint: str | None = None, **kwargs):
        """Call ``te_func`` on te placeholders standing for the graph values among ``args``,
        add the PrimFunc of its result(s) to the module and emit a call_tir of it.

        Other arguments (ints, floats, strings) and ``kwargs`` are passed as they are."""
        frame = self._require("emit_te")
        fname = primfunc_name_hint or getattr(te_func, "__name__", "te_func")
        taken: set[str] = set()
        placeholders, values, te_args = [], [], []
        for n, a in enumerate(args):
            if isinstance(a, (Var, Constant, Call, TECall, np.ndarray)):
                value = self._arg(a, frame, f"emit_te({fname})", n)
                base = value.name if value.name.isidentifier() and not value.name.startswith("lv") \
                    else f"p{n}"
                p = te.placeholder(value.shape, value.dtype, te.unique_name(base, taken))
                placeholders.append(p)
                values.append(value)
                te_args.append(p)
            else:
                te_args.append(a)
        try:
            result = te_func(*te_args, **kwargs)
        except MLCError as err:
            raise type(err)(f"function {frame.name!r}, emit_te({fname}): {err}") from err
        outs = list(result) if isinstance(result, (list, tuple)) else [result]
        if not outs or not all(isinstance(t, te.Tensor) for t in outs):
            raise IRError(f"function {frame.name!r}, emit_te({fname}): the te function must return a "
                          f"te.Tensor or a list of them, got {type(result).__name__}")
        prim = te.create_prim_func(placeholders + outs)
        name = self.add_func(prim, fname)
        return self.emit(Call("call_tir", tuple(values), (("func", name),),
                              tuple(TensorType(tuple(_dim(d) for d in t.shape), t.dtype) for t in outs)))

    # ------------------------------------------------------------- functions

    def add_func(self, func: PrimFunc | Graph, name: str | None = None) -> str:
        """Add ``func`` to the module under ``name`` (made unique; an equal PrimFunc
        already there is reused); returns the name it has."""
        if isinstance(func, PrimFunc):
            for n, f in self._functions.items():
                if isinstance(f, PrimFunc) and structural_equal(f, func):
                    return n
            gs = func.attr("global_symbol")
            default = gs if isinstance(gs, str) and gs.isidentifier() and gs != "main" else "tir_func"
        elif isinstance(func, Graph):
            default = func.name
        else:
            raise IRError(f"add_func: expected a PrimFunc or a Graph, got {type(func).__name__}")
        name = name if isinstance(name, str) and name.isidentifier() else default
        taken = set(self._functions) | ({self._frame.name} if self._frame is not None else set())
        base, n = name, 0
        while name in taken:
            n += 1
            name = f"{base}_{n}" if base[-1].isdigit() else f"{base}{n}"
        self._functions[name] = func
        return name

    def update_func(self, name: str, func: PrimFunc | Graph) -> None:
        self._functions[name] = func

    def get(self) -> GraphModule:
        """The module built so far."""
        if self._frame is not None:
            raise IRError(f"bb.get(): function {self._frame.name!r} is still open")
        return GraphModule(self._functions)

    # --------------------------------------------------------------- values

    def _atom(self, value, frame: _Frame, what: str):
        if isinstance(value, (Var, Constant)):
            return value
        if isinstance(value, (np.ndarray, np.generic)):
            return constant(value)
        if isinstance(value, (Call, TECall)):
            return self.emit(value)
        raise IRError(f"function {frame.name!r}, {what}: expected a graph value (Var, Constant, "
                      f"array) or a Call, got {type(value).__name__}")

    def _arg(self, value, frame: _Frame, op_name: str, n: int):
        value = self._atom(value, frame, f"{op_name} argument {n}")
        if isinstance(value, tuple):
            raise IRError(f"function {frame.name!r}, {op_name} argument {n}: a call with several "
                          "results; pass one of them")
        if isinstance(value, Var) and id(value) not in frame.defined:
            if frame.params is None:  # parameters come with emit_func_output: checked there
                frame.free.setdefault(id(value), value)
                return value
            raise IRError(f"function {frame.name!r}, {op_name} argument {n}: {value.name} is not "
                          "defined in this function (a parameter or an earlier binding)")
        return value

    def _check_call_tir(self, where: str, name: str, args, out_types) -> None:
        func = self._functions.get(name)
        if not isinstance(func, PrimFunc):
            raise IRError(f"{where}: the module has no PrimFunc {name!r}; add it with "
                          "bb.add_func(prim_func, name) or pass the PrimFunc itself")
        params = func.params
        types = [a.type for a in args] + list(out_types)
        if len(params) != len(types):
            raise ShapeError(f"{where}: {name} takes {len(params)} buffers, got {len(args)} "
                             f"argument(s) and {len(out_types)} result(s)")
        for n, (p, t) in enumerate(zip(params, types)):
            role = f"argument {n}" if n < len(args) else f"result {n - len(args)}"
            buffer_shape = tuple(_dim(e) for e in p.shape)
            if len(buffer_shape) != len(t.shape) or not all(
                    a == b if isinstance(a, int) or isinstance(b, int) else structural_equal(a, b)
                    for a, b in zip(buffer_shape, t.shape)):
                raise ShapeError(f"{where}: {role} has shape {t.shape} but {name}'s buffer {p.name} "
                                 f"has shape {buffer_shape}")
            if p.dtype != t.dtype:
                raise DTypeError(f"{where}: {role} has dtype {t.dtype} but {name}'s buffer {p.name} "
                                 f"has dtype {p.dtype}")
