"""``python -m benchmarks [name ...] [--rounds N] [--threads N] [--isa avx2] [--quick] [--tiny] [--json FILE]``;
``python -m benchmarks tune [--trials N] [--tiny] [name ...]`` for mlc.tune's rows (``benchmarks/tune.py``);
``python -m benchmarks corpus [name ...]`` for the corpus of NumPy programs (``benchmarks/corpus/bench.py``);
``python -m benchmarks --target cuda [name ...]`` for the GPU rows (``benchmarks/gpu.py``).

Prints the machine (CPU, features, cores, measured fp32 FMA peak and copy
bandwidth, NumPy's BLAS), then one table of every selected workload with every
contender, then the start-up costs. Names select workloads (``--list`` shows
them; ``import`` and ``first_call`` select the start-up measurements).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

from .blas_env import free_blas
from .isa import ISAS, emulate


def _parser(names: list[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    p.add_argument("names", nargs="*", metavar="name", help=f"workloads to run (default: all): {', '.join(names)}")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per workload (default 7; 2 with --quick)")
    p.add_argument("--quick", action="store_true", help="few rounds, short batches, quick peak measurements (smoke tests)")
    p.add_argument("--tiny", action="store_true", help="tiny problem sizes (smoke tests; not a benchmark)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every contender (mlc, OpenBLAS, Numba, TVM, XLA); default: all cores")
    p.add_argument("--isa", default="native", choices=ISAS,
                   help="avx2: every contender held to AVX2 code on this AVX-512 machine (benchmarks/isa.py)")
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE from the environment (a native run unsets them "
                        "where OpenBLAS's own kernels work: benchmarks/blas_env.py)")
    p.add_argument("--json", metavar="FILE", help="write the whole run (machine, every timing) as JSON")
    p.add_argument("--list", action="store_true", help="list the workload names and exit")
    return p


def limit_threads(threads: int) -> list[int] | None:
    """Every contender on ``threads`` threads; effective only before NumPy and the peers load.

    The process is pinned to ``threads`` of the CPUs it may run on too (where the OS lets
    a process choose), and so is every thread it starts: a pool that takes no thread
    count (XLA's dot kernels ignore its Eigen flag) cannot use more cores than the
    others. Returns the CPUs, or None where it could not pin."""
    n = str(threads)
    for var in ("MLC_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
                "TVM_NUM_THREADS"):
        os.environ[var] = n
    # XLA's CPU client has no thread-count flag beyond on/off for its Eigen pool
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    try:
        cpus = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError):  # not Linux, or not allowed
        return None
    return cpus


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if "--target" in argv:  # the GPU rows: benchmarks/gpu.py
        at = argv.index("--target")
        if argv[at + 1:at + 2] != ["cuda"]:
            print("--target takes 'cuda' (the CPU rows are the default)", file=sys.stderr)
            return 2
        from .gpu import main as gpu_main
        with tempfile.TemporaryDirectory(prefix="mlc-bench-cache-") as cache:
            os.environ["MLC_CACHE_DIR"] = cache  # a first call compiles (no cubin from an earlier run)
            return gpu_main(argv[:at] + argv[at + 2:])
    if argv[:1] == ["corpus"]:  # the corpus of NumPy programs: benchmarks/corpus/bench.py
        from .corpus.bench import main as corpus_main
        return corpus_main(argv[1:])
    if argv[:1] == ["tune"]:  # mlc.tune's rows: benchmarks/tune.py
        keep = "--keep-blas-env" in argv
        note = free_blas(keep)  # (before NumPy loads)
        if note:
            print(note)
        from .tune import main as tune_main
        return tune_main([a for a in argv[1:] if a != "--keep-blas-env"])
    args = _parser(WORKLOAD_NAMES + STARTUP).parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            print(f"--threads must be at least 1, got {args.threads}", file=sys.stderr)
            return 2
        args.pinned = limit_threads(args.threads)
    refused = emulate(args.isa)  # (before NumPy and the peers load, as the thread limits)
    if refused:
        print(f"--isa {args.isa}: {refused}", file=sys.stderr)
        return 2
    # NumPy's best BLAS kernels for a native run's baseline (--isa sets its own)
    args.blas_note = free_blas(args.keep_blas_env) if args.isa == "native" else None
    # A cold object cache, so that every first call is trace + compile; set before mlc reads its config.
    cache = tempfile.TemporaryDirectory(prefix="mlc-bench-cache-")
    os.environ["MLC_CACHE_DIR"] = cache.name
    try:
        return _run(args)
    finally:
        cache.cleanup()


#: the names ``workloads.WORKLOADS`` defines (listed here so that parsing imports nothing)
WORKLOAD_NAMES = ["add", "gelu", "softmax", "layer_norm", "window_sum", "rotary", "black_scholes", "mm_relu",
                  "conv2d", "sgemm1024", "sgemm2048", "sgemm1024_avx2", "sgemm2048_avx2", "igemm1024",
                  "mlp", "vecmat", "sort", "cumulative_sum", "softmax_grad", "layer_norm_grad", "mlp_step", "mlp_adam_step",
                  "mlp_per_example", "cnn_step"]
STARTUP = ["first_call", "import"]


def _run(args: argparse.Namespace) -> int:
    from .workloads import WORKLOADS
    startup = STARTUP
    if args.list:
        print("\n".join(list(WORKLOADS) + startup))
        return 0
    names = args.names or list(WORKLOADS) + startup
    unknown = [n for n in names if n not in WORKLOADS and n not in startup]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(WORKLOADS) + startup}", file=sys.stderr)
        return 2
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 7)
    if rounds < 1:
        print(f"--rounds must be at least 1, got {rounds}", file=sys.stderr)
        return 2

    from . import startup as start
    from .harness import (FIRST_CALLS, FP32_FMA_8, PAUSE_S, emulated_peak_note, fp32_peak, print_table,
                          run_workload, write_json)
    from .machine import measure_machine
    from .peers import INSTALL_HINT, installed, versions

    began = time.time()
    machine = measure_machine(quick=args.quick, threads=args.threads)
    print(machine.describe())
    if args.blas_note:
        print(args.blas_note)
    if args.isa != "native":
        print(f"instruction set: {args.isa} emulated (every contender held to it; benchmarks/isa.py): "
              f"MLC_TARGET={os.environ['MLC_TARGET']!r}, NPY_DISABLE_CPU_FEATURES, OPENBLAS_CORETYPE, "
              "XLA_FLAGS, NUMBA_CPU_NAME/FEATURES, TVM -mattr=-avx512f; % of peak: of the 8-lane FMA peak")
    if args.threads is not None:
        where = (f"the process pinned to CPU{'s' if len(args.pinned) > 1 else ''} "
                 f"{', '.join(map(str, args.pinned))}; " if args.pinned else "")
        print(f"threads: every contender limited to {args.threads} ({where}MLC_NUM_THREADS, OPENBLAS_NUM_THREADS, "
              "NUMBA_NUM_THREADS, TVM_NUM_THREADS" + (", XLA without its Eigen pool)" if args.threads == 1 else
                                                      "; XLA's pool is not limited otherwise)"))
    peers = versions()
    print("versions: " + ", ".join(f"{k} {v or '—'}" for k, v in peers.items()))
    missing = [p for p in ("numba", "jax", "tvm") if not installed(p)]
    if missing:
        print(f"peers {', '.join(missing)} {INSTALL_HINT}")
    print(f"timing: {rounds} rounds; each round times every contender once (a batch of calls of about "
          f"{'5' if args.quick else '50'} ms) in a rotated order, {PAUSE_S * 1000:.0f} ms pause between contenders; "
          "median and min..max over rounds. 'vs numpy': NumPy's median / this median. "
          "% of peak: of the higher fp32 FMA peak (GF/s; AVX2-code rows: of the 8-lane peak) or copy bandwidth (GB/s) above; "
          "int8 rows (GOP/s) have no %.")
    first_calls = 1 if args.quick else FIRST_CALLS
    print(f"first call: build + first run, compiled from nothing (mlc: an empty object cache; JAX: its caches "
          f"cleared; Numba: a new dispatcher; TVM builds anew); "
          + (f"the median of {first_calls}, each a new build." if first_calls > 1 else "one."))
    print()
    target_s = 0.005 if args.quick else 0.05
    results = [run_workload(WORKLOADS[n](args.tiny), rounds, target_s, first_calls=first_calls)
               for n in names if n in WORKLOADS]
    measured = max(machine.fma_peak_gflops, machine.fma_peak_1t_gflops)
    peak, best_gflops = fp32_peak(measured, results)
    peaks = {FP32_FMA_8: fp32_peak(machine.fma_peak_8lane_gflops, results, FP32_FMA_8)[0]}
    bandwidth = max(machine.copy_gbs, machine.copy_1t_gbs)
    above_peak = None
    if args.isa != "native":  # the peak is of the emulated vectors: faster means not held to them
        peak, above_peak = measured, emulated_peak_note(args.isa, measured)
    elif best_gflops > measured:
        print(f"(a contender's {best_gflops:.0f} GFLOP/s beat the measured fp32 FMA peak: % of peak is of that)")
    table = io.StringIO()
    notes = print_table(results, peak, bandwidth, out=table, peaks=peaks, above_peak=above_peak) if results else []
    print(table.getvalue(), end="")
    processes = 1 if args.quick else 5
    imports = start.import_times(processes) if "import" in names else None
    first = start.mlp_first_call(1 if args.quick else 3) if "first_call" in names else None
    print()
    startup_lines = start.report(imports, first)
    print(f"\n(total {time.time() - began:.0f} s)", file=sys.stderr)
    if args.json:
        write_json(args.json, {
            "machine": machine.as_dict(), "versions": peers, "rounds": rounds, "quick": args.quick,
            "tiny": args.tiny, "threads": args.threads, "isa": args.isa, "blas_env": args.blas_note,
            "peak_gflops_used": peak, "best_gflops": best_gflops,
            "copy_gbs_used": bandwidth,
            "peak_8lane_gflops_used": peaks[FP32_FMA_8],
            "workloads": [wr.as_dict(peak, bandwidth, peaks) for wr in results], "table": table.getvalue(), "footnotes": notes,
            "import_s": imports, "mlp_first_call_s": first, "startup": startup_lines,
        })
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
