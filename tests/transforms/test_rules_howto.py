"""mlc/ops/README.md's how-to "Give an op its JVP, VJP and batching rules", run: an
elementwise op whose rules come from its partial derivative, a reduction registered with its
three rules, and an op that is not differentiable by design."""
import numpy as np

import mlc
from mlc import te
from mlc.ops import define_rules, get_op, list_ops, register_op
from mlc.ops.rules import ZeroRules, apply_op
from mlc.ops.rules.core import move_batch_to_front
from mlc.ops.rules.elementwise import elementwise_rules
from mlc.testing import check_grads


def _register():
    if "test.howto_softplus" in list_ops():
        return
    # 1. an elementwise op: its partial derivative gives all three rules
    register_op("test.howto_softplus", pattern="elemwise", infer=lambda t: t,
                lower=lambda x: te.compute(x.shape, lambda *i: te.log(1 + te.exp(x[i])), name="softplus"),
                reference=lambda x: np.log1p(np.exp(x)), doc="log(1 + exp(x))")
    elementwise_rules("test.howto_softplus", lambda x, y: apply_op("sigmoid", x))

    # 2. any other op: the three rules passed to register_op
    def rowsum_lower(x):
        k = te.reduce_axis((0, x.shape[-1]), name="k")
        return te.compute(x.shape[:-1], lambda *i: te.sum(x[i + (k,)], axis=k), name="rowsum")

    def rowsum_jvp(primals, tangents, out):
        return apply_op("test.howto_rowsum", tangents[0])

    def rowsum_vjp(ct, primals, out):
        return (np.broadcast_to(np.expand_dims(ct, -1), primals[0].shape),)

    def rowsum_batch(args, dims):
        x = move_batch_to_front(args[0], dims[0])
        return apply_op("test.howto_rowsum", x), 0

    register_op("test.howto_rowsum", pattern="reduction",
                infer=lambda t: type(t)(t.shape[:-1], t.dtype), lower=rowsum_lower,
                reference=lambda x: x.sum(axis=-1), doc="the sum of the last axis",
                jvp=rowsum_jvp, vjp=rowsum_vjp, batch=rowsum_batch)

    # an op that is not differentiable by design: zero rules
    register_op("test.howto_step", pattern="elemwise", infer=lambda t: t,
                lower=lambda x: te.compute(x.shape, lambda *i: te.floor(x[i]), name="step"),
                reference=np.floor, doc="floor")
    define_rules("test.howto_step", **ZeroRules,
                 batch=lambda args, dims: (apply_op("test.howto_step", args[0]), dims[0]))


def test_the_rules_of_the_how_to():
    _register()
    for name in ("test.howto_softplus", "test.howto_rowsum", "test.howto_step"):
        assert all(getattr(get_op(name), kind) is not None for kind in ("jvp", "vjp", "batch"))
    x = np.linspace(-1.5, 1.2, 12).reshape(3, 4)
    f = lambda v: apply_op("test.howto_rowsum", apply_op("test.howto_softplus", v) * v)  # noqa: E731
    check_grads(f, (x,), order=2)
    np.testing.assert_allclose(mlc.vmap(f, in_axes=1)(x), np.stack([f_np(x[:, n]) for n in range(4)]))
    assert np.all(mlc.grad(lambda v: np.sum(apply_op("test.howto_step", v) * v))(x) == np.floor(x))


def f_np(v):
    return (np.log1p(np.exp(v)) * v).sum(axis=-1)


def test_the_how_to_of_an_mlc_op_runs_as_written():
    """The code block of step 4 (an mlc.op's derived rules), executed from the doc."""
    import pathlib
    import re
    doc = (pathlib.Path(__file__).resolve().parents[2] / "mlc" / "ops" / "README.md").read_text()
    step = doc[doc.index("4. A user's `mlc.op` needs nothing"):]
    code = re.search(r"```python\n(.*?)```", step, re.S).group(1)
    ns = {}
    exec(compile("\n".join(line[3:] for line in code.splitlines()), "mlc/ops/README.md", "exec"), ns)  # noqa: S102
    x, w = ns["x"], ns["w"]
    want = np.convolve(np.pad(x, 1), w[::-1], mode="valid")
    np.testing.assert_allclose(ns["conv1d"](x, w), want, rtol=1e-12)
    np.testing.assert_allclose(ns["per_row"], np.stack([want, 2 * want]), rtol=1e-12)
    np.testing.assert_allclose(mlc.vmap(ns["conv1d"], in_axes=(1, None))(np.stack([x, x], 1), w),
                               np.stack([want, want]), rtol=1e-12)  # now through the rule by hand
