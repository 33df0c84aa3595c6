"""Import a ``torch.fx`` GraphModule as a :class:`~mlc.graph.GraphModule` (the course's chapter 6).

The course's model::

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear0 = torch.nn.Linear(784, 128)
            self.relu = torch.nn.ReLU()
            self.linear1 = torch.nn.Linear(128, 10)

        def forward(self, x):
            return self.linear1(self.relu(self.linear0(torch.flatten(x, 1))))

    mod = mlc.frontend.from_fx(torch.fx.symbolic_trace(MLP()), [((1, 784), "float32")])

becomes ``main(x)`` calling ``nn.dense``, ``add``, ``nn.relu``... with the
module's weights bound as constants. ``input_info`` gives one ``(shape,
dtype)`` per placeholder, in order; a dimension given by name
(``[(("N", 784), "float32")]``) is symbolic: one build runs every batch size
(for the ops that take symbolic shapes: Linear, activations, elementwise math).

Converted: modules Linear, ReLU, ReLU6, GELU, SiLU, LeakyReLU, ELU, Hardtanh,
Hardswish, Hardsigmoid, Softplus, Mish, Sigmoid, Tanh, Softmax, LogSoftmax,
Flatten, Conv2d, MaxPool2d, LayerNorm, BatchNorm1d/2d/3d (eval: the running
statistics), Embedding, Dropout (eval: the identity), Identity, MultiheadAttention
(eval; ``attn_mask``/``key_padding_mask`` bool or float, batch_first or not, the
averaged or per-head weights); functions and methods
add/sub/mul/truediv (tensors or Python scalars), matmul/mm/bmm/@, relu,
gelu, sigmoid, tanh, erf, exp, sqrt, flatten, reshape/view, transpose,
permute, t, cat/concat, softmax, layer_norm, linear, contiguous. Anything
else raises :class:`UnsupportedOpError` naming the fx node. torch is
imported when :func:`from_fx` is called, never before.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import MLCError, ShapeError
from ..graph import BlockBuilder, Constant, Tensor, Var, constant, op
from ..graph.builder import Call
from ..ir import dtype as dt
from . import fx_ops
from .common import FrontendError, Namer, UnsupportedAttributeError, UnsupportedOpError

__all__ = ["from_fx"]


def _torch():
    try:
        import torch  # an optional dependency (the `torch` extra): loaded on first use only
    except ImportError:
        raise FrontendError("mlc.frontend.from_fx needs PyTorch; install it with `pip install torch` "
                            "(or mlc's `torch` extra)") from None
    return torch


def _dtype_name(dtype) -> str:
    """``"float32"`` from ``"float32"``, ``torch.float32`` or a NumPy dtype."""
    return dt.canonical(str(dtype).removeprefix("torch."))


def _array(tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


class _Importer:
    def __init__(self, torch, gm):
        self.torch, self.gm = torch, gm
        self.bb = BlockBuilder()
        self.env: dict[object, object] = {}
        self.namer = Namer()
        self.nn, self.F = torch.nn, torch.nn.functional
        self.functions = self._function_table()
        self.methods = self._method_table()
        self.modules = self._module_table()

    # ------------------------------------------------------------ values

    def arg(self, value):
        """A converter's view of an fx argument: nodes become graph values, containers recurse."""
        if isinstance(value, (list, tuple)):
            return type(value)(self.arg(v) for v in value)
        if isinstance(value, self.torch.fx.Node):
            return self.env[value]
        return value

    # ------------------------------------------------------------ converters

    def _binary(self, name):
        def convert(where, a, b, alpha=None):
            if alpha is not None and alpha != 1:
                raise UnsupportedAttributeError(f"{where}: alpha={alpha!r} is not supported; supported: 1")
            if not isinstance(a, (Var, Constant)) and not isinstance(b, (Var, Constant)):
                raise UnsupportedAttributeError(f"{where}: at least one operand must be a tensor")
            like = (a if isinstance(a, (Var, Constant)) else b).type.dtype
            a, b = (v if isinstance(v, (Var, Constant)) else np.array(v, dtype=like) for v in (a, b))
            return op(name, a, b)
        return convert

    def _unary(self, name, **attrs):
        return lambda where, x, **kw: op(name, x, **attrs)

    @staticmethod
    def _flatten(where, x, start_dim=0, end_dim=-1):
        shape = x.type.shape
        n = len(shape)
        start, end = (d + n if d < 0 else d for d in (start_dim, end_dim))
        if not 0 <= start <= end < max(n, 1):
            raise ShapeError(f"{where}: flatten({start_dim}, {end_dim}) is out of range for shape {shape}")
        new = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
        return op("reshape", x, newshape=tuple(new))

    @staticmethod
    def _reshape(where, x, *shape):
        dims = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if not all(isinstance(d, int) for d in dims):
            raise UnsupportedAttributeError(f"{where}: the new shape must be Python ints (static), got {dims!r}")
        return op("reshape", x, newshape=tuple(dims))

    @staticmethod
    def _transpose(where, x, dim0, dim1):
        perm = list(range(x.type.ndim))
        perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
        return op("transpose", x, axes=tuple(perm))

    @staticmethod
    def _permute(where, x, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return op("transpose", x, axes=tuple(dims))

    @staticmethod
    def _cat(where, tensors, dim=0, axis=None):
        return op("concatenate", *tensors, axis=dim if axis is None else axis)

    @staticmethod
    def _softmax(where, x, dim=None, _stacklevel=3, dtype=None):
        if dim is None:
            raise UnsupportedAttributeError(f"{where}: softmax without dim is not supported; give dim")
        if dtype is not None:
            raise UnsupportedAttributeError(f"{where}: softmax(dtype={dtype}) is not supported; cast first")
        return op("nn.softmax", x, axis=dim)

    @staticmethod
    def _gelu(where, x, approximate="none"):
        return op("nn.gelu", x, approximate=approximate)

    @staticmethod
    def _layer_norm(where, x, normalized_shape, weight=None, bias=None, eps=1e-5):
        norm = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
        dtype = x.type.dtype
        weight = np.ones(norm, dtype) if weight is None else weight
        bias = np.zeros(norm, dtype) if bias is None else bias
        axes = tuple(range(x.type.ndim - len(norm), x.type.ndim))
        return op("nn.layer_norm", x, weight, bias, axis=axes, eps=float(eps))

    @staticmethod
    def _linear(where, x, weight, bias=None):
        y = op("nn.dense", x, weight)  # x @ weight.T
        return y if bias is None else op("add", y, bias)

    @staticmethod
    def _identity(where, x, *args, **kwargs):
        return x

    @staticmethod
    def _size(where, x, dim=None):
        """``x.size()``/``x.size(d)``/``x.shape``: static, so Python ints (for view/reshape)."""
        return x.type.shape if dim is None else x.type.shape[dim]

    def _getattr(self, where, x, name):
        if name != "shape" or not isinstance(x, (Var, Constant)):
            raise UnsupportedOpError(f"{where}: getattr(..., {name!r}) is not supported; supported: "
                                     "a tensor's .shape")
        return x.type.shape

    @staticmethod
    def _getitem(where, x, index):
        if isinstance(x, (tuple, list)):
            return x[index]
        raise UnsupportedOpError(f"{where}: indexing a tensor is not supported; supported: indexing "
                                 "a shape (x.shape[0])")

    def _function_table(self) -> dict[Callable, Callable]:
        torch, F = self.torch, self.F
        table = {
            operator.add: self._binary("add"), torch.add: self._binary("add"),
            operator.sub: self._binary("subtract"), torch.sub: self._binary("subtract"),
            operator.mul: self._binary("multiply"), torch.mul: self._binary("multiply"),
            operator.truediv: self._binary("divide"), torch.div: self._binary("divide"),
            operator.matmul: self._binary("matmul"), torch.matmul: self._binary("matmul"),
            torch.mm: self._binary("matmul"), torch.bmm: self._binary("matmul"),
            torch.relu: self._unary("nn.relu"), F.relu: self._unary("nn.relu"),
            torch.sigmoid: self._unary("sigmoid"), torch.tanh: self._unary("tanh"),
            torch.erf: self._unary("erf"), torch.exp: self._unary("exp"), torch.sqrt: self._unary("sqrt"),
            F.gelu: self._gelu, torch.flatten: self._flatten, torch.reshape: self._reshape,
            torch.transpose: self._transpose, torch.permute: self._permute, torch.cat: self._cat,
            torch.softmax: self._softmax, F.softmax: self._softmax, F.layer_norm: self._layer_norm,
            F.linear: self._linear, getattr: self._getattr, operator.getitem: self._getitem,
            F.silu: lambda where, x, inplace=False: fx_ops.silu(x),
            F.leaky_relu: lambda where, x, negative_slope=0.01, inplace=False: fx_ops.leaky_relu(x, negative_slope),
            F.elu: lambda where, x, alpha=1.0, inplace=False: fx_ops.elu(x, alpha),
            F.hardtanh: lambda where, x, min_val=-1.0, max_val=1.0, inplace=False: fx_ops.hardtanh(x, min_val, max_val),
            F.relu6: lambda where, x, inplace=False: fx_ops.hardtanh(x, 0.0, 6.0),
            F.hardswish: lambda where, x, inplace=False: fx_ops.hardswish(x),
            F.hardsigmoid: lambda where, x, inplace=False: fx_ops.hardsigmoid(x),
            F.softplus: lambda where, x, beta=1.0, threshold=20.0: fx_ops.softplus(x, beta, threshold),
            F.mish: lambda where, x, inplace=False: fx_ops.mish(x),
            F.log_softmax: lambda where, x, dim=None, _stacklevel=3, dtype=None: fx_ops.log_softmax(x, dim),
            F.dropout: self._dropout, F.embedding: self._embedding_fn,
        }
        if hasattr(torch, "concat"):
            table[torch.concat] = self._cat
        return table

    def _method_table(self) -> dict[str, Callable]:
        return {
            "add": self._binary("add"), "sub": self._binary("subtract"), "mul": self._binary("multiply"),
            "div": self._binary("divide"), "matmul": self._binary("matmul"), "relu": self._unary("nn.relu"),
            "sigmoid": self._unary("sigmoid"), "tanh": self._unary("tanh"), "exp": self._unary("exp"),
            "sqrt": self._unary("sqrt"), "flatten": self._flatten, "reshape": self._reshape,
            "view": self._reshape, "transpose": self._transpose, "permute": self._permute,
            "t": lambda where, x: op("transpose", x, axes=(1, 0)), "softmax": self._softmax,
            "contiguous": self._identity, "size": self._size,
        }

    # modules: (class, converter of (where, module, x))
    def _module_table(self) -> list[tuple[type, Callable]]:
        nn = self.nn
        return [
            (nn.Linear, lambda where, m, x: self._linear(where, x, self.weight(m.weight, m, "weight"),
                                                         self.weight(m.bias, m, "bias"))),
            (nn.ReLU, lambda where, m, x: op("nn.relu", x)),
            (nn.GELU, lambda where, m, x: self._gelu(where, x, m.approximate)),
            (nn.Sigmoid, lambda where, m, x: op("sigmoid", x)),
            (nn.Tanh, lambda where, m, x: op("tanh", x)),
            (nn.Softmax, lambda where, m, x: self._softmax(where, x, m.dim)),
            (nn.Flatten, lambda where, m, x: self._flatten(where, x, m.start_dim, m.end_dim)),
            (nn.Conv2d, self._conv2d),
            (nn.MaxPool2d, self._max_pool2d),
            (nn.LayerNorm, lambda where, m, x: self._layer_norm(
                where, x, m.normalized_shape, self.weight(m.weight, m, "weight"),
                self.weight(getattr(m, "bias", None), m, "bias"), m.eps)),
            (nn.Dropout, lambda where, m, x: x),  # (eval: torch's eval() is what a traced model runs)
            (nn.ReLU6, lambda where, m, x: fx_ops.hardtanh(x, 0.0, 6.0)),
            (nn.SiLU, lambda where, m, x: fx_ops.silu(x)),
            (nn.LeakyReLU, lambda where, m, x: fx_ops.leaky_relu(x, m.negative_slope)),
            (nn.ELU, lambda where, m, x: fx_ops.elu(x, m.alpha)),
            (nn.Hardtanh, lambda where, m, x: fx_ops.hardtanh(x, m.min_val, m.max_val)),
            (nn.Hardswish, lambda where, m, x: fx_ops.hardswish(x)),
            (nn.Hardsigmoid, lambda where, m, x: fx_ops.hardsigmoid(x)),
            (nn.Softplus, lambda where, m, x: fx_ops.softplus(x, m.beta, m.threshold)),
            (nn.Mish, lambda where, m, x: fx_ops.mish(x)),
            (nn.LogSoftmax, lambda where, m, x: fx_ops.log_softmax(x, m.dim)),
            (nn.BatchNorm1d, self._batch_norm), (nn.BatchNorm2d, self._batch_norm),
            (nn.BatchNorm3d, self._batch_norm),
            (nn.Embedding, lambda where, m, x: fx_ops.embedding(x, _array(m.weight))),
            (nn.Identity, lambda where, m, x: x),
            (nn.MultiheadAttention, self._multi_head_attention),
        ]

    def weight(self, tensor, module, name):
        if tensor is None:
            return None
        return constant(_array(tensor), self.namer(f"{type(module).__name__.lower()}_{name}", "w"))

    def _batch_norm(self, where, m, x):
        if m.training:
            raise UnsupportedAttributeError(f"{where}: {type(m).__name__} in training mode (batch "
                                            "statistics) is not supported; call model.eval() before tracing")
        if m.running_mean is None:
            raise UnsupportedAttributeError(f"{where}: {type(m).__name__}(track_running_stats=False) is not "
                                            "supported; supported: running statistics")
        return fx_ops.batch_norm(x, _array(m.running_mean), _array(m.running_var),
                                 None if m.weight is None else _array(m.weight),
                                 None if m.bias is None else _array(m.bias), m.eps)

    def _multi_head_attention(self, where, m, query, key, value, key_padding_mask=None, need_weights=True,
                              attn_mask=None, average_attn_weights=True, is_causal=False):
        """``nn.MultiheadAttention`` (eval): ``(output, weights)``, each emitted (weights None
        where ``need_weights=False``)."""
        if m.training and m.dropout > 0:
            raise UnsupportedAttributeError(f"{where}: MultiheadAttention in training mode (dropout "
                                            f"{m.dropout}) is not supported; call model.eval() before tracing")
        if m.bias_k is not None or m.add_zero_attn:
            raise UnsupportedAttributeError(f"{where}: MultiheadAttention(add_bias_kv=True or add_zero_attn=True) "
                                            "is not supported; supported: the defaults (False)")
        if is_causal and attn_mask is None:
            raise UnsupportedAttributeError(f"{where}: is_causal=True needs attn_mask (as torch's own "
                                            "MultiheadAttention does); pass the causal mask")
        e = m.embed_dim
        if m._qkv_same_embed_dim:
            w = _array(m.in_proj_weight)
            weights = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            weights = tuple(_array(t) for t in (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight))
        biases = None
        if m.in_proj_bias is not None:
            b = _array(m.in_proj_bias)
            biases = (b[:e], b[e:2 * e], b[2 * e:])
        mask = attn_mask if not isinstance(attn_mask, self.torch.Tensor) else _array(attn_mask)
        padding = key_padding_mask if not isinstance(key_padding_mask, self.torch.Tensor) else \
            _array(key_padding_mask)
        out, attn = fx_ops.multi_head_attention(
            query, key, value, m.num_heads, weights, biases, _array(m.out_proj.weight),
            None if m.out_proj.bias is None else _array(m.out_proj.bias), m.batch_first, mask, padding,
            need_weights, average_attn_weights)
        return self.bb.emit(out), None if attn is None else self.bb.emit(attn)

    @staticmethod
    def _dropout(where, x, p=0.5, training=True, inplace=False):
        if training:
            raise UnsupportedAttributeError(f"{where}: F.dropout(training=True) is not supported; "
                                            "supported: training=False (the identity)")
        return x

    @staticmethod
    def _embedding_fn(where, x, weight, *args, **kwargs):
        return fx_ops.embedding(x, weight)

    def _conv2d(self, where, m, x):
        if m.padding_mode != "zeros":
            raise UnsupportedAttributeError(f"{where}: padding_mode={m.padding_mode!r} is not supported; "
                                            "supported: 'zeros'")
        padding = m.padding
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":  # stride 1 (torch's rule): total d*(k-1), the extra one at the end
            totals = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
            padding = (totals[0] // 2, totals[1] // 2, totals[0] - totals[0] // 2, totals[1] - totals[1] // 2)
        y = op("nn.conv2d", x, self.weight(m.weight, m, "weight"), stride=tuple(m.stride),
               padding=tuple(padding), dilation=tuple(m.dilation), groups=m.groups)
        if m.bias is not None:
            y = op("add", y, _array(m.bias).reshape(1, -1, 1, 1))
        return y

    def _max_pool2d(self, where, m, x):
        if m.ceil_mode:
            raise UnsupportedAttributeError(f"{where}: ceil_mode=True is not supported; supported: False")
        if m.return_indices:
            raise UnsupportedAttributeError(f"{where}: return_indices=True is not supported; supported: False")
        kernel = m.kernel_size
        stride = kernel if m.stride is None else m.stride
        return op("nn.max_pool2d", x, kernel=_pair(kernel), stride=_pair(stride), padding=_pair(m.padding),
                  dilation=_pair(m.dilation))

    # ------------------------------------------------------------ nodes

    def supported(self) -> str:
        functions = sorted({getattr(f, "__name__", str(f)) for f in self.functions})
        return (f"modules {', '.join(c.__name__ for c, _ in self.modules)}; functions {', '.join(functions)}; "
                f"methods {', '.join(sorted(self.methods))}")

    def convert(self, node):
        where = f"fx node {node.name!r} ({node.op} {getattr(node.target, '__name__', node.target)!s})"
        args, kwargs = self.arg(tuple(node.args)), {k: self.arg(v) for k, v in node.kwargs.items()}
        if node.op == "get_attr":
            value = self.gm
            for part in str(node.target).split("."):
                value = getattr(value, part)
            return constant(_array(value), self.namer(str(node.target), "c"))
        if node.op == "call_module":
            module = self.gm.get_submodule(node.target)
            for cls, fn in self.modules:
                if type(module) is cls:
                    return fn(where, module, *args, **kwargs)
            raise UnsupportedOpError(f"{where}: module {type(module).__name__} is not supported; supported: "
                                     f"{self.supported()}")
        if node.op == "call_function":
            what = f"function {getattr(node.target, '__name__', node.target)}"
            return self._converter(self.functions, node.target, where, what)(where, *args, **kwargs)
        if node.op == "call_method":
            what = f"method .{node.target}()"
            return self._converter(self.methods, node.target, where, what)(where, *args, **kwargs)
        raise UnsupportedOpError(f"{where}: fx node kind {node.op!r} is not supported")

    def _converter(self, table: dict, target, where: str, what: str):
        """The converter ``table`` holds for ``target``; none is an UnsupportedOpError naming ``what``."""
        fn = table.get(target)
        if fn is None:
            raise UnsupportedOpError(f"{where}: {what} is not supported; supported: {self.supported()}")
        return fn


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def from_fx(graph_module, input_info: Sequence[tuple[Sequence[int], object]]):
    """``main`` of a GraphModule computing ``torch.fx`` ``graph_module``.

    ``input_info``: ``[(shape, dtype), ...]``, one per placeholder, in order
    (dtype a name or a torch dtype). Parameters and buffers the graph reads
    are bound as constants. Raises :class:`UnsupportedOpError` for a module,
    function or method the importer does not convert, naming the fx node.
    """
    torch = _torch()
    if not isinstance(graph_module, torch.fx.GraphModule):
        raise FrontendError(f"from_fx: expected a torch.fx.GraphModule (torch.fx.symbolic_trace(model)), "
                            f"got {type(graph_module).__name__}")
    im = _Importer(torch, graph_module)
    nodes = list(graph_module.graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if len(input_info) != len(placeholders):
        raise FrontendError(f"from_fx: the graph has {len(placeholders)} input(s) "
                            f"{[n.name for n in placeholders]} but input_info gives {len(input_info)}; "
                            "give one (shape, dtype) per input")
    params = []
    for node, info in zip(placeholders, input_info):
        try:
            shape, dtype = info
        except (TypeError, ValueError):
            raise FrontendError(f"from_fx: input_info for {node.name!r} must be (shape, dtype), got "
                                f"{info!r}") from None
        var = Var(im.namer(node.name, "x"), Tensor(shape, _dtype_name(dtype)))
        im.env[node] = var
        params.append(var)
    bb = im.bb
    output = None
    with bb.function("main", params):
        with bb.dataflow():
            for node in nodes:
                if node.op == "placeholder":
                    continue
                if node.op == "output":
                    output = node.args[0]
                    break
                try:
                    result = im.convert(node)  # a Call to emit, a graph value, or a Python value (a shape)
                    im.env[node] = bb.emit(result) if isinstance(result, Call) else result
                except FrontendError:
                    raise
                except MLCError as err:
                    raise type(err)(f"fx node {node.name!r}: {err}") from err
            results = im.arg(output)
            results = tuple(results) if isinstance(results, (tuple, list)) else (results,)
            outs = tuple(bb.emit_output(r) for r in results)
        bb.emit_func_output(outs[0] if len(outs) == 1 else outs)
    return bb.get()
