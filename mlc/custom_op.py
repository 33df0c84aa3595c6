"""``mlc.op``: define an operator once with ``te``, use it in ``@mlc.jit`` and on arrays.

>>> import numpy as np, mlc
>>> @mlc.op
... def scaled_softplus(x: mlc.te.Tensor, alpha: float = 2.0):
...     return mlc.te.compute(x.shape, lambda *i: mlc.te.log(1 + mlc.te.exp(alpha * x[i])))
>>> scaled_softplus(np.zeros(2, "float32"))
array([0.6931472, 0.6931472], dtype=float32)
>>> scaled_softplus.op.pattern
'elemwise'
>>> scaled_softplus.reference(np.zeros(2, "float32"), alpha=1.0)  # the te body, interpreted
array([0.6931472, 0.6931472], dtype=float32)

Parameters annotated ``te.Tensor`` (without annotations: those without a
default) are tensor inputs; the others are attributes, static values of the
op. The shape rule builds the body on placeholders; the lowering calls the
function on the fused group's te tensors; the NumPy reference runs the body
through the reference interpreter. The op is registered in the op registry
as ``custom.<name>``, so fusion and every pass treat it like a built-in op.

The transformations (``mlc.grad``, ``mlc.jvp``, ``mlc.vmap``) go through the
op with rules derived from its te body (:mod:`mlc.ir.te_autodiff`, as TVM's
``te.gradient``): its VJP and JVP are te programs themselves, registered as
ops (``custom.<name>.vjp``, ``.jvp``), and its batching rule runs the body
with a leading batch axis on every stage. :meth:`CustomOp.defvjp`,
:meth:`CustomOp.defjvp` and :meth:`CustomOp.defbatch` replace a derived rule
with one written by hand:

>>> x = np.array([0.0, 1.0])
>>> mlc.grad(lambda v: np.sum(scaled_softplus(v)))(x)   # 2 * sigmoid(2 * x)
array([1.        , 1.76159416])
"""
from __future__ import annotations

import inspect
import threading
from contextlib import contextmanager

import numpy as np

from .driver import build
from .errors import MLCError, ShapeError, TraceError
from .ir import te
from .ir.expr import BufferLoad, Reduce
from .ir.functor import pre_order_nodes
from .ir.tir import IRModule
from .numpy._api import emit, hashable, numpy_function
from .ir.te_autodiff import TeAutodiffError, add_batch_axis, gradient, jvp
from .runtime.ndarray import c_contiguous
from .ops.registry import TensorType, list_ops, register_op, settle_pattern
from .ops.rules import is_zero
from .ops.rules.core import move_batch_to_front
from .passes.graph.inline import _stages
from .tracer.operands import as_tracer
from .tracer.source import describe_location, user_location

__all__ = ["op", "CustomOp"]

_lock = threading.RLock()  # reentrant: building a derived rule registers its op


def _is_tensor_annotation(annotation) -> bool:
    if annotation is te.Tensor:
        return True
    return isinstance(annotation, str) and annotation.split(".")[-1] == "Tensor"


def _split_params(fn) -> tuple[list[str], list[str]]:
    params = list(inspect.signature(fn).parameters.values())
    annotated = any(_is_tensor_annotation(p.annotation) for p in params)
    tensors, attrs = [], []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise MLCError(f"mlc.op {fn.__name__}: *args/**kwargs are not supported; name each "
                           "tensor and attribute")
        is_tensor = _is_tensor_annotation(p.annotation) if annotated else p.default is p.empty
        (tensors if is_tensor else attrs).append(p.name)
    if not tensors:
        raise MLCError(f"mlc.op {fn.__name__}: no tensor parameters; annotate them as te.Tensor")
    return tensors, attrs


def _results(fn_name: str, result) -> tuple[te.Tensor, ...]:
    results = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if not results or not all(isinstance(t, te.Tensor) for t in results):
        raise MLCError(f"mlc.op {fn_name}: the body must return a te tensor (te.compute) or a "
                       f"tuple of them, got {result!r}")
    return results


def _infer_pattern(outputs, inputs) -> str:
    """reduction if any stage reduces; elemwise if every load reads its stage's own point."""
    elementwise = True
    for t in _stages(list(outputs)):
        op = t.op
        if isinstance(op, te.PlaceholderOp):
            continue
        if any(isinstance(b, Reduce) for b in op.body):
            return "reduction"
        axis = tuple(iv.var for iv in op.axis)
        for body in op.body:
            for node in pre_order_nodes(body):
                if isinstance(node, BufferLoad) and (
                        len(node.indices) != len(axis)
                        or any(i is not a for i, a in zip(node.indices, axis))):
                    elementwise = False
        if any(tuple(i.shape) != t.shape for i in inputs):
            elementwise = False
    return "elemwise" if elementwise else "injective"


