"""lower_math: transcendental functions written once, as float TIR.

A math call (``T.atan(x)``, ...) that a backend computes with no native instruction or
library function of its own is expanded here into the float arithmetic of its
algorithm (:mod:`.math`: branch-free code, polynomials and argument reductions, built
from ``+ - * /``, ``fma``, ``sqrt``, ``abs``, ``copysign``, ``round``, ``floor``,
compares, selects, casts and ``reinterpret``). A backend registers only what it has
natively (:func:`mlc.backends.intrinsics.register_intrinsic_lowering`: CUDA's ``atanf``,
a libm call), and :func:`math_lowering_for` keeps those calls; the reference
interpreter runs :func:`lower_math`, which keeps none, so it runs the very algorithm
the backends without a native routine run, and a new backend gets accurate math for
free.

Routines of float32 and float64 (``ROUTINE_DTYPES``); a float16 call is computed by the
float32 routine and rounded back (NumPy's float16 math). ``fast_math``
(:func:`math_lowering_for`'s ``fast``) picks each routine's cheaper variant, within 1e-6
relative for float32 and 1e-13 for float64.

Each value the algorithm uses more than once is computed once, into a local scalar
before the statement (:class:`~.statement_scalars.StatementScalars`), and so are the
call's operands (the selects then read no memory: a backend computes both sides) and
its result: a statement calling ``atan2(y, x)`` in several places (lower_complex's
``log z``, repeated in the formula of ``z ** w``) computes it once. The
vectorized loop (``T.vectorized``) holding an expanded call is annotated
``(MATH_ANNOTATION, bits)`` with the widest dtype's bits: a backend's loop vectorizer may
keep more vectors of such a long body in flight.

A float32 or float64 ``1 + tanh(z)``, ``tanh(z) + 1`` or ``1 - tanh(z)``, and a product of one
with any ``a`` (the tanh form of GELU, ``0.5 x (1 + tanh(...))``), whose tanh the statement
uses nowhere else, is written as ``a / d`` (``1 / d`` alone), with ``d = (1 + e^(-+2z)) / 2``
(:func:`~.math.exp_log.tanh_step_denominator`): the identity ``1 + tanh(z) = 2 sigmoid(2z)``;
``a = 0.5 y`` as ``y / (2 d)``, the halving folded into d's constants.
It is exact in real arithmetic, costs fewer operations than tanh's routine and the sum, and
keeps the relative accuracy where tanh is near -1, where the sum cancels (z = -5: tanh's
2.5 ulps are 0.16% of the float32 sum, which keeps 9 of its 24 bits; below z = -9.01, tanh
correctly rounded is -1 and the sum 0). Where tanh is native (CUDA's ``tanhf``) the step is
written out all the same: the sum of a native tanh cancels as much;
``fast_math`` keeps its rational tanh and the sum (as few operations as the quotient).

>>> from mlc import te
>>> from mlc.passes.tir import lower
>>> X = te.placeholder((4,), "float32", "X")
>>> Y = te.compute((4,), lambda i: te.atan(X[i]), "Y")
>>> f = lower_math(lower(te.create_prim_func([X, Y])))
>>> "T.atan" in f.script(), "T.fma" in f.script()
(False, True)
"""
from __future__ import annotations

from collections.abc import Callable

from ...ir import dtype as dt
from ...ir.analysis.census import labels
from ...ir.arith import expr_key
from ...ir.expr import Binary, BufferLoad, Call, FloatImm, IntImm, PrimExpr, Var, cast, const, make_binary
from ...ir.functor import post_order_dag
from ...ir.tir import For, PrimFunc
from .math.float_ops import FORMATS, FloatOps
from .math.composite import COMPOSITE_ROUTINES
from .math.exp_log import EXP_LOG_ROUTINES, tanh_step_denominator
from .math.hypot import HYPOT_ROUTINES
from .math.inverse_trig import INVERSE_TRIG_ROUTINES
from .math.power import POWER_ROUTINES
from .math.trig import TRIG_ROUTINES
from .statement_scalars import StatementScalars, children, memoized

__all__ = ["lower_math", "math_lowering_for", "ROUTINES", "ROUTINE_DTYPES", "MATH_ANNOTATION"]

#: op name -> routine(FloatOps, *operands), each a float expression of the operands.
ROUTINES: dict[str, Callable] = {**EXP_LOG_ROUTINES, **COMPOSITE_ROUTINES, **POWER_ROUTINES,
                                 **INVERSE_TRIG_ROUTINES, **TRIG_ROUTINES, **HYPOT_ROUTINES}
