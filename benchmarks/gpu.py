"""``python -m benchmarks --target cuda [name ...] [--rounds N] [--variants] [--json FILE]``:
mlc's CUDA backend against CuPy and cuBLAS on the GPU CuPy sees.

Every row is timed with CUDA events on the current stream: a warm-up call, then
``rounds`` batches of calls, the median batch divided by its calls. Each row checks
mlc's result against CuPy's before it is timed. The rows are the CUDA issue's and the
tensor-core issue's targets:

- ``copy``: the bandwidth of a device-to-device copy of 2^26 float32 (``cupy.copyto``
  and ``cudaMemcpyAsync``, the faster), the yardstick of the elementwise rows;
- ``gelu``, ``chain``: elementwise programs on 2^26 float32 (``@mlc.jit(target="cuda")``
  and CuPy's composed ops), their bandwidth as a share of the copy's;
- ``softmax``, ``layer_norm``: rows of 8192 x 4096 float32 against CuPy's composed ops;
- ``mlp``: ``maximum(x @ w1 + b1, 0) @ w2 + b2`` with x 4096 x 1024, w1 1024 x 1024, w2 1024
  x 256 (``@mlc.jit(target="cuda")``: two kernels, each matmul's bias and relu in its
  write-back) against CuPy's composed ops (cuBLAS, TF32 off);
- ``bmm``: a batch of 64 float32 matmuls of 512^3 (``a @ b`` jitted: shared tiles, the
  batch on ``blockIdx.z``) against ``cupy.matmul`` (cuBLAS's batched GEMM, TF32 off);
- ``sgemm``: float32 4096^3, mlc's default schedule against ``cupy.matmul`` (cuBLAS,
  TF32 off);
- ``hgemm``: float16 4096^3 with float32 accumulation, mlc's default (tensor cores)
  against ``cupy.matmul`` on float16;
- ``compile``: NVRTC's compile of the fused GELU kernel, and a jitted call's first call;
- ``overhead``: a jitted call's host time beside one launch of its kernel, on 1024 floats.

``--variants`` adds rows of schedules beside the defaults, to choose the defaults from:
float32 tiles and cp.async pipeline depths (``sgemm``; ``bmm`` and ``mlp`` with the
default rule's depth changed), the warp-tiled float32 schedule (rows labelled ``simt``:
:mod:`mlc.schedules.gpu.simt` at 1-4 stages and with each of its changes left out in
``sgemm``; ``bmm`` and ``mlp`` with ``MATMUL_SIMT`` on at 3 and 2 stages), every tensor-core block of the tuner's space
(``TENSOR_CORE_VARIANTS``: warps, fragments, k step, stages, cp.async) as WMMA and as
ldmatrix + mma.sync, and the synchronous blocks the defaults were before, and on an sm_90 GPU the
warpgroup-MMA blocks (``WGMMA_TILES``, built for sm_90a) and the default with its wgmma rule on
(``hgemm``); ``--variant-filter TEXT`` keeps the variant rows whose label has TEXT. ``--static`` needs no GPU (NVRTC
only): ptxas's registers, spills and shared memory of every default kernel at sm_80 and
sm_90, and the global-memory traffic the emulator counts.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

NAMES = ["copy", "gelu", "chain", "softmax", "layer_norm", "mlp", "bmm", "sgemm", "hgemm", "compile", "overhead"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks --target cuda", description=__doc__.split("\n\n")[1])
    p.add_argument("names", nargs="*", metavar="name", help=f"rows to run (default: all): {', '.join(NAMES)}")
    p.add_argument("--rounds", type=int, default=7, help="timed batches per contender (default 7)")
    p.add_argument("--variants", action="store_true", help="also time schedule variants beside the defaults")
    p.add_argument("--variant-filter", metavar="TEXT", default="",
                   help="with --variants: only the variant rows whose label contains TEXT (e.g. wgmma)")
    p.add_argument("--json", metavar="FILE", help="write every row as JSON")
    p.add_argument("--small", action="store_true", help="small sizes (a smoke test, not a benchmark)")
    p.add_argument("--static", action="store_true",
                   help="no GPU needed: ptxas's registers, spills and shared memory of the default schedules "
                        "at sm_80 and sm_90, and the global traffic the emulator counts")
    return p


def gpu_time(fn, rounds: int, target_s: float = 0.02) -> float:
    """Median seconds of one ``fn()`` over ``rounds`` batches timed with CUDA events."""
    import cupy as cp
    fn()
    cp.cuda.Stream.null.synchronize()
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    fn()
    stop.record()
    stop.synchronize()
    once = max(cp.cuda.get_elapsed_time(start, stop) / 1e3, 1e-6)
    number = max(1, min(1000, int(target_s / once)))
    times = []
    for _ in range(rounds):
        start.record()
        for _ in range(number):
            fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop) / 1e3 / number)
    return statistics.median(times)


def host_time(fn, calls: int = 2000, rounds: int = 5) -> float:
    """Median wall seconds of one ``fn()`` over batches of ``calls`` calls, synchronized
    once a batch: what the host spends per call where the launches keep up."""
    import cupy as cp
    for _ in range(50):
        fn()
    cp.cuda.Stream.null.synchronize()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        cp.cuda.Stream.null.synchronize()
        times.append((time.perf_counter() - t) / calls)
    return statistics.median(times)


class Rows:
    """The printed table and the JSON record."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, name: str, contender: str, seconds: float | None, note: str = "", **extra) -> None:
        row = {"row": name, "contender": contender, "seconds": seconds, "note": note, **extra}
        self.rows.append(row)
        t = "—" if seconds is None else (f"{seconds * 1e3:9.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:9.2f} µs")
        print(f"  {name:<12} {contender:<34} {t:>13}  {note}", flush=True)


