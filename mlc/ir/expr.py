"""Scalar expressions: the leaves and arithmetic every tensor program is made of.

Nodes are immutable. Python operators build IR, so ``A[i, k] * B[k, j]`` is an
expression, not a number. Operands follow NumPy 2 promotion: two typed operands
promote with ``np.promote_types``; a Python scalar takes its partner's dtype
(NEP 50).

>>> i = Var("i", "int32")
>>> e = i * 4 + 1
>>> e.dtype, type(e).__name__, e.op
('int32', 'Binary', 'add')

Equality builds IR too; an ``==`` expression is truthy only when both sides
are the same node, as in TVM, so ``var in list_of_vars`` works by identity.
"""
from __future__ import annotations

import builtins
import functools
import math
from typing import TYPE_CHECKING, Any

from ..errors import DTypeError, IRError
from . import dtype as dt
from .node import node
from .ops import BINARY_OPS, MATH_CALLS, ops_of_kind

if TYPE_CHECKING:
    from .buffer import Buffer

__all__ = [
    "PrimExpr", "Var", "IntImm", "FloatImm", "Cast", "Binary", "Not", "Select", "Let", "let", "Call",
    "BufferLoad", "Ramp", "Broadcast", "Reduce", "CommReducer", "Range", "IterVar", "const", "convert",
    "cast", "select", "if_then_else", "min", "max", "floordiv", "floormod", "truncdiv",
    "truncmod", "logical_and", "logical_or", "conjuncts", "and_all", "logical_not", "call", "MATH_OPS", "REINTERPRET", "reinterpret",
    "VECTOR_WINDOW",
    "FLOAT_ONLY_OPS", "ARITH_OPS", "COMPARE_OPS", "LOGIC_OPS", "BITWISE_OPS",
    *MATH_CALLS,  # one builder per math call of the table: exp, log, ..., erfc
]


def _both_ways(name: str, build=None):
    """``__<name>__`` and its reflection ``__r<name>__``: ``build(a, b)`` on ``(self, o)`` and on
    ``(o, self)`` (by default the binary op ``name`` of :data:`mlc.ir.ops.BINARY_OPS`)."""
    if build is None:
        def forward(self, o):
            return _binary(name, self, o)

        def reflected(self, o):
            return _binary(name, o, self)
    else:
        def forward(self, o):
            return build(self, o)

        def reflected(self, o):
            return build(o, self)

    forward.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    return forward, reflected


class ExprOp:
    """Python operators that build IR. Mixed into PrimExpr and IterVar."""

    # the node's census, counted on first asking (mlc.ir.analysis.census); not a field
    __slots__ = ("_census",)

    __add__, __radd__ = _both_ways("add")
    __sub__, __rsub__ = _both_ways("sub")
    __mul__, __rmul__ = _both_ways("mul")
    __truediv__, __rtruediv__ = _both_ways("truediv", lambda a, b: _truediv(a, b))
    __floordiv__, __rfloordiv__ = _both_ways("floordiv")
    __mod__, __rmod__ = _both_ways("mod", lambda a, b: _binary("floormod", a, b))
    __pow__, __rpow__ = _both_ways("pow", lambda a, b: pow(a, b))
    def __neg__(self):
        # -0.0 - x flips only the sign (IEEE negation: -(0.0) is -0.0); 0 - x would give +0.0
        e = convert(self)
        return _binary("sub", const(_NEGATIVE_ZERO.get(e.dtype, 0), e.dtype), e)
    def __pos__(self): return convert(self)
    def __abs__(self): return abs(self)
    def __lt__(self, o): return _binary("lt", self, o)
    def __le__(self, o): return _binary("le", self, o)
    def __gt__(self, o): return _binary("gt", self, o)
    def __ge__(self, o): return _binary("ge", self, o)
    def __eq__(self, o): return _binary("eq", self, o)  # type: ignore[override]
    def __ne__(self, o): return _binary("ne", self, o)  # type: ignore[override]
    __and__, __rand__ = _both_ways("and", lambda a, b: _bitwise_or_logical("bitand", "and", a, b))
    __or__, __ror__ = _both_ways("or", lambda a, b: _bitwise_or_logical("bitor", "or", a, b))
    __xor__, __rxor__ = _both_ways("xor", lambda a, b: _binary("bitxor", a, b))
    def __lshift__(self, o): return _binary("shl", self, o)
    def __rshift__(self, o): return _binary("shr", self, o)
    def __invert__(self):
        e = convert(self)
        if e.dtype == "bool":
            return logical_not(e)
        return _binary("bitxor", e, const(-1 if dt.is_signed(e.dtype) else (1 << dt.bits(e.dtype)) - 1, e.dtype))

    __hash__ = object.__hash__

    def astype(self, dtype) -> PrimExpr:
        """Cast to ``dtype`` with NumPy's conversion rules."""
        return cast(convert(self), dtype)

    def __repr__(self) -> str:
        from .printer import expr_to_str
        return expr_to_str(convert(self))


