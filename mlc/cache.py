"""``mlc.cache``: the disk caches of compiled code (``MLC_CACHE_DIR``), their size and limit.

A program built once is kept on disk (object code for llvm, cubins for cuda) and loaded
when it is built again, in this process or another. The caches hold at most
``MLC_CACHE_SIZE`` (1 GiB by default, ``unlimited`` for no limit), the least recently
used entries going first (:mod:`mlc.runtime.cache_space`).

>>> import tempfile
>>> import mlc
>>> from mlc.config import override
>>> with override(cache_dir=tempfile.mkdtemp(), cache_size=1 << 20):
...     print(mlc.cache.info().entries, mlc.cache.info().limit, mlc.cache.clear())
0 1048576 0
"""
from .runtime.cache_space import CacheInfo, clear, info

__all__ = ["info", "clear", "CacheInfo"]
