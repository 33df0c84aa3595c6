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

The transformations (``mlc.grad``, ``mlc.jvp``, ``mlc.vmap``) need the op's
rules, given by hand with :meth:`CustomOp.defvjp`, :meth:`CustomOp.defjvp`
and :meth:`CustomOp.defbatch` (an op without the rule a transformation needs
is an error naming it; deriving them from the te body is not done yet).
"""
from __future__ import annotations

import inspect
import threading

import numpy as np

from .driver import build
from .errors import MLCError, ShapeError
from .ir import te
from .ir.expr import BufferLoad, Reduce
from .ir.functor import pre_order_nodes
from .ir.tir import IRModule
from .numpy._api import emit, hashable, numpy_function
from .ops.registry import TensorType, define_rules, list_ops, register_op, settle_pattern
from .passes.graph.inline import _stages
from .tracer.operands import as_tracer

__all__ = ["op", "CustomOp"]

_lock = threading.Lock()


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
                               f"{self.fn.__qualname__}")

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
        fn(*(np.ascontiguousarray(a) for a in arrays), *results)
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
            self._op = define_rules(self._op.name, **{kind: rule})
        return rule

    def defvjp(self, rule):
        """Give the op its reverse-mode rule (usable as a decorator): ``rule(ct, primals, out,
        **attrs)`` returns a cotangent per tensor input (None where zero), written with NumPy
        functions on the traced values (:mod:`mlc.ops.rules`). ``mlc.grad`` and ``mlc.vjp`` then
        differentiate through the op."""
        return self._define("vjp", rule)

    def defjvp(self, rule):
        """Give the op its forward-mode rule: ``rule(primals, tangents, out, **attrs)`` returns the
        tangent of the result (``tangents`` holds a traced value or a ``Zero`` per input)."""
        return self._define("jvp", rule)

    def defbatch(self, rule):
        """Give the op its batching rule: ``rule(args, dims, **attrs)`` returns ``(out, out_dim)``,
        the op applied to inputs batched along ``dims`` (None: not batched)."""
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