class PrimExpr(ExprOp):
    """Base of scalar expressions. Every node has a ``dtype`` (a NumPy name)."""

    __slots__ = ()
    dtype: str

    def __bool__(self) -> bool:
        raise IRError(
            f"the truth value of the symbolic expression `{self!r}` is unknown while "
            "building IR; use te.if_then_else / select for a data-dependent choice")

    def __float__(self) -> float:
        raise IRError(f"`{self!r}` is symbolic and has no float value")

    def __index__(self) -> int:
        raise IRError(f"`{self!r}` is symbolic and has no integer value; "
                      "shapes and loop extents must be Python ints here")


@node
class Var(PrimExpr):
    """A named scalar variable: loop indices, block iterators, reducer operands."""
    name: str
    dtype: str = dt.INDEX


@node
class IntImm(PrimExpr):
    """An integer or bool constant."""
    value: int
    dtype: str = dt.INDEX


@node
class FloatImm(PrimExpr):
    """A floating-point constant."""
    value: float
    dtype: str = "float32"


@node
class Cast(PrimExpr):
    """Conversion of ``value`` to ``dtype`` (NumPy ``astype`` semantics)."""
    dtype: str
    value: PrimExpr


# The Binary ops by kind (their semantics: mlc.ir.ops).
ARITH_OPS = ops_of_kind("arith")
COMPARE_OPS = ops_of_kind("compare")
LOGIC_OPS = ops_of_kind("logic")
BITWISE_OPS = ops_of_kind("bitwise")


@node
class Binary(PrimExpr):
    """``a <op> b`` for op in ARITH_OPS, COMPARE_OPS, LOGIC_OPS or BITWISE_OPS.

    Both operands have one dtype; ``dtype`` is that dtype, or bool for
    comparisons. ``div`` is true division of floats; ``floordiv``/``floormod``
    follow Python (and NumPy) for ints and floats alike.
    """
    op: str
    a: PrimExpr
    b: PrimExpr
    dtype: str

    def __bool__(self) -> bool:
        if self.op == "eq":
            return self.a is self.b
        if self.op == "ne":
            return self.a is not self.b
        return PrimExpr.__bool__(self)


@node
class Not(PrimExpr):
    """Logical negation of a bool expression."""
    a: PrimExpr
    dtype: str = "bool"


@node
class Select(PrimExpr):
    """``true_value if cond else false_value``; both sides may be evaluated."""
    cond: PrimExpr
    true_value: PrimExpr
    false_value: PrimExpr
    dtype: str


@node
class Let(PrimExpr):
    """``body`` with ``var`` bound to ``value``: the value is computed once, where the Let
    is evaluated, and every occurrence of ``var`` in ``body`` reads it (TVM's ``Let``).
    Immutable like every binding of the IR: ``var`` is bound by this node only and used
    nowhere outside ``body`` (:mod:`mlc.passes.tir.cse` makes them).

    >>> x = Var("x", "float32")
    >>> t = Var("t", "float32")
    >>> e = let(t, x * x, t + t)
    >>> e.dtype, e.body.a is t
    ('float32', True)
    """
    var: Var
    value: PrimExpr
    body: PrimExpr
    dtype: str


