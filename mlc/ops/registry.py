"""The operator registry: one entry per op, used by tracing, fusion, lowering and tests.

An op declares
- ``infer(*types, **attrs)``: output TensorType(s) from input TensorTypes
  (NumPy broadcasting and NumPy 2 promotion); raises ShapeError/DTypeError
  naming the op, what was expected and what came;
- ``lower(*tensors, **attrs)``: te tensors computing the outputs from te inputs;
- ``reference(*arrays, **attrs)``: the NumPy implementation (the test oracle);
- ``pattern``: how it fuses (TVM's FuseOps kinds);
- its transformation rules, ``jvp``, ``vjp`` and ``batch`` (:mod:`mlc.ops.rules`
  says how they are written; :func:`define_rules` gives them to an op
  registered without them).

An ``opaque`` op whose work is no loop nest of te stages (a radix sort's
histogram, prefix sum and scatter) declares ``prim_func(*types, **attrs)``
instead: a hand-written PrimFunc taking the inputs then the outputs
(destination passing). Its ``lower`` may then be None; fusion never joins
an opaque op with another, and lowering calls the PrimFunc as it is
(:mod:`.hand_written` says how such a function is marked). Such an op may
also declare ``gpu_prim_func(*types, **attrs)``: the same function (its
parameters of the same shapes and dtypes, in the same order) written for the
GPU, its loops bound to ``blockIdx``/``threadIdx``; a GPU build uses it in
place of ``prim_func`` (an op without one runs its batch loops one per GPU
thread).

Attributes are hashable Python values (ints, floats, bools, strings, None and
tuples of them), so graph nodes can be compared and cached. Inputs are
tensors only: Python scalars become 0-d tensors first (NEP 50 dtypes).

An op that is a plain function of arrays in NumPy (``sum``, ``matmul``,
``expand_dims``) declares ``numpy=NumpyAPI(signature, doc)``: ``mlc.numpy``
then generates the function from that entry (its parameter list is NumPy's),
so a new NumPy function is one registration.

Ops with several outputs (``split``: ``num_outputs=None``, the count depends
on the attributes) return tuples from ``infer``, ``lower`` and ``reference``.
NumPy's other spellings resolve through aliases (``get_op("true_divide")``
is ``divide``); ``list_ops`` lists canonical names only.

>>> add = get_op("add")
>>> add.infer(TensorType((4, 1), "float32"), TensorType((3,), "float32"))
TensorType(shape=(4, 3), dtype='float32')
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import MLCError
from ..ir.types import TensorType

__all__ = ["TensorType", "NumpyAPI", "OpDef", "PATTERNS", "register_op", "register_alias", "settle_pattern", "get_op",
           "list_ops", "list_aliases", "define_rules"]

#: Fusion patterns, from most to least fusable.
PATTERNS = ("elemwise", "broadcast", "injective", "reduction", "out_elemwise_fusable", "opaque")


@dataclass(frozen=True, slots=True)
class NumpyAPI:
    """How an op is called as an ``mlc.numpy`` function (which mlc.numpy generates from this).

    ``signature`` is NumPy's parameter list, as Python source:
    ``"(a, axis=None, dtype=None, out=None, keepdims=False)"``. Its first
    parameters, one per input of the op, take arrays; ``out`` takes only None
    (a traced value is never written into); every other parameter is an
    attribute of the op, passed to it by name (``dtype`` as a NumPy name,
    ``keepdims`` as a bool, lists as tuples). ``doc`` is the function's docstring.
    """
    signature: str
    doc: str


@dataclass(frozen=True)
class OpDef:
    """One registered op.

    ``num_outputs`` is 1 for ops whose ``infer`` returns one TensorType and
    whose ``lower`` returns one te Tensor; an int above 1 or ``None`` (the
    count depends on the attributes, as for ``split``) means both return tuples.

    ``pattern`` is None only for a user-defined op (``mlc.op``) registered
    before its first call, which infers it from the body (:func:`settle_pattern`).

    ``numpy`` says how ``mlc.numpy`` exposes the op, when it is a plain function
    of arrays there (see :class:`NumpyAPI`); None when it is not, or not directly.

    ``prim_func`` and ``gpu_prim_func``: an opaque op's hand-written PrimFunc, and its
    GPU version (see the module docstring); None for an op lowered by te.

    ``inplace``: pairs ``(output, argument)``: the op's hand-written PrimFunc updates that
    output in place, starting from the argument's value, which the caller puts in the output's
    buffer first (a copy) or, where the argument is dead after the op, passes the argument's
    buffer itself as the output (:mod:`mlc.passes.graph.inplace`). The kernel then touches only
    what it writes (``element_set``: one element; ``element_loop``: the elements its loop stores).
    A callable ``inplace(arg_types, attrs)`` returns the pairs where they depend on them.

    ``jvp``, ``vjp`` and ``batch``: the op's forward-mode, reverse-mode and batching rules
    (:mod:`mlc.ops.rules` gives their signatures); None where the op has none yet, which
    the transformation that needs one reports naming the op.
    """
    name: str
    pattern: str | None
    infer: Callable
    lower: Callable
    reference: Callable
    num_outputs: int | None = 1
    doc: str = ""
    prim_func: Callable | None = None
    numpy: NumpyAPI | None = None
    gpu_prim_func: Callable | None = None
    jvp: Callable | None = None
    vjp: Callable | None = None
    batch: Callable | None = None
    inplace: tuple[tuple[int, int], ...] | Callable = ()


_REGISTRY: dict[str, OpDef] = {}
_ALIASES: dict[str, str] = {}


def register_op(name: str, *, pattern: str | None, infer: Callable, lower: Callable, reference: Callable,
                num_outputs: int | None = 1, doc: str = "", prim_func: Callable | None = None,
                numpy: NumpyAPI | None = None, gpu_prim_func: Callable | None = None,
                jvp: Callable | None = None, vjp: Callable | None = None,
                batch: Callable | None = None, inplace: tuple[tuple[int, int], ...] | Callable = ()) -> OpDef:
    """Add an op; user-defined ops (``mlc.op``) use the same path.

    ``pattern=None`` registers the op with its fusion pattern still to be
    decided: :func:`settle_pattern` sets it before the op is first traced.
    """
    if pattern is not None and pattern not in PATTERNS:
        raise MLCError(f"op {name}: pattern must be one of {PATTERNS}, got {pattern!r}")
    if name in _REGISTRY:
        raise MLCError(f"op {name!r} is already registered")
    if prim_func is not None and pattern != "opaque":
        raise MLCError(f"op {name}: an op lowered by a hand-written prim_func must have pattern 'opaque' "
                       f"(fusion cannot join a PrimFunc with te stages), got {pattern!r}")
    if gpu_prim_func is not None and prim_func is None:
        raise MLCError(f"op {name}: gpu_prim_func is the GPU's version of a hand-written prim_func; "
                       "declare the prim_func too (a te-lowered op gets GPU threads from the default schedule)")
    if inplace and prim_func is None:
        raise MLCError(f"op {name}: an in-place op (inplace={inplace!r}) is lowered by a hand-written prim_func "
                       "that writes only what changes; declare the prim_func")
    op = OpDef(name, pattern, infer, lower, reference, num_outputs, doc, prim_func, numpy, gpu_prim_func,
               jvp, vjp, batch, inplace if callable(inplace) else tuple(tuple(p) for p in inplace))
    _REGISTRY[name] = op
    return op


def define_rules(name: str, *, jvp: Callable | None = None, vjp: Callable | None = None,
                 batch: Callable | None = None, inplace: tuple[tuple[int, int], ...] | Callable = ()) -> OpDef:
    """Give op ``name`` its transformation rules (those passed; the others are kept); returns
    the new entry. A rule the op already has is not replaced: an op's rule is defined once."""
    op = get_op(name)
    changes = {}
    for kind, rule in (("jvp", jvp), ("vjp", vjp), ("batch", batch)):
        if rule is None:
            continue
        if getattr(op, kind) is not None:
            raise MLCError(f"op {op.name} already has a {kind} rule")
        changes[kind] = rule
    op = replace(op, **changes)
    _REGISTRY[op.name] = op
    return op


