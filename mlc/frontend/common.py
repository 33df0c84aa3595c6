"""What the ONNX and torch.fx importers share: their errors and how graph values are named.

Both importers write the course's graph level: a :class:`~mlc.graph.BlockBuilder`
emits one registry op (``op("nn.conv2d", ...)``) per framework node, so the
imported module prints as an IRModule and can be rewritten with
:mod:`mlc.graph`'s patterns before ``mlc.build``.
"""
from __future__ import annotations

import keyword
import re

from ..errors import MLCError

__all__ = ["FrontendError", "UnsupportedOpError", "UnsupportedAttributeError", "Namer"]


class FrontendError(MLCError, ValueError):
    """A framework model could not be imported: a missing package, an input without a
    static shape, a value the importer needs at import time but is computed at run time."""


class UnsupportedOpError(FrontendError):
    """A node whose op the importer does not convert; the message lists those it does."""


class UnsupportedAttributeError(FrontendError):
    """A node of a supported op with an attribute (or attribute value) the importer
    does not convert; the message names the node, the op, the attribute and what it supports."""


class Namer:
    """Identifiers for graph values from framework names (``input.1`` -> ``input_1``), unique,
    never one of the builder's own names (``lv0``, ``gv``)."""

    def __init__(self):
        self._taken: set[str] = set()

    def __call__(self, name: str, fallback: str = "v") -> str:
        base = re.sub(r"\W", "_", name or "") or fallback
        if base[0].isdigit() or keyword.iskeyword(base) or re.fullmatch(r"(lv|gv)\d*", base):
            base = f"{fallback}_{base}"
        candidate, n = base, 0
        while candidate in self._taken:
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        return candidate
