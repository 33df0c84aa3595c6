"""Import ``mlc`` from one checkout after another in one process, for the A/B scripts
(``trig_ab.py``, ``gelu_ab.py``) that time checkouts interleaved."""
from __future__ import annotations

import importlib
import os
import sys


def load_mlc(path: str):
    """The ``mlc`` package of the checkout at ``path``; the modules of the one imported before
    are dropped from ``sys.modules`` first.

    >>> load_mlc(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).__name__
    'mlc'
    """
    for name in [m for m in sys.modules if m == "mlc" or m.startswith("mlc.")]:
        del sys.modules[name]
    sys.path.insert(0, path)
    try:
        mlc = importlib.import_module("mlc")
    finally:
        sys.path.remove(path)
    assert mlc.__file__.startswith(os.path.abspath(path)), mlc.__file__
    return mlc
