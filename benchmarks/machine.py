"""The machine a run measured: CPU, features, cores, fp32 FMA peak, copy bandwidth, BLAS.

The peak is *measured*, not computed from a data sheet: a kernel of many
independent vector FMA chains, compiled by LLVM (through llvmlite, mlc's own
backend library) for the host CPU, run on one thread and on every core at
once. The best sgemm seen in the run is a second, independent lower bound
(``Machine.peak_gflops`` takes the larger of the two). Copy bandwidth is
``np.copyto`` between two large buffers, counting read and write bytes.
"""
from __future__ import annotations

import ctypes
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .isa import emulated

__all__ = ["Machine", "measure_machine", "blas_info", "fma_peak_gflops", "copy_bandwidth_gbs"]

FMA_CHAINS = 12  # independent accumulators: more than FMA latency x FMA units on current cores


@dataclass
class Machine:
    cpu_name: str
    llvm_cpu: str
    llvm_features: list[str]
    cores: int
    threads: int  # the threads the run's contenders use (the "all threads" figures use as many)
    python: str
    numpy: str
    fma_vector_width: int
    fma_peak_1t_gflops: float
    fma_peak_gflops: float
    copy_1t_gbs: float
    copy_gbs: float
    blas: list[dict] = field(default_factory=list)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # the FMA peak of 8-lane (AVX2) vectors on all threads: what code built for an AVX2 CPU
    # can reach here (equal to fma_peak_gflops on an AVX2 host; 0 without AVX)
    fma_peak_8lane_gflops: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def _pair(self, one: float, many: float, unit: str, fmt: str) -> str:
        if self.threads == 1:
            return f"{one:{fmt}} {unit} on 1 thread"
        return f"{one:{fmt}} {unit} on 1 thread, {many:{fmt}} {unit} on {self.threads}"

    def describe(self) -> str:
        wanted = ("avx512f", "avx512bw", "avx512vl", "avx512bf16", "avx512fp16", "avx2", "fma", "sse4.2",
                  "neon", "sve")
        features = [f for f in wanted if f in self.llvm_features]
        blas = "; ".join(f"{b.get('internal_api', '?')} {b.get('version', '?')} "
                         f"({b.get('architecture', '?')}, {b.get('num_threads', '?')} threads)"
                         for b in self.blas) or "unknown (pip install threadpoolctl to see it)"
        return "\n".join([
            f"machine: {self.cpu_name}; LLVM cpu {self.llvm_cpu}; {self.cores} cores; "
            f"load average {' '.join(f'{x:.2f}' for x in self.load_average)}",
            f"features: {' '.join(features) or '(none of the usual SIMD sets)'}",
            f"Python {self.python}, NumPy {self.numpy}, BLAS: {blas}",
            f"fp32 FMA peak (measured, {FMA_CHAINS} chains of <{self.fma_vector_width} x float> FMAs): "
            + self._pair(self.fma_peak_1t_gflops, self.fma_peak_gflops, "GFLOP/s", ".0f"),
            "copy bandwidth (np.copyto, read + write bytes): "
            + self._pair(self.copy_1t_gbs, self.copy_gbs, "GB/s", ".1f"),
        ] + ([f"fp32 FMA peak of 8-lane (AVX2) vectors on the same cores: {self.fma_peak_8lane_gflops:.0f} "
              f"GFLOP/s on {self.threads} thread{'s' if self.threads > 1 else ''}"]
             if self.fma_peak_8lane_gflops and self.fma_vector_width != 8 else []))


