"""The generator under mlc.random: Random123's known answers and bit-exact draws on every backend
(llvm, the reference interpreter, the CUDA emulator; NVRTC compiles the kernels for sm_80), the
same numbers whatever the schedule's tiling, one fused kernel for ``normal(...) * 0.01``."""
import numpy as np
import pytest

import mlc
import mlc.random as mr
from mlc.ir.threefry import PARITY
from mlc import te
from mlc.numpy._api import emit
from mlc.ops import get_op
from mlc.random._api import draw_bits, open_unit, signed_unit, unit

from . import oracle

BACKENDS = ("llvm", "reference", "cuda-emulator")


@pytest.mark.parametrize("target", BACKENDS)
def test_known_answers_of_random123_on_every_backend(target):
    keys = np.array([k for _, k, _ in oracle.KNOWN_ANSWERS], "uint32")
    counters = np.array([c for c, _, _ in oracle.KNOWN_ANSWERS], "uint32")
    want = np.array([e for _, _, e in oracle.KNOWN_ANSWERS], "uint32")
    threefry = mlc.jit(lambda key, counters: emit("random.threefry2x32", [key, counters]), target=target)
    for key, counter, expected in zip(keys, counters, want):
        np.testing.assert_array_equal(threefry(key, counter), expected)


@pytest.mark.parametrize("target", BACKENDS)
def test_draws_are_the_oracles_bit_for_bit_on_every_backend(target):
    """bits (both widths) and the uniform floats of each interval, odd and non-divisible sizes;
    normal numbers within erfinv's error budget of the NumPy definition."""
    key = mr.key(2024)

    def draws(k):
        return (draw_bits(k, (3, 37)), draw_bits(k, (5,), "uint64", 9), unit(k, (41,), "float32"),
                open_unit(k, (2, 3), "float64"), signed_unit(k, (17,), "float32", 4), mr.normal(k, (13, 3)))

    got = mlc.jit(draws, target=target)(key)
    want = (oracle.bits(key, (3, 37)), oracle.bits(key, (5,), "uint64", 9), oracle.unit(key, (41,), "float32"),
            oracle.unit(key, (2, 3), "float64", "(0, 1)"), oracle.unit(key, (17,), "float32", "(-1, 1)", 4))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()
    normal = get_op("erfinv").reference(oracle.unit(key, (13, 3), "float32", "(-1, 1)")) * np.float32(np.sqrt(2))
    np.testing.assert_allclose(got[-1], normal, rtol=8 * np.finfo("float32").eps, atol=1e-7)


def test_the_numbers_do_not_depend_on_the_schedule():
    """The counter is the element's index: a kernel tiled, reordered and parallelised by hand
    draws what the default schedule draws."""
    key = np.array([7, 11], "uint32")
    K = te.placeholder((2,), "uint32", "K")
    out = get_op("random.unit").lower(K, shape=(29, 31), dtype="float32", stream=0, interval="(-1, 1)")
    mod = mlc.IRModule({"main": te.create_prim_func([K, out])})

    def tiled(sch):
        i, j = sch.get_loops(sch.get_block(out.op.name, "main"))
        j0, j1 = sch.split(j, factors=[None, 4])
        i0, i1 = sch.split(i, factors=[None, 5])
        sch.reorder(j0, i0, j1, i1)
        sch.parallel(j0)

    results = []
    for schedule in (None, tiled):
        y = np.empty((29, 31), "float32")
        mlc.build(mod, "llvm", schedule=schedule)["main"](key, y)
        results.append(y)
    assert results[0].tobytes() == results[1].tobytes() == oracle.unit(key, (29, 31), "float32", "(-1, 1)").tobytes()


def test_eager_and_jitted_draws_agree_and_a_key_argument_does_not_retrace():
    f = mlc.jit(lambda key: mr.uniform(key, (4, 5), minval=-2.0, maxval=3.0))
    for seed in (0, 1, 2):
        key = mr.key(seed)
        np.testing.assert_array_equal(f(key), mr.uniform(key, (4, 5), minval=-2.0, maxval=3.0))
    assert f.trace_count == 1
    assert not np.array_equal(f(mr.key(0)), f(mr.key(1)))


def test_scaled_normal_weights_are_one_fused_kernel():
    """What a model's initialisation writes (issue 61): the bits, erfinv and the scale in one kernel."""
    lowered = mlc.jit(lambda key: mr.normal(key, (784, 256)) * 0.01).lower(mr.key(0))
    kernels = [b for b in lowered.graph.bindings if b.op == "call_tir"]
    assert len(kernels) == 1
    text = lowered.as_text()
    assert "T.threefry2x32(" in text and "T.erfinv(" in text


def test_nvrtc_compiles_the_random_kernels():
    pytest.importorskip("cuda.bindings.nvrtc", reason="cuda-python's NVRTC is not installed")
    from mlc.backends.cuda import compile_sources
    from mlc.backends.cuda.nvrtc import nvrtc_unavailable_reason
    from mlc.driver import schedule_module
    if nvrtc_unavailable_reason() is not None:
        pytest.skip(nvrtc_unavailable_reason())
    lowered = mlc.jit(lambda key: (mr.normal(key, (64, 33)) * 0.01, mr.gamma(key, 2.0, (9,)))).lower(mr.key(0))
    code, cubin = compile_sources(schedule_module(lowered.mod, "cuda"), "cuda -arch=sm_80")
    assert cubin[:4] == b"\x7fELF" and "erfinvf(" in code
    # the generator written out by lower_math (its key schedule's constant), not a function of the backend's
    assert "mlc_threefry2x32" not in code and f"{PARITY}u ^" in code
