"""Sample calls of every registry op, for the transformation rules' tests.

``CASES[name]`` is a list of :class:`Case`: the op's operands (an
:class:`Arg`: a shape and a domain the values are drawn from, away from the
op's non-differentiable points; or a fixed array, such as indices) and its
attributes, and optionally ``post``, a NumPy function of the op's results
that the tests differentiate instead (for results defined only up to a sign,
like eigenvectors). Shapes are small and include size-1 and broadcast axes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Arg", "Case", "CASES", "draw"]


@dataclass(frozen=True)
class Arg:
    """A float64 operand of ``shape`` with values from ``domain`` (see :func:`draw`)."""
    shape: tuple
    domain: str = "real"


@dataclass(frozen=True)
class Case:
    args: tuple
    attrs: dict = field(default_factory=dict)
    post: object = None
    #: False for an op whose derivative is refused (checked apart): batching is checked alone
    derivatives: bool = True

    def arrays(self, rng):
        return [draw(a, rng) if isinstance(a, Arg) else np.asarray(a) for a in self.args]


_RANGES = {"real": (-2.0, 2.0), "pos": (0.5, 2.0), "unit": (-0.8, 0.8), "gt1": (1.2, 3.0),
           "small": (-0.6, 0.6)}


def draw(arg: Arg, rng) -> np.ndarray:
    """Values for ``arg``: ``real`` in [-2, 2], ``pos`` in [0.5, 2], ``unit`` in [-0.8, 0.8], ``gt1``
    in [1.2, 3], ``away`` (|x| in [0.3, 2], random signs), ``distinct`` (a shuffled grid, no two
    within 0.1: max, sort and ties), ``spd`` (symmetric positive definite matrices), ``matrix``
    (well-conditioned square matrices), ``frac`` (x / 1.7 well away from integers: fmod)."""
    shape, domain = arg.shape, arg.domain
    if domain in _RANGES:
        lo, hi = _RANGES[domain]
        return rng.uniform(lo, hi, shape)
    if domain == "away":
        return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "distinct":
        count = int(np.prod(shape))
        return (rng.permutation(count) * 0.37 - count * 0.15 + rng.uniform(-0.05, 0.05, count)).reshape(shape)
    if domain == "frac":
        return (rng.integers(-3, 4, shape) + rng.uniform(0.2, 0.8, shape)) * 1.7
    n = shape[-1]
    a = rng.uniform(-1, 1, shape)
    if domain == "spd":
        return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
    if domain == "matrix":
        return a + 2 * n ** 0.5 * np.eye(n) * np.sign(rng.uniform(-1, 1, shape[:-1] + (1,)))
    raise ValueError(domain)


def _unary(domain="real", shape=(3, 4)):
    return [Case((Arg(shape, domain),))]


def _binary(d0="real", d1="real"):
    return [Case((Arg((3, 1), d0), Arg((4,), d1)))]


def _reduction(domain="real", **extra):
    return [Case((Arg((3, 4), domain),), {"axis": 1, **extra}),
            Case((Arg((2, 3, 2), domain),), {"axis": (0, 2), "keepdims": True, **extra}),
            Case((Arg((4,), domain),), dict(extra))]


def _sign_free_eigh(out):
    w, v = out
    return w, (v * np.arange(1.0, v.shape[-1] + 1)) @ np.swapaxes(v, -1, -2)


def _sign_free_svd(out):
    u, s, vh = out
    k = s.shape[-1]
    return s, (u[..., :, :k] * np.arange(1.0, k + 1)) @ vh[..., :k, :]


def _cases() -> dict[str, list[Case]]:
    cases: dict[str, list[Case]] = {}
    for name in ("negative", "positive", "exp", "expm1", "exp2", "sin", "cos", "arctan", "sinh", "cosh",
                 "arcsinh", "tanh", "deg2rad", "rad2deg", "erf", "sigmoid", "square", "conjugate", "real",
                 "imag", "nn.gelu", "nn.silu", "cbrt", "sign", "floor", "ceil", "trunc", "rint", "spacing",
                 "isnan", "isfinite", "isinf", "signbit", "logical_not", "stop_gradient"):
        cases[name] = _unary("away" if name in ("cbrt",) else "real")
    for name in ("log", "log1p", "log2", "log10", "sqrt", "reciprocal"):
        cases[name] = _unary("pos")
    for name in ("arcsin", "arccos", "arctanh", "tan", "erfinv"):
        cases[name] = _unary("unit")
    cases["arccosh"] = _unary("gt1")
    for name in ("absolute", "fabs", "nn.relu"):
        cases[name] = _unary("away")
    cases["nn.gelu"] = _unary() + [Case((Arg((3, 2)),), {"approximate": "tanh"})]
    cases["clip"] = [Case((Arg((3, 4), "distinct"),), {"a_min": -0.5, "a_max": 0.55}),
                     Case((Arg((5,), "distinct"),), {"a_min": 0.05})]
    cases["astype"] = [Case((Arg((3, 2)),), {"dtype": "float32"}), Case((Arg((4,)),), {"dtype": "int32"})]
    for name in ("add", "subtract", "multiply", "arctan2", "hypot", "logaddexp", "logaddexp2"):
        cases[name] = _binary()
    cases["divide"] = _binary("real", "away")
    for name in ("maximum", "minimum", "fmax", "fmin"):
        cases[name] = [Case((Arg((3, 1), "distinct"), Arg((4,), "distinct")))]
    cases["power"] = _binary("pos", "real") + [Case((Arg((3,), "real"), np.array([2, 3, 1])))]
    cases["add"] = _binary() + [Case((Arg((2, 3)), Arg((2, 3))))]
    cases["float_power"] = _binary("pos", "real")
    cases["copysign"] = _binary("away", "away")
    for name in ("fmod", "remainder"):
        cases[name] = [Case((Arg((3, 1), "frac"), np.full((4,), 1.7) + np.linspace(0, 0.01, 4)))]
    cases["ldexp"] = [Case((Arg((3, 2)), np.array([[1, -2], [0, 3], [2, 2]])))]
    for name in ("heaviside", "nextafter", "floor_divide", "equal", "not_equal", "less", "less_equal", "greater",
                 "greater_equal", "logical_and", "logical_or", "logical_xor"):
        cases[name] = _binary("away", "away")
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift"):
        cases[name] = [Case((np.array([[1, 6, 3], [7, 0, 2]]), np.array([2, 1, 3])))]
    cases["invert"] = [Case((np.array([[1, 6, 3], [7, 0, 2]]),))]
    cases["where"] = [Case((np.array([[True], [False], [True]]), Arg((3, 4)), Arg((4,)))),
                      Case((np.array([True, False, False]), Arg((3,)), Arg(())))]
    for name in ("sum", "mean"):
        cases[name] = _reduction()
    cases["prod"] = _reduction() + [Case((np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]]),), {"axis": 1})]
    cases["logsumexp"] = _reduction()
    for name in ("max", "min"):
        cases[name] = _reduction("distinct")
    for name in ("var", "std"):
        cases[name] = _reduction() + [Case((Arg((3, 4)),), {"axis": 0, "ddof": 1})]
    for name in ("all", "any", "argmax", "argmin"):
        cases[name] = [Case((Arg((3, 4), "distinct"),), {"axis": 1}), Case((Arg((4,), "distinct"),), {})]
    cases["cumsum"] = [Case((Arg((3, 4)),), {"axis": 1}), Case((Arg((5,)),), {"axis": 0})]
    cases["cumprod"] = [Case((Arg((3, 4)),), {"axis": 1}), Case((np.array([1.5, 0.0, 2.0, -1.0, 0.0]),),
                                                                 {"axis": 0})]
    cases["sort"] = [Case((Arg((3, 4), "distinct"),), {"descending": True})]
    cases["argsort"] = [Case((Arg((3, 4), "distinct"),), {})]
    cases["searchsorted"] = [Case((np.array([-1.0, 0.0, 0.5, 2.0]), Arg((3, 2), "away")), {"side": "left"})]
    # random numbers: keys are uint32 pairs
    key = np.array([7, 11], "uint32")
    cases["random.bits"] = [Case((key,), {"shape": (3, 2), "dtype": "uint64", "stream": 1})]
    cases["random.unit"] = [Case((key,), {"shape": (4,), "interval": "(-1, 1)"})]
    cases["random.threefry2x32"] = [Case((key, np.arange(6, dtype="uint32").reshape(3, 2)))]
    cases["random.gamma"] = [Case((key, Arg((3,), "pos")), derivatives=False)]
    # shapes
    cases["reshape"] = [Case((Arg((3, 4)),), {"newshape": (2, 6)}), Case((Arg((2, 3)),), {"newshape": (-1,)})]
    cases["transpose"] = [Case((Arg((2, 3, 4)),), {"axes": (2, 0, 1)}), Case((Arg((3, 2)),), {"axes": None})]
    cases["moveaxis"] = [Case((Arg((2, 3, 4)),), {"source": 0, "destination": -1})]
    cases["expand_dims"] = [Case((Arg((3, 2)),), {"axis": (0, 2)})]
    cases["squeeze"] = [Case((Arg((3, 1, 2, 1)),), {"axis": None}), Case((Arg((1, 3)),), {"axis": 0})]
    cases["flip"] = [Case((Arg((3, 4)),), {"axis": 1}), Case((Arg((2, 3)),), {"axis": None})]
    cases["broadcast_to"] = [Case((Arg((3, 1)),), {"shape": (2, 3, 4)})]
    cases["slice"] = [Case((Arg((5, 6)),), {"starts": (1, None), "stops": (4, None), "steps": (1, 2)}),
                      Case((Arg((7,)),), {"starts": (5,), "stops": (0,), "steps": (-2,)})]
    cases["update_slice"] = [Case((Arg((5, 6)), Arg((3, 3))), {"starts": (1, None), "stops": (4, None), "steps": (1, 2)}),
                             Case((Arg((7,)), Arg((3,))), {"starts": (5,), "stops": (0,), "steps": (-2,)})]
    cases["pad"] = [Case((Arg((3, 2)),), {"pad_width": ((1, 0), (2, 1)), "constant_values": 0.5})]
    cases["concatenate"] = [Case((Arg((2, 3)), Arg((1, 3))), {"axis": 0}),
                            Case((Arg((2, 2)), Arg((3,))), {"axis": None})]
    cases["stack"] = [Case((Arg((2, 3)), Arg((2, 3))), {"axis": 1})]
    cases["split"] = [Case((Arg((5, 2)),), {"indices_or_sections": (1, 3), "axis": 0})]
    cases["take"] = [Case((Arg((4, 3)), np.array([3, 0, 3, -1, 1])), {"axis": 0}),
                     Case((Arg((2, 5)), np.array([4, 1])), {"axis": 1})]
    cases["element_get"] = [Case((Arg((4, 3)), np.int64(3), np.int64(-1))), Case((Arg((5,)), np.int64(0)))]
    cases["element_set"] = [Case((Arg((4, 3)), Arg(()), np.int64(1), np.int64(2))),
                            Case((Arg((3,)), Arg(()), np.int64(-3)))]
    cases["dynamic_update_slice"] = [
        Case((Arg((4, 3)), Arg((2, 1)), np.int64(1), np.int64(-1)), {"steps": (2, 1)}),
        Case((Arg((5,)), Arg((3,)), np.int64(3)), {"steps": (-1,)})]
    cases["window_matmul"] = [Case((Arg((3,)), Arg((3, 5)), np.int64(1), np.int64(4))),
                              Case((Arg((2,)), Arg((2, 4)), np.int64(-1), np.int64(9)))]
    cases["take_along_axis"] = [Case((Arg((3, 4)), np.array([[1, 1], [0, 3], [2, -1]])), {"axis": 1}),
                                Case((Arg((4, 2)), np.array([[3], [0]]).reshape(1, 2)), {"axis": 0})]
    cases["index_add"] = [Case((Arg((4, 3)), np.array([[2], [0], [2], [-1]])), {"axis": 0, "size": 3}),
                          Case((Arg((2, 5)), np.array([[1, 1, 0, 3, 1]])), {"axis": 1, "size": 4})]
    cases["write_row"] = [Case((Arg((4, 3)), Arg((3,)), np.int64(2))), Case((Arg((3, 2, 1)), Arg((2, 1)), np.int64(-1))),
                          Case((Arg((1,)), Arg(()), np.int64(5)))]
    # contractions
    cases["matmul"] = [Case((Arg((2, 3, 4)), Arg((4, 2)))), Case((Arg((3,)), Arg((2, 3, 2)))),
                       Case((Arg((2, 3)), Arg((3,))))]
    cases["dot"] = [Case((Arg((2, 3)), Arg((4, 3, 2)))), Case((Arg((3,)), Arg((3,)))), Case((Arg(()), Arg((2, 3))))]
    cases["einsum"] = [Case((Arg((2, 3)), Arg((3, 4))), {"subscripts": "ij,jk->ik"}),
                       Case((Arg((3, 3)), Arg((3, 2))), {"subscripts": "ii,ij->j"}),
                       Case((Arg((2, 3)),), {"subscripts": "ij->i"})]
    cases["nn.dense"] = [Case((Arg((2, 3, 4)), Arg((5, 4)))), Case((Arg((4,)), Arg((2, 4))))]
    # nn
    cases["nn.softmax"] = [Case((Arg((3, 4)),), {"axis": -1}), Case((Arg((2, 3, 2)),), {"axis": (0, 2)})]
    cases["nn.layer_norm_vjp"] = [Case((Arg((4, 3)), Arg((3,)), Arg((4, 3))), {"eps": 1e-5, "parts": 2}),
                                  Case((Arg((3, 5)), Arg((5,)), Arg((3, 5))), {"eps": 0.1, "parts": 3})]
    cases["nn.softmax_vjp"] = [Case((Arg((3, 4)), Arg((3, 4))), {"axis": -1}),
                               Case((Arg((2, 3, 2)), Arg((2, 3, 2))), {"axis": (0, 2)})]
    cases["nn.log_softmax"] = [Case((Arg((3, 4)),), {"axis": 0})]
    cases["nn.layer_norm"] = [Case((Arg((3, 4)), Arg((4,)), Arg((4,))), {"axis": -1}),
                              Case((Arg((2, 3, 2)), Arg((3, 2)), Arg((3, 2))), {"axis": (1, 2), "eps": 0.1})]
    cases["nn.conv2d"] = [Case((Arg((2, 2, 5, 4)), Arg((3, 2, 2, 3))), {"stride": 1, "padding": 1}),
                          Case((Arg((1, 4, 6, 5)), Arg((2, 2, 3, 2))),
                               {"stride": (2, 1), "padding": (1, 0, 0, 1), "dilation": (1, 2), "groups": 2})]
    cases["nn.max_pool2d"] = [Case((Arg((1, 2, 5, 4), "distinct"),), {"kernel": 2, "stride": 1, "padding": 1}),
                              Case((Arg((2, 1, 4, 6), "distinct"),), {"kernel": (2, 3)})]
    cases["nn.avg_pool2d"] = [Case((Arg((1, 2, 5, 4)),), {"kernel": 3, "stride": 2, "padding": 1}),
                              Case((Arg((1, 2, 5, 4)),), {"kernel": 3, "stride": 1, "padding": 1,
                                                          "count_include_pad": False})]
    # linear algebra
    cases["inv"] = [Case((Arg((3, 3), "matrix"),)), Case((Arg((2, 2, 2), "matrix"),))]
    cases["det"] = [Case((Arg((3, 3), "matrix"),)), Case((Arg((2, 2, 2), "matrix"),))]
    cases["slogdet"] = [Case((Arg((3, 3), "matrix"),))]
    cases["solve"] = [Case((Arg((3, 3), "matrix"), Arg((3, 2)))), Case((Arg((2, 2, 2), "matrix"), Arg((2, 2, 1))))]
    cases["cholesky"] = [Case((Arg((3, 3), "spd"),)), Case((Arg((2, 2, 2), "spd"),), {"upper": True})]
    cases["eigh"] = [Case((Arg((3, 3), "spd"),), post=_sign_free_eigh)]
    cases["eigvalsh"] = [Case((Arg((3, 3), "spd"),))]
    cases["qr"] = [Case((Arg((4, 3), "real"),)), Case((Arg((3, 3), "matrix"),))]
    cases["svd"] = [Case((Arg((4, 3)),), {"full_matrices": False}, post=_sign_free_svd),
                    Case((Arg((3, 3), "matrix"),), post=_sign_free_svd)]
    cases["svdvals"] = [Case((Arg((3, 4)),))]
    return cases


CASES = _cases()