def _check(name, got, want, rtol, atol) -> str:
    import cupy as cp
    got, want = cp.asnumpy(got).astype("float64"), cp.asnumpy(want).astype("float64")
    err = float(np.max(np.abs(got - want) / (atol + rtol * np.abs(want)))) if got.size else 0.0
    if got.shape != want.shape or not err <= 1.0:
        raise AssertionError(f"{name}: mlc's result differs from CuPy's (worst error {err:.3g} of the tolerance)")
    return "checked"


def gelu(x, np_=None):
    import mlc.numpy as mnp
    m = np_ or mnp
    return 0.5 * x * (1 + m.tanh(0.79788456 * (x + 0.044715 * x * x * x)))


def chain(a, b, c, np_=None):
    import mlc.numpy as mnp
    m = np_ or mnp
    return m.maximum(a * b + c, 0) * 0.5 - a


def softmax(x, np_=None):
    import mlc.numpy as mnp
    m = np_ or mnp
    e = m.exp(x - m.max(x, axis=-1, keepdims=True))
    return e / m.sum(e, axis=-1, keepdims=True)


def layer_norm(x, gamma, beta, np_=None):
    import mlc.numpy as mnp
    m = np_ or mnp
    mean = m.mean(x, axis=-1, keepdims=True)
    var = m.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return (x - mean) / m.sqrt(var + 1e-5) * gamma + beta


def mlp(x, w1, b1, w2, b2, np_=None):
    import mlc.numpy as mnp
    m = np_ or mnp
    return m.maximum(x @ w1 + b1, 0) @ w2 + b2