#: math call name -> number of arguments (the Call ops of :data:`mlc.ir.ops.MATH_CALLS`)
MATH_OPS = {name: op.arity for name, op in MATH_CALLS.items()}
FLOAT_ONLY_OPS = frozenset(name for name, op in MATH_CALLS.items() if op.operands in ("float", "inexact"))
_PREDICATES = frozenset(name for name, op in MATH_CALLS.items() if op.result == "bool")


@node
class Call(PrimExpr):
    """A math intrinsic ``op(*args)``, op one of MATH_OPS."""
    op: str
    args: tuple[PrimExpr, ...]
    dtype: str


@node
class BufferLoad(PrimExpr):
    """``buffer[indices]``: a read of one element."""
    buffer: Buffer
    indices: tuple[PrimExpr, ...]
    dtype: str


@node
class Range:
    """The half-open interval ``[min, min + extent)``."""
    min: PrimExpr
    extent: PrimExpr

    @staticmethod
    def from_extent(extent) -> Range:
        return Range(const(0, dt.INDEX), convert(extent, dt.INDEX))

    def __repr__(self) -> str:
        return f"Range({self.min!r}, {self.extent!r})"


ITER_TYPES = ("spatial", "reduce", "opaque")


@node
class IterVar(ExprOp):
    """An iteration variable with its domain: te axes and TensorIR block iterators.

    ``iter_type`` is "spatial", "reduce" or "opaque". In arithmetic an IterVar
    stands for its ``var``.
    """
    var: Var
    dom: Range
    iter_type: str = "spatial"

    def __post_init__(self):
        if self.iter_type not in ITER_TYPES:
            raise IRError(f"iter_type must be one of {ITER_TYPES}, got {self.iter_type!r}")

    @property
    def dtype(self) -> str:
        return self.var.dtype


@node
class CommReducer:
    """A commutative, associative reduction: ``result(lhs, rhs)`` with ``identity``.

    ``lhs`` is the accumulated value, ``rhs`` the incoming one.
    """
    name: str
    lhs: Var
    rhs: Var
    result: PrimExpr
    identity: PrimExpr

    def combine(self, acc: PrimExpr, value: PrimExpr) -> PrimExpr:
        from .functor import substitute
        return substitute(self.result, {self.lhs: acc, self.rhs: value})

    def __repr__(self) -> str:
        return f"CommReducer({self.name})"


@node
class Reduce(PrimExpr):
    """A reduction of ``source`` over ``axis`` (te only; lowered into blocks).

    ``condition`` (optional) restricts which points are combined.
    """
    combiner: CommReducer
    source: PrimExpr
    axis: tuple[IterVar, ...]
    condition: PrimExpr | None
    dtype: str


# ---------------------------------------------------------------- constructors

def const(value, dtype: str | None = None) -> PrimExpr:
    """A constant of ``dtype`` (inferred NumPy-style when omitted).

    >>> const(1.5, "float32").value, const(3).dtype
    (1.5, 'int32')
    """
    dtype = dt.canonical(dtype) if dtype is not None else dt.scalar_dtype(value)
    if dt.is_complex(dtype):  # T.complex(re, im) of two float constants
        value = builtins.complex(value)
        part = dt.component(dtype)
        return Call("complex", (FloatImm(value.real, part), FloatImm(value.imag, part)), dtype)
    if dt.is_float(dtype):
        return FloatImm(float(value), dtype)
    if dtype == "bool":
        return IntImm(int(bool(value)), "bool")
    if isinstance(value, float) and not value.is_integer():
        raise DTypeError(f"constant {value!r} does not fit integer dtype {dtype}")
    ivalue = int(value)
    lo, hi = _int_range(dtype)
    if not lo <= ivalue <= hi:
        ivalue = (ivalue - lo) % (hi - lo + 1) + lo  # wrap like NumPy's astype
    return IntImm(ivalue, dtype)


#: The negative zero of each float dtype, what unary minus subtracts from (``-(+0.0)`` is ``-0.0``).
_NEGATIVE_ZERO = {"float16": -0.0, "float32": -0.0, "float64": -0.0,
                  "complex64": builtins.complex(-0.0, -0.0),
                  "complex128": builtins.complex(-0.0, -0.0)}


@functools.lru_cache(maxsize=None)
def _int_range(dtype: str) -> tuple[int, int]:
    b = dt.bits(dtype)
    return (-(1 << (b - 1)), (1 << (b - 1)) - 1) if dt.is_signed(dtype) else (0, (1 << b) - 1)


