"""Random dataflow graphs (shared values, diamonds, several outputs) compile to NumPy's results.

Hypothesis draws a program as data: each step applies an op to earlier
values, chosen at random, so values get several consumers and graphs get
diamonds. The same data runs under @mlc.jit and as plain NumPy.
"""
import numpy as np
from hypothesis import given, strategies as st

import mlc

N = 6


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# name -> (arity, function): NumPy code that traces as it is
OPS = {
    "add": (2, lambda a, b: a + b),
    "mul": (2, lambda a, b: a * b * 0.5),
    "max": (2, np.maximum),
    "tanh": (1, np.tanh),
    "neg_exp": (1, lambda a: np.exp(-np.abs(a))),
    "matmul": (2, lambda a, b: (a @ b) / N),
    "rowsum": (1, lambda a: a.sum(axis=1, keepdims=True) / N),
    "colmax": (1, lambda a: a.max(axis=0)),
    "transpose": (1, lambda a: a.T),
    "flip": (1, lambda a: a[::-1]),
    "flatten_back": (1, lambda a: a.reshape(N * N).reshape(N, N)),
}
TRACED = {"softmax": (1, mlc.nn.softmax)}
REFERENCE = {"softmax": (1, softmax)}


@st.composite
def programs(draw):
    names = sorted(OPS) + ["softmax"]
    steps = []
    for n in range(draw(st.integers(1, 10))):
        op = draw(st.sampled_from(names))
        arity = (OPS.get(op) or TRACED[op])[0]
        steps.append((op, [draw(st.integers(0, n + 1)) for _ in range(arity)]))  # 2 inputs + earlier
    outputs = draw(st.lists(st.integers(0, len(steps) + 1), min_size=1, max_size=3))
    return steps, outputs


def run(program, x, y, table):
    steps, outputs = program
    values = [x, y]
    for op, args in steps:
        _, fn = table.get(op) or OPS[op]
        values.append(fn(*(values[a] for a in args)) + 0 * values[0])  # back to (N, N)
    return tuple(values[k] for k in outputs)


@given(programs())
def test_random_dags_equal_numpy(program):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, N, N)).astype("float32")
    got = mlc.jit(lambda a, b: run(program, a, b, TRACED))(x, y)
    want = run(program, x, y, REFERENCE)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
