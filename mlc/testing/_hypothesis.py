"""Hypothesis, imported once for :mod:`mlc.testing`, with a clear error when it is absent."""
from __future__ import annotations

try:
    import hypothesis
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ModuleNotFoundError as err:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        "mlc.testing's strategies and check_against_numpy need Hypothesis, which is not "
        "installed; install it with `pip install 'mlc[testing]'` (or `pip install hypothesis`). "
        "mlc.testing.assert_close works without it.", name=err.name) from None

__all__ = ["hypothesis", "st", "hnp"]
