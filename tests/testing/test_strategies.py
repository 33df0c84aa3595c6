"""mlc.testing strategies draw what breaks compilers, within the bounds asked for."""
import numpy as np
import pytest
from hypothesis import find, given, settings, strategies as st

import mlc
import mlc.testing as mt
from mlc.testing.strategies import interesting_sides


@settings(max_examples=60)
@given(mt.shapes(min_dims=1, max_dims=3, min_side=0, max_side=65))
def test_shapes_stay_in_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(0 <= s <= 65 for s in shape)


@pytest.mark.parametrize("lo, hi", [(0, 0), (1, 1), (4, 4), (6, 6), (0, 8), (2, 3), (66, 126), (130, 250),
                                    (1000, 5000), (4096, 4096), (10_000, 10_007)])
@settings(max_examples=15, database=None)
@given(data=st.data())
def test_shapes_of_any_side_range_draw_in_bounds(lo, hi, data):
    """A range with none of the small interesting sides (1000..5000: Hypothesis raised
    'Cannot sample from a length-zero sequence') still has its own: its ends, the sizes
    around each power of two in it, a prime."""
    shape = data.draw(mt.shapes(min_dims=1, max_dims=2, min_side=lo, max_side=hi))
    assert 1 <= len(shape) <= 2 and all(lo <= s <= hi for s in shape)


@pytest.mark.parametrize("lo, hi, wanted", [(1000, 5000, {1000, 1009, 1023, 1025, 4097, 5000}),
                                            (4, 4, {4}), (130, 250, {130, 131, 250}), (0, 8, {0, 1, 3, 7, 8})])
def test_interesting_sides_are_the_ranges_own(lo, hi, wanted):
    sides = interesting_sides(lo, hi)
    assert wanted <= set(sides) and all(lo <= s <= hi for s in sides)


@pytest.mark.parametrize("wanted", [
    lambda s: 0 in s,                                   # empty dimensions
    lambda s: len(s) == 2 and s[0] == 1,                # size-1 (broadcast) dimensions
    lambda s: any(n in (33, 63, 65) for n in s),        # one past a power of two: no tile divides it
    lambda s: s == (),                                  # 0-d
])
def test_shapes_weight_in_the_sizes_that_break_tiling(wanted):
    find(mt.shapes(max_side=65), wanted, settings=settings(max_examples=200, database=None))


@settings(max_examples=40)
@given(mt.broadcastable(3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


@pytest.mark.parametrize("kind, wanted", [
    ("nan", np.isnan), ("inf", np.isneginf),
    ("subnormal", lambda x: (x != 0) & (np.abs(x) < np.finfo(x.dtype).tiny)),
    ("extreme", lambda x: x == np.finfo(x.dtype).max),
    ("zero", lambda x: (x == 0) & np.signbit(x)),
])
def test_special_values_on_request(kind, wanted):
    strategy = mt.arrays("float32", (4,), special=(kind,))
    find(strategy, lambda x: wanted(x).any(), settings=settings(max_examples=300, database=None))


@settings(max_examples=40)
@given(mt.arrays(["float16", "int8", "bool"], shapes=mt.shapes(max_dims=2), bound=10))
def test_arrays_without_special_values_are_finite_and_bounded(x):
    assert x.dtype.name in ("float16", "int8", "bool") and x.ndim <= 2
    if x.dtype.kind == "f":
        assert np.isfinite(x).all() and (np.abs(x) <= 10).all()


@settings(max_examples=20)
@given(mt.arrays(mt.dtypes(kinds="u"), 3, min_value=5))
def test_dtype_groups_and_lower_bounds(x):
    assert x.dtype.kind == "u" and x.shape == (3,) and (x >= 5).all()


def test_bad_arguments_are_typed_errors():
    with pytest.raises(mlc.DTypeError, match="'float128'|not a dtype mlc supports"):
        mt.dtypes("datetime64")
    with pytest.raises(mlc.ShapeError, match="min_side <= max_side"):
        mt.shapes(min_side=3, max_side=2)
    with pytest.raises(mlc.ShapeError, match="shape= or shapes=, not both"):
        mt.arrays("float32", (2,), shapes=mt.shapes())
    with pytest.raises(ValueError, match="special= takes"):
        mt.elements("float32", special=("denormal",))
    with pytest.raises(mlc.ShapeError, match="n must be at least 1"):
        mt.broadcastable(0)
