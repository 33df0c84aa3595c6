"""CUDA bundles (``lib.export`` of a module built for ``cuda``) loaded by mlc.runtime.load with
NumPy and CuPy only. Without a GPU: CuPy stood in for (tests/cuda/fake_cupy.py), the launches
the loaded bundle makes compared with the in-process module's, NVRTC compiling for sm_80 and
sm_90. With one (marked ``cuda``): results bit for bit against the in-process build and NumPy."""
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mlc
import mlc.numpy as mnp
from mlc import te
from mlc.errors import DeviceError, DTypeError, LoadError, ShapeError
from mlc.backends.cuda import bundle_loader
from mlc.runtime import bundle

from . import fake_cupy
from .conftest import NVRTC_MISSING, needs_gpu
from .fake_cupy import FakeArray, FakeCuPy, OtherLibrarysGpuArray

needs_nvrtc = pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
HERE = Path(__file__).parent


@pytest.fixture
def fake_gpu(monkeypatch):
    """CuPy and an sm_90 device, stood in for (``import cupy`` too); the launches are recorded."""
    launches = fake_cupy.install(monkeypatch)
    monkeypatch.setitem(sys.modules, "cupy", FakeCuPy)
    yield launches
    fake_cupy.uninstall()


def scale_add(n: int, m: int):
    """Two kernels' worth: B = A * 2 (n, m), C = B + row sums of A."""
    A = te.placeholder((n, m), "float32", "A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 2, "B")
    r = te.reduce_axis((0, m), "r")
    S = te.compute((n,), lambda i: te.sum(A[i, r], axis=r), "S")
    C = te.compute((n, m), lambda i, j: B[i, j] + S[i], "C")
    return mlc.IRModule({"scale": te.create_prim_func([A, B]), "scale_add": te.create_prim_func([A, C])})


GAIN = np.linspace(0.5, 2.0, 64, dtype="float32")  # a constant of the compiled function (and of the bundle)


def mlp(x, w, b):
    return mnp.maximum(x @ w + b, 0) @ w * GAIN[:w.shape[1]]


def _launches(records):
    return [(name, tuple(grid), tuple(block), len(args)) for name, grid, block, args in records]


@needs_nvrtc
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.sampled_from([1, 7, 33]), m=st.sampled_from([1, 5, 64]))
def test_a_bundle_launches_what_the_built_module_launches(fake_gpu, tmp_path_factory, n, m):
    lib = mlc.build(scale_add(n, m), "cuda")
    path = lib.export(tmp_path_factory.mktemp("b") / "scale.cubin-bundle")
    loaded = mlc.runtime.load(path)
    assert loaded.image == "kernels.sm_90.cubin"  # (the stand-in is an sm_90 GPU)
    for name in ("scale", "scale_add"):
        a, out = FakeArray(np.ones((n, m), "float32")), FakeArray(np.zeros((n, m), "float32"))
        fake_gpu.clear()
        lib[name](a, out)
        expected = list(fake_gpu)
        fake_gpu.clear()
        loaded[name](a, out)
        assert _launches(fake_gpu) == _launches(expected)
        roles = lambda records: [tuple("A" if x is a else "out" if x is out else "workspace" for x in r[3])
                                 for r in records]
        assert roles(fake_gpu) == roles(expected)  # the caller's arrays where the module passes them
    fake_gpu.clear()
    loaded["scale"](OtherLibrarysGpuArray(a, False), OtherLibrarysGpuArray(out, True))  # DLPack, the interface
    assert fake_gpu[0][3] == (a, out)
    with pytest.raises(DTypeError, match="argument A must have dtype float32, got float64"):
        loaded["scale"](FakeArray(np.ones((n, m))), out)
    with pytest.raises(ShapeError, match=rf"argument B must have shape \({n}, {m}\)"):
        loaded["scale"](a, FakeArray(np.zeros((n, m + 1), "float32")))
    with pytest.raises(DeviceError, match="NumPy array in host memory"):
        loaded["scale"](np.ones((n, m), "float32"), out)


@needs_nvrtc
def test_a_jitted_function_exports_its_main_with_constants_and_launches_as_the_jitted_call(fake_gpu, tmp_path):
    f = mlc.jit(target="cuda")(mlp)
    x, w = FakeArray(np.ones((4, 40), "float32")), FakeArray(np.ones((40, 40), "float32"))
    b = np.arange(40, dtype="float32")
    fake_gpu.clear()
    f(x, w, b)
    expected = _launches(fake_gpu)
    loaded = mlc.runtime.load(mlc.export(f, x, w, b, path=tmp_path / "mlp.zip"))
    fake_gpu.clear()
    y = loaded(x, w, b)  # a NumPy input is copied to the GPU, as the jitted call copies it
    assert _launches(fake_gpu) == expected and len(expected) >= 2
    assert type(y) is FakeArray and y.shape == (4, 40) and y.dtype == np.float32
    assert fake_gpu[0][3][0] is x
    assert loaded.metadata["entries"][0]["constants"]  # GAIN, uploaded once when loaded
    with pytest.raises(ShapeError, match=r"argument x must have shape \(4, 40\), got \(5, 40\)"):
        loaded(FakeArray(np.ones((5, 40), "float32")), w, b)
    with pytest.raises(ShapeError, match="takes 3 arrays"):
        loaded(x, w)


