"""Small workloads and a fault injector for the tuner's tests."""
import ctypes
import hashlib
import time

import mlc
from mlc import te


def matmul(m, n, k, relu=False, name="mm"):
    A = te.placeholder((m, k), "float32", name="A")
    B = te.placeholder((k, n), "float32", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    if relu:
        D = te.compute((m, n), lambda i, j: te.max(C[i, j], 0), name="D")
        return mlc.IRModule({name: te.create_prim_func([A, B, D])})
    return mlc.IRModule({name: te.create_prim_func([A, B, C])})


def scale_add(n):
    A = te.placeholder((n, n), "float32", name="A")
    B = te.compute((n, n), lambda i, j: A[i, j] * 2, name="B")
    C = te.compute((n, n), lambda i, j: B[i, j] + A[j, i], name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


def fault_of(trace_json: str) -> str | None:
    """What the injected fault does to a candidate: a third of the sampled candidates crash,
    hang or return a wrong answer (chosen by the trace's hash); the default schedule is left alone."""
    if '"sample_' not in trace_json:
        return None
    return {0: "crash", 1: "hang", 2: "wrong"}.get(int(hashlib.sha256(trace_json.encode()).hexdigest(), 16) % 9)


def faulty(kernel, job):
    """A kernel hook (``kernel_hook="tests.tune.workloads:faulty"``) injecting :func:`fault_of`."""
    fault = fault_of(job.trace_json)
    if fault == "crash":
        return lambda *args: ctypes.string_at(0)          # a real segfault
    if fault == "hang":
        return lambda *args: time.sleep(3600)
    if fault == "wrong":
        def wrong(*args):
            kernel(*args)
            args[-1].flat[0] += 1.0
        return wrong
    return kernel


def check_fault_records(records, crash_reason: str = "crashed") -> None:
    """Every candidate a fault was injected into failed for that fault's reason, every other
    one was measured; and there were some of each."""
    expected = {"crash": crash_reason, "hang": "timed out", "wrong": "wrong answer"}
    for r in records:
        fault = fault_of(r.trace_json)
        if fault is None:
            assert r.ok, r.error
        else:
            assert not r.ok and expected[fault] in r.error, r.error
    assert any(r.ok for r in records) and any(not r.ok for r in records)


def batch_matmul(b, m, n, k, name="main"):
    A = te.placeholder((b, m, k), "float32", name="A")
    B = te.placeholder((b, k, n), "float32", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((b, m, n), lambda z, i, j: te.sum(A[z, i, r] * B[z, r, j], axis=r), name="C")
    return mlc.IRModule({name: te.create_prim_func([A, B, C])})


def conv2d(channels, size, name="main"):
    """A 1 x channels x size x size convolution with channels 3x3 filters, padding 1, as
    ``mlc.nn.conv2d`` lowers it (a padding stage, then the reduction)."""
    x = te.placeholder((1, channels, size, size), "float32", name="X")
    w = te.placeholder((channels, channels, 3, 3), "float32", name="W")
    pad = te.compute((1, channels, size + 2, size + 2), lambda n, c, h, v: te.if_then_else(
        te.all(h >= 1, h <= size, v >= 1, v <= size), x[n, c, h - 1, v - 1], te.const(0.0, "float32")),
        name="pad")
    ci, kh, kw = te.reduce_axis((0, channels), "ci"), te.reduce_axis((0, 3), "kh"), te.reduce_axis((0, 3), "kw")
    y = te.compute((1, channels, size, size), lambda n, co, h, v: te.sum(
        pad[n, ci, h + kh, v + kw] * w[co, ci, kh, kw], axis=[ci, kh, kw]), name="Y")
    return mlc.IRModule({name: te.create_prim_func([x, w, y])})


def check_schedule(mod, sch) -> None:
    """The schedule ``sch`` made of single-function ``mod``, replayed from its trace's JSON
    on the llvm target, computes what the reference interpreter computes."""
    import numpy as np
    (name,) = list(mod)
    func = mod[name]
    rng = np.random.default_rng(0)
    args = [rng.uniform(-1, 1, tuple(s.value for s in p.shape)).astype("float32") for p in func.params]
    want = [a.copy() for a in args]
    mlc.build(mod, "reference")[name](*want)
    mlc.build(mod, "llvm", schedule=mlc.Trace.from_json(sch.trace.to_json()))[name](*args)
    np.testing.assert_allclose(args[-1], want[-1], rtol=1e-4, atol=1e-4)


def check_space_point(mod, space_name: str, seed: int) -> None:
    """The point of design space ``space_name`` that ``seed`` samples for ``mod`` computes the
    reference (:func:`check_schedule`), and replaying its decisions (with another seed, which
    they override) rebuilds the same IR."""
    from mlc.tune import space
    sch = space.replay(mod, space_name, "llvm", seed=seed)
    check_schedule(mod, sch)
    again = space.replay(mod, space_name, "llvm", space.decisions_of(sch.trace), seed=seed + 1)
    mlc.assert_structural_equal(again.mod, sch.mod)
