"""What a call of a compiled element loop costs beyond its loop: no constants to bind, no check
that cannot fail.

A bit-serial CRC (``crc = 0xFFFF``; ``for b in data: ...``, as written for NumPy) compiles into
one element-loop kernel. Two things made each call dearer than the loop: the 0-d constants its
kernel takes (the loop's bounds, the carry's first value) were parameters of ``main`` that the
call bound (so the call could not take the fast entry), and the Python int ``crc & 1`` meeting
a uint8 was checked against uint8's range at every iteration, although ``x & 1`` always lies in
``[0, 1]`` (mlc.tracer.intervals). Differential tests against Python, sizes 1, odd and long."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc


def crc16(data, poly=0x8408):
    crc = 0xFFFF
    for b in data:
        cur_byte = 0xFF & b
        for _ in range(0, 8):
            if (crc & 0x0001) ^ (cur_byte & 0x0001):
                crc = (crc >> 1) ^ poly
            else:
                crc >>= 1
            cur_byte >>= 1
    crc = (~crc & 0xFFFF)
    crc = (crc << 8) | ((crc >> 8) & 0xFF)
    return crc & 0xFFFF


def wide_mask(data, k):
    total = 0
    for b in data:
        total = total + (b + (k & 0x1FF))  # k & 0x1FF may not fit uint8: still checked
    return total


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
@settings(max_examples=4, deadline=None)
@given(n=st.sampled_from([1, 3, 40, 257]), seed=st.integers(0, 99))
def test_crc_matches_python(target, n, seed):
    data = np.random.default_rng(seed).integers(0, 256, n).astype(np.uint8)
    assert int(mlc.jit(crc16, target=target)(data)) == crc16(data)


def test_a_loops_call_binds_no_constants_and_checks_nothing():
    data = np.arange(64, dtype=np.uint8)
    lowered = mlc.jit(crc16).lower(data)
    assert len(lowered.graph.outputs) == 1  # the CRC alone, no status of a failed check
    compiled = lowered.compile()
    assert compiled.function.entry.constants == ()
    assert int(compiled(data)) == crc16(data)


def test_a_masked_int_that_may_not_fit_is_still_checked():
    data = np.arange(5, dtype=np.uint8)
    f = mlc.jit(wide_mask)
    assert int(f(data, 3)) == int(sum(int(np.uint8(b + 3)) for b in data))
    with pytest.raises(mlc.errors.DTypeError, match="out of bounds for uint8"):
        f(data, 300)
