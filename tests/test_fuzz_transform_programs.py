"""Random differentiable programs under mlc.grad, vjp, jvp, vmap and their compositions agree
with finite differences and JAX (mlc.testing.fuzz_transforms). A small seeded run for CI;
``tools/fuzz.py --transforms`` runs as many as asked, with any seed."""
import collections
import random

import numpy as np

from mlc.testing import fuzz_transforms
from mlc.testing.fuzz_transforms import REFUSED, SKIPPED, TRANSFORMS, program, run_program


def test_random_programs_under_transformations_agree():
    rng = random.Random(0)
    outcomes, mismatches = collections.Counter(), []
    for _ in range(5):
        result = run_program(program(rng), rng)
        outcomes[result if result in (SKIPPED, REFUSED, None) else "mismatch"] += 1
        if result not in (None, SKIPPED, REFUSED):
            mismatches.append(str(result))
    assert not mismatches, "\n".join(mismatches)
    assert outcomes[None] >= 3, outcomes  # most programs ran


def test_the_programs_hold_what_they_are_for():
    rng = random.Random(0)
    progs = [program(rng) for _ in range(60)]
    text = "".join(p.source for p in progs)
    for construct in ("if ", "for i in range(k)", "while j < k", "np.sort(", "np.cumsum(", "np.where(",
                      "] +=", "v *= ", "np.array([", "k % "):
        assert construct in text, construct
    assert {p.transform for p in progs} == set(TRANSFORMS)
    assert {p.n for p in progs} >= {0, 1}


def test_a_wrong_gradient_is_reported_with_the_program(monkeypatch):
    """The comparison can fail: a grad that doubles the gradient is a mismatch."""
    source = "def f(x, y, k):\n    t = x * 1.0\n    t[0] = y[1]\n    return np.sum(np.sin(t) * y)\n"
    prog = fuzz_transforms.TransformProgram(source, 3, 1, "grad")  # (finite differences, not JAX)
    real = fuzz_transforms.grad
    monkeypatch.setattr(fuzz_transforms, "grad", lambda fn: lambda *a: 2 * np.asarray(real(fn)(*a)))
    result = run_program(prog, random.Random(0))
    assert result not in (None, SKIPPED, REFUSED)
    assert "differs" in str(result) and "np.sin(t) * y" in str(result)
    monkeypatch.undo()
    assert run_program(prog, random.Random(0)) is None
