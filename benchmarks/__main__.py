"""``python -m benchmarks [module ...]``: run benchmark modules and print one table."""
import importlib
import os
import platform
import sys

from . import print_table

MODULES = ["bench_spine", "bench_jit", "bench_schedules"]


def main(argv: list[str]) -> None:
    names = argv or MODULES
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        sys.exit(f"unknown benchmark module(s) {unknown}; choose from {MODULES}")
    import numpy as np
    from mlc.backends.target import host_cpu
    print(f"host: {host_cpu()[0]}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}")
    rows = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        for bench in module.BENCHMARKS:
            rows.append(bench())
            print(f"  done: {rows[-1].name}", file=sys.stderr)
    print_table(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