def convert(value: Any, dtype: str | None = None) -> PrimExpr:
    """Turn a Python scalar or IterVar into a PrimExpr; PrimExprs pass through.

    ``dtype`` is the partner operand's dtype, used for Python scalars (NEP 50).
    """
    if isinstance(value, PrimExpr):
        return value
    if isinstance(value, IterVar):
        return value.var
    if isinstance(value, (bool, int, float, builtins.complex)) or _is_numpy_scalar(value):
        target = dt.scalar_dtype(value, dtype)
        if isinstance(value, int) and not isinstance(value, bool) and dt.is_int(target):
            lo, hi = _int_range(target)
            if not lo <= value <= hi:
                raise DTypeError(f"Python integer {value} is out of bounds for {target}; "
                                 "cast the other operand to a wider dtype first")
        return const(value, target)
    raise IRError(f"cannot use {value!r} of type {type(value).__name__} in an expression; "
                  "expected an expression, IterVar or Python scalar")


def _is_numpy_scalar(value) -> bool:
    import numpy as np
    return isinstance(value, np.generic)


def cast(value, dtype) -> PrimExpr:
    """``value.astype(dtype)``; a no-op when the dtype already matches."""
    value, dtype = convert(value), dt.canonical(dtype)
    if value.dtype == dtype:
        return value
    if isinstance(value, (IntImm, FloatImm)):
        return _cast_const(value, dtype)
    return Cast(dtype, value)


def _cast_const(value, dtype: str) -> PrimExpr:
    if dt.is_complex(dtype):
        return const(value.value, dtype)
    if dt.is_float(dtype):
        return const(float(value.value), dtype)
    if dtype == "bool":
        return const(value.value != 0, "bool")
    if isinstance(value, FloatImm) and not math.isfinite(value.value):
        return Cast(dtype, value)  # NumPy's result is platform-defined; keep it symbolic
    return const(math.trunc(value.value), dtype)


def _operands(a, b) -> tuple[PrimExpr, PrimExpr]:
    """Convert and promote two operands to one dtype (NumPy 2 / NEP 50)."""
    a_typed = isinstance(a, (PrimExpr, IterVar))
    b_typed = isinstance(b, (PrimExpr, IterVar))
    if a_typed and not b_typed:
        a = convert(a)
        b = convert(b, a.dtype)
    elif b_typed and not a_typed:
        b = convert(b)
        a = convert(a, b.dtype)
    else:
        a, b = convert(a), convert(b)
    if a.dtype != b.dtype:
        target = dt.promote(a.dtype, b.dtype)
        a, b = cast(a, target), cast(b, target)
    return a, b


def _binary(op: str, a, b) -> PrimExpr:
    a, b = _operands(a, b)
    return make_binary(op, a, b)


def make_binary(op: str, a: PrimExpr, b: PrimExpr) -> PrimExpr:
    """Build ``Binary(op, a, b)`` from operands of equal dtype, folding integer constants."""
    if a.dtype != b.dtype:
        raise DTypeError(f"operands of {op} have dtypes {a.dtype} and {b.dtype}; cast one first")
    spec = BINARY_OPS.get(op)
    if spec is None:
        raise IRError(f"unknown binary op {op!r}")
    spec.check(a.dtype)
    out = spec.result_dtype(a.dtype)
    folded = _fold(op, a, b, out)
    return folded if folded is not None else Binary(op, a, b, out)


def _fold(op, a, b, out) -> PrimExpr | None:
    """Fold integer constants and the identities x+0, x-0, x*1, x*0, x//1 (ints only)."""
    if not (dt.is_int(a.dtype) or a.dtype == "bool"):
        return None
    ca = a.value if isinstance(a, IntImm) else None
    cb = b.value if isinstance(b, IntImm) else None
    if ca is not None and cb is not None:
        value = _fold_int(op, ca, cb)
        return None if value is None else const(value, out)
    if op in ("add", "sub") and cb == 0 or op == "mul" and cb == 1 or op in ("floordiv", "truncdiv") and cb == 1:
        return a
    if op == "add" and ca == 0 or op == "mul" and ca == 1:
        return b
    if op == "mul" and (ca == 0 or cb == 0):
        return const(0, out)
    if op in ("floormod", "truncmod") and cb == 1:
        return const(0, out)
    return None


