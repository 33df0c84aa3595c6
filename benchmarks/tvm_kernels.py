"""Apache TVM contenders: tensor expressions (``tvm.te``) with a schedule written by hand
(``tvm.s_tir.Schedule``), compiled by TVM's LLVM backend for the host CPU.

Imported only when apache-tvm is installed (written against TVM 0.2x, where the
schedule lives in ``tvm.s_tir`` and targets are dicts). Transcendentals use
TVM's fast math where it has it (``topi.fast_tanh``, ``topi.fast_exp``), and
the build turns on ``tirx.enable_fast_math`` (LLVM's fast-math flags).
Each builder returns ``(run, result)``: ``run()`` computes into preallocated
TVM tensors and returns the output.
"""
from __future__ import annotations

import os
import re

if "TVM_NUM_THREADS" not in os.environ:  # TVM assumes hyper-threading and halves the core count
    os.environ["TVM_NUM_THREADS"] = str(os.cpu_count() or 1)

import numpy as np
import tvm
from tvm import te, topi

from .isa import llvm_attrs
from .programs import ERF_A, ERF_P, SQRT_2_OVER_PI

VECTOR = 16


def _target():
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = {"kind": "llvm", "mcpu": llvm.get_host_cpu_name(), "num-cores": os.cpu_count() or 1}
    if llvm_attrs():  # (--isa avx2)
        target["mattr"] = llvm_attrs()
    return tvm.target.Target(target)


def _blocks(sch) -> list[str]:
    return [b for b in re.findall(r'T\.sblock\("(\w+)"\)', sch.mod.script()) if b != "root"]


def _inline_except(sch, keep: set[str]) -> None:
    for name in _blocks(sch):
        if name not in keep:
            sch.compute_inline(sch.get_sblock(name))


def _vectorize_parallel(sch, block: str, width: int = VECTOR) -> None:
    """Fuse the block's loops, split by ``width``: the outer part parallel, the inner vector.
    When ``width`` does not divide the extent, the split's bounds check would keep the
    inner loop scalar: the fused loop is only made parallel, and LLVM vectorizes each
    thread's contiguous chunk."""
    loops = sch.get_loops(sch.get_sblock(block))
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    extent = int(sch.get(fused).extent)
    if extent % width:
        sch.parallel(fused)
        return
    outer, inner = sch.split(fused, [None, width])
    sch.parallel(outer)
    sch.vectorize(inner)


def _compile(sch, inputs: list[np.ndarray], outputs: list[tuple[tuple[int, ...], str]]):
    with tvm.transform.PassContext(opt_level=3, config={"tirx.enable_fast_math": True}):
        lib = tvm.compile(sch.mod, target=_target())
    dev = tvm.cpu()
    args = [tvm.runtime.tensor(a, dev) for a in inputs]
    outs = [tvm.runtime.empty(shape, dtype, dev) for shape, dtype in outputs]
    f = lib["main"]

    def run():
        f(*args, *outs)
        return outs[0]
    return run


def _module(*tensors):
    return tvm.s_tir.Schedule(tvm.IRModule({"main": te.create_prim_func(list(tensors))}))


def gelu(x: np.ndarray):
    n = x.shape[0]
    X = te.placeholder((n,), "float32", name="X")
    inner = te.compute((n,), lambda i: SQRT_2_OVER_PI * (X[i] + 0.044715 * X[i] * X[i] * X[i]), name="inner")
    th = topi.fast_tanh(inner)
    out = te.compute((n,), lambda i: 0.5 * X[i] * (1 + th[i]), name="out")
    sch = _module(X, out)
    _inline_except(sch, {"out"})
    _vectorize_parallel(sch, "out")
    return _compile(sch, [x], [((n,), "float32")])


def window_sum(a: np.ndarray):
    n = a.shape[0]
    A = te.placeholder((n,), "float32", name="A")
    B = te.compute((n - 2,), lambda i: A[i] + A[i + 1] + A[i + 2], name="B")
    sch = _module(A, B)
    _vectorize_parallel(sch, "B")
    return _compile(sch, [a], [((n - 2,), "float32")])


