"""The default CPU conv rule: register tiles of output channels x columns stay correct.

Hypothesis draws conv2d shapes (sizes incl. 1, odd and primes; stride, padding,
dilation and groups variants); the jitted function, scheduled by the default
CPU rules, must equal the same function on the reference interpreter.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.calls import is_graph_main
from mlc.schedules.default.conv import match_conv, schedule_conv
from mlc.schedules.default.patterns import view_by_name
from mlc.schedules.default.steps import CpuInfo, attempt
from mlc.schedules import Schedule, default_schedule
from tests.targets import each_pinned_target, pinned_threads

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
    (name,) = [n for n, f in lowered.mod.items() if not is_graph_main(f)]  # the kernel, not main
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


@pytest.mark.parametrize("bits, out_channels, tile", [(512, 100, 5), (512, 30, 6), (512, 12, 6), (256, 30, 3)])
def test_channels_no_vector_divides_go_in_tiles_that_divide_them(bits, out_channels, tile):
    """A batch of 2 fuses batch and channel tiles on threads; a ragged channel tile would
    guard every row of the register tile, so the rows are a divisor of the channels (at
    least half the accumulators); results against the reference interpreter."""
    mod, name = _scheduled_conv((2, 8, 9, 28), (out_channels, 8, 3, 3), 1)
    sch = Schedule(mod)
    assert attempt(sch, schedule_conv, name, "T_conv2d", CpuInfo(bits, 2)) is not None
    text = sch.mod[name].script()
    assert f"T.unroll({tile})" in text and f"< {out_channels}" not in text, text
    x, wt = _conv_args(2, 8, 9, 28, out_channels, 3, 1)
    want = mlc.jit(lambda a, b: mlc.nn.conv2d(a, b, padding=1), target="reference")(x, wt)
    np.testing.assert_allclose(mlc.jit(lambda a, b: mlc.nn.conv2d(a, b, padding=1))(x, wt), want,
                               rtol=1e-4, atol=1e-4)


def test_conv_rule_leaves_non_conv_alone():
    mod, name = _scheduled_conv((1, 4, 1, 1), (4, 4, 1, 1), 0)
    func = mod[name]
    sch = Schedule(mod)
    before = sch.mod[name].script()
    # a 1x1 conv on a 1x1 image has no vector-wide column loop: the rule declines
    assert attempt(sch, schedule_conv, name, "T_conv2d", TWO_CORES) is None
    assert sch.mod[name].script() == before


def test_channel_tiles_fill_the_accumulators_with_divisors():
    from mlc.schedules.default.conv import channel_tiles
    assert channel_tiles(64, 56, 8) == (8, 8)
    assert channel_tiles(64, 28, 8) == (16, 4)    # 7 columns would leave one accumulator idle
    assert channel_tiles(16, 14, 8) == (8, 7)
    assert channel_tiles(24, 6, 8) == (8, 6)      # 24 channels: one vector, not two
    assert channel_tiles(32, 13, 8) == (8, 8)     # prime width: a predicated tile
    assert channel_tiles(32, 1, 8) == (16, 1)
    assert channel_tiles(12, 56, 8) is None       # no vector of channels divides 12
    assert channel_tiles(4, 56, 8) is None


def _check_conv(x_shape, w_shape, fn_kwargs=None, epilogue=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype("float32")
    wt = rng.standard_normal(w_shape).astype("float32")
    kwargs = fn_kwargs or {}

    def f(a, b):
        y = mlc.nn.conv2d(a, b, **kwargs)
        return y if epilogue is None else epilogue(y)

    want = mlc.jit(f, target="reference")(x, wt)
    jitted = mlc.jit(f)
    np.testing.assert_allclose(jitted(x, wt), want, rtol=1e-4, atol=1e-4)
    return jitted.lower(x, wt).scheduled()


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((1, 8, 10, 16), (16, 8, 3, 3), dict(padding=1)),                 # tiles divide
    ((2, 5, 13, 13), (24, 5, 3, 3), dict(padding=1)),                 # batch 2, prime width: ragged tile
    ((1, 6, 17, 17), (32, 6, 3, 3), dict(stride=2, padding=1)),       # stride 2
    ((1, 4, 12, 11), (8, 4, 3, 3), dict(padding=2, dilation=2)),      # dilation
    ((1, 16, 7, 7), (32, 16, 1, 1), {}),                              # 1x1, no padding
    ((1, 3, 9, 9), (16, 3, 5, 5), dict(padding=(2, 1, 0, 3))),        # asymmetric padding
    ((1, 4, 6, 6), (16, 2, 3, 3), dict(padding=1, groups=2)),         # groups: other rules
    ((1, 4, 9, 20), (12, 4, 3, 3), dict(padding=1)),                  # 12 channels: columns vectorized
])
def test_conv_rule_matches_reference(x_shape, w_shape, kwargs):
    _check_conv(x_shape, w_shape, kwargs)


#: The weights packed by one vector of output channels: 8 with AVX2, 16 with AVX-512.
PACKED_WEIGHTS = {"avx2": "b_global = T.alloc_buffer((2, 8, 3, 3, 8))",
                  "avx512": "b_global = T.alloc_buffer((1, 8, 3, 3, 16))"}


@each_pinned_target
def test_channel_vectorized_tile_packs_weights_and_keeps_padding_out_of_the_loop(isa, target):
    mod, _ = _scheduled_conv((1, 8, 14, 14), (16, 8, 3, 3), 1)
    with pinned_threads():
        text = default_schedule(mod, target).mod.script()
    assert "T_conv2d_pad = T.alloc_buffer((1, 8, 16, 16))" in text     # padding: its own stage
    assert PACKED_WEIGHTS[isa] in text
    assert "if_then_else" not in text.split('T.block("T_conv2d_update")')[1]


def test_channel_vectorized_tile_with_packed_weights_matches_reference():
    _check_conv((1, 8, 14, 14), (16, 8, 3, 3), dict(padding=1))


def test_channel_vectorized_tile_fuses_bias_and_relu():
    bias = np.linspace(-1, 1, 16, dtype="float32").reshape(1, 16, 1, 1)
    mod = _check_conv((2, 8, 9, 12), (16, 8, 3, 3), dict(padding=1),
                      epilogue=lambda y: np.maximum(y + bias, 0))
    assert sum(not is_graph_main(f) for f in mod.values()) == 1  # one kernel (and main)


@each_pinned_target
def test_channel_vectorized_write_back_is_a_loop_over_the_channels(isa, target):
    """The tile's write-back is a transpose (a vector of columns per channel, its lanes
    gathered from the accumulators): it stays a loop over the channels, one vector store
    an iteration. Unrolled, LLVM turned the gathers into shuffles for 40 ms of a 1x64x56x56
    conv2d's first call; the tile's reduction dwarfs its write-back at run time."""
    mod, _ = _scheduled_conv((1, 8, 14, 14), (16, 8, 3, 3), 1)
    with pinned_threads():
        text = default_schedule(mod, target).mod.script()
    loops = re.findall(r"for (\w+) in ([^:]+):", text.split('T.block("T_conv2d_local")')[0])
    (_, channels), (_, columns) = loops[-2:]
    assert re.fullmatch(r"range\(\d+\)", channels), text   # serial, not T.unroll
    assert columns.startswith("T.vectorized("), text


@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 3]), c=st.sampled_from([1, 3, 8]), hw=st.sampled_from([1, 3, 4, 5]),
       o=st.sampled_from([8, 24]), padding=st.sampled_from([0, 1]))
def test_channels_in_half_vectors_where_whole_ones_do_not_divide_them(n, c, hw, o, padding):
    """8 (or 24) output channels of images narrower than a vector on AVX-512 (16 lanes): the
    channels go in vectors of 8 (the reduction ran scalar else: the small CNN's input
    gradient, 8 channels of 4x4 images); results against the reference interpreter."""
    if hw + 2 * padding < 3:
        return
    mod, name = _scheduled_conv((n, c, hw, hw), (o, c, 3, 3), padding)
    sch = Schedule(mod)
    assert attempt(sch, schedule_conv, name, "T_conv2d", CpuInfo(512, 2)) is not None
    assert "T.vectorized(8)" in sch.mod[name].script(), sch.mod[name].script()
    _check_conv((n, c, hw, hw), (o, c, 3, 3), dict(padding=padding))


def test_a_convolution_with_a_bias_goes_to_the_conv_rule_not_the_row_rule():
    """conv + bias of 4x4 images: the output's leading axes are the bias's rows too, and the
    row rule took the kernel, running the convolution scalar under its batch's rows; the conv
    rule tiles it (channel vectors) and fuses the bias."""
    bias = np.linspace(-1, 1, 16, dtype="float32").reshape(1, 16, 1, 1)
    mod = _check_conv((8, 8, 4, 4), (16, 8, 3, 3), dict(padding=1), epilogue=lambda y: y + bias)
    (text,) = [f.script() for f in mod.values() if not is_graph_main(f)]
    assert "T_conv2d_local" in text and "T.vectorized" in text, text
