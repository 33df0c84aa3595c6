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
from ...ir.expr import BufferLoad, Call, FloatImm, IntImm, PrimExpr, Var, cast
from ...ir.tir import For, PrimFunc
from .math.float_ops import FORMATS, FloatOps
from .math.composite import COMPOSITE_ROUTINES
from .math.exp_log import EXP_LOG_ROUTINES
from .math.inverse_trig import INVERSE_TRIG_ROUTINES
from .math.power import POWER_ROUTINES
from .math.trig import TRIG_ROUTINES
from .statement_scalars import StatementScalars, memoized

__all__ = ["lower_math", "math_lowering_for", "ROUTINES", "ROUTINE_DTYPES", "MATH_ANNOTATION"]

#: op name -> routine(FloatOps, *operands), each a float expression of the operands.
ROUTINES: dict[str, Callable] = {**EXP_LOG_ROUTINES, **COMPOSITE_ROUTINES, **POWER_ROUTINES,
                                 **INVERSE_TRIG_ROUTINES, **TRIG_ROUTINES}
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
        outer, self.written = self.written, {}
        try:
            return super().visit_BufferStore(s)
        finally:
            self.written = outer

    @memoized
    def visit_Call(self, e: Call):
        e = self.visit_operands(e)
        if not (isinstance(e, Call) and _expands(e, self.native)):
            return e
        key = (expr_key(e), self.path_key(e))  # (a formula repeats a call: lower_complex's log z in z ** w)
        if self.pending is not None and key in self.written:
            return self.written[key]
        compute = _compute_dtype(e.dtype)
        args = [self._operand(cast(a, compute)) for a in e.args]
        rare: list = []  # (the values a routine computes only where a condition holds: FloatOps.only_where)
        out = self.shared(ROUTINES[e.op](FloatOps(FORMATS[compute], self.fast, rare), *args), rare)
        self.expanded_bits = max(self.expanded_bits, dt.bits(e.dtype))
        out = cast(out, e.dtype) if compute != e.dtype else out
        if self.pending is not None:
            out = self.written[key] = self.slot(out)
        return out

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


def _lowering(native: Native, fast: bool) -> Callable[[PrimFunc], PrimFunc]:
    def lower_math(func: PrimFunc) -> PrimFunc:
        """Every math call of ``func`` that has a routine here and no native lowering, written
        out as float TIR."""
        if not any(_expands_op(op, dtype, native) for op, dtype in labels(func.body, Call)):
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
