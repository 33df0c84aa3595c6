"""Configuration, read once from the environment into one object.

MLC_CACHE_DIR (default ~/.cache/mlc), MLC_NUM_THREADS (default: all cores),
MLC_TARGET (default "llvm"), MLC_DEBUG (verify IR between passes, keep sources).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Config", "config"]


@dataclass(frozen=True)
class Config:
    cache_dir: str
    num_threads: int
    target: str
    debug: bool


@lru_cache(maxsize=1)
def config() -> Config:
    env = os.environ
    threads = env.get("MLC_NUM_THREADS", "")
    try:
        num_threads = max(1, int(threads)) if threads else (os.cpu_count() or 1)
    except ValueError:
        raise ValueError(f"MLC_NUM_THREADS must be a positive integer, got {threads!r}") from None
    return Config(
        cache_dir=env.get("MLC_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "mlc")),
        num_threads=num_threads,
        target=env.get("MLC_TARGET", "llvm"),
        debug=env.get("MLC_DEBUG", "") not in ("", "0", "false"),
    )
