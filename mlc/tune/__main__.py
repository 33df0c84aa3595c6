"""``python -m mlc.tune --module file.py:name --trials N [--runner ray] [--database db.sqlite]``.

``name`` in ``file.py`` is an IRModule, a function of no arguments returning an
IRModule (or a ``(jitted_function, args)`` pair), or an ``@mlc.jit`` function
whose example arguments come from ``--args file.py:make_args`` (a function
returning the tuple of arguments). Prints the per-task summary; ``--plot``
draws the tuning curve, ``--dump`` prints every record.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from ..errors import MLCError
from ..ir.tir import IRModule
from .tuner import tune


def _load(spec: str, what: str):
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise MLCError(f"{what} must be FILE.py:NAME, got {spec!r}")
    if not os.path.exists(path):
        raise MLCError(f"{what}: no file {path!r}")
    module_spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    module_spec.loader.exec_module(module)
    if not hasattr(module, name):
        raise MLCError(f"{what}: {path} defines no {name!r}")
    return getattr(module, name)


def _program(args):
    obj = _load(args.module, "--module")
    example = _load(args.args, "--args")() if args.args else ()
    if isinstance(obj, IRModule) or hasattr(obj, "lower"):
        return obj, tuple(example)
    result = obj()
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], tuple(result[1])
    return result, tuple(example)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlc.tune", description=__doc__.split("\n\n")[0])
    p.add_argument("--module", required=True, help="FILE.py:NAME of an IRModule, a function making one, "
                                                   "or an @mlc.jit function")
    p.add_argument("--args", help="FILE.py:NAME of a function returning example arguments for a jitted function")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--target", default="llvm")
    p.add_argument("--runner", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None)
    p.add_argument("--workers", type=int, default=1, help="local worker processes")
    p.add_argument("--work-dir", default=None, help="default: ./mlc_tune")
    p.add_argument("--database", default=None, help="default: WORK_DIR/database.sqlite")
    p.add_argument("--no-cost-model", action="store_true", help="random search instead of the learned model")
    p.add_argument("--measure", choices=("auto", "time", "check"), default="auto",
                   help="time candidates, or only check them (auto: check only on cuda without a GPU)")
    p.add_argument("--plot", default=None, help="draw the tuning curve into this image")
    p.add_argument("--dump", action="store_true", help="print every record")
    args = p.parse_args(argv)
    try:
        program, example = _program(args)
        db = tune(program, args.target, args.trials, args.work_dir, args=example, database=args.database,
                  runner=args.runner, ray_address=args.ray_address, workers=args.workers,
                  cost_model=not args.no_cost_model, measure=args.measure)
    except MLCError as err:
        print(f"python -m mlc.tune: {err}", file=sys.stderr)
        return 2
    if args.plot:
        print(f"tuning curve: {db.plot(args.plot)}", file=sys.stderr)
    if args.dump:
        print(db.dump())
    print(f"database: {db.path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