@needs_nvrtc
def test_a_jitted_function_writing_its_argument_writes_it_from_the_bundle(fake_gpu, tmp_path):
    def bump(x, k):
        x[0] += k
        return x * 2

    f = mlc.jit(target="cuda")(bump)
    x = FakeArray(np.zeros((3, 4), "int32"))
    loaded = mlc.runtime.load(mlc.export(f, x, 5, path=tmp_path / "bump.zip"))
    metadata = loaded.metadata["entries"][0]["call"]
    assert metadata["writes"] == [0] and metadata["scalars"] == [None, "int"] and metadata["checks"]
    # (the stand-in runs no kernel: the write-back copies main's last output, here zeros, into x)
    x.data[...] = 7
    loaded(x, 5)
    assert (x.data == 0).all()
    with pytest.raises(DTypeError, match="was a Python int when exported, got float"):
        loaded(x, 1.5)


@needs_nvrtc
def test_the_bundle_holds_cubins_for_each_arch_and_ptx_for_the_lowest(fake_gpu, tmp_path):
    lib = mlc.build(scale_add(8, 8), "cuda -arch=sm_86")
    path = lib.export(tmp_path / "s.zip")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        ptx = z.read("kernels.compute_80.ptx").decode()
        cubins = {a: z.read(f"kernels.{a}.cubin") for a in ("sm_80", "sm_86", "sm_90")}
        metadata = json.loads(z.read("mlc-bundle.json"))
    assert names == {"kernels.sm_80.cubin", "kernels.sm_86.cubin", "kernels.sm_90.cubin", "kernels.compute_80.ptx",
                     "loader.py", "mlc-bundle.json"}
    assert ".target sm_80" in ptx and all(c[:4] == b"\x7fELF" for c in cubins.values())
    assert len(set(cubins.values())) == 3 and metadata["archs"] == ["sm_80", "sm_86", "sm_90"]
    directory = lib.export(f"{tmp_path / 's_dir'}/", archs=["sm_90"])
    assert sorted(os.listdir(directory)) == ["kernels.compute_86.ptx", "kernels.sm_86.cubin", "kernels.sm_90.cubin",
                                             "loader.py", "mlc-bundle.json"]
    assert isinstance(mlc.runtime.load(directory), bundle_loader.Bundle)


def test_the_image_is_the_gpus_cubin_an_older_minor_one_or_the_ptx():
    meta = {"archs": ["sm_80", "sm_86", "sm_90"], "ptx": "compute_80"}
    files = {"kernels.sm_80.cubin": b"80", "kernels.sm_86.cubin": b"86", "kernels.sm_90.cubin": b"90",
             "kernels.compute_80.ptx": b"ptx"}
    pick = lambda arch: bundle_loader.pick_image(meta, files, arch)[0]
    assert pick("sm_90") == "kernels.sm_90.cubin" and pick("sm_89") == "kernels.sm_86.cubin"
    assert pick("sm_80") == "kernels.sm_80.cubin" and pick("sm_100") == "kernels.compute_80.ptx"
    assert bundle_loader.pick_image(meta, files, "sm_120")[1] == b"ptx\0"  # (the driver reads it as a C string)
    with pytest.raises(LoadError, match="this GPU is sm_75, which none of them runs on"):
        pick("sm_75")