def _fold_int(op, x, y):
    if op in ("floordiv", "floormod", "truncdiv", "truncmod") and y == 0:
        return None  # kept symbolic: the program says what it divides by zero
    exact = BINARY_OPS[op].exact
    return None if exact is None else exact(x, y)


def _truediv(a, b) -> PrimExpr:
    a, b = _operands(a, b)
    if not dt.is_inexact(a.dtype):  # NumPy: int / int -> float64
        a, b = cast(a, "float64"), cast(b, "float64")
    return make_binary("div", a, b)


def _bitwise_or_logical(bitwise: str, logical: str, a, b) -> PrimExpr:
    a, b = _operands(a, b)
    return make_binary(logical if a.dtype == "bool" else bitwise, a, b)


def min(a, b) -> PrimExpr:  # noqa: A001 - mirrors te.min / T.min
    """Elementwise minimum (NaN-propagating for floats, like ``np.minimum``)."""
    return _binary("min", a, b)


def max(a, b) -> PrimExpr:  # noqa: A001
    """Elementwise maximum (NaN-propagating for floats, like ``np.maximum``)."""
    return _binary("max", a, b)


def floordiv(a, b) -> PrimExpr:
    return _binary("floordiv", a, b)


def floormod(a, b) -> PrimExpr:
    return _binary("floormod", a, b)


def truncdiv(a, b) -> PrimExpr:
    return _binary("truncdiv", a, b)


def truncmod(a, b) -> PrimExpr:
    return _binary("truncmod", a, b)


def logical_and(a, b) -> PrimExpr:
    return _binary("and", cast(a, "bool"), cast(b, "bool"))


def conjuncts(cond: PrimExpr) -> list[PrimExpr]:
    """``a and b and c`` -> [a, b, c]; ``True`` -> []."""
    if isinstance(cond, IntImm) and cond.value == 1:
        return []
    if isinstance(cond, Binary) and cond.op == "and":
        return conjuncts(cond.a) + conjuncts(cond.b)
    return [cond]


def and_all(conds) -> PrimExpr:
    """``c0 and c1 and ...``; ``True`` for none."""
    out = conds[0] if conds else const(True, "bool")
    for c in conds[1:]:
        out = make_binary("and", out, c)
    return out


def logical_or(a, b) -> PrimExpr:
    return _binary("or", cast(a, "bool"), cast(b, "bool"))


def logical_not(a) -> PrimExpr:
    a = convert(a)
    if a.dtype != "bool":
        raise DTypeError(f"logical_not needs a bool operand, got {a.dtype}")
    if isinstance(a, IntImm):
        return const(not a.value, "bool")
    return Not(a)


def select(cond, true_value, false_value) -> PrimExpr:
    """``true_value if cond else false_value``, elementwise like ``np.where``."""
    cond = convert(cond)
    if cond.dtype != "bool":
        raise DTypeError(f"select condition must be bool, got {cond.dtype}")
    t, f = _operands(true_value, false_value)
    return Select(cond, t, f, t.dtype)


if_then_else = select


def let(var: Var, value, body) -> PrimExpr:
    """``Let(var, value, body)``: ``body`` where ``var`` is ``value``, computed once."""
    value, body = convert(value, var.dtype), convert(body)
    if value.dtype != var.dtype:
        raise DTypeError(f"a let binds {var.name} of dtype {var.dtype} to a {value.dtype} value; "
                         "cast the value or declare the variable with its dtype")
    return Let(var, value, body, body.dtype)


