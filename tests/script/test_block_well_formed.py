"""The parser refuses blocks a schedule could not trust: an iterator bound outside its
declared domain, and two blocks of one name in a function; both point at the block."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import ParseError


def _parse_error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        mlc.parse(text)
    return info.value


def _producer_consumer(declared: int, n: int) -> str:
    return f'''@T.prim_func
def main(A: T.Buffer(({n},), "float32"), C: T.Buffer(({n},), "float32")):
    B = T.alloc_buffer(({n},))
    for i in range({n}):
        with T.block("B"):
            vi = T.axis.spatial({declared}, i)
            B[vi] = A[vi] * T.float32(2)
    for i in range({n}):
        with T.block("C"):
            vi = T.axis.spatial({n}, i)
            C[vi] = B[vi] + T.float32(1)
'''


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 16), data=st.data())
def test_an_iterator_bound_past_its_domain_is_a_parse_error_at_the_block(n, data):
    declared = data.draw(st.integers(1, n - 1))
    err = _parse_error(_producer_consumer(declared, n))
    assert (err.lineno, err.col) == (5, 9), str(err)
    assert "block 'B'" in str(err) and "iterator vi" in str(err)
    assert f"0 to {n - 1}" in str(err) and f"[0, {declared})" in str(err)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 16), extra=st.integers(0, 4))
def test_a_domain_that_holds_the_binding_parses(n, extra):
    mlc.parse(_producer_consumer(n + extra, n))


@settings(max_examples=15, deadline=None)
@given(extent=st.integers(1, 20), factor=st.integers(1, 6))
def test_a_binding_in_range_only_under_its_predicate_parses(extent, factor):
    outer = -(-extent // factor)
    func = mlc.parse(f'''@T.prim_func
def main(A: T.Buffer(({extent},), "float32"), B: T.Buffer(({extent},), "float32")):
    for i0, i1 in T.grid({outer}, {factor}):
        with T.block("B"):
            vi = T.axis.spatial({extent}, i0 * {factor} + i1)
            T.where(i0 * {factor} + i1 < {extent})
            B[vi] = A[vi]
''')
    a, b = np.arange(extent, dtype="float32"), np.zeros(extent, "float32")
    mlc.build(mlc.IRModule({"main": func}), "reference")["main"](a, b)
    np.testing.assert_array_equal(b, a)


def test_a_block_under_an_if_is_not_checked_against_the_loops():
    mlc.parse('''@T.prim_func
def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    for i in range(8):
        if i < 4:
            with T.block("B"):
                vi = T.axis.spatial(4, i)
                B[vi] = A[vi]
''')


def test_two_blocks_of_one_name_are_a_parse_error_at_the_second():
    err = _parse_error('''@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    for i in range(8):
        with T.block("B"):
            vi = T.axis.spatial(8, i)
            C[vi] = A[vi] * T.float32(2)
    for i in range(8):
        with T.block("B"):
            vi = T.axis.spatial(8, i)
            C[vi] = C[vi] + T.float32(1)
''')
    assert (err.lineno, err.col) == (8, 9), str(err)
    assert "two blocks are named 'B'" in str(err)


def test_blocks_of_one_name_in_different_functions_parse():
    mod = mlc.parse('''@I.ir_module
class M:
    @T.prim_func
    def f(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
        for i in range(8):
            with T.block("B"):
                vi = T.axis.spatial(8, i)
                B[vi] = A[vi]

    @T.prim_func
    def g(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
        for i in range(8):
            with T.block("B"):
                vi = T.axis.spatial(8, i)
                B[vi] = A[vi]
''')
    assert sorted(mod) == ["f", "g"]