#: The compute dtypes each routine serves (float16 is computed by float32's).
ROUTINE_DTYPES: dict[str, tuple[str, ...]] = {op: ("float32", "float64") for op in ROUTINES}
#: The annotation of a vectorized loop whose body holds an expanded call (see the docstring).
MATH_ANNOTATION = "math_routine_bits"

Native = Callable[[str, str], bool]


def _compute_dtype(dtype: str) -> str:
    return "float32" if dtype == "float16" else dtype


class _LowerMath(StatementScalars):
    slot_dtypes = frozenset({"float32", "float64", "int32", "int64"})

    def __init__(self, native: Native, fast: bool):
        super().__init__("math_values")
        self.native, self.fast = native, fast
        self.expanded_bits = 0  # the widest expanded call of the innermost loop being visited
        self.written: dict = {}  # the store's calls written out: their key -> the scalar holding it
        self.stepped: frozenset = frozenset()  # the keys of the store's tanh calls used only in steps (_step)

    def visit_For(self, s: For):
        outer, self.expanded_bits = self.expanded_bits, 0
        try:
            s = self.generic_visit(s)
            bits = self.expanded_bits
        finally:
            self.expanded_bits = outer
        if bits and s.kind == "vectorized":
            return For(s.loop_var, s.min, s.extent, s.kind, s.body, s.thread_binding,
                       (*s.annotations, (MATH_ANNOTATION, bits)))
        self.expanded_bits = max(self.expanded_bits, bits)  # (a serial loop inside a vectorized one)
        return s

    def visit_BufferStore(self, s):
        outer = self.written, self.stepped
        self.written, self.stepped = {}, (_stepped_tanh(s.value) if not self.fast else frozenset())
        try:
            return super().visit_BufferStore(s)
        finally:
            self.written, self.stepped = outer

    @memoized
    def visit_Call(self, e: Call):
        e = self.visit_operands(e)
        if not (isinstance(e, Call) and _expands(e, self.native)):
            return e
        return self._write_out((expr_key(e), self.path_key(e)), e.dtype, ROUTINES[e.op], e.args)

    def _write_out(self, key: tuple, dtype: str, routine: Callable, args) -> PrimExpr:
        """``routine``'s formula of ``args`` (visited) in ``dtype`` (float16: float32's, rounded
        back), its repeated values in scalars; in a store, itself in one, once a ``key``
        (a formula repeats a call: lower_complex's log z in z ** w)."""
        if self.pending is not None and key in self.written:
            return self.written[key]
        compute = _compute_dtype(dtype)
        args = [self._operand(cast(a, compute)) for a in args]
        rare: list = []  # (the values a routine computes only where a condition holds: FloatOps.only_where)
        out = self.shared(routine(FloatOps(FORMATS[compute], self.fast, rare), *args), rare)
        self.expanded_bits = max(self.expanded_bits, dt.bits(dtype))
        out = cast(out, dtype) if compute != dtype else out
        if self.pending is not None:
            out = self.written[key] = self.slot(out)
        return out

    def visit_Binary(self, e: Binary):
        if self.stepped and _step(e) is not None:
            return self._visit_step(e)
        return self.generic_visit(e)

    @memoized
    def _visit_step(self, e: Binary):
        """``a (1 +- tanh(z))`` as ``a / d``, ``1 +- tanh(z)`` as ``1 / d`` (the module docstring)."""
        a, tanh, sign = _step(e)
        if expr_key(tanh) not in self.stepped:
            return self.generic_visit(e)
        half = _halved(a)  # (a = y / 2: y over the whole 1 + e^(-2z), one product fewer)
        z = self.visit(tanh.args[0])
        d = self._write_out((("tanh_step", sign, half is not None), expr_key(z), self.path_key(z)), e.dtype,
                            lambda o, x: tanh_step_denominator(o, x, sign, whole=half is not None), (z,))
        numerator = const(1.0, e.dtype) if a is None else self.visit(a if half is None else half)
        return make_binary("div", numerator, d)

    def _operand(self, x: PrimExpr) -> PrimExpr:
        """``x``, or (in a store, unless a constant, a variable or a local scalar) a load of the
        local scalar it is computed into: the formula repeats it, under selects."""
        if self.pending is None or isinstance(x, (FloatImm, IntImm, Var)):
            return x
        if isinstance(x, BufferLoad) and x.buffer.scope == "local":
            return x
        return self.slot(x)


