"""mlc.frontend: import framework models as graph modules (the course's chapter 6).

- :func:`from_onnx` (needs the ``onnx`` package): an ONNX ModelProto;
- :func:`from_fx` (needs ``torch``): a ``torch.fx.GraphModule`` with the
  shapes and dtypes of its inputs.

Both return a :class:`~mlc.graph.GraphModule` whose ``main`` calls registry
ops, ready for :mod:`mlc.graph`'s rewrites and ``mlc.build``. Neither
framework is imported until its function is called.

:mod:`mlc.frontend.onnx_backend` (import it by name: it needs onnx) is ONNX's
``onnx.backend.base.Backend`` over ``from_onnx`` and ``mlc.build``;
:mod:`mlc.frontend.onnx_conformance` runs ONNX's node test cases on it.
"""
from .common import FrontendError, UnsupportedAttributeError, UnsupportedOpError
from .fx import from_fx
from .onnx import SUPPORTED_OPS as ONNX_OPS
from .onnx import from_onnx

__all__ = ["from_onnx", "from_fx", "ONNX_OPS", "FrontendError", "UnsupportedOpError",
           "UnsupportedAttributeError"]