def _matmul_module(n: int, dtype: str, out: str):
    import mlc
    from mlc import te
    A = te.placeholder((n, n), dtype, "A")
    B = te.placeholder((n, n), dtype, "B")
    k = te.reduce_axis((0, n), "k")
    if dtype == out:
        C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "C")
    else:
        C = te.compute((n, n), lambda i, j: te.sum(A[i, k].astype(out) * B[k, j].astype(out), axis=k), "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def run(args) -> int:
    import cupy as cp

    import mlc
    from mlc.backends.cuda.nvrtc import compile_cuda, nvrtc_version

    names = args.names or NAMES
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        print(f"unknown row(s) {unknown}; choose from {NAMES}", file=sys.stderr)
        return 2
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    arch = f"sm_{props['major']}{props['minor']}"
    print(f"GPU: {props['name'].decode()} ({arch}, {props['multiProcessorCount']} SMs, "
          f"{props['totalGlobalMem'] / 2**30:.0f} GiB); CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, "
          f"driver {cp.cuda.runtime.driverGetVersion()}, NVRTC {'.'.join(map(str, nvrtc_version()))}; "
          f"CuPy {cp.__version__}, NumPy {np.__version__}, mlc {mlc.__version__}")
    print(f"timing: CUDA events, median of {args.rounds} batches; 'checked': mlc's result equals CuPy's")
    target = f"cuda -arch={arch}"
    rows = Rows()
    r = args.rounds
    small = args.small
    rng = cp.random.default_rng(0)
    n_elem = 1 << (16 if small else 26)
    copy_bw = None

    def failed(name, contender, err):
        rows.add(name, contender, None, f"FAILED: {type(err).__name__}: {str(err).splitlines()[0][:200]}")

    def guarded(name, contender, fn):
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - one row's failure must not end the run
            failed(name, contender, err)
            return None

    if "copy" in names or "gelu" in names or "chain" in names:
        a = rng.standard_normal(n_elem, dtype=cp.float32)
        b = cp.empty_like(a)
        t1 = gpu_time(lambda: cp.copyto(b, a), r)
        t2 = gpu_time(lambda: b.data.copy_from_device_async(a.data, a.nbytes), r)
        t = min(t1, t2)
        copy_bw = 2 * a.nbytes / t
        rows.add("copy", "cupy.copyto", t1, f"{2 * a.nbytes / t1 / 1e9:.0f} GB/s (read + write)")
        rows.add("copy", "cudaMemcpyAsync", t2, f"{2 * a.nbytes / t2 / 1e9:.0f} GB/s (read + write)")

    def elementwise(name, fn, inputs):
        xs = [rng.standard_normal(n_elem, dtype=cp.float32) for _ in range(inputs)]
        nbytes = (inputs + 1) * xs[0].nbytes
        jf = mlc.jit(target=target)(fn)
        note = _check(name, jf(*xs), fn(*xs, np_=cp), 1e-5, 1e-6)
        t = gpu_time(lambda: jf(*xs), r)
        rows.add(name, "mlc jit", t, f"{note}; {nbytes / t / 1e9:.0f} GB/s = {nbytes / t / copy_bw:.0%} of the copy's")
        t = gpu_time(lambda: fn(*xs, np_=cp), r)
        rows.add(name, "cupy composed", t, f"{nbytes / t / 1e9:.0f} GB/s = {nbytes / t / copy_bw:.0%} of the copy's")

    if "gelu" in names:
        guarded("gelu", "mlc jit", lambda: elementwise("gelu", gelu, 1))
    if "chain" in names:
        guarded("chain", "mlc jit", lambda: elementwise("chain", chain, 3))

    rows_n, cols_n = (256, 4096) if small else (8192, 4096)

    def row_program(name, fn, extra):
        x = rng.standard_normal((rows_n, cols_n), dtype=cp.float32)
        xs = [x] + [rng.standard_normal(cols_n, dtype=cp.float32) for _ in range(extra)]
        jf = mlc.jit(target=target)(fn)
        note = _check(name, jf(*xs), fn(*xs, np_=cp), 1e-4, 1e-5)
        tm = gpu_time(lambda: jf(*xs), r)
        tc = gpu_time(lambda: fn(*xs, np_=cp), r)
        nbytes = 2 * x.nbytes
        rows.add(name, "mlc jit", tm, f"{note}; {tc / tm:.2f}x CuPy; {nbytes / tm / 1e9:.0f} GB/s of x in + y out")
        rows.add(name, "cupy composed", tc, "")

    if "softmax" in names:
        guarded("softmax", "mlc jit", lambda: row_program("softmax", softmax, 0))
    if "layer_norm" in names:
        guarded("layer_norm", "mlc jit", lambda: row_program("layer_norm", layer_norm, 2))

    # the float32 matmul rule's cp.async depth beside the default (1: ordinary loads, no pipeline)
    # and the warp-tiled (SIMT) rule beside them (MATMUL_SIMT), each kept where its label has
    # --variant-filter's text
    stage_variants = [None] + [v for v in ([1, 2, 4, ("simt", 3), ("simt", 2)] if args.variants else [])
                               if args.variant_filter in _stages_label("", v)]

    def mlp_row(stages):
        b, d, h, o = (256, 128, 128, 64) if small else (4096, 1024, 1024, 256)
        xs = [rng.standard_normal(s, dtype=cp.float32) for s in ((b, d), (d, h), (h,), (h, o), (o,))]
        with _matmul_stages(stages):
            jf = mlc.jit(target=target)(mlp)
            note = _check("mlp", jf(*xs), mlp(*xs, np_=cp), 1e-3, 1e-3)
        tm, tc = gpu_time(lambda: jf(*xs), r), gpu_time(lambda: mlp(*xs, np_=cp), r)
        flops = 2 * b * h * (d + o)
        rows.add("mlp", _stages_label("mlc jit", stages), tm,
                 f"{note}; {flops / tm / 1e12:.1f} TFLOP/s; {tc / tm:.2f}x CuPy")
        if stages is None:
            rows.add("mlp", "cupy composed", tc, f"{flops / tc / 1e12:.1f} TFLOP/s")

    if "mlp" in names:
        for stages in stage_variants:
            guarded("mlp", _stages_label("mlc jit", stages), lambda stages=stages: mlp_row(stages))

    def bmm_row(stages):
        nb, n = (4, 128) if small else (64, 512)
        a, b = (rng.standard_normal((nb, n, n), dtype=cp.float32) for _ in range(2))
        with _matmul_stages(stages):
            jf = mlc.jit(target=target)(lambda a, b: a @ b)
            note = _check("bmm", jf(a, b), cp.matmul(a, b), 1e-3, 1e-3)
        tm, tc = gpu_time(lambda: jf(a, b), r), gpu_time(lambda: cp.matmul(a, b), r)
        flops = 2 * nb * n ** 3
        rows.add("bmm", _stages_label("mlc jit", stages), tm,
                 f"{note}; {flops / tm / 1e12:.1f} TFLOP/s; {tc / tm:.0%} of cuBLAS")
        if stages is None:
            rows.add("bmm", "cupy.matmul (cuBLAS)", tc, f"{flops / tc / 1e12:.1f} TFLOP/s")

    if "bmm" in names:
        for stages in stage_variants:
            guarded("bmm", _stages_label("mlc jit", stages), lambda stages=stages: bmm_row(stages))

    n_mm = 512 if small else 4096

    def gemm(name, dtype, out, variants):
        a = rng.standard_normal((n_mm, n_mm), dtype=cp.float32).astype(dtype)
        b = rng.standard_normal((n_mm, n_mm), dtype=cp.float32).astype(dtype)
        want = cp.matmul(a.astype("float32"), b.astype("float32"))
        flops = 2 * n_mm ** 3
        cp_out = cp.empty((n_mm, n_mm), dtype)
        tc = gpu_time(lambda: cp.matmul(a, b, out=cp_out), r)
        rows.add(name, f"cupy.matmul {dtype} (cuBLAS)", tc, f"{flops / tc / 1e12:.1f} TFLOP/s")
        mod = _matmul_module(n_mm, dtype, out)
        variants = [v for v in variants if v[1] is None or args.variant_filter in v[0]]
        for label, schedule, *own_target in variants:
            def one():
                lib = mlc.build(mod if schedule is None else schedule(mod).mod, own_target[0] if own_target else target)
                c = cp.empty((n_mm, n_mm), out)
                lib["main"](a, b, c)
                note = _check(f"{name} {label}", c, want, 2e-2 if dtype == "float16" else 1e-3, 1e-2)
                t = gpu_time(lambda: lib["main"](a, b, c), r)
                rows.add(name, f"mlc {label}", t, f"{note}; {flops / t / 1e12:.1f} TFLOP/s = {tc / t:.0%} of cuBLAS")
            guarded(name, f"mlc {label}", one)

    if "sgemm" in names:
        variants = [("default schedule", None)]
        if args.variants:
            variants += [(f"tile {t[0]}x{t[1]} thr, {t[2]}x{t[3]} reg, k{t[4]}, "
                          f"{'ordinary loads' if st == 1 else f'{st}-stage cp.async'}", _sgemm_variant(t, st))
                         for t, st in [((16, 16, 8, 8, 16), 1), ((16, 16, 8, 8, 16), 2), ((16, 16, 8, 8, 16), 3),
                                       ((16, 16, 8, 8, 16), 4), ((16, 16, 8, 8, 8), 3), ((16, 16, 8, 8, 8), 4),
                                       ((16, 16, 4, 4, 8), 1), ((16, 16, 4, 4, 8), 3), ((8, 8, 4, 4, 8), 3),
                                       ((16, 16, 4, 8, 8), 3), ((8, 16, 8, 8, 8), 3)]]
            variants += [(f"{SIMT_LABEL} 128x128 (4x2 warps of 4x8 thr, 8x8 reg), k16, "
                          f"{'ordinary loads' if st == 1 else f'{st}-stage cp.async'}"
                          + ("" if not off else f", without {off}"), _simt_variant(st, off))
                         for st, off in [(3, ""), (2, ""), (4, ""), (1, ""), (3, "A^T"), (3, "B permuted"),
                                         (3, "k unrolled")]]
        gemm("sgemm", "float32", "float32", variants)
    if "hgemm" in names:
        variants = [("default schedule", None)]
        if args.variants:
            from mlc.schedules.gpu.default import TENSOR_CORE_VARIANTS
            variants += [(_tile_label(t, v), _wmma_variant(t, v)) for t in TENSOR_CORE_VARIANTS
                         for v in ("wmma", "mma")]
            if arch == "sm_90":  # Hopper: warpgroup MMA, built for the architecture-specific sm_90a
                from mlc.schedules.gpu.wgmma import WGMMA_TILES, WgmmaTile
                # the two likeliest blocks without fence.proxy.async: what the fence costs
                extra = (WgmmaTile(128, 256, 6, 2, 1, 32, False), WgmmaTile(128, 128, 6, 2, 1, 32, False))
                # two MMA batches in flight; persistent: at most one block an SM, each running its
                # C tiles as one k loop
                sms = props["multiProcessorCount"]
                extra += (WgmmaTile(128, 256, 8, 2, 2, 32), WgmmaTile(128, 256, 6, 2, 1, 32, True, sms),
                          WgmmaTile(128, 256, 4, 2, 1, 64, True, sms), WgmmaTile(128, 256, 8, 2, 2, 32, True, sms))
                variants += [(_wgmma_label(t), _wgmma_variant(t), "cuda -arch=sm_90a") for t in WGMMA_TILES + extra]
                variants += [("wgmma default rule (WGMMA_DEFAULT = True)", _wgmma_default(), "cuda -arch=sm_90a")]
        gemm("hgemm", "float16", "float32", variants)

    if "compile" in names:
        def compile_rows():
            x = rng.standard_normal(n_elem, dtype=cp.float32)
            t = time.perf_counter()
            jf = mlc.jit(target=target)(gelu)
            jf(x)
            cp.cuda.Stream.null.synchronize()
            rows.add("compile", "gelu jit first call", time.perf_counter() - t, "trace + schedule + NVRTC + load")
            src = jf.lower(x).compile().as_text()
            times = []
            for _ in range(5):  # NVRTC itself, not compile_cuda's memo of what it compiled
                t = time.perf_counter()
                compile_cuda(src, arch, cache=False)
                times.append(time.perf_counter() - t)
            rows.add("compile", "NVRTC, fused gelu kernel", statistics.median(times), f"median of 5, {arch} cubin")
        guarded("compile", "gelu", compile_rows)

    if "overhead" in names:
        def overhead_rows():
            x = rng.standard_normal(1024, dtype=cp.float32)
            y = rng.standard_normal(1024, dtype=cp.float32)
            jf = mlc.jit(target=target)(lambda a, b: a * b + a)
            jf(x, y)
            tj = host_time(lambda: jf(x, y))
            kern = cp.RawKernel(r'''extern "C" __global__ void k(const float* a, const float* b, float* c)
                { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < 1024) c[i] = a[i] * b[i] + a[i]; }''', "k")
            out = cp.empty_like(x)
            tk = host_time(lambda: kern((4,), (256,), (x, y, out)))
            te_ = host_time(lambda: x * y + x)
            rows.add("overhead", "mlc jit call (1024 floats)", tj, f"{(tj - tk) * 1e6:.1f} µs over one launch")
            rows.add("overhead", "one RawKernel launch", tk, "")
            rows.add("overhead", "cupy x * y + x (2 launches)", te_, "")
        guarded("overhead", "jit", overhead_rows)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gpu": props["name"].decode(), "arch": arch, "rows": rows.rows}, f, indent=1)
    return 0


def _sgemm_variant(tile, stages=1):
    def schedule(mod):
        import mlc
        from mlc.schedules.gpu.default import schedule_shared_matmul
        sch = mlc.Schedule(mod)
        schedule_shared_matmul(sch, sch.get_block("C"), tile, stages=stages, async_copy=stages > 1)
        return sch
    return schedule


def _simt_variant(stages, without=""):
    """The warp-tiled schedule (:func:`mlc.schedules.gpu.simt.schedule_simt_matmul`), with
    one of its changes left out where ``without`` names it."""
    def schedule(mod):
        import mlc
        from mlc.schedules.gpu.simt import schedule_simt_matmul
        sch = mlc.Schedule(mod)
        schedule_simt_matmul(sch, sch.get_block("C"), stages=stages, transpose_a=without != "A^T",
                             permute_b=without != "B permuted", unroll_k=without != "k unrolled")
        return sch
    return schedule


def _tile_label(t, variant: str) -> str:
    """A tensor-core block (TensorCoreTile) as a row label: 'mma 128x128x32 (warps 2x2 of 4x4)
    3-stage cp.async'."""
    m, n, k = t.shape
    how = "ordinary loads" if t.stages == 1 else f"{t.stages}-stage {'cp.async' if t.async_copy else 'pipelined'}"
    return f"{variant} {m}x{n}x{k} (warps {t.warps[0]}x{t.warps[1]} of {t.fragments[0]}x{t.fragments[1]}) {how}"


def _wmma_variant(tile, variant):
    def schedule(mod):
        import mlc
        sch = mlc.Schedule(mod)
        tile.schedule(sch, "C", variant=variant)
        return sch
    return schedule


def _wgmma_label(t) -> str:
    """A wgmma block (WgmmaTile) as a row label: 'wgmma 128x256x64 (2 warpgroups) 3-stage cp.async,
    1 MMA batch in flight'."""
    m, n, k = t.shape
    return (f"wgmma {m}x{n}x{k} ({t.warpgroups} warpgroup{'s' if t.warpgroups > 1 else ''}) {t.stages}-stage "
            f"cp.async, {t.in_flight} MMA batch{'es' if t.in_flight > 1 else ''} in flight"
            + ("" if t.proxy_fence else ", no proxy fence")
            + (f", persistent (<= {t.persistent} blocks)" if t.persistent else ""))


def _wgmma_variant(tile):
    def schedule(mod):
        import mlc
        sch = mlc.Schedule(mod)
        tile.schedule(sch, "C")
        return sch
    return schedule


def _wgmma_default():
    """The default schedule with the wgmma rule switched on (what flipping WGMMA_DEFAULT gives)."""
    def schedule(mod):
        import mlc
        from mlc.driver import schedule_module
        from mlc.schedules.gpu import default as gpu
        saved, gpu.WGMMA_DEFAULT = gpu.WGMMA_DEFAULT, True
        try:
            return mlc.Schedule(schedule_module(mod, "cuda -arch=sm_90a"))
        finally:
            gpu.WGMMA_DEFAULT = saved
    return schedule


def _stages_label(label: str, stages) -> str:
    """The row label of a jitted program's variant: ``stages`` None (the default), a depth
    of the shared-tiled rule, or ``("simt", depth)`` for the warp-tiled rule."""
    if isinstance(stages, tuple):
        return f"{label}, float32 matmuls {SIMT_LABEL} {stages[1]}-stage cp.async"
    return label if stages is None else f"{label}, float32 matmuls {stages}-stage" + (
        " (ordinary loads)" if stages == 1 else " cp.async")


#: What the warp-tiled float32 rows' labels say (``--variant-filter simt`` keeps them).
SIMT_LABEL = "simt warp-tiled (A^T, B permuted, k unrolled)"


class _matmul_stages:
    """The default float32 matmul rule's pipeline depth set to ``stages`` inside the block
    (None: as it is), for the variant rows of the jitted programs."""

    def __init__(self, stages):
        self.stages = stages

    def __enter__(self):
        from mlc.schedules.gpu import default as gpu
        self.saved = gpu.MATMUL_STAGES, gpu.MATMUL_SIMT
        if isinstance(self.stages, tuple):  # ("simt", depth): the warp-tiled rule
            gpu.MATMUL_SIMT, gpu.MATMUL_STAGES = True, self.stages[1]
        elif self.stages is not None:
            gpu.MATMUL_STAGES = self.stages

    def __exit__(self, *exc):
        from mlc.schedules.gpu import default as gpu
        gpu.MATMUL_STAGES, gpu.MATMUL_SIMT = self.saved


def static(args) -> int:
    """The figures that need no GPU: per kernel of each workload's default schedule, ptxas's
    registers, spill stores and loads and shared bytes at sm_80 and sm_90 (through NVRTC);
    then the global-memory traffic the emulator counts, as a multiple of the minimal bytes
    (each input read once, each output written once) at sizes the emulator runs quickly,
    and the shared-tiled sgemm's reads per input element against N / tile."""
    import mlc
    import mlc.numpy as mnp  # noqa: F401 - the workloads' ops
    from mlc.backends.cuda.nvrtc import nvrtc_unavailable_reason
    from mlc.backends.cuda.resources import kernel_resources
    from mlc.schedules.gpu.default import matmul_tile
    reason = nvrtc_unavailable_reason()
    if reason is not None:
        print(f"--static needs NVRTC: {reason}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype("float32")  # noqa: E731
    workloads = {"gelu": (gelu, (f32(1 << 26),)), "chain": (chain, (f32(1 << 26),) * 3),
                 "softmax": (softmax, (f32(8192, 4096),)), "layer_norm": (layer_norm, (f32(8192, 4096), f32(4096), f32(4096)))}
    print("ptxas, default schedules (registers, spill stores/loads, shared bytes per block):")
    for arch in ("sm_80", "sm_90"):
        for name, (fn, xs) in workloads.items():
            code = mlc.jit(target=f"cuda -arch={arch}")(fn).lower(*xs).compile().as_text()
            _print_resources(f"{name} {arch}", kernel_resources(code, arch))
        for name, dtype, out in (("sgemm 4096", "float32", "float32"), ("hgemm 4096", "float16", "float32")):
            code = mlc.build(_matmul_module(4096, dtype, out), f"cuda -arch={arch}").get_source("cuda")
            _print_resources(f"{name} {arch}", kernel_resources(code, arch))
    _print_sgemm_main_loops()
    print("global traffic on the emulator (elements moved / the minimal elements):")
    small = {"gelu": (gelu, (f32(1 << 16),)), "chain": (chain, (f32(1 << 16),) * 3),
             "softmax": (softmax, (f32(32, 4096),)), "layer_norm": (layer_norm, (f32(32, 4096), f32(4096), f32(4096)))}
    for name, (fn, xs) in small.items():
        compiled = mlc.jit(target="cuda-emulator")(fn).lower(*xs).compile()
        out = compiled(*xs)
        moved = sum(s.global_reads + s.global_writes for s in compiled.lib.kernel_stats())
        minimal = sum(x.size for x in xs) + out.size
        print(f"  {name:<12} {moved / minimal:5.2f}x  ({moved} of {minimal}; target <= 1.1x)")
    n = 512
    lib = mlc.build(_matmul_module(n, "float32", "float32"), "cuda-emulator")
    a, b = f32(n, n), f32(n, n)
    lib["main"](a, b, np.empty((n, n), "float32"))
    reads = sum(s.global_reads for s in lib.kernel_stats())
    ti, tj, ri, rj, _ = matmul_tile(n, n)
    print(f"  sgemm {n}^3  {reads / (2 * n * n):5.1f} reads per input element (N / tile: "
          f"{n / (ti * ri):.0f} for A, {n / (tj * rj):.0f} for B)")
    return 0


def _print_sgemm_main_loops() -> None:
    """ptxas's resources of the warp-tiled sgemm and, where cuobjdump is installed, the
    opcodes of its main loop beside the default's (FFMA against shared loads: how many
    LDS / LDS.128 feed each 64 FFMA; a never-executed ``@!PT LDS RZ, [RZ]`` counts as an LDS;
    the warp-tiled kernel's 3-stage tiles are dynamic shared memory, which ptxas does not count)."""
    import collections
    from mlc.backends.cuda import compile_sources
    from mlc.backends.cuda.resources import kernel_resources
    from mlc.backends.cuda.sass import cuobjdump_unavailable_reason, disassemble, loops
    mod = _matmul_module(4096, "float32", "float32")
    from mlc.driver import schedule_module
    kernels = {"default": schedule_module(mod, "cuda -arch=sm_90"), "simt": _simt_variant(3)(mod).mod}
    print("sgemm 4096 main loop at sm_90 (opcode counts of the innermost loop that runs FFMA):")
    for label, scheduled in kernels.items():
        code, cubin = compile_sources(scheduled, "cuda -arch=sm_90")
        _print_resources(f"sgemm {label}", kernel_resources(code, "sm_90"))
        if cuobjdump_unavailable_reason() is None:
            main = next(loop for loop in loops(disassemble(cubin)) if "FFMA" in loop)
            counts = collections.Counter(op for op in main if not op.startswith(("FFMA", "LDS")))
            print(f"    {len(main)} instructions: FFMA {main.count('FFMA')}, LDS {main.count('LDS')}, "
                  f"LDS.128 {main.count('LDS.128')}, other {dict(counts.most_common(6))}")


def _print_resources(label: str, report) -> None:
    for kernel, r in report.items():
        print(f"  {label:<18} {kernel:<44} {r.registers:>3} regs, spills {r.spill_stores}/{r.spill_loads}, "
              f"{r.shared_bytes:>6} B shared")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.static:
        return static(args)
    try:
        import cupy as cp
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no device")
    except Exception as err:  # noqa: BLE001
        print(f"--target cuda needs CuPy and a CUDA GPU ({type(err).__name__}: {err}); "
              "--static prints the CUDA figures that need none (ptxas's resources, the emulator's "
              "traffic counts)", file=sys.stderr)
        return 2
    return run(args)
