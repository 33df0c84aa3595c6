"""The code a tree generates for the benchmark's programs: ``python -m benchmarks.ir_texts OUT``.

For each workload's ``@mlc.jit`` contenders (:mod:`.workloads`, at their smoke-test sizes), writes
into folder ``OUT`` the lowered program (graph and kernels, ``Lowered.as_text``) and the LLVM IR
it compiles to (``Compiled.as_text("ll")``), one file each, and prints a SHA-256 per program.
Run it in two trees (``PYTHONPATH`` naming each) and ``diff -r`` the folders: a change meant to
make the compiler faster, not different, leaves them equal.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re

from .workloads import WORKLOADS


def texts(names=None) -> dict[str, str]:
    """``<workload>.<label>.<lowered|ll>`` -> its text, for the jit contenders of ``names``
    (default: every workload)."""
    import mlc
    out = {}
    for name in names or WORKLOADS:
        for contender in WORKLOADS[name](True).contenders:
            program = contender.program
            if contender.peer != "mlc" or not program or program[0] != "jit":
                continue
            _, fn, args, fast_math = program
            lowered = mlc.jit(fn, fast_math=fast_math).lower(*args)
            key = f"{name}.{re.sub(r'[^A-Za-z0-9_]+', '_', contender.label)}"
            out[f"{key}.lowered"] = lowered.as_text()
            out[f"{key}.ll"] = lowered.compile().as_text("ll")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ir_texts", description=__doc__.split("\n\n")[1])
    p.add_argument("out", help="folder to write the texts into")
    p.add_argument("names", nargs="*", help="workloads (default: all)")
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for key, text in texts(a.names).items():
        with open(os.path.join(a.out, key), "w") as f:
            f.write(text)
        print(hashlib.sha256(text.encode()).hexdigest()[:16], key)


if __name__ == "__main__":
    main()
