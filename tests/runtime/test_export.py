"""Exported libraries (mlc.export, lib.export) loaded by mlc.runtime.load: results against
NumPy and bit for bit against the in-process build, argument checks, and refusals."""
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.runtime import loader
from mlc.runtime.loader import pack_trailer

from tests.programs import mm_relu_module

from .c_driver import have, run_c_program

HAVE_CC = any(shutil.which(c) for c in ("cc", "gcc", "clang"))
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler (cc, gcc or clang) on PATH to export with")
LOADER = Path(loader.__file__)


@needs_cc
@settings(max_examples=3, deadline=None)
@given(n=st.sampled_from([1, 7, 64]), m=st.sampled_from([1, 5, 48]), k=st.sampled_from([1, 3, 33]))
def test_a_built_module_exports_and_loads_with_the_same_results(tmp_path_factory, n, m, k):
    lib = mlc.build(mm_relu_module(n, m, k))
    path = lib.export(tmp_path_factory.mktemp("lib") / "mm.so")
    loaded = mlc.runtime.load(path)
    rng = np.random.default_rng(n * 100 + m * 10 + k)
    a, b = rng.standard_normal((n, k), "float32"), rng.standard_normal((k, m), "float32")
    here, there = np.empty((n, m), "float32"), np.empty((n, m), "float32")
    lib["mm_relu"](a, b, here)
    loaded["mm_relu"](a, b, there)
    assert np.array_equal(here, there)
    np.testing.assert_allclose(there, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def mlp_library(tmp_path_factory):
    """(the jitted MLP, its weights, an input, its exported library loaded): weights captured
    as constants, parallel loops."""
    rng = np.random.default_rng(0)
    w1, b1 = rng.standard_normal((96, 128), "float32"), rng.standard_normal(128, "float32")
    w1, w2 = w1 * np.float32(0.1), rng.standard_normal((128, 10), "float32") * np.float32(0.1)

    @mlc.jit
    def mlp(x):  # the weights are constants of the trace
        h = np.maximum(x @ w1 + b1, 0)
        e = np.exp(h @ w2)
        return e / e.sum(axis=1, keepdims=True), h.sum()

    x = rng.standard_normal((256, 96), "float32")
    compiled = mlp.trace(x).lower().compile()
    assert "GOMP_parallel" in compiled.as_text()  # (parallel loops: the library runs its own pool)
    path = compiled.export(tmp_path_factory.mktemp("mlp") / "mlp.so")
    return mlp, (w1, b1, w2), x, mlc.runtime.load(path)


@needs_cc
def test_a_jitted_program_with_constants_and_parallel_loops_runs_the_same(mlp_library):
    mlp, (w1, b1, w2), x, loaded = mlp_library
    assert loaded.set_num_threads(2) == 2
    probs, total = loaded(x)
    want_probs, want_total = mlp(x)
    assert np.array_equal(probs, want_probs) and np.array_equal(total, want_total)
    h = np.maximum(x @ w1 + b1, 0)
    e = np.exp(h @ w2)
    np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    x2 = np.random.default_rng(1).standard_normal((256, 96), "float32").copy(order="F")  # non-contiguous: copied in
    assert np.array_equal(loaded(x2)[0], mlp(np.ascontiguousarray(x2))[0])


@needs_cc
def test_symbolic_extents_are_read_from_the_arrays(tmp_path):
    n = te.var("n")
    A = te.placeholder((n, 3), "float32", name="A")
    B = te.compute((n, 3), lambda i, j: te.exp(A[i, j]) * 2, name="B")
    lib = mlc.build(mlc.IRModule({"f": te.create_prim_func([A, B])}))
    loaded = mlc.runtime.load(lib.export(tmp_path / "sym.so"))
    for rows in (1, 5, 17):
        a = np.random.default_rng(rows).standard_normal((rows, 3), "float32")
        here, there = np.empty_like(a), np.empty_like(a)
        lib["f"](a, here)
        loaded["f"](a, there)
        assert np.array_equal(here, there)
        np.testing.assert_allclose(there, np.exp(a) * 2, rtol=1e-6)
    with pytest.raises(mlc.ShapeError, match="n must be 2"):
        loaded["f"](np.ones((2, 3), "float32"), np.ones((4, 3), "float32"))
    a = np.ones((4, 3), "float32")
    with pytest.raises(mlc.MLCError, match="share memory"):
        loaded["f"](a, a)
    with pytest.raises(mlc.ShapeError, match="C-contiguous"):
        loaded["f"](a, np.ones((3, 4), "float32").T)


@needs_cc
def test_calls_are_checked_as_jitted_calls_are(tmp_path):
    loaded = mlc.runtime.load(mlc.export(lambda x: x * 2, np.ones((2, 3), "float32"), path=tmp_path / "t.so"))
    np.testing.assert_array_equal(loaded(np.ones((2, 3), "float32")), np.full((2, 3), 2, "float32"))
    with pytest.raises(mlc.DTypeError, match="dtype float32, got float64"):
        loaded(np.ones((2, 3)))
    with pytest.raises(mlc.ShapeError, match=r"shape \(2, 3\), got \(3, 2\)"):
        loaded(np.ones((3, 2), "float32"))
    with pytest.raises(mlc.ShapeError, match="takes 1 arrays"):
        loaded(np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))
    with pytest.raises(mlc.DTypeError, match="numpy.ndarray"):
        loaded([[1.0] * 3] * 2)


