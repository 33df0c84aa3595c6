"""Property-test your own compiled code against NumPy with ``mlc.testing``.

Hypothesis draws shapes (size 1, odd sizes, empty dimensions), dtypes and
values; the compiled code runs on LLVM and on the reference interpreter; the
results must agree with NumPy within the error budget of the kernels (exact
for integers). A disagreement comes back shrunk to a small counterexample,
with its error in ulps and the IR that computed it.

    python examples/property_testing.py
    pytest examples/property_testing.py      # the same checks as tests
"""
from __future__ import annotations

import numpy as np

import mlc
import mlc.testing as mt
from mlc import te


@mlc.jit
def gelu(x):
    return 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x * x * x)))


@mlc.op
def softplus(x: te.Tensor, alpha: float = 1.0):
    """``log(1 + exp(alpha * x))``, elementwise."""
    return te.compute(x.shape, lambda *i: te.log(1 + te.exp(alpha * x[i])), name="softplus")


@mlc.op
def row_sums(x: te.Tensor):
    """Meant to be ``x.sum(axis=1)``: a deliberate mistake sums over axis 0."""
    k = te.reduce_axis((0, x.shape[0]), "k")
    return te.compute((x.shape[1],), lambda j: te.sum(x[k, j], axis=k), name="sums")


def test_gelu_matches_numpy():
    mt.check_against_numpy(gelu, gelu.__wrapped__,     # or any NumPy function
                           mt.arrays(dtypes=["float32", "float64"], shapes=mt.shapes(max_dims=3)))


def test_softplus_matches_numpy():
    softplus.check(lambda x, alpha: np.log1p(np.exp(x.dtype.type(alpha) * x)), attrs={"alpha": 0.5})


def main(verbose: bool = True) -> str:
    test_gelu_matches_numpy()
    test_softplus_matches_numpy()
    try:
        row_sums.check(lambda x: x.sum(axis=1))
    except mt.Counterexample as err:
        report = str(err)
    else:
        raise AssertionError("the wrong reduction axis went unnoticed")
    if verbose:
        print("gelu and softplus agree with NumPy; the wrong row_sums does not:\n")
        print(report)
    return report


if __name__ == "__main__":
    main()