def settle_pattern(name: str, pattern: str) -> OpDef:
    """Give op ``name``, registered with ``pattern=None``, its fusion pattern; returns the new entry."""
    op = get_op(name)
    if pattern not in PATTERNS:
        raise MLCError(f"op {name}: pattern must be one of {PATTERNS}, got {pattern!r}")
    if op.pattern is not None:
        raise MLCError(f"op {name} already has fusion pattern {op.pattern!r}")
    op = replace(op, pattern=pattern)
    _REGISTRY[op.name] = op
    return op


def register_alias(alias: str, name: str) -> None:
    """Let ``get_op(alias)`` return the op ``name`` (NumPy's other spellings:
    ``true_divide`` for ``divide``, ``mod`` for ``remainder``)."""
    if alias in _REGISTRY or alias in _ALIASES:
        raise MLCError(f"op {alias!r} is already registered")
    if name not in _REGISTRY:
        raise MLCError(f"cannot alias {alias!r} to unknown op {name!r}")
    _ALIASES[alias] = name


def get_op(name: str) -> OpDef:
    """The op registered as ``name`` (or under an alias of it)."""
    try:
        return _REGISTRY[_ALIASES.get(name, name)]
    except KeyError:
        close = [n for n in list(_REGISTRY) + list(_ALIASES) if name.split(".")[-1] in n]
        hint = f"; similar: {', '.join(sorted(close)[:5])}" if close else ""
        raise MLCError(f"unknown op {name!r}{hint}") from None


def list_ops() -> list[str]:
    return sorted(_REGISTRY)


def list_aliases() -> dict[str, str]:
    """NumPy's other spellings: alias -> canonical op name."""
    return dict(sorted(_ALIASES.items()))

