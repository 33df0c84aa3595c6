"""The CUDA codegen's math calls come from the intrinsic registry: every math call of the op
table, on every dtype it takes (complex ones included), compiles with NVRTC for sm_80 (precise
and fast-math), and a call with no CUDA lowering is the registry's CompileError."""
import functools

import pytest

import mlc
from mlc import te
from mlc.passes.tir.lower_complex import COMPLEX_MATH
from mlc.passes.tir.lower_threefry import OP as THREEFRY
from mlc.backends.cuda import compile_sources
from mlc.backends.intrinsics import (intrinsic_lowering, lowered_ops, register_intrinsic_lowering,
                                     unregister_intrinsic_lowering)
from mlc.backends.registry import BuildOptions
from mlc.driver import schedule_module
from mlc.errors import CompileError, DTypeError
from mlc.ir import dtype as dt
from mlc.ir import expr as E
from mlc.ir.ops import MATH_CALLS

from .conftest import NVRTC_MISSING, TARGETS

pytestmark = pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))

N = 64


def _takes(op, dtype) -> bool:
    try:
        op.check(dtype)
    except DTypeError:
        return False
    return True


def _compute(dtype: str) -> str:
    return "float32" if dtype == "float16" else dtype


#: (op, dtype) for every dtype each math call takes.
CASES = [(name, d) for name, op in MATH_CALLS.items() for d in dt.SUPPORTED if _takes(op, d)]


def _call_func(name: str, dtype: str):
    """``C[i] = name(X0[i], ...)``: the Call node itself, even where the builders simplify it."""
    inputs = [te.placeholder((N,), dtype, f"X{n}") for n in range(MATH_CALLS[name].arity)]
    out = te.compute((N,), lambda i: E.Call(name, tuple(x[i] for x in inputs),
                                            MATH_CALLS[name].result_dtype(dtype)), "C")
    return te.create_prim_func(inputs + [out])


def _claimed(name: str, dtype: str) -> bool:
    try:
        intrinsic_lowering("cuda", name, _compute(dtype))
    except CompileError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def _module(dtype: str) -> mlc.IRModule:
    """One function per math call the CUDA backend claims on ``dtype``, GPU-scheduled."""
    funcs = {f"{name}_{dtype}": _call_func(name, dtype) for name, d in CASES if d == dtype and _claimed(name, d)}
    return schedule_module(mlc.IRModule(funcs), "cuda")


@pytest.mark.parametrize("name", sorted(MATH_CALLS))
def test_cuda_lowers_every_math_call_on_every_float_and_complex_dtype_it_takes(name):
    taken = [d for n, d in CASES if n == name]
    dtypes = [d for d in taken if dt.is_float(d) or dt.is_complex(d)] or taken  # (threefry2x32: uint32)
    assert dtypes
    if name == THREEFRY:  # written out as integer TIR by lower_threefry, the GPU pipeline's last pass
        assert not _claimed(name, "uint32")
        return
    for dtype in dtypes:  # complex operands: lower_complex's formulas, where it has one
        if not (dt.is_complex(dtype) and name in COMPLEX_MATH):
            assert callable(intrinsic_lowering("cuda", name, _compute(dtype)))
    assert name in lowered_ops("cuda") or not any(dt.is_float(d) for d in dtypes)


@pytest.mark.parametrize("fast_math", [False, True])
@pytest.mark.parametrize("dtype", sorted({d for _, d in CASES}))
def test_every_claimed_math_call_compiles_with_nvrtc_for_sm_80(dtype, fast_math):
    mod = _module(dtype)
    assert len(mod.items()) == sum(1 for name, d in CASES if d == dtype and _claimed(name, d)) > 0
    code, cubin = compile_sources(mod, TARGETS["sm_80"], BuildOptions(fast_math=fast_math))
    assert cubin[:4] == b"\x7fELF"
    for name, _ in mod.items():
        assert f"{name}_kernel(" in code


def test_fast_math_picks_the_hardware_approximations_on_float32_only():
    exp32 = _call_func("exp", "float32")
    fast, _ = compile_sources(schedule_module(mlc.IRModule({"f": exp32}), "cuda"), TARGETS["sm_80"],
                              BuildOptions(fast_math=True))
    precise, _ = compile_sources(schedule_module(mlc.IRModule({"f": exp32}), "cuda"), TARGETS["sm_80"])
    assert "__expf(X0" in fast and "__expf" not in precise and "expf(X0" in precise
    exp64, _ = compile_sources(schedule_module(mlc.IRModule({"f": _call_func("exp", "float64")}), "cuda"),
                               TARGETS["sm_80"], BuildOptions(fast_math=True))
    assert "exp(X0" in exp64 and "__exp" not in exp64


def test_integer_math_calls_keep_the_integer_dtype():
    code, _ = compile_sources(schedule_module(mlc.IRModule({"f": _call_func("floor", "int32"),
                                                            "g": _call_func("abs", "int64"),
                                                            "h": _call_func("isnan", "int8")}), "cuda"),
                              TARGETS["sm_80"])
    assert "floor" not in code.split("f_kernel")[1].split("}")[0]
    assert "(unsigned long long)0 - (unsigned long long)(X0[" in code
    assert "= false;" in code


def test_a_math_call_without_a_cuda_lowering_is_the_registrys_compile_error():
    mod = schedule_module(mlc.IRModule({"f": _call_func("erfc", "float64")}), "cuda")
    removed = unregister_intrinsic_lowering("cuda", "erfc")
    assert removed
    try:
        with pytest.raises(CompileError, match=r"the cuda backend has no lowering of math call erfc for float64 "
                                               r"\(it lowers .*\); register one with mlc.backends.intrinsics"
                                               r".register_intrinsic_lowering\('cuda', 'erfc', ...\)"):
            compile_sources(mod, TARGETS["sm_80"])
    finally:
        for dtypes, lowering in removed:
            register_intrinsic_lowering("cuda", "erfc", lowering, dtypes=dtypes)
    assert compile_sources(mod, TARGETS["sm_80"])[1]


def test_complex_math_calls_are_float_code():
    code, _ = compile_sources(schedule_module(mlc.IRModule({"f": _call_func("exp", "complex64"),
                                                            "g": _call_func("abs", "complex128"),
                                                            "h": _call_func("complex", "float64")}), "cuda"),
                              TARGETS["sm_80"])
    assert "mlc_cexp" not in code and "hypot(" in code and "mlc_complex128{X0[" in code  # (lower_complex)


@pytest.mark.parametrize("name, dtypes", [
    ("ldexp", ("float16", "int32")), ("ldexp", ("float32", "int64")), ("ldexp", ("float64", "int32")),
    ("spacing", ("float32",)), ("spacing", ("float64",)),
    ("fmod", ("float32", "float32")), ("fmod", ("int32", "int32")), ("fmod", ("float64", "float64")),
])
def test_ops_composed_of_bits_and_integer_arithmetic_compile_with_nvrtc(name, dtypes):
    """ldexp builds 2**n from its bits (an int64 shift, a reinterpret), spacing steps with
    nextafter, fmod is C's remainder: each compiles for sm_80."""
    from mlc.ops import get_op
    inputs = [te.placeholder((N,), d, f"X{n}") for n, d in enumerate(dtypes)]
    out = get_op(name).lower(*inputs)
    mod = schedule_module(mlc.IRModule({name: te.create_prim_func([*inputs, out])}), "cuda")
    code, cubin = compile_sources(mod, TARGETS["sm_80"], BuildOptions())
    assert cubin[:4] == b"\x7fELF" and f"{name}_kernel(" in code
