"""The default CPU conv rule: register tiles of output channels x columns stay correct.

Hypothesis draws conv2d shapes (sizes incl. 1, odd and primes; stride, padding,
dilation and groups variants); the jitted function, scheduled by the default
CPU rules, must equal the same function on the reference interpreter.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.schedules.default.conv import match_conv, schedule_conv
from mlc.schedules.default.patterns import view_by_name
from mlc.schedules.default.steps import CpuInfo, attempt
from mlc.schedules import Schedule

TWO_CORES = CpuInfo(256, 2)


def _conv_args(n, c, h, w, o, k, groups, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c * groups, h, w)).astype("float32")
    wt = rng.standard_normal((o * groups, c, k, k)).astype("float32")
    return x, wt


@settings(max_examples=12, deadline=None)
@given(n=st.sampled_from([1, 2]), c=st.sampled_from([1, 3, 8]), hw=st.sampled_from([1, 5, 7, 13, 17]),
       o=st.sampled_from([1, 3, 8, 11]), k=st.sampled_from([1, 3]), stride=st.sampled_from([1, 2]),
       padding=st.sampled_from([0, 1, 2]), groups=st.sampled_from([1, 2]))
def test_conv2d_matches_reference(n, c, hw, o, k, stride, padding, groups):
    if hw + 2 * padding < k:
        return
    x, wt = _conv_args(n, c, hw, hw + 2, o, k, groups)

    def f(a, b):
        return mlc.nn.conv2d(a, b, stride=stride, padding=padding, groups=groups)

    want = mlc.jit(f, target="reference")(x, wt)
    got = mlc.jit(f)(x, wt)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _scheduled_conv(shape_x, shape_w, padding):
    x = np.zeros(shape_x, "float32")
    wt = np.zeros(shape_w, "float32")
    lowered = mlc.jit(lambda a, b: mlc.nn.conv2d(a, b, padding=padding)).lower(x, wt)
    (name,) = list(lowered.mod)
    return lowered.mod, name


def test_conv_rule_tiles_and_parallelizes():
    mod, name = _scheduled_conv((1, 16, 28, 28), (32, 16, 3, 3), 1)
    func = mod[name]
    block = [b for b in ("T_conv2d",)][0]
    assert match_conv(view_by_name(func, block)) is not None
    sch = Schedule(mod)
    assert attempt(sch, schedule_conv, name, block, TWO_CORES) is not None
    text = sch.mod[name].script()
    assert "T.parallel" in text and "T.vectorized" in text and "T.unroll" in text


def test_conv_rule_leaves_non_conv_alone():
    mod, name = _scheduled_conv((1, 4, 1, 1), (4, 4, 1, 1), 0)
    func = mod[name]
    sch = Schedule(mod)
    before = sch.mod[name].script()
    # a 1x1 conv on a 1x1 image has no vector-wide column loop: the rule declines
    assert attempt(sch, schedule_conv, name, "T_conv2d", TWO_CORES) is None
    assert sch.mod[name].script() == before
