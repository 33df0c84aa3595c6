"""Math calls: LLVM intrinsics where they exist, registered libm functions otherwise.

Each math call of the op table (:data:`mlc.ir.ops.MATH_CALLS`) gets its llvm
lowering from :mod:`mlc.backends.intrinsics`; this module registers those of
LLVM intrinsics, libm functions and short compositions, and
exp, log, sin, tanh, atan... are written out as TIR by :mod:`mlc.passes.tir.lower_math`
(sin, cos and tan of double are registered for that routine's rare large lanes).
A lowering is ``lowering(builder, args, dtype, fast_math)`` with ``args`` in compute
dtype ``dtype`` (float16 already widened to float32).

Every external function a kernel may call is declared here and nowhere else,
so the list of external symbols a module can need is known: LLVM intrinsics
(``llvm.sin.f32`` ...) lower to the libm functions listed in
:mod:`mlc.backends.llvm.symbols`, which registers their addresses together
with the names of :data:`LIBM_CALLS`.
"""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.ops import MATH_CALLS
from ..intrinsics import intrinsic_lowering, register_intrinsic_lowering
from .types import I1

__all__ = ["BACKEND", "declare", "call_intrinsic", "overload_name", "call_libm", "emit_math", "LIBM_CALLS",
           "FLOAT_COMPUTE"]

#: The name this backend registers its lowerings under.
BACKEND = "llvm"
#: The compute dtypes of floats (float16 arrives widened to float32).
FLOAT_COMPUTE = ("float32", "float64")

#: Call ops computed by a libm function without an LLVM intrinsic: op -> (float name, double name).
LIBM_CALLS = {name: (name + "f", name) for name in (
    "tan", "nextafter", "erfc")}

#: Call ops that are exactly one LLVM intrinsic of the same arity.
_INTRINSIC_CALLS = {"sqrt": "sqrt", "sin": "sin", "cos": "cos",
                    "floor": "floor", "ceil": "ceil", "round": "roundeven",
                    "abs": "fabs", "copysign": "copysign", "fma": "fma"}


def declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The function ``name`` of ``module``, declared on first use."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, fnty, name=name)
        if name.startswith("llvm."):
            fn.attributes.add("nounwind")
    return fn


def call_intrinsic(builder: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """``llvm.<name>.<type>(*args)`` overloaded on the first argument's type (a scalar, or a
    vector: ``llvm.fma.v8f64``)."""
    ty = args[0].type
    fnty = ir.FunctionType(ty, [a.type for a in args])
    return builder.call(declare(builder.module, f"llvm.{name}.{overload_name(ty)}", fnty), list(args))


def overload_name(ty: ir.Type) -> str:
    """The suffix naming ``ty`` in an overloaded intrinsic's name: ``f32``, ``v16f32``."""
    if isinstance(ty, ir.VectorType):
        return f"v{ty.count}{ty.element.intrinsic_name}"
    return ty.intrinsic_name


def call_libm(builder: ir.IRBuilder, names: tuple[str, str], *args: ir.Value) -> ir.Value:
    """A libm function of ``args`` (one type): ``names[0]`` for float, ``names[1]`` for double."""
    ty = args[0].type
    name = names[0] if isinstance(ty, ir.FloatType) else names[1]
    fn = declare(builder.module, name, ir.FunctionType(ty, [ty] * len(args)))
    return builder.call(fn, list(args))


def _const(ty: ir.Type, value: float) -> ir.Constant:
    return ir.Constant(ty, value)


def _rsqrt(b, x):
    return b.fdiv(_const(x.type, 1.0), call_intrinsic(b, "sqrt", x))


def _isnan(b, x):
    return b.fcmp_unordered("uno", x, x)


def _isinf(b, x):
    return b.fcmp_ordered("==", call_intrinsic(b, "fabs", x), _const(x.type, float("inf")))


def _isfinite(b, x):
    return b.fcmp_ordered("<", call_intrinsic(b, "fabs", x), _const(x.type, float("inf")))


_COMPOSED: dict[str, Callable] = {"rsqrt": _rsqrt, "isnan": _isnan,
                                  "isinf": _isinf, "isfinite": _isfinite}


def emit_math(builder: ir.IRBuilder, op: str, args: list[ir.Value], dtype: str,
              fast_math: bool = False) -> ir.Value:
    """``op(*args)`` (a :data:`mlc.ir.ops.MATH_CALLS` name) on values of compute dtype
    ``dtype``, by the lowering registered for llvm (CompileError when there is none)."""
    return intrinsic_lowering(BACKEND, op, dtype)(builder, args, dtype, fast_math)


def _integer_math(builder: ir.IRBuilder, op: str, x: ir.Value, dtype: str) -> ir.Value:
    """Math calls the expression builders allow on integers and bools."""
    if op in ("floor", "ceil", "round"):
        return x
    if op == "abs":
        if not dt.is_signed(dtype):
            return x
        negative = builder.icmp_signed("<", x, ir.Constant(x.type, 0))
        return builder.select(negative, builder.neg(x), x)  # abs(INT_MIN) wraps, as NumPy's
    if op in ("isnan", "isinf"):
        return ir.Constant(I1, 0)
    if op == "isfinite":
        return ir.Constant(I1, 1)
    raise CompileError(f"math call {op} needs a float operand, got {dtype}")


#: Ops registered for double only: libm's function, which lower_math's routine calls on its
#: rare large lanes (float32's routine too, on the widened value).
_DOUBLE_ONLY = frozenset({"sin", "cos", "tan"})


def _dtypes(op: str) -> tuple[str, ...]:
    return ("float64",) if op in _DOUBLE_ONLY else FLOAT_COMPUTE


def _register() -> None:
    for op, name in _INTRINSIC_CALLS.items():
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, name=name:
                                    call_intrinsic(b, name, *args), dtypes=_dtypes(op))
    for op, names in LIBM_CALLS.items():
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, names=names:
                                    call_libm(b, names, *args), dtypes=_dtypes(op))
    for op, fn in _COMPOSED.items():
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, fn=fn: fn(b, args[0]),
                                    dtypes=FLOAT_COMPUTE)
    for op in (name for name, spec in MATH_CALLS.items() if spec.operands in ("any", "ordered")):  # ints too
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, op=op:
                                    _integer_math(b, op, args[0], dtype), dtypes=("bool",) + dt.INTS)


_register()