def rotary(x: np.ndarray, pos: np.ndarray, inv_freq: np.ndarray):
    n, d = x.shape
    half = d // 2
    X = te.placeholder((n, d), "float32", name="X")
    P = te.placeholder((n,), "float32", name="P")
    F = te.placeholder((half,), "float32", name="F")

    def rotate(i, j):
        first = j < half
        k = tvm.tirx.if_then_else(first, j, j - half)
        angle = P[i] * F[k]
        c, s = te.cos(angle), te.sin(angle)
        x1, x2 = X[i, k], X[i, k + half]
        return tvm.tirx.if_then_else(first, x1 * c - x2 * s, x1 * s + x2 * c)

    out = te.compute((n, d), rotate, name="out")
    sch = _module(X, P, F, out)
    _vectorize_parallel(sch, "out")
    return _compile(sch, [x, pos, inv_freq], [((n, d), "float32")])


def add(a: np.ndarray, b: np.ndarray):
    n = a.shape[0]
    A = te.placeholder((n,), "float32", name="A")
    B = te.placeholder((n,), "float32", name="B")
    C = te.compute((n,), lambda i: A[i] + B[i], name="C")
    return _compile(_module(A, B, C), [a, b], [((n,), "float32")])


def softmax(x: np.ndarray):
    n, m = x.shape
    X = te.placeholder((n, m), "float32", name="X")
    k = te.reduce_axis((0, m), name="k")
    top = te.compute((n,), lambda i: te.max(X[i, k], axis=k), name="top")
    shifted = te.compute((n, m), lambda i, j: X[i, j] - top[i], name="shifted")
    e = topi.fast_exp(shifted)
    k2 = te.reduce_axis((0, m), name="k2")
    total = te.compute((n,), lambda i: te.sum(e[i, k2], axis=k2), name="total")
    out = te.compute((n, m), lambda i, j: e[i, j] / total[i], name="out")
    sch = _module(X, out)
    exp_block = next(b for b in _blocks(sch) if "exp" in b)
    _inline_except(sch, {"top", exp_block, "total", "out"})
    # "out" first, then its producers under its row loop, innermost first
    i, j = sch.get_loops(sch.get_sblock("out"))
    sch.parallel(i)
    _, ji = sch.split(j, [None, VECTOR])
    sch.vectorize(ji)
    for name in ("total", exp_block, "top"):
        sch.compute_at(sch.get_sblock(name), i)
    _, ji = sch.split(sch.get_loops(sch.get_sblock(exp_block))[-1], [None, VECTOR])
    sch.vectorize(ji)
    return _compile(sch, [x], [((n, m), "float32")])


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray):
    n, m = x.shape
    X = te.placeholder((n, m), "float32", name="X")
    G = te.placeholder((m,), "float32", name="G")
    Bt = te.placeholder((m,), "float32", name="Bt")
    k = te.reduce_axis((0, m), name="k")
    total = te.compute((n,), lambda i: te.sum(X[i, k], axis=k), name="total")
    k2 = te.reduce_axis((0, m), name="k2")
    sq = te.compute((n,), lambda i: te.sum((X[i, k2] - total[i] / m) * (X[i, k2] - total[i] / m), axis=k2),
                    name="sq")
    out = te.compute((n, m), lambda i, j: (X[i, j] - total[i] / m) / te.sqrt(sq[i] / m + 1e-5) * G[j] + Bt[j],
                     name="out")
    sch = _module(X, G, Bt, out)
    i, j = sch.get_loops(sch.get_sblock("out"))
    sch.parallel(i)
    _, ji = sch.split(j, [None, VECTOR])
    sch.vectorize(ji)
    for name in ("sq", "total"):
        sch.compute_at(sch.get_sblock(name), i)
    return _compile(sch, [x, gamma, beta], [((n, m), "float32")])