@needs_nvrtc
def test_damaged_truncated_and_foreign_bundles_are_refused(fake_gpu, tmp_path):
    path = mlc.build(scale_add(4, 4), "cuda").export(tmp_path / "ok.zip")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="damaged or truncated"):
        mlc.runtime.load(truncated)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            dst.writestr(info, content[:-1] + bytes([content[-1] ^ 1]) if info.filename.endswith("sm_90.cubin")
                         else content)
    with pytest.raises(LoadError, match="sm_90.cubin does not match its checksum"):
        mlc.runtime.load(tampered)
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("model.onnx", b"x")
    with pytest.raises(LoadError, match="not a bundle exported by mlc"):
        mlc.runtime.load(foreign)
    newer = tmp_path / "newer.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "mlc-bundle.json":
                meta = json.loads(content)
                meta["format"] = bundle.BUNDLE_FORMAT + 1
                content = json.dumps(meta).encode()
            dst.writestr(info, content)
    with pytest.raises(LoadError, match=f"this loader reads format {bundle.BUNDLE_FORMAT}"):
        mlc.runtime.load(newer)
    # the loader a bundle carries runs only as its checksum says; in mlc, the backend's registered
    # loader of its kind opens it, whatever module the metadata names (nothing is imported by that name)
    for name, change, message in [
            ("loader.zip", lambda m, c: (c + b"\nimport os\n") if m == "loader.py" else c,
             "loader.py does not match its checksum"),
            ("older.zip", lambda m, c: _edit_metadata(c, format=1) if m == "mlc-bundle.json" else c,
             "carries no loader of its own"),
            ("elsewhere.zip", lambda m, c: _edit_metadata(c, loader="os", kind="other-bundle")
             if m == "mlc-bundle.json" else c, "no loader is registered for bundles of kind 'other-bundle'")]:
        edited = tmp_path / name
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(edited, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, change(info.filename, src.read(info)))
        with pytest.raises(LoadError, match=message):
            mlc.runtime.load(edited)


def _edit_metadata(content: bytes, **changes) -> bytes:
    return json.dumps({**json.loads(content), **changes}).encode()


