"""An independent oracle of mlc's random numbers: Threefry-2x32-20 on Python ints, written
from the Random123 paper (not from mlc/ir/threefry.py), and the layout mlc.random promises:
element i of a draw of key k on stream s is the block of k at counter (i, s), its first word
the high half of the packed uint64; uniform floats are exact fractions of its top bits."""
from fractions import Fraction

import numpy as np

M32 = 0xFFFFFFFF
ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)

#: Random123's kat_vectors for threefry2x32_20: (counter, key, expected output).
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
]


def block(key, counter) -> tuple[int, int]:
    """Threefry-2x32-20 of ``counter`` under ``key`` (pairs of Python ints)."""
    ks = (key[0], key[1], 0x1BD11BDA ^ key[0] ^ key[1])
    x0, x1 = (counter[0] + ks[0]) & M32, (counter[1] + ks[1]) & M32
    for r in range(20):
        x0 = (x0 + x1) & M32
        rot = ROTATIONS[r % 8]
        x1 = (((x1 << rot) | (x1 >> (32 - rot))) & M32) ^ x0
        if r % 4 == 3:
            inject = r // 4 + 1
            x0 = (x0 + ks[inject % 3]) & M32
            x1 = (x1 + ks[(inject + 1) % 3] + inject) & M32
    return x0, x1


def packed(key, i: int, stream: int = 0) -> int:
    x0, x1 = block(tuple(int(k) for k in key), (i, stream))
    return (x0 << 32) | x1


def bits(key, shape, dtype="uint32", stream=0) -> np.ndarray:
    n = int(np.prod(shape, dtype="int64"))
    words = [packed(key, i, stream) for i in range(n)]
    if dtype == "uint32":
        words = [w >> 32 for w in words]
    return np.array(words, dtype=dtype).reshape(shape)


SIGNIFICAND = {"float32": 24, "float64": 53}


def unit(key, shape, dtype="float32", interval="[0, 1)", stream=0) -> np.ndarray:
    """Exact fractions of the top bits, rounded (exactly: they are representable) to ``dtype``."""
    p = SIGNIFICAND[dtype]
    out = []
    for i in range(int(np.prod(shape, dtype="int64"))):
        b = packed(key, i, stream)
        if interval == "[0, 1)":
            value = Fraction(b >> (64 - p), 2**p)
        elif interval == "(0, 1)":
            value = Fraction(2 * (b >> (65 - p)) + 1, 2**p)
        else:
            value = Fraction(2 * (b >> (64 - p)) + 1 - 2**p, 2**p)
        out.append(float(value))
    return np.array(out, dtype=dtype).reshape(shape)