def _matmul_schedule(sch, block: str, consumer: str | None, tile_i: int, tile_j: int, tile_k: int = 4) -> None:
    """TVM's CPU matmul tutorial schedule: (i, j) tiles with k split and moved outside the
    tile rows, the tile's columns vectorized, k's inner part unrolled, the tiles in
    parallel; ``consumer`` (a write-back or the relu) runs right after its tile's k loop.
    Loop annotations come before ``decompose_reduction``, as TVM requires."""
    c = sch.get_sblock(block)
    i, j, k = sch.get_loops(c)
    io, ii = sch.split(i, [None, tile_i])
    jo, ji = sch.split(j, [None, tile_j])
    ko, ki = sch.split(k, [None, tile_k])
    sch.reorder(io, jo, ko, ki, ii, ji)
    if consumer:
        sch.reverse_compute_at(sch.get_sblock(consumer), jo)
        sch.vectorize(sch.split(sch.get_loops(sch.get_sblock(consumer))[-1], [None, VECTOR])[1])
    sch.vectorize(sch.split(ji, [None, VECTOR])[1])
    sch.unroll(ki)
    sch.parallel(sch.fuse(io, jo))
    init = sch.decompose_reduction(c, ko)
    sch.vectorize(sch.split(sch.get_loops(init)[-1], [None, VECTOR])[1])


def matmul(a: np.ndarray, b: np.ndarray, relu: bool = False):
    n, kk = a.shape
    m = b.shape[1]
    A = te.placeholder((n, kk), "float32", name="A")
    B = te.placeholder((kk, m), "float32", name="B")
    k = te.reduce_axis((0, kk), name="k")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    if relu:
        R = te.compute((n, m), lambda i, j: te.max(C[i, j], 0.0), name="R")
        sch = _module(A, B, R)
        _matmul_schedule(sch, "C", "R", min(32, n), min(64, m))
    else:
        sch = _module(A, B, C)
        sch.cache_write(sch.get_sblock("C"), 0, "global")  # accumulate in a tile, write C once
        _matmul_schedule(sch, "C", "C_global", min(32, n), min(64, m))
    return _compile(sch, [a, b], [((n, m), "float32")])


def conv2d_pad1(x: np.ndarray, w: np.ndarray):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    X = te.placeholder(x.shape, "float32", name="X")
    W = te.placeholder(w.shape, "float32", name="W")
    P = te.compute((n, c, h + 2, wd + 2), lambda b, ch, y, xx: te.if_then_else(
        te.all(y >= 1, y <= h, xx >= 1, xx <= wd), X[b, ch, y - 1, xx - 1], 0.0), name="P")
    rc = te.reduce_axis((0, c), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    out = te.compute((n, o, h, wd), lambda b, f, y, xx: te.sum(
        P[b, rc, y + ry, xx + rx] * W[f, rc, ry, rx], axis=[rc, ry, rx]), name="out")
    sch = _module(X, W, out)
    blk = sch.get_sblock("out")
    b, f, y, xx, rc_, ry_, rx_ = sch.get_loops(blk)
    sch.reorder(b, f, y, rc_, ry_, rx_, xx)
    sch.vectorize(sch.split(xx, [None, 8])[1])
    sch.parallel(sch.fuse(b, f))
    init = sch.decompose_reduction(blk, rc_)
    sch.vectorize(sch.split(sch.get_loops(init)[-1], [None, 8])[1])
    _vectorize_parallel(sch, "P", 8)
    return _compile(sch, [x, w], [((n, o, h, wd), "float32")])


def black_scholes(S, K, T, r: float, sigma: float):
    n = S.shape[0]
    Sp, Kp, Tp = (te.placeholder((n,), "float64", name=nm) for nm in ("S", "K", "T"))
    a1, a2, a3, a4, a5 = ERF_A

    def erf(x):
        a = te.abs(x)
        t = 1.0 / (1.0 + ERF_P * a)
        y = 1.0 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * te.exp(-(a * a))
        return te.if_then_else(x < 0.0, -y, y)

    def price(i):
        vol = sigma * te.sqrt(Tp[i])
        d1 = (te.log(Sp[i] / Kp[i]) + (r + 0.5 * sigma * sigma) * Tp[i]) / vol
        d2 = d1 - vol
        cdf1 = 0.5 * (1.0 + erf(d1 * 0.7071067811865476))
        cdf2 = 0.5 * (1.0 + erf(d2 * 0.7071067811865476))
        return Sp[i] * cdf1 - Kp[i] * te.exp(-r * Tp[i]) * cdf2

    out = te.compute((n,), price, name="out")
    sch = _module(Sp, Kp, Tp, out)
    _vectorize_parallel(sch, "out", 8)
    return _compile(sch, [S, K, T], [((n,), "float64")])