@needs_nvrtc
def test_the_loader_needs_neither_nvrtc_nor_llvmlite_nor_mlc(fake_gpu, tmp_path):
    f = mlc.jit(target="cuda")(mlp)
    x, w, b = np.ones((2, 8), "float32"), np.ones((8, 8), "float32"), np.zeros(8, "float32")
    path = mlc.export(f, FakeArray(x), FakeArray(w), b, path=tmp_path / "mlp.cubin-bundle")
    fake_gpu.clear()
    f(FakeArray(x), FakeArray(w), b)
    expected = [name for name, *_ in fake_gpu]
    loader = Path(mlc.runtime.loader.__file__)
    code = textwrap.dedent(f"""
        import importlib.abc, importlib.util, sys, time
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("llvmlite", "mlc", "nvidia") or name.startswith("cuda."):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        sys.path.insert(0, {str(HERE)!r})
        import fake_cupy, numpy as np
        sys.modules["cupy"] = fake_cupy.FakeCuPy
        start = time.perf_counter()
        spec = importlib.util.spec_from_file_location("mlc_loader", {str(loader)!r})
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        lib = loader.load({str(path)!r})
        took = time.perf_counter() - start
        y = lib(fake_cupy.FakeArray(np.ones((2, 8), "float32")), fake_cupy.FakeArray(np.ones((8, 8), "float32")),
                np.zeros(8, "float32"))
        assert y.shape == (2, 8), y.shape
        print([name for name, *_ in fake_cupy.FakeCuPy.launches])
        print(took)
        bad = [m for m in sys.modules if m.split(".")[0] in ("llvmlite", "mlc") or m.startswith("cuda.")]
        assert not bad, bad
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    launched, took = out.stdout.strip().splitlines()
    assert launched == repr(expected)
    assert float(took) < 0.5  # (import and load; 50 ms is the target on an idle machine)


def looped(x):
    y = mlc.fori_loop(0, 3, lambda i, v: v * 2 + 1, x)
    z = mlc.while_loop(lambda v: np.abs(v).sum() < 100, lambda v: v * 3, y)
    return mlc.cond(z.sum() > 0, lambda v: v + 1, lambda v: v - 1, z)


def _np_looped(x):
    for _ in range(3):
        x = x * 2 + 1
    while np.abs(x).sum() < 100:
        x = x * 3
    return x + 1 if x.sum() > 0 else x - 1


@needs_nvrtc
def test_compiled_loops_and_conditionals_run_from_the_bundle_as_in_process(fake_gpu, tmp_path):
    f = mlc.jit(target="cuda")(looped)
    x = FakeArray(np.ones((3, 4), "float32"))
    fake_gpu.clear()
    f(x)
    expected = _launches(fake_gpu)
    loaded = mlc.runtime.load(mlc.export(f, x, path=tmp_path / "loop.zip"))
    main = next(v for v in loaded.metadata["functions"].values() if v["kind"] == "main")
    assert {"for", "while", "if"} <= {step[0] for step in main["steps"]}
    fake_gpu.clear()
    loaded(x)
    assert _launches(fake_gpu) == expected and len(expected) > 3


@needs_nvrtc
def test_programs_a_bundle_cannot_hold_are_clear_errors(fake_gpu, tmp_path):
    f = mlc.jit(target="cuda")(lambda x: x + 1)
    compiled = f.trace(FakeArray(np.ones(3, "float32"))).lower().compile()
    with pytest.raises(mlc.MLCError, match="cc= names a C compiler for CPU libraries"):
        compiled.lib.export(tmp_path / "x.zip", cc="gcc")
    with pytest.raises(mlc.MLCError, match="exports as a bundle of cubins"):
        compiled.lib.export(tmp_path / "x.zip", format="mlc")
    with pytest.raises(mlc.MLCError, match="archs must look like 'sm_80'"):
        compiled.lib.export(tmp_path / "x.zip", archs=["compute_80"])


# ------------------------------------------------------------------ on a GPU

@needs_gpu
@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (64, 256)])
def test_on_a_gpu_a_loaded_bundle_gives_the_in_process_bits(tmp_path, shape):
    import cupy
    n, m = shape
    lib = mlc.build(scale_add(n, m), "cuda")
    loaded = mlc.runtime.load(lib.export(tmp_path / "s.zip"))
    a = cupy.asarray(np.random.default_rng(n).standard_normal(shape).astype("float32"))
    for name in ("scale", "scale_add"):
        ours, theirs = cupy.zeros(shape, "float32"), cupy.zeros(shape, "float32")
        lib[name](a, ours)
        loaded[name](a, theirs)
        assert np.array_equal(cupy.asnumpy(ours), cupy.asnumpy(theirs))
    host = cupy.asnumpy(a)
    np.testing.assert_allclose(cupy.asnumpy(theirs), host * 2 + host.sum(axis=1, keepdims=True), rtol=1e-5,
                               atol=1e-4)


@needs_gpu
def test_on_a_gpu_a_jitted_mlp_from_its_bundle_matches_the_jitted_call_and_numpy(tmp_path):
    import cupy
    f = mlc.jit(target="cuda")(mlp)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype("float32") for s in ((16, 64), (64, 64), (64,)))
    loaded = mlc.runtime.load(mlc.export(f, x, w, b, path=tmp_path / "mlp.zip"))
    assert loaded.image.endswith(".cubin")
    metadata, files = bundle.read_bundle(loaded.path, mlc.runtime.loader)  # the PTX alone: what a GPU newer than every cubin loads
    module = cupy.cuda.function.Module()
    module.load(files[f"kernels.{metadata['ptx']}.ptx"] + b"\0")
    from_ptx = bundle_loader.Bundle(loaded.path, metadata, files, module, cupy, "ptx")
    expected = cupy.asnumpy(f(cupy.asarray(x), cupy.asarray(w), b))
    np.testing.assert_allclose(expected, np.maximum(x @ w + b, 0) @ w * GAIN, rtol=1e-4, atol=1e-3)
    for run in (loaded, from_ptx):
        assert np.array_equal(cupy.asnumpy(run(cupy.asarray(x), cupy.asarray(w), b)), expected)
        assert np.array_equal(cupy.asnumpy(run(x, w, b)), expected)  # NumPy inputs, copied to the GPU


@needs_gpu
@pytest.mark.parametrize("start", [-1.0, 0.0, 2.0])
def test_on_a_gpu_compiled_loops_from_the_bundle_match_the_jitted_call_and_numpy(tmp_path, start):
    import cupy
    f = mlc.jit(target="cuda")(looped)
    x = np.full((3, 4), start, "float32")
    loaded = mlc.runtime.load(mlc.export(f, x, path=tmp_path / "loop.zip"))
    got = cupy.asnumpy(loaded(cupy.asarray(x)))
    assert np.array_equal(got, cupy.asnumpy(f(cupy.asarray(x))))
    np.testing.assert_array_equal(got, _np_looped(x))


@needs_gpu
def test_on_a_gpu_writes_random_draws_and_int_checks_from_the_bundle_are_the_jitted_calls(tmp_path):
    import cupy
    from mlc.random import numpy_compat

    def step(x, k):
        x[1:] += k
        return x * 2 + numpy_compat.rand(*x.shape)

    f = mlc.jit(target="cuda")(step)
    x = np.arange(12, dtype="float32").reshape(3, 4)
    loaded = mlc.runtime.load(mlc.export(f, cupy.asarray(x), 3, path=tmp_path / "step.zip"))
    mine, theirs = cupy.asarray(x), cupy.asarray(x)
    np.random.seed(7)
    got = cupy.asnumpy(loaded(mine, 3))
    np.random.seed(7)
    want = cupy.asnumpy(f(theirs, 3))
    assert np.array_equal(got, want) and np.array_equal(cupy.asnumpy(mine), cupy.asnumpy(theirs))
    expected = x.copy()
    expected[1:] += 3
    np.testing.assert_array_equal(cupy.asnumpy(mine), expected)
    assert ((got - 2 * expected >= 0) & (got - 2 * expected < 1)).all()
    host = x.copy()  # a NumPy argument: written back into the caller's array, as the jitted call does
    loaded(host, 3)
    np.testing.assert_array_equal(host, expected)
