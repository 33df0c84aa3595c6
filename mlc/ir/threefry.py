"""Threefry-2x32 with 20 rounds, the counter-based generator of ``mlc.random``, in NumPy.

Threefry (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as
1, 2, 3", SC 2011; the Random123 library) is a keyed bijection of a 64-bit
counter: ``threefry2x32(key, counter)`` is two 32-bit words that pass BigCrush
for any key and any sequence of counters. A random array is then a pure
function of its key and of each element's index, the same whatever order,
tiling or device computes it. Threefry needs only 32-bit additions, rotations
and exclusive ors, which every backend computes exactly (Philox, its sibling,
needs a 32x32->64-bit multiply); it is also JAX's default generator.

This module is the algorithm's one definition: the op table's NumPy column of
the ``threefry2x32`` math call (the reference interpreter runs an unlowered call by it:
the tests' oracle, bit for bit), and the constants of the TIR every backend runs,
which :mod:`mlc.passes.tir.lower_threefry` writes the call out as.

>>> [hex(w) for w in threefry2x32(0x13198A2E, 0x03707344, 0x243F6A88, 0x85A308D3)]
['0xc4923a9c', '0x483df7a0']
"""
from __future__ import annotations

import numpy as np

__all__ = ["ROTATIONS", "PARITY", "ROUNDS", "KNOWN_ANSWERS", "threefry2x32", "threefry2x32_packed"]

#: The rotation of round r is ROTATIONS[r % 8] (Threefish-256's constants for two words).
ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
#: The key schedule's third word is PARITY ^ k0 ^ k1 (Skein's constant C240, 32-bit form).
PARITY = 0x1BD11BDA
#: Rounds; a key is injected before the first and after every fourth.
ROUNDS = 20

#: Random123's known answers (its ``kat_vectors``): ((k0, k1), (c0, c1)) -> (x0, x1).
KNOWN_ANSWERS = (
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
)


def threefry2x32(k0, k1, c0, c1):
    """The two words ``(x0, x1)`` of Threefry-2x32-20 keyed by ``(k0, k1)`` at counter
    ``(c0, c1)``: uint32 arrays (or ints), broadcast together."""
    k0, k1, c0, c1 = (np.asarray(v).astype("uint32") for v in (k0, k1, c0, c1))
    schedule = (k0, k1, np.uint32(PARITY) ^ k0 ^ k1)
    with np.errstate(over="ignore"):  # every addition wraps modulo 2**32
        x0, x1 = c0 + k0, c1 + k1
        for r in range(ROUNDS):
            x0 = x0 + x1
            rot = np.uint32(ROTATIONS[r % 8])
            x1 = ((x1 << rot) | (x1 >> (np.uint32(32) - rot))) ^ x0
            if r % 4 == 3:
                s = r // 4 + 1
                x0 = x0 + schedule[s % 3]
                x1 = x1 + schedule[(s + 1) % 3] + np.uint32(s)
    return x0, x1


def threefry2x32_packed(k0, k1, c0, c1):
    """``threefry2x32`` as one uint64, ``x0 << 32 | x1``: the math call's value.

    >>> hex(int(threefry2x32_packed(0, 0, 0, 0)))
    '0x6b20015999ba4efe'
    """
    x0, x1 = threefry2x32(k0, k1, c0, c1)
    out = (x0.astype("uint64") << np.uint64(32)) | x1.astype("uint64")
    return out[()] if out.ndim == 0 else out
