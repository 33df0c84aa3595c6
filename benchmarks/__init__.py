"""Side-by-side timings of mlc against NumPy, measured in one process.

Each benchmark module defines ``BENCHMARKS``: a list of functions returning
:class:`Row`. ``python -m benchmarks [name ...]`` runs them and prints one
table of medians and ratios (NumPy time / mlc time: above 1 means mlc wins).
"""
from __future__ import annotations

from dataclasses import dataclass

from mlc.runtime import time_function

__all__ = ["Row", "median_time", "print_table"]


@dataclass(frozen=True)
class Row:
    name: str
    mlc_s: float
    numpy_s: float
    flops: float = 0.0
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.numpy_s / self.mlc_s


def median_time(fn, number: int = 10, repeat: int = 5, warmup: int = 1) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls, in seconds."""
    return time_function(fn, number, repeat, warmup).median


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:9.3f} ms"
    return f"{seconds:9.3f} s "


def print_table(rows: list[Row]) -> None:
    print(f"{'benchmark':<34} {'mlc median':>12} {'numpy median':>12} {'mlc GFLOP/s':>11} "
          f"{'numpy GFLOP/s':>13} {'ratio':>7}  note")
    for r in rows:
        g_mlc = f"{r.flops / r.mlc_s / 1e9:11.1f}" if r.flops else f"{'':>11}"
        g_np = f"{r.flops / r.numpy_s / 1e9:13.1f}" if r.flops else f"{'':>13}"
        print(f"{r.name:<34} {_fmt_time(r.mlc_s):>12} {_fmt_time(r.numpy_s):>12} {g_mlc} {g_np} "
              f"{r.ratio:6.2f}x  {r.note}")