def cpu_name() -> str:
    """The model name /proc/cpuinfo gives (Linux), else platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """The BLAS libraries NumPy loaded (threadpoolctl), or [] when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import numpy.linalg  # noqa: F401  (loads the BLAS)
    return [{k: v for k, v in info.items() if k in ("internal_api", "version", "architecture", "num_threads",
                                                      "threading_layer", "filepath")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def _host() -> tuple[str, str]:
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def _vector_width(features: str) -> int:
    enabled = {f[1:] for f in features.split(",") if f.startswith("+")}
    if "avx512f" in enabled:
        return 16
    if "avx" in enabled:
        return 8
    return 4


def _fma_ir(width: int, chains: int) -> str:
    vec = f"<{width} x float>"
    lines = [
        f"declare {vec} @llvm.fma.v{width}f32({vec}, {vec}, {vec})",
        "define void @fma_peak(i64 %n, float* %io) {",
        "entry:",
        "  %m0 = load float, float* %io",
        "  %p1 = getelementptr float, float* %io, i64 1",
        "  %c0 = load float, float* %p1",
        f"  %mi = insertelement {vec} undef, float %m0, i32 0",
        f"  %m = shufflevector {vec} %mi, {vec} undef, <{width} x i32> zeroinitializer",
        f"  %ci = insertelement {vec} undef, float %c0, i32 0",
        f"  %c = shufflevector {vec} %ci, {vec} undef, <{width} x i32> zeroinitializer",
        "  br label %loop",
        "loop:",
        "  %i = phi i64 [0, %entry], [%i1, %loop]",
    ]
    for k in range(chains):
        lines.append(f"  %a{k} = phi {vec} [%c, %entry], [%b{k}, %loop]")
    for k in range(chains):
        lines.append(f"  %b{k} = call {vec} @llvm.fma.v{width}f32({vec} %a{k}, {vec} %m, {vec} %c)")
    lines += ["  %i1 = add i64 %i, 1", "  %done = icmp uge i64 %i1, %n",
              "  br i1 %done, label %exit, label %loop", "exit:"]
    acc = "%b0"
    for k in range(1, chains):
        lines.append(f"  %s{k} = fadd {vec} {acc}, %b{k}")
        acc = f"%s{k}"
    lines += [f"  %r = extractelement {vec} {acc}, i32 0", "  store float %r, float* %io", "  ret void", "}"]
    return "\n".join(lines)


_KEEP_ALIVE: list = []


def _fma_kernel(cpu: str, features: str, width: int):
    import llvmlite.binding as llvm
    module = llvm.parse_assembly(_fma_ir(width, FMA_CHAINS))
    module.verify()
    machine = llvm.Target.from_default_triple().create_target_machine(cpu=cpu, features=features, opt=3)
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    _KEEP_ALIVE.append(engine)
    return ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)(engine.get_function_address("fma_peak"))


def _threads_wall(work, threads: int) -> float:
    """Seconds from starting ``threads`` threads running ``work`` until the last one ends."""
    barrier = threading.Barrier(threads + 1)

    def run():
        barrier.wait()
        work()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def fma_peak_gflops(threads: int, seconds: float = 0.02, repeat: int = 25,
                    width: int | None = None) -> tuple[float, int]:
    """Best GFLOP/s of the FMA kernel on ``threads`` threads (ctypes calls release the GIL),
    and the vector width used: the host's widest (16 lanes with AVX-512), or ``width``
    lanes (8: what AVX2 code gets from the same cores). Many short runs: on a shared
    machine the best one is the one that had its cores to itself."""
    cpu, features = _host()
    width = width or _vector_width(features)
    kernel = _fma_kernel(cpu, features, width)
    flops_per_iter = 2 * FMA_CHAINS * width
    io = np.array([0.999999, 1e-7], "float32")
    n = 1 << 16
    while True:  # calibrate: one call of about `seconds` on one thread
        start = time.perf_counter()
        kernel(n, io.ctypes.data)
        if time.perf_counter() - start > seconds / 4 or n > 1 << 40:
            break
        n *= 4
    n = max(1, int(n * seconds / max(time.perf_counter() - start, 1e-9)))
    best = 0.0
    for _ in range(repeat):
        buffers = [np.array([0.999999, 1e-7], "float32") for _ in range(threads)]
        it = iter(buffers)
        lock = threading.Lock()

        def work():
            with lock:
                buf = next(it)
            kernel(n, buf.ctypes.data)
        wall = _threads_wall(work, threads)
        best = max(best, threads * n * flops_per_iter / wall / 1e9)
        time.sleep(0.01)
    return best, width


def copy_bandwidth_gbs(threads: int, nbytes: int, repeat: int = 5) -> float:
    """Best GB/s of ``np.copyto`` over ``nbytes`` (read + write counted), split into ``threads``
    slices copied by that many threads at once (NumPy releases the GIL while copying)."""
    src = np.ones(nbytes // 4, "float32")
    dst = np.empty_like(src)
    bounds = np.linspace(0, src.size, threads + 1).astype(int)
    slices = [(dst[lo:hi], src[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
    best = 0.0
    for _ in range(repeat):
        if threads == 1:
            start = time.perf_counter()
            np.copyto(dst, src)
            wall = time.perf_counter() - start
        else:
            it = iter(slices)
            lock = threading.Lock()

            def work():
                with lock:
                    d, s = next(it)
                np.copyto(d, s)
            wall = _threads_wall(work, threads)
        best = max(best, 2 * nbytes / wall / 1e9)
        time.sleep(0.01)
    return best


def measure_machine(quick: bool = False, threads: int | None = None) -> Machine:
    """The machine, with the peaks measured on one thread and on ``threads`` (default: all cores)."""
    cores = os.cpu_count() or 1
    threads = threads or cores
    llvm_cpu, features = _host()
    repeat = 3 if quick else 25
    peak_1t, width = fma_peak_gflops(1, 0.02, repeat, width=8 if emulated() == "avx2" else None)
    peak = fma_peak_gflops(threads, 0.02, repeat, width=width)[0] if threads > 1 else peak_1t
    if width == 8:
        peak_8lane = peak
    elif width > 8 and "+avx" in features.split(","):
        peak_8lane = fma_peak_gflops(threads, 0.02, repeat, width=8)[0]
    else:
        peak_8lane = 0.0
    nbytes = (16 if quick else 256) << 20
    copy_1t = copy_bandwidth_gbs(1, nbytes, 3 if quick else 10)
    copy = copy_bandwidth_gbs(threads, nbytes, 3 if quick else 10) if threads > 1 else copy_1t
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return Machine(cpu_name=cpu_name(), llvm_cpu=llvm_cpu,
                   llvm_features=sorted(f[1:] for f in features.split(",") if f.startswith("+")),
                   cores=cores, threads=threads, python=platform.python_version(), numpy=np.__version__,
                   fma_vector_width=width, fma_peak_1t_gflops=peak_1t, fma_peak_gflops=peak,
                   copy_1t_gbs=copy_1t, copy_gbs=copy, blas=blas_info(), load_average=tuple(load),
                   fma_peak_8lane_gflops=peak_8lane)