def call(op: str, *args) -> PrimExpr:
    """Build the math intrinsic ``op(*args)``."""
    arity = MATH_OPS.get(op)
    if arity is None:
        raise IRError(f"unknown math op {op!r}; expected one of {', '.join(MATH_OPS)}")
    if len(args) != arity:
        raise IRError(f"{op} takes {arity} argument(s), got {len(args)}")
    if arity == 2:
        args = _operands(*args)
    elif arity == 1:
        args = (convert(args[0]),)
    elif op == "fma":  # three floats of one dtype, promoted together
        x, y = _operands(args[0], args[1])
        x, z = _operands(x, args[2])
        args = (x, cast(y, x.dtype), z)
    else:  # threefry2x32's four words: one dtype, no promotion
        args = tuple(convert(a, "uint32") for a in args)
        if len({a.dtype for a in args}) != 1:
            raise DTypeError(f"{op} takes operands of one dtype, got {', '.join(a.dtype for a in args)}")
    dtype = args[0].dtype
    MATH_CALLS[op].check(dtype)
    if op in ("floor", "ceil", "round") and not dt.is_float(dtype):
        return args[0]
    if op == "abs" and (dtype == "bool" or dt.is_unsigned(dtype)):
        return args[0]
    if op in _PREDICATES:
        if not dt.is_inexact(dtype):
            return const(op == "isfinite", "bool")
        return Call(op, args, "bool")
    return Call(op, tuple(args), MATH_CALLS[op].result_dtype(dtype))


#: The Call op that reads a value's bits as another dtype of the same width (not a MATH_OPS entry).
REINTERPRET = "reinterpret"

#: The Call op ``vector_window(lo, hi, offset, span)`` (not a MATH_OPS entry): of two vectors
#: ``lo = x[b : b + n]`` and ``hi = x[b + span : b + span + n]`` (``0 < offset < span <= n``),
#: the vector ``x[b + offset : b + offset + n]`` (:func:`mlc.ir.analysis.window_source`;
#: made by :mod:`mlc.passes.tir.vector_windows`). ``offset`` and ``span`` are IntImms.
VECTOR_WINDOW = "vector_window"


def reinterpret(value, dtype: str) -> PrimExpr:
    """``value``'s bits read as ``dtype`` of the same width (NumPy's ``x.view(dtype)``).

    >>> reinterpret(const(-0.0, "float32"), "uint32").dtype
    'uint32'
    """
    value, dtype = convert(value), dt.canonical(dtype)
    if dt.bits(value.dtype) != dt.bits(dtype) or "bool" in (value.dtype, dtype):
        raise DTypeError(f"reinterpret: {value.dtype} and {dtype} differ in width; reinterpret only "
                         "between dtypes of the same number of bits (float32 and uint32, ...)")
    return value if value.dtype == dtype else Call(REINTERPRET, (value,), dtype)


def _math(op: str):
    def fn(*args):
        return call(op, *args)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"Elementwise ``{op}`` (NumPy semantics)."
    return fn


# One builder per math call of the table: exp, log, sqrt, ... (listed in __all__).
globals().update({_name: _math(_name) for _name in MATH_CALLS})


# ---------------------------------------------------------------- vector nodes

@node
class Ramp(PrimExpr):
    """The vector ``[base, base + stride, ..., base + (lanes - 1) * stride]`` of an
    integer scalar ``base``, with a constant ``stride``: the index of a vector load or
    store (``A[T.Ramp(i * 16, 1, 16)]`` is one contiguous load of 16 elements).
    Produced by :func:`mlc.passes.tir.vectorize_loops`; its dtype is ``base``'s with lanes.
    """
    base: PrimExpr
    stride: int
    lanes: int

    def __post_init__(self):
        if not (dt.is_int(self.base.dtype) and self.lanes >= 2):
            raise IRError(f"T.Ramp needs an integer scalar base and at least 2 lanes, got a "
                          f"{self.base.dtype} base and {self.lanes} lanes")

    @property
    def dtype(self) -> str:
        return dt.vector(self.base.dtype, self.lanes)


@node
class Broadcast(PrimExpr):
    """Scalar ``value`` repeated in each of ``lanes`` lanes (dtype ``value``'s with lanes)."""
    value: PrimExpr
    lanes: int

    def __post_init__(self):
        if dt.is_vector(self.value.dtype) or self.lanes < 2:
            raise IRError(f"T.Broadcast needs a scalar value and at least 2 lanes, got a "
                          f"{self.value.dtype} value and {self.lanes} lanes")

    @property
    def dtype(self) -> str:
        return dt.vector(self.value.dtype, self.lanes)
