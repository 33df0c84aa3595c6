"""Structural equality and hashing are up to renaming, and see every real difference."""
from mlc import te
from mlc.ir import assert_structural_equal, structural_equal, structural_hash
from mlc.ir.expr import Var
import pytest
from tests.programs import mm_relu_func


def mm_relu(n=16, name="Y"):
    return mm_relu_func(n, name=name)


def test_equal_programs_built_twice_are_equal_and_hash_equal():
    f, g = mm_relu(), mm_relu()
    assert structural_equal(f, g)
    assert structural_hash(f) == structural_hash(g)
    assert_structural_equal(f, g)


def test_differences_are_seen():
    assert not structural_equal(mm_relu(16), mm_relu(8))
    assert not structural_equal(mm_relu(name="Y"), mm_relu(name="Z"))  # block names count
    i, j = Var("i"), Var("j")
    assert not structural_equal(i + j, i + i)  # the mapping is one to one
    assert not structural_equal(i + 1, i + 2)
    assert not structural_equal(Var("x", "float32"), Var("x", "float64"))


def test_assert_structural_equal_shows_the_difference():
    with pytest.raises(AssertionError, match="IR differs"):
        assert_structural_equal(mm_relu(16), mm_relu(8))

