"""ONNX's node conformance suite on mlc: the table by op, and the overall pass rate.

The cases come from the installed ``onnx`` wheel (generated in memory by
``mlc.frontend.onnx_conformance.node_cases``, offline). Each case is imported,
built and compared with ONNX's expected outputs:

    python tools/onnx_conformance.py                  # every case, the table by op
    python tools/onnx_conformance.py -k conv -k relu  # cases whose name has any of the words
    python tools/onnx_conformance.py --failures       # also one line per failing case
    python tools/onnx_conformance.py --json out.json  # every result, for scripts
    python tools/onnx_conformance.py --write-expected tests/frontend/onnx_node_expected_failures.txt

A full run builds every case (a few minutes on a busy 2-core host);
``tests/frontend/test_onnx_conformance.py`` runs them against the list of
expected failures.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mlc.frontend.onnx_conformance import node_cases, run_case  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", action="append", default=[], help="run cases whose name contains this")
    parser.add_argument("--target", default="llvm")
    parser.add_argument("--failures", action="store_true", help="print every failing case")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--write-expected", metavar="PATH",
                        help="write the failing cases' names (the test's expected-failures list)")
    args = parser.parse_args(argv)
    cases = [c for c in node_cases() if not args.k or any(k in c.name for k in args.k)]
    start = time.perf_counter()
    results = []
    for i, case in enumerate(cases):
        results.append(run_case(case, args.target))
        if sys.stderr.isatty():
            print(f"\r{i + 1}/{len(cases)} {case.name[:50]:50}", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    by_op = collections.defaultdict(list)
    for r in results:
        by_op[r.op].append(r)
    print(f"{'op':28} {'passed':>7} {'cases':>6}  first failure")
    for op in sorted(by_op):
        rs = by_op[op]
        bad = [r for r in rs if not r.passed]
        print(f"{op:28} {len(rs) - len(bad):7} {len(rs):6}  {bad[0].stage + ': ' + bad[0].message[:80] if bad else ''}")
    passed = sum(r.passed for r in results)
    print(f"\n{passed}/{len(results)} node cases pass on {args.target} "
          f"({100 * passed / max(len(results), 1):.1f}%), {time.perf_counter() - start:.0f} s")
    if args.failures:
        for r in results:
            if not r.passed:
                print(f"FAIL {r.name} [{r.stage}] {r.message[:160]}")
    if args.write_expected:
        with open(args.write_expected, "w") as f:
            f.write("# ONNX node cases mlc fails on llvm (tools/onnx_conformance.py --write-expected)\n")
            f.writelines(f"{r.name}\n" for r in results if not r.passed)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in results], f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