def _copy_and_damage(path: Path, tmp_path: Path, how: str) -> Path:
    data = bytearray(path.read_bytes())
    if how == "flipped":
        data[len(data) // 3] ^= 0x40
    elif how == "truncated":
        data = data[: len(data) - 100]
    out = tmp_path / f"{how}.so"
    out.write_bytes(bytes(data))
    return out


@needs_cc
def test_damaged_truncated_foreign_and_other_cpu_files_are_refused(tmp_path):
    path = mlc.export(lambda x: x + 1, np.ones(4, "float32"), path=tmp_path / "ok.so")
    for how in ("flipped", "truncated"):
        with pytest.raises(mlc.LoadError, match="damaged|not a library exported by mlc"):
            mlc.runtime.load(_copy_and_damage(path, tmp_path, how))
    foreign = tmp_path / "libforeign.so"
    shutil.copy(shutil.which("true") or sys.executable, foreign)
    with pytest.raises(mlc.LoadError, match="not a library exported by mlc"):
        mlc.runtime.load(foreign)
    (tmp_path / "empty.so").write_bytes(b"")
    with pytest.raises(mlc.LoadError, match="not a library exported by mlc"):
        mlc.runtime.load(tmp_path / "empty.so")
    # an intact file whose metadata asks for what this machine lacks, or a newer format
    data = path.read_bytes()
    metadata = mlc.runtime.load(path).metadata
    elf = data[: data.index(b'{"arch"')]
    for change, message in (({"arch": "riscv64"}, "riscv64 architecture"),
                            ({"cpu_features": ["amx-tile", "avx512fp16", "sve"]}, "lacks"),
                            ({"format": 99}, "format 99"),
                            ({"entries": [{"kind": "hologram"}]}, "does not know")):
        other = tmp_path / "other.so"
        other.write_bytes(pack_trailer(elf, {**metadata, **change}))
        if "cpu_features" in change and {"amx_tile", "avx512_fp16"} <= (loader.host_cpu_features() or set()):
            continue
        with pytest.raises(mlc.LoadError, match=message):
            mlc.runtime.load(other)


def test_missing_features_compares_llvm_names_with_cpuinfo_flags():
    metadata = {"arch": "x86_64", "cpu_features": ["avx2", "avx512f", "fma", "fast-gather"]}
    assert loader.missing_features(metadata, "x86_64", frozenset({"avx2", "fma"})) == ["avx512f"]
    assert loader.missing_features(metadata, "x86_64", frozenset({"avx2", "fma", "avx512f"})) == []
    assert loader.missing_features(metadata, "aarch64", frozenset()) == ["the x86_64 architecture"]
    assert loader.missing_features({"arch": "aarch64", "cpu_features": ["neon", "sve"]}, "aarch64",
                                   frozenset({"asimd", "fp"})) == ["sve"]


@needs_cc
def test_the_loader_runs_where_llvmlite_cannot_be_imported(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 8), "float32")
    path = mlc.export(lambda x: np.tanh(x) @ x.T, x, path=tmp_path / "model.so")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", np.tanh(x) @ x.T)
    script = textwrap.dedent(f"""
        import sys, importlib.util
        import numpy as np
        sys.modules["llvmlite"] = None  # any import of llvmlite fails
        spec = importlib.util.spec_from_file_location("mlc_loader", {str(LOADER)!r})
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        y = loader.load({str(path)!r})(np.load({str(tmp_path / 'x.npy')!r}))
        assert not any(m == "mlc" or m.startswith("mlc.") for m in sys.modules), "imported mlc"
        import mlc  # the package too loads without llvmlite, and so does its loader
        z = mlc.runtime.load({str(path)!r})(np.load({str(tmp_path / 'x.npy')!r}))
        assert sys.modules["llvmlite"] is None
        np.testing.assert_array_equal(y, z)
        np.testing.assert_allclose(y, np.load({str(tmp_path / 'want.npy')!r}), rtol=1e-4, atol=1e-5)
        print("loaded without llvmlite")
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(mlc.__file__).parents[1])}  # this checkout's mlc
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "loaded without llvmlite" in done.stdout


def test_a_missing_compiler_is_a_clear_error(tmp_path, monkeypatch):
    lib = mlc.build(mm_relu_module(2, 2, 2))
    with pytest.raises(mlc.ToolchainError, match="was not found on PATH"):
        lib.export(tmp_path / "x.so", cc="no-such-compiler-mlc")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(mlc.ToolchainError, match="no C compiler on PATH"):
        lib.export(tmp_path / "x.so")
    assert not (tmp_path / "x.so").exists()


@needs_cc
def test_the_library_needs_only_libc_libm_and_pthreads(tmp_path):
    from mlc.backends.llvm.export.toolchain import ALLOWED_LIBRARIES, needed_libraries
    path = mlc.export(lambda x: np.sin(x) + np.exp(x).sum(), np.ones(1000, "float64"), path=tmp_path / "m.so")
    _, needed = needed_libraries(path.read_bytes())
    assert needed and all(n.startswith(ALLOWED_LIBRARIES) for n in needed), needed


@needs_cc
def test_the_portable_form_rebuilds_for_this_cpu(tmp_path):
    lib = mlc.build(mm_relu_module(9, 7, 5))
    path = mlc.export(lib, path=tmp_path / "mm.mlc", format="mlc")  # (lib.export(path, format="mlc"))
    with pytest.raises(mlc.LoadError, match="load_portable"):
        mlc.runtime.load(path)
    rebuilt = mlc.load_portable(path)
    a, b = np.random.default_rng(1).standard_normal((9, 5), "float32"), np.ones((5, 7), "float32")
    here, there = np.empty((9, 7), "float32"), np.empty((9, 7), "float32")
    lib["mm_relu"](a, b, here)
    rebuilt["mm_relu"](a, b, there)
    assert np.array_equal(here, there)
    w = np.random.default_rng(2).standard_normal((5, 4), "float32")
    f = mlc.jit(lambda x: (np.tanh(x @ w), np.tanh(x @ w), x.sum()))  # constants, an output twice
    portable = mlc.load_portable(mlc.export(f, a, path=tmp_path / "f.mlc", format="mlc"))
    got, want = portable(a), f(a)
    assert all(np.array_equal(g, v) for g, v in zip(got, want)) and got[0] is not got[1]
    with pytest.raises(mlc.MLCError, match="portable form keeps"):
        mlc.export(mlc.jit(lambda x: x * 2, dynamic=("x", 0)), a, path=tmp_path / "d.mlc", format="mlc")


@needs_cc
def test_functions_named_like_c_keywords_export(tmp_path):
    A = te.placeholder((5,), "float32", "A")
    twice = te.create_prim_func([A, te.compute((5,), lambda i: A[i] * 2, "B")])
    neg = te.create_prim_func([A, te.compute((5,), lambda i: -A[i], "B")])
    lib = mlc.build(mlc.IRModule({"double": twice, "float": neg}))  # symbols C cannot name
    loaded = mlc.runtime.load(lib.export(tmp_path / "names.so"))
    a, b = np.arange(5, dtype="float32"), np.empty(5, "float32")
    loaded["double"](a, b)
    np.testing.assert_array_equal(b, a * 2)
    loaded["float"](a, b)
    np.testing.assert_array_equal(b, -a)
    assert "void mlc_names_float(const float *A, float *B);" in (tmp_path / "names.h").read_text()


def test_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(mlc.MLCError, match="format must be"):
        mlc.build(mm_relu_module(2, 2, 2)).export(tmp_path / "x.so", format="zip")


def dynamic_rows(x):
    c = np.arange(3, dtype="float32")
    return (np.exp(x) * c).reshape(x.shape[0], 3, 1).sum(axis=0), (x @ x.T) * 2, x, np.max(x, axis=0)


@pytest.fixture(scope="module")
def dynamic_library(tmp_path_factory):
    """(a jit with a dynamic axis, its exported library loaded)."""
    f = mlc.jit(dynamic_rows, dynamic=("x", 0))
    return f, mlc.runtime.load(mlc.export(f, np.ones((5, 3), "float32"), path=tmp_path_factory.mktemp("d") / "dyn.so"))


@needs_cc
@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 40]))
def test_programs_with_dynamic_axes_export_with_a_main_in_c(dynamic_library, n):
    f, loaded = dynamic_library
    x = np.random.default_rng(n).standard_normal((n, 3), "float32")
    got, want = loaded(x), f(x)
    for a, b in zip(got, want):
        assert a.shape == b.shape and np.array_equal(a, b)
    np.testing.assert_allclose(got[1], (x @ x.T) * 2, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[3], x.max(axis=0))


@needs_cc
def test_a_c_program_calls_a_dynamic_program_with_its_sizes(dynamic_library):
    f, loaded = dynamic_library
    x = np.random.default_rng(9).standard_normal((6, 3), "float32")
    want = f(x)
    got = run_c_program(Path(loaded.path), "mlc_dyn_main", [x], [(a.dtype.name, a.shape) for a in want], sizes=(6,))
    for a, b in zip(got, want):
        assert np.array_equal(a, b)


@needs_cc
def test_a_dynamic_program_checks_its_sizes(dynamic_library):
    _, loaded = dynamic_library
    with pytest.raises(mlc.ShapeError, match="zero-size array"):
        loaded(np.ones((0, 3), "float32"))
    with pytest.raises(mlc.ShapeError, match="must have shape"):
        loaded(np.ones((4, 2), "float32"))


@needs_cc
def test_a_c_program_calls_the_library_through_its_header(tmp_path):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((12, 5), "float32")
    x = rng.standard_normal((9, 12), "float32")
    path = mlc.export(lambda x: np.maximum(x @ w, 0), x, path=tmp_path / "net.so")
    (y,) = run_c_program(path, "mlc_net_main", [x], [("float32", (9, 5))])
    assert np.array_equal(y, mlc.runtime.load(path)(x))
    np.testing.assert_allclose(y, np.maximum(x @ w, 0), rtol=1e-5, atol=1e-5)


AARCH64 = "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"
needs_aarch64 = pytest.mark.skipif(
    not have("aarch64-linux-gnu-gcc", "qemu-aarch64"),
    reason="no aarch64 toolchain to build for and run on aarch64: ./run cross (apt-get install "
           "gcc-aarch64-linux-gnu qemu-user)")


def test_code_for_aarch64_is_built_but_not_run_here(tmp_path):
    lib = mlc.build(mm_relu_module(4, 4, 4), target=AARCH64)
    assert lib.target.triple == "aarch64-linux-gnu" and str(lib.target) == AARCH64 + " -mattr=default"
    with pytest.raises(mlc.CompileError, match="not this machine"):
        lib["mm_relu"](np.ones((4, 4), "float32"), np.ones((4, 4), "float32"), np.empty((4, 4), "float32"))
    with pytest.raises(mlc.MLCError, match="not a recognized processor"):
        mlc.Target.from_str("llvm -mtriple=aarch64-linux-gnu -mcpu=haswell")


@needs_aarch64
@settings(max_examples=2, deadline=None)
@given(n=st.sampled_from([1, 37]), k=st.sampled_from([3, 64]))
def test_aarch64_libraries_run_under_qemu_against_numpy(tmp_path_factory, n, k):
    folder = tmp_path_factory.mktemp("arm")
    lib = mlc.build(mm_relu_module(n, 300, k), target=AARCH64)  # wide enough for a parallel loop
    path = lib.export(folder / "mm.so", cc="aarch64-linux-gnu-gcc")
    if loader.host_arch() != "aarch64":
        with pytest.raises(mlc.LoadError, match="aarch64 architecture"):
            mlc.runtime.load(path)
    rng = np.random.default_rng(n + k)
    a, b = rng.standard_normal((n, k), "float32"), rng.standard_normal((k, 300), "float32")
    (c,) = run_c_program(path, "mlc_mm_mm_relu", [a, b], [("float32", (n, 300))], cc=("aarch64-linux-gnu-gcc",),
                         runner=("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"))
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-4)


def softmax_and_layer_norm(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    mean = x.mean(axis=1, keepdims=True)
    norm = (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    return e / e.sum(axis=1, keepdims=True), norm, np.tanh(x) * np.log1p(x * x)


@needs_aarch64
def test_jitted_workloads_with_parallel_loops_run_on_aarch64(tmp_path):
    x = np.random.default_rng(11).standard_normal((67, 515), "float32")
    f = mlc.jit(softmax_and_layer_norm, target=AARCH64)
    compiled = f.trace(x).lower().compile()
    assert compiled.lib.target.triple == "aarch64-linux-gnu" and "T.parallel" in compiled.lib.scheduled.script()
    path = compiled.export(tmp_path / "work.so", cc="aarch64-linux-gnu-gcc")
    shapes = [("float32", x.shape)] * 3
    got = run_c_program(path, "mlc_work_main", [x], shapes, cc=("aarch64-linux-gnu-gcc",),
                        runner=("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"))
    for a, b in zip(got, softmax_and_layer_norm(x.astype("float64"))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


HASWELL = "llvm -mcpu=haswell -mattr=default"


@needs_cc
def test_avx2_code_from_any_x86_host_runs_here_bit_for_bit(tmp_path):
    if loader.host_arch() != "x86_64" or not {"avx2", "fma"} <= (loader.host_cpu_features() or set()):
        pytest.skip("this machine is not an x86-64 CPU with AVX2 and FMA, which Haswell code needs")
    x = np.random.default_rng(5).standard_normal((33, 70), "float32")
    f = mlc.jit(lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True), target=HASWELL)
    compiled = f.trace(x).lower().compile()
    assert "zmm" not in compiled.as_text("asm")  # 256-bit code, whatever the host
    path = compiled.export(tmp_path / "softmax.so")
    loaded = mlc.runtime.load(path)
    assert "avx2" in loaded.metadata["cpu_features"] and "avx512f" not in loaded.metadata["cpu_features"]
    assert np.array_equal(loaded(x), compiled(x))
    np.testing.assert_allclose(loaded(x), np.exp(x) / np.exp(x).sum(axis=1, keepdims=True), rtol=1e-5)


@needs_cc
def test_the_library_pool_serves_concurrent_callers_and_fork_children(mlp_library):
    mlp, _, x, loaded = mlp_library
    want = mlp(x)[0]
    wrong = []

    def work():
        for _ in range(4):
            wrong.append(not np.array_equal(loaded(x)[0], want))

    assert loaded.set_num_threads(2) == 2
    callers = [threading.Thread(target=work) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in callers)
    assert wrong and not any(wrong)
    pid = os.fork()
    if pid == 0:  # the pool's threads are gone in the child: its launches run on the caller
        os._exit(0 if np.array_equal(loaded(x)[0], want) else 3)
    assert os.waitpid(pid, 0)[1] == 0
    assert np.array_equal(loaded(x)[0], want)


@needs_aarch64
def test_the_benchmark_workloads_built_for_aarch64_pass_their_numpy_checks_under_qemu(capsys):
    from benchmarks import cross
    assert cross.main(["mm_relu", "softmax"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("mm_relu", "softmax"))]
    assert len(rows) >= 4 and all(" ok " in row for row in rows), rows


@needs_cc
@settings(max_examples=3, deadline=None)
@given(n=st.integers(1, 9))
def test_a_dynamic_program_returning_a_value_twice_gives_two_arrays(tmp_path_factory, n):
    """The library's main writes the value once; the loader returns it twice, two arrays."""
    def twice(x):
        y = np.tanh(x) * 3
        return y, y, x.sum(axis=0)
    key = "twice"
    if key not in _TWICE:
        f = mlc.jit(twice, dynamic=("x", 0))
        _TWICE[key] = f, mlc.runtime.load(mlc.export(f, np.ones((2, 4), "float32"),
                                                     path=tmp_path_factory.mktemp("t") / "twice.so"))
    f, loaded = _TWICE[key]
    x = np.random.default_rng(n).standard_normal((n, 4), "float32")
    got, want = loaded(x), f(x)
    assert len(got) == 3 and got[0] is not got[1]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


_TWICE: dict = {}


@needs_cc
def test_an_exported_take_from_an_empty_dynamic_axis_raises_index_error(tmp_path):
    """The exported library refuses a call whose dynamic axis is empty where elements are taken
    from it with the jit's error: BoundsError, NumPy's IndexError (beside a max over the axis,
    whose check is ShapeError's)."""
    f = mlc.jit(lambda x, i: (x[i], x.max(axis=0)), dynamic=("x", 0), bounds_check=False)
    loaded = mlc.runtime.load(mlc.export(f, np.ones((3, 2), "float32"), np.array([2, 0]), path=tmp_path / "t.so"))
    x = np.arange(6, dtype="float32").reshape(3, 2)
    np.testing.assert_array_equal(loaded(x, np.array([2, 0]))[0], x[[2, 0]])
    with pytest.raises(mlc.BoundsError, match="empty axis"):
        loaded(np.ones((0, 2), "float32"), np.array([2, 0]))
