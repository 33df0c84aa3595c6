"""A custom operator written once in te, used on arrays and inside @mlc.jit.

``scaled_softplus(x, alpha) = log(1 + exp(alpha * x))`` is not a NumPy
function. With ``@mlc.op`` its te body is all mlc needs: the shape rule comes
from building the body on placeholders, the NumPy reference from running it
on the reference interpreter, and inside a jitted function it fuses with its
neighbours like any built-in elementwise op.

    python examples/custom_operator.py
"""
from __future__ import annotations

import numpy as np

import mlc
from mlc import te
from mlc.ir.calls import is_graph_main


@mlc.op
def scaled_softplus(x: te.Tensor, alpha: float = 2.0):
    """``log(1 + exp(alpha * x))``, elementwise."""
    return te.compute(x.shape, lambda *i: te.log(1 + te.exp(alpha * x[i])), name="softplus")


@mlc.jit
def layer(x, w, b):
    """A dense layer with the custom activation: one fused kernel."""
    return scaled_softplus(x @ w + b, alpha=0.5)


def main(verbose: bool = True) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16)).astype("float32")
    w = rng.standard_normal((16, 4)).astype("float32") / 4
    b = rng.standard_normal(4).astype("float32")

    eager = scaled_softplus(x, alpha=0.5)            # compiled once for this signature, then run
    expected = np.log(1 + np.exp(np.float32(0.5) * x))
    np.testing.assert_allclose(eager, expected, rtol=1e-5)

    y = layer(x, w, b)
    np.testing.assert_allclose(y, np.log(1 + np.exp(np.float32(0.5) * (x @ w + b))), rtol=1e-5)

    lowered = layer.lower(x, w, b)
    if verbose:
        print("eager scaled_softplus(x)[0, :4] =", eager[0, :4])
        print(f"registered as {scaled_softplus.op.name!r}, fusion pattern {scaled_softplus.op.pattern!r}")
        print("jitted layer(x, w, b)[0] =", y[0])
        print()
        print(lowered.as_text())
    return {"kernels": [n for n, f in lowered.mod.items() if not is_graph_main(f)], "pattern": scaled_softplus.op.pattern}


if __name__ == "__main__":
    main()
