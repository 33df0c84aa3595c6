"""``@mlc.jit``'s stages, as JAX shows them: ``f.trace`` -> Traced, ``.lower()`` -> Lowered,
``.compile()`` -> Compiled; a call compiles through the same stages."""
import numpy as np
import pytest

import mlc
from mlc.ir.calls import is_graph_main
from mlc.tracer.stages import Compiled, Lowered, Traced

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 8)).astype("float32")
W = RNG.standard_normal((8, 3)).astype("float32")


def layer(x, w):
    return np.maximum(x @ w, 0) + 1


def test_trace_lower_compile_runs_like_the_call():
    f = mlc.jit(layer)
    traced = f.trace(X, W)
    assert isinstance(traced, Traced) and f.trace_count == 1
    assert "matmul" in traced.graph.ops() and "matmul" in traced.as_text()
    lowered = traced.lower()
    assert isinstance(lowered, Lowered) and lowered.traced is traced.graph
    assert lowered.graph.ops() and set(lowered.graph.ops()) <= {"call_tir"}
    mlc.assert_structural_equal(lowered.mod, f.lower(X, W).mod)
    compiled = lowered.compile()
    assert isinstance(compiled, Compiled)
    np.testing.assert_allclose(compiled(X, W), layer(X, W), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(compiled(X, W), f(X, W))


def test_compiled_shows_the_generated_llvm_ir_and_lowered_the_kernels():
    f = mlc.jit(layer)
    lowered = f.lower(X, W)
    assert "T.prim_func" in lowered.as_text() and "T.block" in lowered.as_text()
    text = lowered.compile().as_text()
    assert "define" in text and "fused_matmul" in text
    assert "ret void" in lowered.compile().as_text("ll")


def test_a_reference_compile_shows_the_tir_it_interprets():
    f = mlc.jit(layer, target="reference")
    compiled = f.lower(X, W).compile()
    assert "T.prim_func" in compiled.as_text()
    np.testing.assert_allclose(compiled(X, W), layer(X, W), rtol=1e-5, atol=1e-5)


def test_a_call_caches_what_the_stages_compile():
    f = mlc.jit(layer)
    f(X, W)
    (cached,) = f._cache.values()
    assert isinstance(cached, Compiled)
    assert cached.lib.target.kind == "llvm" and cached.graph.ops() == ["call_tir"] * len(cached.graph.ops())


def test_compiled_refuses_another_signature():
    compiled = mlc.jit(layer).lower(X, W).compile()
    with pytest.raises(mlc.TraceError, match="compiled for other argument shapes"):
        compiled(X[:2], W)


def test_compiled_checks_a_signature_once_per_shapes_and_dtypes(monkeypatch):
    """A second call with NumPy arrays of the same shapes and dtypes skips the signature
    (the jit's own hit path: mm_relu 128³ 11.0 µs a call instead of 21.8); other shapes, dtypes, array types and
    static values still go through it and are refused."""
    f = mlc.jit(layer)
    compiled = f.lower(X, W).compile()
    np.testing.assert_array_equal(compiled(X, W), f(X, W))
    calls = []
    signature = f._signature
    monkeypatch.setattr(f, "_signature", lambda *a: calls.append(a) or signature(*a))
    np.testing.assert_array_equal(compiled(X + 1, W), f(X + 1, W))
    assert calls == []
    for args in [(X[:2], W), (X.astype("float64"), W), (X.tolist(), W)]:
        with pytest.raises(mlc.TraceError, match="compiled for other"):
            compiled(*args)
    assert len(calls) == 3

    shift = mlc.jit(lambda x, s: x + s)
    shifted = shift.lower(X, 0.5).compile()
    np.testing.assert_array_equal(shifted(X, 0.5), X + 0.5)
    shift_signature = shift._signature
    monkeypatch.setattr(shift, "_signature", lambda *a: calls.append(a) or shift_signature(*a))
    np.testing.assert_array_equal(shifted(X, 2.25), X + np.float32(2.25))  # a number: the hit path too
    assert len(calls) == 3
    with pytest.raises(mlc.TraceError, match="compiled for other"):
        shifted(X, 2)  # an int is another signature
    assert len(calls) == 4

    @mlc.jit(static_argnums=1)
    def scale(x, k):
        return x * k

    twice = scale.lower(X, 2).compile()
    np.testing.assert_array_equal(twice(X, 2), X * 2)
    np.testing.assert_array_equal(twice(X, 2), X * 2)
    with pytest.raises(mlc.TraceError, match="compiled for other"):
        twice(X, 3)


def test_compiled_finds_keyword_and_static_calls_again(monkeypatch):
    """Calls with keywords or static arguments hit a Compiled too, once seen: keyed by
    their names and static values; another static value is refused as before."""
    @mlc.jit(static_argnames="axis")
    def total(x, axis, scale=1.0):
        return x.sum(axis=axis) * scale

    compiled = total.lower(X, axis=1, scale=2.0).compile()
    np.testing.assert_allclose(compiled(X, axis=1, scale=2.0), X.sum(axis=1) * 2, rtol=1e-6)
    calls = []
    signature = total._signature
    monkeypatch.setattr(total, "_signature", lambda *a: calls.append(a) or signature(*a))
    np.testing.assert_allclose(compiled(X + 1, axis=1, scale=0.5), (X + 1).sum(axis=1) * 0.5, rtol=1e-6)
    assert calls == []
    with pytest.raises(mlc.TraceError, match="compiled for other"):
        compiled(X, axis=0, scale=2.0)
    assert len(calls) == 1


def test_stages_keep_pytrees_and_static_arguments():
    @mlc.jit(static_argnames="axis")
    def norm(pair, axis):
        x, y = pair
        return {"sum": (x + y).sum(axis=axis), "x": x}

    compiled = norm.trace((X, X), axis=1).lower().compile()
    out = compiled((X, X), axis=1)
    np.testing.assert_allclose(out["sum"], (X + X).sum(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(out["x"], X)
    with pytest.raises(mlc.TraceError, match="compiled for other"):
        compiled((X, X), axis=0)


def test_lowered_scheduled_uses_the_targets_rules():
    lowered = mlc.jit(layer).lower(X, W)
    scheduled = lowered.scheduled()
    kernels = [f for f in scheduled.values() if not is_graph_main(f)]
    assert kernels and all(f.attr("mlc.scheduled") == "default" for f in kernels)
    as_written = mlc.jit(layer, target="reference").lower(X, W).scheduled()
    assert all(f.attr("mlc.scheduled") is None for f in as_written.values())


def test_a_signature_parses_its_target_once(monkeypatch):
    """The target string is parsed once, when the graph is lowered; the passes, the write-back
    decision and the build take that Target."""
    from mlc.target import Target
    parsed, real = [], Target.from_str

    def spy(spec):
        if not isinstance(spec, Target):
            parsed.append(spec)
        return real(spec)

    def update(x, w):
        x += 1  # (a written argument: the write-back asks where the program runs)
        return x @ w

    f = mlc.jit(update, target="llvm", tiered=False)
    monkeypatch.setattr(Target, "from_str", staticmethod(spy))
    x = X.copy()
    np.testing.assert_allclose(f(x, W), (X + 1) @ W, rtol=1e-5, atol=1e-5)
    assert parsed == ["llvm"]
