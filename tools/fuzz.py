"""Run many random NumPy programs under mlc.jit and compare them with NumPy (values, dtypes).

    python tools/fuzz.py                              # 500 programs, seed 0, llvm
    python tools/fuzz.py 3000 --seed 7 --target llvm --target cuda-emulator
    python tools/fuzz.py 200 --depth 4 --stop-after 5
    python tools/fuzz.py 1000 --statements --target llvm --target cuda-emulator
    python tools/fuzz.py 300 --transforms --seed 3    # grad, vjp, jvp, vmap and compositions, on the host

The programs are mlc.testing.fuzz's (bool, small-integer, int and float arrays; ufuncs,
operators, Python scalars, astype, broadcasting, reductions); with ``--statements``,
mlc.testing.fuzz_statements' function bodies (in-place updates of the arguments, slices
and views, masked writes, out=, element and window loops, ifs and whiles on traced
values; the written arguments compared too); with ``--transforms``, mlc.testing.fuzz_transforms'
differentiable programs under mlc.grad, vjp, jvp, vmap and their compositions, compared with
finite differences and JAX (typed refusals, such as reverse mode through a while loop, are
counted apart). Each mismatch is printed
with the program's source and its inputs, ready to paste; the run ends with a count per
target of programs that agreed, that NumPy refuses (skipped) and that differ. The exit
status is 1 when any differs. The test suite runs a small seeded part of each
(tests/test_fuzz_numpy_programs.py, tests/test_fuzz_statement_programs.py).
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's mlc

from mlc.testing import fuzz, fuzz_statements, fuzz_transforms  # noqa: E402
from mlc.testing.fuzz import SKIPPED  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("programs", type=int, nargs="?", default=500, help="programs per target (500)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the programs and their inputs (0)")
    ap.add_argument("--target", action="append", default=[], help="llvm (default), cuda-emulator, reference, ...")
    ap.add_argument("--depth", type=int, default=3,
                    help="depth of the expression trees (3); with --statements, statements - 2")
    ap.add_argument("--stop-after", type=int, default=0, help="stop a target after this many mismatches")
    ap.add_argument("--statements", action="store_true",
                    help="programs of statements (in-place writes, loops, branches) instead of expressions")
    ap.add_argument("--transforms", action="store_true",
                    help="differentiable programs under grad, vjp, jvp, vmap (the host only; --depth: statements - 2)")
    args = ap.parse_args(argv)
    if args.transforms:
        kind, draw = fuzz_transforms, lambda rng: fuzz_transforms.program(rng, statements=args.depth + 1)
        args.target = ["host"]
    elif args.statements:
        kind, draw = fuzz_statements, lambda rng: fuzz_statements.program(rng, statements=args.depth + 2)
    else:
        kind, draw = fuzz, lambda rng: fuzz.program(rng, max_depth=args.depth)
    failed = False
    for target in args.target or ["llvm"]:
        rng = random.Random(args.seed)
        counts, start = collections.Counter(), time.monotonic()
        for n in range(args.programs):
            prog = draw(rng)
            try:
                result = (kind.run_program(prog, rng) if args.transforms
                          else kind.run_program(prog, target, rng))
            except Exception as err:  # a crash inside mlc is a finding too
                print(f"[{target}] #{n} crashed: {type(err).__name__}: {err}\n    f = {prog.source}", flush=True)
                counts["crashed"] += 1
                continue
            if result is None:
                counts["agreed"] += 1
            elif result == SKIPPED:
                counts["skipped"] += 1
            elif result == fuzz_transforms.REFUSED:
                counts["refused"] += 1
            else:
                counts["differ"] += 1
                print(f"#{n} {result}", flush=True)
            if args.stop_after and counts["differ"] + counts["crashed"] >= args.stop_after:
                break
        failed = failed or counts["differ"] + counts["crashed"] > 0
        print(f"{target}: {dict(counts)} in {time.monotonic() - start:.0f}s (seed {args.seed})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