def _expands(e: Call, native: Native) -> bool:
    """Whether the call ``e`` is one this pass writes out (a scalar float call of a routine's
    op the backend has no native lowering of)."""
    return _expands_op(e.op, e.dtype, native)


def _expands_op(op: str, dtype: str, native: Native) -> bool:
    """:func:`_expands` for a call of ``op`` giving ``dtype``."""
    if op not in ROUTINES or dt.is_vector(dtype) or not dt.is_float(dtype):
        return False
    compute = _compute_dtype(dtype)
    return compute in ROUTINE_DTYPES[op] and not native(op, compute)


#: The dtypes whose ``1 +- tanh(z)`` is written as a quotient (the module docstring), native tanh or not.
_STEPPED = ("float32", "float64")


def _tanh_term(e: PrimExpr) -> tuple[Call, int] | None:
    """(the tanh call, +-1) of ``e`` = ``1 + tanh(z)``, ``tanh(z) + 1`` or ``1 - tanh(z)`` in
    float32 or float64 (a native tanh too); else None."""
    if not (isinstance(e, Binary) and e.op in ("add", "sub") and e.dtype in _STEPPED):
        return None
    for one, tanh, sign in ((e.a, e.b, 1 if e.op == "add" else -1), (e.b, e.a, 1 if e.op == "add" else 0)):
        if (sign and isinstance(one, FloatImm) and one.value == 1.0 and isinstance(tanh, Call)
                and tanh.op == "tanh" and tanh.dtype in _STEPPED):
            return tanh, sign
    return None


def _step(e: PrimExpr) -> tuple[PrimExpr | None, Call, int] | None:
    """(a, the tanh call, +-1) of a product ``a (1 +- tanh(z))`` (either order), (None, the
    call, +-1) of a bare ``1 +- tanh(z)``; else None."""
    term = _tanh_term(e)
    if term is not None:
        return (None, *term)
    if isinstance(e, Binary) and e.op == "mul":
        for a, b in ((e.a, e.b), (e.b, e.a)):
            term = _tanh_term(b)
            if term is not None:
                return (a, *term)
    return None


def _halved(a: PrimExpr | None) -> PrimExpr | None:
    """y of ``a = 0.5 y`` or ``y 0.5``, else None: ``(y / 2) / d`` is ``y / (2 d)``, exactly
    (but where y / 2 would round, y subnormal: the quotient is then the closer)."""
    if isinstance(a, Binary) and a.op == "mul":
        for half, y in ((a.a, a.b), (a.b, a.a)):
            if isinstance(half, FloatImm) and half.value == 0.5:
                return y
    return None


def _stepped_tanh(value: PrimExpr) -> frozenset:
    """The keys of the tanh calls of ``value`` that only ``1 +- tanh(z)`` terms use: written as
    the step's quotient, tanh's own formula is not needed (one used elsewhere too keeps the
    terms as they are, which reuse the formula)."""
    if not any(op == "tanh" for op, _ in labels(value, Call)):  # (the census kept on the nodes: no walk)
        return frozenset()
    uses: dict = {}
    in_terms: dict = {}
    for n in post_order_dag((value,), children):
        term = _tanh_term(n)
        for c in children(n):
            if isinstance(c, Call) and c.op == "tanh":
                k = expr_key(c)
                uses[k] = uses.get(k, 0) + 1
                if term is not None and term[0] is c:
                    in_terms[k] = in_terms.get(k, 0) + 1
    return frozenset(k for k, n in in_terms.items() if n == uses[k])


def _lowering(native: Native, fast: bool) -> Callable[[PrimFunc], PrimFunc]:
    def lower_math(func: PrimFunc) -> PrimFunc:
        """Every math call of ``func`` that has a routine here and no native lowering, written
        out as float TIR."""
        if not any(_expands_op(op, dtype, native) or (not fast and op == "tanh" and dtype in _STEPPED)
                   for op, dtype in labels(func.body, Call)):
            return func
        return _LowerMath(native, fast).visit(func)
    return lower_math


def math_lowering_for(native: Native, fast: bool = False) -> Callable[[PrimFunc], PrimFunc]:
    """:func:`lower_math` keeping the calls ``native(op, compute_dtype)`` says the backend
    computes itself (a backend's pipeline passes what it registered in
    :mod:`mlc.backends.intrinsics`); ``fast``: the ``fast_math`` variants."""
    return _lowering(native, fast)


#: Every routine's call written out (the reference interpreter's pass: no native routine).
lower_math = _lowering(lambda op, dtype: False, False)
