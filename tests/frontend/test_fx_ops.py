"""mlc.frontend.fx_ops (what from_fx turns torch's layers into) against NumPy spellings of PyTorch's
formulas; they need no torch, so they run everywhere (test_fx.py checks the import against torch)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.frontend import fx_ops
from mlc.graph import BlockBuilder, Tensor, Var, op


def run(fn, *arrays):
    bb = BlockBuilder()
    params = [Var(f"x{i}", Tensor(a.shape, a.dtype.name)) for i, a in enumerate(arrays)]
    with bb.function("main", params):
        with bb.dataflow():
            gv = bb.emit_output(fn(*params))
        bb.emit_func_output(gv)
    return mlc.build(bb.get(), "llvm")["main"](*arrays)


def _softplus(x, beta, threshold):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


ACTIVATIONS = {
    "relu6": (lambda x: fx_ops.hardtanh(x, 0.0, 6.0), lambda x: np.clip(x, 0, 6)),
    "hardtanh": (lambda x: fx_ops.hardtanh(x, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0)),
    "silu": (fx_ops.silu, lambda x: x / (1 + np.exp(-x))),
    "leaky_relu": (lambda x: fx_ops.leaky_relu(x, 0.2), lambda x: np.where(x < 0, 0.2 * x, x)),
    "elu": (lambda x: fx_ops.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x))),
    "hardsigmoid": (fx_ops.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (fx_ops.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "softplus": (lambda x: fx_ops.softplus(x, 2.0, 5.0), lambda x: _softplus(x, 2.0, 5.0)),
    "mish": (fx_ops.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "log_softmax": (lambda x: fx_ops.log_softmax(x, -1),
                    lambda x: x - x.max(-1, keepdims=True) - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(
                        -1, keepdims=True))),
}


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(sorted(ACTIVATIONS)), shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       seed=st.integers(0, 9))
def test_activations(name, shape, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * 4).astype("float32")
    x.flat[0] = 6.5  # past ReLU6's clamp: a clamp at 6.5 would show
    ours, reference = ACTIVATIONS[name]
    np.testing.assert_allclose(run(ours, x), reference(x.astype(np.float64)), rtol=1e-5, atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 4), max_size=2),
       affine=st.booleans(), seed=st.integers(0, 9))
def test_batch_norm_eval_uses_the_running_statistics(n, c, spatial, affine, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *spatial)).astype("float32")
    mean, var = rng.standard_normal(c).astype("float32"), rng.uniform(0.1, 2, c).astype("float32")
    w, b = (rng.standard_normal(c).astype("float32") for _ in range(2))
    shape = (1, c) + (1,) * len(spatial)
    expected = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-3)
    if affine:
        expected = expected * w.reshape(shape) + b.reshape(shape)
    got = run(lambda v: fx_ops.batch_norm(v, mean, var, w if affine else None, b if affine else None, 1e-3), x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(idx_shape=st.lists(st.integers(1, 4), min_size=1, max_size=2), rows=st.integers(1, 7),
       dim=st.integers(1, 5), data=st.data())
def test_embedding(idx_shape, rows, dim, data):
    weight = np.random.default_rng(rows).standard_normal((rows, dim)).astype("float32")
    idx = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=int(np.prod(idx_shape)),
                                      max_size=int(np.prod(idx_shape))))).reshape(idx_shape).astype("int64")
    np.testing.assert_array_equal(run(lambda i: fx_ops.embedding(i, weight), idx), weight[idx])


def test_batch_norm_needs_a_channel_axis():
    with pytest.raises(mlc.ShapeError, match=r"expected an input \(N, C, \.\.\.\)"):
        run(lambda v: fx_ops.batch_norm(v, np.zeros(3), np.ones(3)), np.zeros(3, "float32"))


def _attention_reference(q, k, v, heads, ws, bs, wo, bo, mask):
    """PyTorch's MultiheadAttention formula in NumPy, batch first: (N, L, E) -> (output, weights per head)."""
    n, length, e = q.shape
    d = e // heads
    split = lambda x, w, b: (x @ w.T + b).reshape(n, -1, heads, d).transpose(0, 2, 1, 3)
    qh, kh, vh = split(q, ws[0], bs[0]), split(k, ws[1], bs[1]), split(v, ws[2], bs[2])
    scores = qh / np.sqrt(d) @ kh.transpose(0, 1, 3, 2)
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    attn = scores / scores.sum(-1, keepdims=True)
    out = (attn @ vh).transpose(0, 2, 1, 3).reshape(n, length, e) @ wo.T + bo
    return out, attn


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 3), length=st.integers(1, 5), source=st.integers(1, 4), heads=st.sampled_from([1, 2, 3]),
       masked=st.booleans(), seed=st.integers(0, 9))
def test_multi_head_attention(n, length, source, heads, masked, seed):
    rng = np.random.default_rng(seed)
    e = 2 * heads
    q = rng.standard_normal((n, length, e)).astype("float32")
    kv = rng.standard_normal((n, source, 5)).astype("float32")
    ws = [rng.standard_normal((e, d)).astype("float32") for d in (e, 5, 5)]
    bs = [rng.standard_normal(e).astype("float32") for _ in range(3)]
    wo, bo = rng.standard_normal((e, e)).astype("float32"), rng.standard_normal(e).astype("float32")
    mask = rng.random((n, source)) < 0.4 if masked else None
    if mask is not None:
        mask[:, 0] = False
    expected, per_head = _attention_reference(q.astype(np.float64), kv, kv, heads, ws, bs, wo, bo,
                                              None if mask is None else mask[:, None, None, :])
    arrays = (q, kv) + ((mask,) if masked else ())

    def fn(qv, kvv, *m):
        out, weights = fx_ops.multi_head_attention(qv, kvv, kvv, heads, ws, bs, wo, bo, batch_first=True,
                                                   key_padding_mask=m[0] if m else None,
                                                   average_attn_weights=False)
        return op("concatenate", op("reshape", out, newshape=(-1,)), op("reshape", weights, newshape=(-1,)),
                  axis=0)
    got = run(fn, *arrays)
    np.testing.assert_allclose(got, np.concatenate([expected.ravel(), per_head.ravel()]), rtol=1e-4, atol=1e-5)
