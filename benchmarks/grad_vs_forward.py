"""A gradient's time against its forward's: ``python -m benchmarks.grad_vs_forward``.

For row softmax and layer_norm of a 4096x1024 float32 matrix: ``mlc.nn.softmax`` /
``mlc.nn.layer_norm`` jitted, and the jitted gradient of ``sum(f(x) * c)`` (x's, and for
layer_norm gamma's and beta's too: forward included, as ``benchmarks.training``'s
``softmax_grad`` and ``layer_norm_grad``). Issue 61's target: the gradient takes at most 1.5
times the forward's time. Each contender's time is the median over ``--rounds`` rounds of
the best of a batch of ``--number`` calls; forward and gradient alternate round by round
(the same load for both), on 1 thread and then on every thread (``mlc.set_num_threads``).
Steady state: the optimised programs (``mlc.tiering.wait``), not the first tier. ``--clock
cpu`` times the 1-thread line by the thread's CPU time (``time.thread_time``), which a busy
host's other processes do not add to by preempting the call; every thread's line stays in
wall time (the calling thread's CPU time does not count the others').

    softmax     threads 1: forward 3.10 ms  grad 3.35 ms  ratio 1.08
    ...
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import mlc


def _best_s(fn, number: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(number):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def _pairs(n: int, m: int) -> dict:
    rng = np.random.default_rng(0)
    x, c = rng.standard_normal((n, m), dtype="float32"), rng.standard_normal((n, m), dtype="float32")
    g, b = rng.standard_normal(m, dtype="float32"), rng.standard_normal(m, dtype="float32")
    softmax = mlc.jit(lambda v: mlc.nn.softmax(v, axis=1))
    softmax_grad = mlc.jit(lambda v, w: mlc.grad(lambda u: np.sum(mlc.nn.softmax(u, axis=1) * w))(v))
    layer_norm = mlc.jit(lambda v, g, b: mlc.nn.layer_norm(v, g, b, axis=1))
    layer_norm_grad = mlc.jit(lambda v, g, b, w: mlc.grad(
        lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * w), argnums=(0, 1, 2))(v, g, b))
    return {"softmax": (lambda: softmax(x), lambda: softmax_grad(x, c)),
            "layer_norm": (lambda: layer_norm(x, g, b), lambda: layer_norm_grad(x, g, b, c))}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.grad_vs_forward", description=__doc__.split("\n\n")[1])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--number", type=int, default=5)
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--cols", type=int, default=1024)
    p.add_argument("--only", choices=("softmax", "layer_norm"), default=None)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: the 1-thread line in the thread's CPU time")
    args = p.parse_args(argv)
    pairs = _pairs(args.rows, args.cols)
    for forward, grad in pairs.values():
        forward(), grad()
    mlc.tiering.wait(600)
    most = mlc.config.config().num_threads
    for threads in sorted({1, most}):
        mlc.set_num_threads(threads)
        cpu = args.clock == "cpu" and threads == 1
        clock = time.thread_time if cpu else time.perf_counter
        for name, (forward, grad) in pairs.items():
            if args.only and name != args.only:
                continue
            times = ([], [])
            for _ in range(args.rounds):
                times[0].append(_best_s(forward, args.number, clock))
                times[1].append(_best_s(grad, args.number, clock))
            f, g = (statistics.median(t) for t in times)
            print(f"{name:11s} threads {threads}: forward {f * 1e3:.2f} ms  grad {g * 1e3:.2f} ms  "
                  f"ratio {g / f:.2f}" + ("  (CPU time)" if cpu else ""), flush=True)
    mlc.set_num_threads(most)


if __name__ == "__main__":
    main()