class CustomOp:
    """A te-defined op: call it on arrays or traced values; ``.op`` is its registry entry."""

    def __init__(self, fn, name: str | None = None, pattern: str | None = None):
        self.fn = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self.tensor_params, self.attr_params = _split_params(fn)
        self._signature = inspect.signature(fn)
        self._references: dict = {}
        self._hand: dict = {}     # rules given by hand: "vjp", "jvp", "batch" -> function
        self._derived: dict = {}  # the ops of the derived rules, built on first use
        self._op = self._register(name or f"custom.{fn.__name__}", pattern)
        self._call = self._make_call()

    @property
    def op(self):
        """The registry entry, registered at definition: ``op.name`` is known from the start;
        ``op.pattern`` is None until the first call infers it from the body (unless
        ``pattern=...`` was given)."""
        return self._op

    def _register(self, name: str, pattern: str | None):
        with _lock:
            return register_op(_unique_name(name), pattern=pattern, infer=self._infer,
                               lower=self._lower, reference=self._reference, num_outputs=None,
                               doc=self.fn.__doc__ or f"custom operator from te function "
                               f"{self.fn.__qualname__}",
                               jvp=self._jvp_rule, vjp=self._vjp_rule, batch=self._batch_rule)

    def _ensure_registered(self, types, attrs) -> str:
        """The op's name, once its fusion pattern is settled (inferred on the first call)."""
        if self._op.pattern is None:
            placeholders, outs = self._build(types, attrs)
            self._settle(_infer_pattern(outs, placeholders))
        return self._op.name

    def _settle(self, pattern: str) -> None:
        with _lock:
            if self._op.pattern is None:
                self._op = settle_pattern(self._op.name, pattern)

    # ------------------------------------------------------------ registry

    def _build(self, types, attrs):
        placeholders = [te.placeholder(t.shape, t.dtype, name) for t, name in zip(types, self.tensor_params)]
        return placeholders, _results(self.fn.__name__, self._apply(placeholders, attrs))

    def _apply(self, tensors, attrs):
        if len(tensors) != len(self.tensor_params):
            raise ShapeError(f"{self.op.name}: takes {len(self.tensor_params)} tensor(s) "
                             f"({', '.join(self.tensor_params)}), got {len(tensors)}")
        return self.fn(**dict(zip(self.tensor_params, tensors)), **attrs)

    def _infer(self, *types, **attrs):
        placeholders, outs = self._build(types, attrs)
        if self._op.pattern is None:  # the first use anywhere (a trace, a BlockBuilder) settles it
            self._settle(_infer_pattern(outs, placeholders))
        result = tuple(TensorType(tuple(t.shape), t.dtype) for t in outs)
        return result[0] if len(result) == 1 else result

    def _lower(self, *tensors, **attrs):
        outs = _results(self.fn.__name__, self._apply(tensors, attrs))
        return outs[0] if len(outs) == 1 else outs

    def _reference(self, *arrays, **attrs):
        """Run the te body on the reference interpreter (built once per signature)."""
        types = tuple(TensorType(a.shape, a.dtype.name) for a in arrays)
        key = (types, tuple(sorted(attrs.items())))
        entry = self._references.get(key)
        if entry is None:
            placeholders, outs = self._build(types, attrs)
            mod = IRModule({"main": te.create_prim_func(placeholders + list(outs))})
            entry = self._references[key] = (build(mod, "reference")["main"], outs)
        fn, outs = entry
        results = [np.empty(t.shape, t.dtype) for t in outs]
        fn(*(c_contiguous(a) for a in arrays), *results)
        return results[0] if len(results) == 1 else tuple(results)

    # ---------------------------------------------------------------- call

    def _make_call(self):
        sig = self._signature.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                                  for p in self._signature.parameters.values()])

        def impl(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            tensors = [as_tracer(bound.arguments[p]) for p in self.tensor_params]
            attrs = {p: hashable(bound.arguments[p]) for p in self.attr_params}
            name = self._ensure_registered([t._atom.type for t in tensors], attrs)
            return emit(name, tensors, **attrs)

        impl.__signature__ = sig
        impl.__name__ = self.fn.__name__
        return numpy_function(*self.tensor_params)(impl)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    # ------------------------------------------------------------ transformation rules

    def _define(self, kind: str, rule):
        if not callable(rule):
            raise MLCError(f"{self.op.name}.def{kind}: needs a function, got {rule!r}")
        with _lock:
            if kind in self._hand:
                raise MLCError(f"op {self.op.name} already has a {kind} rule given by hand")
            self._hand[kind] = rule
        return rule

    def _vjp_rule(self, ct, primals, out, **attrs):
        if "vjp" in self._hand:
            return self._hand["vjp"](ct, primals, out, **attrs)
        outs = out if isinstance(out, tuple) else (out,)
        cts = ct if isinstance(ct, tuple) else (ct,)
        cts = [np.zeros(tuple(o.shape), o.dtype) if is_zero(c) else c for c, o in zip(cts, outs)]
        types = [p._atom.type for p in primals]
        with self._deriving("vjp"):
            wrt = tuple(n for n, g in enumerate(self._gradients(types, attrs)) if g is not None)
        if not wrt:
            return (None,) * len(primals)
        with self._deriving("vjp"):
            grads = self._derived_op("vjp", len(outs))(*primals, *cts, *self._attr_values(attrs), wrt)
        grads = iter(grads if isinstance(grads, tuple) else (grads,))
        return tuple(next(grads) if n in wrt else None for n in range(len(primals)))

    def _jvp_rule(self, primals, tangents, out, **attrs):
        if "jvp" in self._hand:
            return self._hand["jvp"](primals, tangents, out, **attrs)
        with_ = tuple(n for n, t in enumerate(tangents) if not is_zero(t))
        with self._deriving("jvp"):
            outs = self._derived_op("jvp", len(with_))(*primals, *(tangents[n] for n in with_),
                                                       *self._attr_values(attrs), with_)
        return outs

    def _batch_rule(self, args, dims, **attrs):
        if "batch" in self._hand:
            return self._hand["batch"](args, dims, **attrs)
        fronts = [move_batch_to_front(a, d) for a, d in zip(args, dims)]
        with self._deriving("batch"):
            out = self._derived_op("batch", 0)(*fronts, *self._attr_values(attrs), tuple(d is not None for d in dims))
        return (out, (0,) * len(out)) if isinstance(out, tuple) else (out, 0)

    @contextmanager
    def _deriving(self, kind: str):
        """A part of the te body that cannot be differentiated: a TraceError naming the op."""
        try:
            yield
        except TeAutodiffError as err:
            raise TraceError(f"{self.op.name}: its {kind} rule cannot be derived from its te body: {err}"
                             + describe_location(user_location(2))) from None

    def _attr_values(self, attrs) -> list:
        """The attributes in parameter order: a derived op takes them positionally, after the
        tensors (its own parameter names may differ from the ones used here)."""
        return [attrs[p] for p in self.attr_params]

    def _gradients(self, types, attrs):
        """The te gradient of each input on placeholders of ``types`` (None where none flows)."""
        placeholders, outs = self._build(types, attrs)
        heads = [te.placeholder(o.shape, o.dtype, f"ct{n}") for n, o in enumerate(outs)]
        return gradient(outs, placeholders, heads)

    def _derived_op(self, kind: str, count: int) -> "CustomOp":
        """The op computing this op's derived ``kind`` rule ("vjp": from the inputs and ``count``
        cotangents; "jvp": from the inputs and ``count`` tangents; "batch"), built once."""
        with _lock:
            op = self._derived.get((kind, count))
            if op is None:
                op = self._derived[(kind, count)] = _derived(self, kind, count)
        return op

    def defvjp(self, rule):
        """Give the op its reverse-mode rule (usable as a decorator), in place of the one derived
        from its te body: ``rule(ct, primals, out, **attrs)`` returns a cotangent per tensor
        input (None where zero), written with NumPy functions on the traced values
        (:mod:`mlc.ops.rules`)."""
        return self._define("vjp", rule)

    def defjvp(self, rule):
        """Give the op its forward-mode rule, in place of the derived one: ``rule(primals,
        tangents, out, **attrs)`` returns the tangent of the result (``tangents`` holds a traced
        value or a ``Zero`` per input)."""
        return self._define("jvp", rule)

    def defbatch(self, rule):
        """Give the op its batching rule, in place of the derived one (the body with a batch axis
        on every stage): ``rule(args, dims, **attrs)`` returns ``(out, out_dim)``, the op applied
        to inputs batched along ``dims`` (None: not batched)."""
        return self._define("batch", rule)

    def reference(self, *args, **kwargs):
        """Evaluate the op on the reference interpreter: the oracle its tests compare with.

        Takes the same arguments as a call (arrays and attributes) and returns NumPy arrays.
        """
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arrays = [np.asarray(bound.arguments[p]) for p in self.tensor_params]
        attrs = {p: bound.arguments[p] for p in self.attr_params}
        return self._reference(*arrays, **attrs)

    def check(self, reference=None, **options) -> None:
        """Property-test this operator: random shapes and dtypes, every target, against
        ``reference`` (a NumPy function; default: the te body on the reference interpreter).

        Options (``dtypes``, ``shapes``, ``attrs``, ``special``, ``max_examples``, ...) are
        :func:`mlc.testing.check_custom_op`'s. Raises ``mlc.testing.Counterexample`` with
        the shrunk counterexample and the kernel's IR.
        """
        # deferred: keeps `import mlc` fast (mlc.testing loads Hypothesis, needed only here)
        from .testing.check import check_custom_op
        check_custom_op(self, reference, **options)

    def __repr__(self) -> str:
        pattern = self._op.pattern or "pattern inferred on the first call"
        return f"<mlc.op {self._op.name} ({pattern})>"


def _unique_name(name: str) -> str:
    taken = set(list_ops())
    candidate, n = name, 0
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def op(fn=None, *, name: str | None = None, pattern: str | None = None):
    """Make a te function an operator (see the module docstring); bare or with options.

    ``pattern`` overrides the fusion pattern inferred from the body.
    """
    if fn is None:
        return lambda f: CustomOp(f, name, pattern)
    return CustomOp(fn, name, pattern)


def _inputs_of(tensors, names):
    """Each tensor input behind a stage of its own, so the derivative stops at the op's
    operands (also when one tensor is passed twice, or is a fused producer's stage)."""
    return [te.compute(t.shape, lambda *i, t=t: t[i], name=name) for t, name in zip(tensors, names)]


def _zeros(like):
    return te.compute(like.shape, lambda *i: te.const(0, like.dtype), name=f"zero_{like.name}")


def _fresh_name(name: str, taken: set) -> str:
    """``name``, with leading underscores until no parameter has it (a derived op's own
    derived rules add parameters beside those it has); added to ``taken``."""
    while name in taken:
        name = "_" + name
    taken.add(name)
    return name


def _derived(base: CustomOp, kind: str, count: int) -> CustomOp:
    """A CustomOp computing ``base``'s derived ``kind`` rule from ``base``'s te body."""
    names = list(base.tensor_params)
    taken = set(names) | set(base.attr_params)
    extra = [_fresh_name({"vjp": "_ct", "jvp": "_tangent"}[kind] + str(n), taken)
             for n in range(count)] if kind != "batch" else []
    flag = _fresh_name({"vjp": "_wrt", "jvp": "_with", "batch": "_batched"}[kind], taken)

    def body(**kw):
        tensors = [kw[p] for p in names]
        attrs = {p: kw[p] for p in base.attr_params}
        if kind == "batch":
            batched = kw[flag]
            inner = [te.placeholder(t.shape[1:] if b else t.shape, t.dtype, p)
                     for t, b, p in zip(tensors, batched, names)]
            outs = _results(base.fn.__name__, base._apply(inner, attrs))
            return tuple(add_batch_axis(outs, inner, tensors, batched))
        inputs = _inputs_of(tensors, names)
        outs = _results(base.fn.__name__, base._apply(inputs, attrs))
        if kind == "vjp":
            grads = gradient(outs, inputs, [kw[p] for p in extra])
            return tuple(grads[n] for n in kw[flag])
        tangents = [None] * len(inputs)
        for n, p in zip(kw[flag], extra):
            tangents[n] = kw[p]
        result = jvp(outs, inputs, tangents)
        return tuple(r if r is not None else _zeros(o) for r, o in zip(result, outs))

    params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=te.Tensor) for p in names + extra]
    params += [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in base.attr_params + [flag]]
    body.__signature__ = inspect.Signature(params)
    body.__name__ = body.__qualname__ = f"{base.fn.__name__}_{kind}"
    body.__doc__ = f"The {kind} rule of {base.op.name}, derived from its te body."
    return CustomOp(body, name=f"{base.op.name}.{kind}")
