"""How the CUDA codegen writes each math call: its lowerings in the intrinsic registry.

Each math call of the op table (:data:`mlc.ir.ops.MATH_CALLS`) is rendered by
the lowering registered under ``"cuda"`` in :mod:`mlc.backends.intrinsics`
for its operands' dtype; a call with none is the registry's CompileError,
naming the op, the dtype and this backend. A lowering is
``lowering(args, dtype, fast_math) -> str``: ``args`` are the operands,
already rendered as C expressions of compute dtype ``dtype`` (float16
operands arrive widened to float32, and the codegen rounds the result back),
and the result is the C expression of the call.

- floats: CUDA's precise math functions (``expf``/``exp``, ``tanhf``/``tanh``,
  ..., ``rintf`` for ``round``, which rounds half to even as NumPy does);
  with ``fast_math``, float32 ``exp``, ``log``, ``sin``, ``cos``, ``tan``,
  ``pow`` and ``sigmoid`` use the hardware approximations (``__expf``, ...);
- integers and bools, for the calls that take them (``abs``, ``floor``,
  ``ceil``, ``round``, ``isnan``, ``isinf``, ``isfinite``): what they mean
  there (the operand itself, ``abs``, a constant);
- complex operands, and ``complex(re, im)``: the helpers of :mod:`.complex`
  (``mlc_cexp(z)``, ...), registered there.

>>> from mlc.backends.intrinsics import intrinsic_lowering
>>> intrinsic_lowering("cuda", "exp", "float32")(["x"], "float32", False)
'expf(x)'
>>> intrinsic_lowering("cuda", "exp", "float32")(["x"], "float32", True)
'__expf(x)'
>>> intrinsic_lowering("cuda", "exp", "float64")(["x"], "float64", True)
'exp(x)'
"""
from __future__ import annotations

from collections.abc import Callable

from ...ir import dtype as dt
from ...ir.ops import MATH_CALLS
from ..intrinsics import register_intrinsic_lowering

__all__ = ["BACKEND", "FLOAT_COMPUTE", "PRECISE_CALLS", "FAST_MATH_CALLS"]

#: The name this backend registers its lowerings under.
BACKEND = "cuda"
#: The compute dtypes of floats (float16 arrives widened to float32).
FLOAT_COMPUTE = ("float32", "float64")

#: Math calls that are one CUDA math function: op -> (float function, double function).
PRECISE_CALLS = {op: (op + "f", op) for op in (
    "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "erfc", "sin", "cos", "pow", "floor", "ceil",
    "expm1", "log1p", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "log2", "log10", "atan2", "hypot", "copysign", "nextafter", "cbrt", "erfinv", "fma")}
PRECISE_CALLS.update({"abs": ("fabsf", "fabs"), "round": ("rintf", "rint")})  # rint: half to even, as NumPy
#: With ``fast_math``: the hardware approximations of float32 functions.
FAST_MATH_CALLS = {"exp": "__expf", "log": "__logf", "sin": "__sinf", "cos": "__cosf", "tan": "__tanf",
                   "pow": "__powf"}

_C_TYPES = {"bool": "bool", "int8": "signed char", "uint8": "unsigned char", "int16": "short",
            "uint16": "unsigned short", "int32": "int", "uint32": "unsigned int", "int64": "long long",
            "uint64": "unsigned long long"}


def _one(dtype: str) -> str:
    return "1.0f" if dtype == "float32" else "1.0"


def _function(op: str) -> Callable[[list[str], str, bool], str]:
    """``op`` as CUDA's function for the dtype, its ``__`` approximation with fast_math on float32."""
    single, double = PRECISE_CALLS[op]
    fast = FAST_MATH_CALLS.get(op)

    def lowering(args: list[str], dtype: str, fast_math: bool) -> str:
        name = single if dtype == "float32" else double
        if fast is not None and fast_math and dtype == "float32":
            name = fast
        return f"{name}({', '.join(args)})"
    lowering.__name__ = f"cuda_{op}"
    return lowering


def _sigmoid(args: list[str], dtype: str, fast_math: bool) -> str:
    one = _one(dtype)
    exp = _function("exp")([f"-({args[0]})"], dtype, fast_math)
    return f"({one} / ({one} + {exp}))"


def _isnan(args, dtype, fast_math):
    return f"isnan({args[0]})"


def _isinf(args, dtype, fast_math):
    return f"isinf({args[0]})"


def _isfinite(args, dtype, fast_math):
    return f"isfinite({args[0]})"


def _integer(op: str) -> Callable[[list[str], str, bool], str]:
    """The math calls the expression builders allow on integers and bools."""
    def lowering(args: list[str], dtype: str, fast_math: bool) -> str:
        (x,) = args
        if op in ("floor", "ceil", "round"):
            return x
        if op == "abs":
            if not dt.is_signed(dtype):
                return x
            # negated in the unsigned type: abs(INT_MIN) wraps, as NumPy's does, with no overflow
            unsigned = _C_TYPES["u" + dtype]
            return f"(({_C_TYPES[dtype]})(({x}) < 0 ? ({unsigned})0 - ({unsigned})({x}) : ({unsigned})({x})))"
        return "false" if op in ("isnan", "isinf") else "true"
    lowering.__name__ = f"cuda_{op}_integer"
    return lowering


def _register() -> None:
    for op in PRECISE_CALLS:
        register_intrinsic_lowering(BACKEND, op, _function(op), dtypes=FLOAT_COMPUTE)
    for op, lowering in (("sigmoid", _sigmoid), ("isnan", _isnan), ("isinf", _isinf), ("isfinite", _isfinite)):
        register_intrinsic_lowering(BACKEND, op, lowering, dtypes=FLOAT_COMPUTE)
    for op in (name for name, spec in MATH_CALLS.items() if spec.operands in ("any", "ordered")):  # ints too
        register_intrinsic_lowering(BACKEND, op, _integer(op), dtypes=("bool",) + dt.INTS)
    # complex operands (complex, real, imag, conj, and the math calls above on complex values) are
    # lowered by .complex, which the codegen imports


_register()
